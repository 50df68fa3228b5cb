"""The deterministic backend: replies come from a YAML file, one per model call, in order.

```yaml
replies:
  - tool_calls:
      - {name: write_file, args: {path: projects/demo/hello.txt, content: "hello world"}}
  - text: "thinking out loud"     # a reply may be text instead (or as well)
    delay: 0.2                    # optional: seconds to wait, like a remote API would
  - tool_calls:
      - {name: finish, args: {result: "wrote hello.txt"}}
```
Token usage is counted deterministically from the messages (:func:`count_tokens`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..docs import read_yaml, validate
from ..errors import ScriptError
from . import Reply, ToolCall, Usage, count_tokens, messages_text


class ScriptedCall(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    args: dict[str, Any] = Field(default_factory=dict)


class ScriptedReply(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = ""
    tool_calls: list[ScriptedCall] = Field(default_factory=list)
    delay: float = Field(0.0, ge=0, le=3600)


class Script(BaseModel):
    model_config = ConfigDict(extra="forbid")
    replies: list[ScriptedReply] = Field(min_length=1)
    model: str = "scripted"


def load_script(path: Path) -> Script:
    """Read and validate a scripted-replies file; errors name file:line."""
    if not path.is_file():
        raise ScriptError(
            f"scripted replies file not found: {path}", hint="pass an existing YAML file: --model scripted:PATH.yaml"
        )
    from ..errors import DocumentError

    try:
        script = validate(read_yaml(path), Script)
    except DocumentError as exc:
        raise ScriptError(f"malformed scripted replies file: {exc}") from None
    for n, reply in enumerate(script.replies, 1):
        if not reply.text and not reply.tool_calls:
            raise ScriptError(f"{path}: reply {n} has neither text nor tool_calls")
    return script


class ScriptedBackend:
    """Replays a :class:`Script`; running out of replies raises :class:`ScriptError`."""

    max_output = 4096

    def __init__(self, arg: str | None, *, config: Any = None, root: Path | None = None):
        path = Path(arg or "")
        if not path.is_absolute() and root is not None and not path.exists():
            path = Path(root) / path
        self.path = path
        self.script = load_script(path)
        self.model = self.script.model
        self.position = 0

    def estimate_input(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> int:
        return count_tokens(messages_text(messages, tools))

    def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Reply:
        if self.position >= len(self.script.replies):
            raise ScriptError(
                f"scripted replies exhausted: {self.path} has {len(self.script.replies)} "
                f"replies and the run asked for reply {self.position + 1}",
                hint="add replies, or end the script with a finish tool call",
            )
        reply = self.script.replies[self.position]
        self.position += 1
        if reply.delay:
            time.sleep(reply.delay)
        calls = [ToolCall(f"call_{self.position}_{i}", c.name, dict(c.args)) for i, c in enumerate(reply.tool_calls)]
        out_text = reply.text + "".join(json.dumps({"name": c.name, "args": c.args}, sort_keys=True) for c in calls)
        usage = Usage(input=self.estimate_input(messages, tools), output=count_tokens(out_text))
        return Reply(reply.text, calls, usage, "tool_use" if calls else "end_turn")

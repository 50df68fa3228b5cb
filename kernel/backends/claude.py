"""Claude through the official ``anthropic`` SDK (Messages API with tool use).

The key comes from ``ANTHROPIC_API_KEY``; the endpoint from the config's ``anthropic.base_url`` or
``ANTHROPIC_BASE_URL`` (the SDK's own variable), which is how the tests point it at a local server.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from ..errors import BackendError
from . import Reply, ToolCall, Usage, bytes_bound

COUNT_MARGIN = 1.05  # Claude's token count is documented as an estimate: reserve a little above it


def to_anthropic(messages: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Split neutral messages into the system prompt and Messages-API turns (tool results grouped)."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    turns: list[dict[str, Any]] = []
    for m in messages:
        role = m["role"]
        if role == "system":
            continue
        if role == "assistant":
            blocks: list[dict[str, Any]] = [{"type": "text", "text": m["content"]}] if m.get("content") else []
            blocks += [
                {"type": "tool_use", "id": c["id"], "name": c["name"], "input": c["args"]}
                for c in m.get("tool_calls") or []
            ]
            turns.append({"role": "assistant", "content": blocks or [{"type": "text", "text": "(no reply)"}]})
        elif role == "tool":
            block = {
                "type": "tool_result",
                "tool_use_id": m["tool_call_id"],
                "content": m["content"],
                "is_error": not m.get("ok", True),
            }
            if turns and turns[-1]["role"] == "user" and isinstance(turns[-1]["content"], list):
                turns[-1]["content"].append(block)
            else:
                turns.append({"role": "user", "content": [block]})
        else:
            turns.append({"role": "user", "content": [{"type": "text", "text": m["content"]}]})
    return system, turns


class AnthropicBackend:
    """``anthropic:MODEL``: one ``messages.create`` call per model call."""

    def __init__(self, arg: str | None, *, config: Any = None, root: Any = None):
        try:
            import anthropic
        except ImportError:
            raise BackendError("the anthropic package is not installed", hint="pip install anthropic") from None
        key = os.environ.get("ANTHROPIC_API_KEY")
        if not key:
            raise BackendError(
                "ANTHROPIC_API_KEY is not set", hint="export ANTHROPIC_API_KEY=sk-ant-... or use --model local"
            )
        settings = getattr(config, "anthropic", None)
        self.model = arg or "claude-sonnet-4-6"
        self.max_output = settings.max_tokens if settings else 1024
        base_url = (settings.base_url if settings else None) or os.environ.get("ANTHROPIC_BASE_URL")
        timeout = settings.timeout_s if settings else 120.0
        self._sdk = anthropic
        self.client = anthropic.Anthropic(api_key=key, base_url=base_url, timeout=timeout, max_retries=2)
        self._counted: dict[str, int] = {}
        self._can_count = True

    def estimate_input(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> int:
        """An upper bound of the request's input tokens, for the budget gate: Claude's own count
        (the free count-tokens endpoint) plus a margin, remembered per request; where the endpoint
        cannot be reached, the bound from bytes (:func:`bytes_bound`), never a word count."""
        system, turns = to_anthropic(messages)
        key = hashlib.sha256(json.dumps([system, turns, tools], sort_keys=True, default=str).encode()).hexdigest()
        if key in self._counted:
            return self._counted[key]
        bound = None
        if self._can_count:
            try:
                counted = self.client.messages.count_tokens(
                    model=self.model, system=system, messages=turns, tools=tools
                ).input_tokens
                bound = int(counted * COUNT_MARGIN) + 32
            except self._sdk.NotFoundError:
                self._can_count = False  # a gateway without the endpoint: bytes from now on
            except (self._sdk.APIError, ValueError, TypeError):
                pass  # this once: the bound from bytes
        if bound is None:
            bound = bytes_bound(system, turns, tools)
        if len(self._counted) > 256:
            self._counted.clear()
        self._counted[key] = bound
        return bound

    def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Reply:
        system, turns = to_anthropic(messages)
        try:
            resp = self.client.messages.create(
                model=self.model, max_tokens=self.max_output, system=system, messages=turns, tools=tools
            )
        except self._sdk.APIStatusError as exc:
            raise BackendError(f"Claude API error {exc.status_code}: {exc.message}") from None
        except self._sdk.APIConnectionError as exc:
            raise BackendError(
                f"cannot reach the Claude API: {exc}", hint="check the network or ANTHROPIC_BASE_URL"
            ) from None
        text = "".join(b.text for b in resp.content if b.type == "text")
        calls = [ToolCall(b.id, b.name, dict(b.input or {})) for b in resp.content if b.type == "tool_use"]
        u = resp.usage
        cached = getattr(u, "cache_read_input_tokens", None) or 0
        return Reply(text, calls, Usage(u.input_tokens, u.output_tokens, cached), resp.stop_reason)

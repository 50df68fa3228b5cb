"""The local model's worker process: llama.cpp runs here, never in the kernel.

``python -m llmos.backends.llama_worker`` reads one JSON request per line on stdin and writes one
JSON reply per line on its private copy of stdout (fd 1 itself is pointed at stderr, so nothing
llama.cpp prints can corrupt the protocol). Requests:

- ``{"op": "load", "path", "n_ctx", "threads", "extra_buffers"}`` -> ``{"ok": true, "system_info", ...}``
- ``{"op": "tokenize", "text"}`` -> ``{"ok": true, "n": count}`` (with the BOS token)
- ``{"op": "complete", "prompt", "grammar", "max_tokens", "temperature", "seed", "repeat_penalty"}``
  -> ``{"ok": true, "text", "prompt_tokens", "completion_tokens", "finish_reason", "seconds"}``
- ``{"op": "grammar", "grammar"}`` -> ``{"ok": true}`` if llama.cpp compiles the GBNF grammar
- ``{"op": "info"}`` -> the llama-cpp-python version and llama.cpp's build features, no model needed

An error the worker survives is ``{"ok": false, "error": ..., "hint": ...}``. One it does not
survive (a native crash, an out-of-memory kill) is seen by the kernel as the pipe closing.
"""

from __future__ import annotations

import contextlib
import ctypes
import faulthandler
import json
import os
import signal
import sys
import time
from typing import Any, Callable, Iterator

_STATE: dict[str, Any] = {}


def _die_with_parent() -> None:
    """Linux: end this worker if the kernel process dies, even by SIGKILL."""
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _llama_cpp() -> Any:
    try:
        import llama_cpp
    except ImportError as exc:
        raise _Refusal(
            f"llama-cpp-python cannot be imported in the model worker: {exc}",
            'reinstall it as the README says: CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install -e .',
        ) from None
    if "silence" not in _STATE:  # llama.cpp logs from C even with verbose=False
        _STATE["silence"] = llama_cpp.llama_log_callback(lambda level, text, user: None)
        llama_cpp.llama_log_set(_STATE["silence"], ctypes.c_void_p())
    return llama_cpp


class _Refusal(Exception):
    def __init__(self, error: str, hint: str | None = None):
        super().__init__(error)
        self.error, self.hint = error, hint


def info(_: dict[str, Any]) -> dict[str, Any]:
    llama_cpp = _llama_cpp()
    return {
        "version": getattr(llama_cpp, "__version__", "?"),
        "system_info": llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip(),
        "pid": os.getpid(),
    }


@contextlib.contextmanager
def _model_params(extra_buffers: bool) -> Iterator[None]:
    """``Llama()`` (llama-cpp-python 0.3.36) takes no argument for ``use_extra_bufts``; it builds its
    model parameters from ``llama_model_default_params()``, so this process's defaults are changed
    for the one load (AMX tiles and repacked weights are what the flag switches)."""
    import llama_cpp.llama_cpp as low

    original = low.llama_model_default_params

    def defaults() -> Any:
        params = original()
        params.use_extra_bufts = extra_buffers
        return params

    low.llama_model_default_params = defaults
    try:
        yield
    finally:
        low.llama_model_default_params = original


def load(req: dict[str, Any]) -> dict[str, Any]:
    llama_cpp = _llama_cpp()
    started = time.monotonic()
    try:
        with _model_params(bool(req.get("extra_buffers", True))):
            _STATE["llm"] = llama_cpp.Llama(
                model_path=req["path"], n_ctx=req["n_ctx"], n_threads=req.get("threads"), verbose=False
            )
    except (ValueError, RuntimeError, TypeError) as exc:
        raise _Refusal(f"llama.cpp cannot load {req['path']}: {exc}") from None
    extra = bool(_STATE["llm"].model_params.use_extra_bufts)
    return {**info(req), "seconds": round(time.monotonic() - started, 3), "extra_buffers": extra}


def _model() -> Any:
    if "llm" not in _STATE:
        raise _Refusal("no model loaded in the worker (send load first)")
    return _STATE["llm"]


def tokenize(req: dict[str, Any]) -> dict[str, Any]:
    return {"n": len(_model().tokenize(req["text"].encode("utf-8"), add_bos=True))}


def _grammar(text: str) -> Any:
    """A GBNF grammar llama.cpp has parsed once here. ``LlamaGrammar`` itself parses nothing, and a
    grammar llama.cpp rejects would reach generation as a null sampler, so it is tried first."""
    cache = _STATE.setdefault("grammars", {})
    if text not in cache:
        import llama_cpp
        from llama_cpp import LlamaGrammar

        sampler = llama_cpp.llama_sampler_init_grammar(_model()._model.vocab, text.encode("utf-8"), b"root")
        if not sampler:
            raise _Refusal("llama.cpp rejects the tool-call grammar (a GBNF parse error)")
        llama_cpp.llama_sampler_free(sampler)
        if len(cache) > 32:
            cache.clear()
        cache[text] = LlamaGrammar.from_string(text, verbose=False)
    return cache[text]


def complete(req: dict[str, Any]) -> dict[str, Any]:
    llm, started = _model(), time.monotonic()
    out = llm.create_completion(
        req["prompt"],
        grammar=_grammar(req["grammar"]) if req.get("grammar") else None,
        max_tokens=req["max_tokens"],
        temperature=req.get("temperature", 0.2),
        seed=req.get("seed", 0),
        repeat_penalty=req.get("repeat_penalty", 1.0),
    )
    choice = out["choices"][0]
    return {
        "text": choice["text"],
        "finish_reason": choice.get("finish_reason"),
        "prompt_tokens": out["usage"]["prompt_tokens"],
        "completion_tokens": out["usage"]["completion_tokens"],
        "seconds": round(time.monotonic() - started, 3),
    }


def grammar(req: dict[str, Any]) -> dict[str, Any]:
    _grammar(req["grammar"])
    return {}


OPS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "info": info,
    "load": load,
    "tokenize": tokenize,
    "complete": complete,
    "grammar": grammar,
}


def serve(requests: Any, replies: Any) -> None:
    for line in requests:
        try:
            req = json.loads(line)
            reply = {"ok": True, **OPS[req["op"]](req)}
        except _Refusal as exc:
            reply = {"ok": False, "error": exc.error, "hint": exc.hint}
        except (KeyError, ValueError, TypeError) as exc:
            reply = {"ok": False, "error": f"bad worker request: {type(exc).__name__}: {exc}"}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


def main() -> None:
    _die_with_parent()
    faulthandler.enable()  # a native crash leaves a Python stack on stderr for the kernel to quote
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    serve(sys.stdin, replies)


if __name__ == "__main__":
    main()

"""LLM backends behind one Protocol, selected by a model spec.

A spec is ``anthropic:MODEL``, ``local`` or ``local:PATH.gguf``, or ``scripted:PATH.yaml``; an alias
from the config's ``models:`` table (``sonnet``...) expands to one. Backends register through the
plugin door (:mod:`llmos.plugins`, ``register_backends``), built-ins included, so a plugin package
adds one the same way.

Messages are provider-neutral dicts:
``{"role": "system"|"user", "content": str}``,
``{"role": "assistant", "content": str, "tool_calls": [{"id", "name", "args"}]}``,
``{"role": "tool", "tool_call_id": str, "name": str, "content": str, "ok": bool}``.

``scripted`` (deterministic replies from YAML), ``local`` with ``worker``/``llama_worker`` (llama.cpp
in its own process), ``gguf`` (file checks), ``cpu`` (CPU features), ``grammar`` (tool-call GBNF),
``claude`` (the Messages API), ``config`` (the ``local:``/``anthropic:`` sections), ``builtin`` (the
plugin that registers the three).

Layer: calls. May import the formats and the ground floor; never the assembled config or the kernel.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..errors import BackendError, ModelSpecError, PluginError


@dataclass
class Usage:
    """Tokens of one call (or summed over a run). ``input`` is the uncached input; ``cached`` the
    input read from the provider's prompt cache; ``cache_write`` the input written to it. The three
    are priced differently (see :mod:`llmos.budget.config`)."""

    input: int = 0
    output: int = 0
    cached: int = 0
    cache_write: int = 0

    def add(self, other: "Usage") -> None:
        self.input += other.input
        self.output += other.output
        self.cached += other.cached
        self.cache_write += other.cache_write

    def as_dict(self) -> dict[str, int]:
        return {"input": self.input, "output": self.output, "cached": self.cached, "cache_write": self.cache_write}


@dataclass
class ToolCall:
    id: str
    name: str
    args: dict[str, Any]


@dataclass
class Reply:
    """One model reply. ``blocks``: its text and tool calls in the order the model wrote them
    (``{"type": "text", "text"}`` / ``{"type": "tool_use", "id"}``), where the provider keeps one;
    ``stop_reason``: ``end_turn``, ``tool_use``, ``max_tokens`` (cut off: its tool calls are never
    run), ``refusal``, ``pause_turn`` (continue it), or a backend's own."""

    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    stop_reason: str | None = None
    blocks: list[dict[str, Any]] | None = None
    max_tokens: int | None = None  # the output limit the request set (the budget gate may lower it)


@runtime_checkable
class Backend(Protocol):
    """One method does the work; ``model`` names what is billed; ``max_output`` bounds one reply."""

    model: str
    max_output: int

    def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Reply: ...

    def estimate_input(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> int: ...


@dataclass(frozen=True)
class ModelSpec:
    kind: str
    arg: str | None

    def __str__(self) -> str:
        return f"{self.kind}:{self.arg}" if self.arg else self.kind


def parse_spec(spec: str, aliases: dict[str, str] | None = None) -> ModelSpec:
    """Parse a model spec (after alias expansion); raise :class:`ModelSpecError` with the fix."""
    if not isinstance(spec, str) or not spec.strip():
        raise ModelSpecError(
            "empty model spec", hint="use anthropic:MODEL, local, local:PATH.gguf or scripted:PATH.yaml"
        )
    spec = spec.strip()
    spec = (aliases or {}).get(spec, spec)
    kind, _, arg = spec.partition(":")
    known = sorted(_registry())
    if kind not in known:
        raise ModelSpecError(
            f"unknown model spec {spec!r}",
            hint=f"the part before ':' must be one of {', '.join(known)}; e.g. local or anthropic:claude-sonnet-4-6",
        )
    if kind in ("scripted", "anthropic") and not arg:
        example = "scripted:replies.yaml" if kind == "scripted" else "anthropic:claude-sonnet-4-6"
        raise ModelSpecError(f"model spec {spec!r} needs a value after ':'", hint=f"e.g. {example}")
    return ModelSpec(kind, arg or None)


def default_spec() -> str:
    """The spec used when nothing chooses one: Claude if a key is set, else the bundled local model."""
    return "anthropic:claude-sonnet-4-6" if os.environ.get("ANTHROPIC_API_KEY") else "local"


@functools.lru_cache(maxsize=1)
def _registry() -> dict[str, Any]:
    """Backend factories by kind, from the plugin door (built-ins included), read once per process
    (delegated runs resolve a model each)."""
    from .. import plugins

    found: dict[str, Any] = {}

    def register(kind: str, factory: Any) -> None:
        if kind in found and found[kind] != factory:
            raise PluginError(
                f"two plugins register a backend named {kind!r}",
                hint="uninstall one of them, or register it under another name",
            )
        found[kind] = factory

    plugins.call("register_backends", register=register)
    return found


def _factory(kind: str) -> Any:
    factory = _registry()[kind]
    if isinstance(factory, str):
        import importlib

        module, _, attr = factory.partition(":")
        return getattr(importlib.import_module(module), attr)
    return factory


def make_backend(spec: ModelSpec, *, config: Any, root: Any) -> Backend:
    """Instantiate the backend for ``spec``. Backends take ``(arg, config=..., root=...)``."""
    try:
        factory = _factory(spec.kind)
    except ImportError as exc:
        raise BackendError(
            f"backend {spec.kind!r} cannot be loaded: {exc}", hint="reinstall llmos: pip install -e ."
        ) from None
    return factory(spec.arg, config=config, root=root)


def count_tokens(text: str) -> int:
    """A deterministic token count (words and punctuation marks), used where no tokenizer exists."""
    import re

    return len(re.findall(r"\w+|[^\w\s]", text))


def messages_text(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> str:
    """Everything a request sends, flattened to text (for deterministic counting and estimates)."""
    import json

    parts = [json.dumps(t, sort_keys=True) for t in tools]
    for m in messages:
        parts.append(m.get("content") or "")
        for call in m.get("tool_calls") or []:
            parts.append(json.dumps({"name": call["name"], "args": call["args"]}, sort_keys=True))
    return "\n".join(parts)


TOOL_PROMPT_TOKENS = 1024  # what a provider adds to a request that carries tools (Claude: 300-500)


def bytes_bound(system: str, turns: Any, tools: list[dict[str, Any]]) -> int:
    """An upper bound of the input tokens of a request, from its bytes alone.

    A byte-level tokenizer never makes more tokens than bytes, so the UTF-8 length of the request
    serialized as JSON (every text, name and schema, plus its punctuation) bounds the text; a fixed
    allowance covers the framing a provider adds around tools. Several times more than the real count
    for prose, never less: the budget gate reserves from it when no token counting is at hand."""
    import json

    body = json.dumps({"system": system, "messages": turns, "tools": tools}, ensure_ascii=False)
    return len(body.encode("utf-8")) + (TOOL_PROMPT_TOKENS if tools else 0) + 64

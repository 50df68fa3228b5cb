"""Claude through the official ``anthropic`` SDK (Messages API with tool use).

The key comes from ``ANTHROPIC_API_KEY``; the endpoint from the config's ``anthropic.base_url`` or
``ANTHROPIC_BASE_URL`` (the SDK's own variable), which is how the tests point it at a local server.

What the API requires and this module guarantees: roles alternate; every ``tool_use`` is answered by
its ``tool_result`` at the start of the next user turn, in order; no empty or whitespace-only text
block; text and tool calls go back in the order the model wrote them. Prompt caching (on by default):
breakpoints after the tools, after the system prompt, and on the newest turn, so each request reads
the previous one's prefix from the cache. A reply cut off at ``max_tokens`` is never executed: the
loop asks :meth:`AnthropicBackend.grow_output` for a larger limit (streamed above
:data:`STREAM_ABOVE`) and calls again.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import time
from typing import Any

from ..errors import BackendError
from . import Reply, ToolCall, Usage, bytes_bound

COUNT_MARGIN = 1.05  # Claude's token count is documented as an estimate: reserve a little above it
DEFAULT_MAX_TOKENS = 8192
STREAM_ABOVE = 16384  # larger replies are streamed (the SDK refuses long non-streamed requests)
CACHE = {"type": "ephemeral"}
# (model id prefix, output limit, context window); the first prefix that matches wins.
LIMITS: tuple[tuple[str, int, int], ...] = (
    ("claude-opus-4-2025", 32000, 200_000),  # Opus 4 by its dated id
    ("claude-opus-4-0", 32000, 200_000),
    ("claude-opus-4-1", 32000, 200_000),
    ("claude-opus-4", 64000, 200_000),
    ("claude-3-5-haiku", 8192, 200_000),
    ("claude-3-haiku", 4096, 200_000),
    ("claude-3-7-sonnet", 64000, 200_000),
    ("claude-", 64000, 200_000),
)


def model_limits(model: str) -> tuple[int, int]:
    """(output limit, context window) of a Claude model id."""
    return next(((out, window) for prefix, out, window in LIMITS if model.startswith(prefix)), (64000, 200_000))


def _text_block(text: str) -> dict[str, Any] | None:
    return {"type": "text", "text": text} if text and text.strip() else None


def to_anthropic(messages: list[dict[str, Any]], *, cache: bool = False) -> tuple[Any, list[dict[str, Any]]]:
    """Neutral messages -> (system, turns) for the Messages API.

    ``system`` is the system messages joined (a string; with ``cache``, one text block carrying a
    cache breakpoint). Tool results are grouped into the user turn after their ``tool_use``; a user
    message that follows them joins that turn after them. With ``cache``, the newest turn's last block
    carries a breakpoint too."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system" and m.get("content"))
    turns: list[dict[str, Any]] = []

    def user(blocks: list[dict[str, Any]]) -> None:
        if turns and turns[-1]["role"] == "user":
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": "user", "content": blocks})

    for m in messages:
        role = m["role"]
        if role == "system":
            continue
        if role == "assistant":
            if turns and turns[-1]["role"] == "assistant":  # a paused turn's continuation: one turn
                turns[-1]["content"].extend(_assistant_blocks(m))
            else:
                turns.append({"role": "assistant", "content": _assistant_blocks(m)})
        elif role == "tool":
            content = m["content"] if (m.get("content") or "").strip() else "(no output)"
            user(
                [
                    {
                        "type": "tool_result",
                        "tool_use_id": m["tool_call_id"],
                        "content": content,
                        "is_error": not m.get("ok", True),
                    }
                ]
            )
        else:
            user([_text_block(m.get("content") or "") or {"type": "text", "text": "(empty message)"}])
    if turns and turns[-1]["role"] == "assistant":  # a continuation (pause_turn): no trailing whitespace
        last = turns[-1]["content"][-1]
        if last["type"] == "text":
            last["text"] = last["text"].rstrip()
    if cache and turns:
        turns[-1]["content"][-1]["cache_control"] = CACHE
    if cache and system:
        return [{"type": "text", "text": system, "cache_control": CACHE}], turns
    return system, turns


def _assistant_blocks(m: dict[str, Any]) -> list[dict[str, Any]]:
    """An assistant turn's blocks in the order the model wrote them (whitespace-only text dropped)."""
    calls = {c["id"]: c for c in m.get("tool_calls") or []}
    use = lambda c: {"type": "tool_use", "id": c["id"], "name": c["name"], "input": c["args"]}
    blocks: list[dict[str, Any]] = []
    if m.get("blocks"):
        for b in m["blocks"]:
            if b["type"] == "text":
                blocks += filter(None, [_text_block(b.get("text", ""))])
            elif b["type"] == "tool_use" and b["id"] in calls:
                blocks.append(use(calls.pop(b["id"])))
    else:
        blocks += filter(None, [_text_block(m.get("content") or "")])
    blocks += [use(c) for c in calls.values()]  # any call the blocks did not place
    return blocks or [{"type": "text", "text": "(no reply)"}]


def _with_cache(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not tools:
        return tools
    out = list(tools)
    out[-1] = {**copy.deepcopy(out[-1]), "cache_control": CACHE}
    return out


class AnthropicBackend:
    """``anthropic:MODEL``: one Messages API call per model call."""

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
        from .config import AnthropicConfig

        settings = getattr(config, "anthropic", None) or AnthropicConfig()
        self.settings = settings
        self.model = arg or "claude-sonnet-4-6"
        limit, window = model_limits(self.model)
        per_model = next(
            (v for k, v in sorted(settings.models.items(), key=lambda kv: -len(kv[0])) if self.model.startswith(k)),
            None,
        )
        self.output_limit = (per_model and per_model.max_output) or limit
        self.context_window = (per_model and per_model.context_window) or window
        first = (per_model and per_model.max_tokens) or settings.max_tokens or DEFAULT_MAX_TOKENS
        self.max_output = min(first, self.output_limit)
        self.cache = settings.cache
        self.base_url = settings.base_url or os.environ.get("ANTHROPIC_BASE_URL") or "https://api.anthropic.com"
        self._sdk = anthropic
        self.client = anthropic.Anthropic(
            api_key=key,
            base_url=settings.base_url or None,
            timeout=settings.timeout_s,
            max_retries=settings.max_retries,
        )
        self._counted: dict[str, int] = {}
        self._can_count = True

    # -- limits -------------------------------------------------------------------------------
    @property
    def input_limit(self) -> int:
        """Input tokens above which the run compacts older turns (``anthropic.compact_share`` of the
        window, or ``anthropic.max_input_tokens`` if lower)."""
        share = int(self.context_window * self.settings.compact_share)
        cap = self.settings.max_input_tokens
        return min(share, cap) if cap else share

    def grow_output(self) -> int | None:
        """After a reply cut off at ``max_tokens``: double it, up to the model's limit; None at the limit."""
        if self.max_output >= self.output_limit:
            return None
        self.max_output = min(self.output_limit, self.max_output * 2)
        return self.max_output

    # -- the budget's bound ---------------------------------------------------------------------
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
                params: dict[str, Any] = {"model": self.model, "messages": turns, "tools": tools}
                if system:
                    params["system"] = system
                counted = self.client.messages.count_tokens(**params).input_tokens
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

    # -- the call -------------------------------------------------------------------------------
    def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Reply:
        system, turns = to_anthropic(messages, cache=self.cache)
        params: dict[str, Any] = {"model": self.model, "max_tokens": self.max_output, "messages": turns}
        if system:
            params["system"] = system
        if tools:
            params["tools"] = _with_cache(tools) if self.cache else tools
        resp = self._send(params)
        blocks: list[dict[str, Any]] = []
        calls = []
        for b in resp.content:
            if b.type == "text":
                blocks.append({"type": "text", "text": b.text})
            elif b.type == "tool_use":
                calls.append(ToolCall(b.id, b.name, dict(b.input or {})))
                blocks.append({"type": "tool_use", "id": b.id})
        text = "\n\n".join(b["text"] for b in blocks if b["type"] == "text" and b["text"].strip())
        u = resp.usage
        usage = Usage(
            u.input_tokens,
            u.output_tokens,
            getattr(u, "cache_read_input_tokens", None) or 0,
            getattr(u, "cache_creation_input_tokens", None) or 0,
        )
        return Reply(text, calls, usage, resp.stop_reason, blocks)

    def _send(self, params: dict[str, Any]) -> Any:
        sdk, waited, attempt = self._sdk, 0.0, 0
        started = time.monotonic()
        while True:
            try:
                if params["max_tokens"] > STREAM_ABOVE:
                    with self.client.messages.stream(**params) as stream:
                        return stream.get_final_message()
                return self.client.messages.create(**params)
            except sdk.APIStatusError as exc:
                if exc.status_code == 529 and attempt < self.settings.overloaded_retries:
                    pause = self.settings.retry_base_s * 2**attempt
                    time.sleep(pause)
                    waited += pause
                    attempt += 1
                    continue
                raise self._status_error(exc, attempt, time.monotonic() - started) from None
            except sdk.APITimeoutError:
                raise BackendError(
                    f"Claude did not answer within {self.settings.timeout_s:.0f}s "
                    f"({self.settings.max_retries} retries, {time.monotonic() - started:.0f}s in all)",
                    hint="raise anthropic.timeout_s in system/llmos.yaml for long replies",
                ) from None
            except sdk.APIConnectionError as exc:
                cause = exc.__cause__ or exc
                raise BackendError(
                    f"cannot reach the Claude API at {self.base_url}: {type(cause).__name__}: {cause}",
                    hint="check the network, a proxy, or anthropic.base_url / ANTHROPIC_BASE_URL",
                ) from None

    def _status_error(self, exc: Any, overloaded_retries: int, seconds: float) -> BackendError:
        status = exc.status_code
        body = exc.body if isinstance(exc.body, dict) else {}
        error = body.get("error") if isinstance(body.get("error"), dict) else body
        kind, message = error.get("type", "error"), error.get("message") or exc.message
        headers = getattr(exc.response, "headers", {}) or {}
        line = f"Claude API error {status} ({kind}): {message}"
        if status == 401:
            line = f"Claude rejected the API key: {status} {kind}: {message}"
            hint = "check ANTHROPIC_API_KEY (keys start with sk-ant-); make one at console.anthropic.com"
        elif status == 403:
            hint = f"this key may not use {self.model}; check the workspace's model access"
        elif status == 404:
            hint = f"no model {self.model!r} here: check the name, e.g. anthropic:claude-sonnet-4-6"
        elif status == 413:
            hint = "the request is too large: lower anthropic.compact_share or max_input_tokens"
        elif status == 429:
            reset = next(
                (
                    f"{h.split('-')[2]} limit resets at {headers[h]}"
                    for h in (
                        "anthropic-ratelimit-tokens-reset",
                        "anthropic-ratelimit-input-tokens-reset",
                        "anthropic-ratelimit-output-tokens-reset",
                        "anthropic-ratelimit-requests-reset",
                    )
                    if headers.get(h)
                ),
                None,
            )
            after = headers.get("retry-after")
            line = f"Claude rate limit reached (429 {kind}): {message}"
            hint = "; ".join(filter(None, [reset, f"retry after {after}s" if after else None])) or "wait, then retry"
            hint += f" ({self.settings.max_retries} retries already made; anthropic.max_retries)"
        elif status == 529:
            line = f"Claude is overloaded (529 {kind}) after {overloaded_retries} retries over {seconds:.0f}s"
            hint = "retry later, or raise anthropic.overloaded_retries / anthropic.retry_base_s"
        elif status >= 500:
            hint = f"a server error at Anthropic (after {self.settings.max_retries} retries); retry later"
        else:
            hint = "the request was rejected as built; please report it with the trace"
        return BackendError(line, hint=hint)

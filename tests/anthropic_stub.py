"""A local HTTP server that speaks the Anthropic Messages API as strictly as the real one, for tests
and benchmarks (the real ``anthropic`` SDK talks to it over loopback; nothing is patched).

- ``POST /v1/messages`` answers with queued replies (tool_use or text blocks, a stop reason, an error
  status) and ``POST /v1/messages/count_tokens`` counts a request the way usage is counted.
- Every request is checked against the API's rules; a violation is answered 400
  ``invalid_request_error`` as the API would, and kept in ``violations``: roles alternate starting
  with ``user``; every ``tool_use`` is answered by a ``tool_result`` at the start of the next user
  turn; no empty or whitespace-only text block; at most 4 ``cache_control`` breakpoints; tool names
  match ``^[a-zA-Z0-9_-]{1,64}$``; ``max_tokens`` within the model's limit.
- Tokens are counted by a deterministic sub-word rule unlike the kernel's word count (runs of up to
  four letters or three digits, every other non-space character one token, CJK included), plus
  framing per message and per tool, as a real tokenizer would be unlike it.
- Prompt caching as the API documents it: the prefix up to the last ``cache_control`` breakpoint, if
  long enough, is written to the cache (``cache_creation_input_tokens``) and read back by a later
  request that starts with the same prefix (``cache_read_input_tokens``); ``input_tokens`` is the
  rest.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_PIECE = re.compile(r"[A-Za-z]{1,4}|[0-9]{1,3}|[^\sA-Za-z0-9]")
TOOL_FRAMING = 346  # tokens the API adds when a request carries tools (its tool-use system prompt)
MIN_CACHEABLE = 1024
MAX_OUTPUT = {"claude-opus-4": 32000, "claude-sonnet-4": 64000, "claude-haiku-4-5": 64000}
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def tokens(text: str) -> int:
    return len(_PIECE.findall(text))


def _block_tokens(block: Any) -> int:
    if isinstance(block, str):
        return tokens(block)
    kind = block.get("type")
    if kind == "text":
        return tokens(block.get("text", ""))
    if kind == "tool_use":
        return 4 + tokens(block["name"]) + tokens(json.dumps(block.get("input", {}), ensure_ascii=False))
    if kind == "tool_result":
        content = block.get("content", "")
        inner = content if isinstance(content, str) else "".join(b.get("text", "") for b in content)
        return 4 + tokens(inner)
    return tokens(json.dumps(block, ensure_ascii=False))


def _pieces(body: dict[str, Any]) -> list[tuple[int, bool]]:
    """The request in prompt order (tools, system, messages) as (tokens, ends a cache breakpoint)."""
    out = []
    for tool in body.get("tools") or []:
        out.append((8 + tokens(json.dumps(tool, ensure_ascii=False, sort_keys=True)), "cache_control" in tool))
    system = body.get("system")
    if isinstance(system, str) and system:
        out.append((tokens(system), False))
    elif isinstance(system, list):
        out += [(_block_tokens(b), "cache_control" in b) for b in system]
    for message in body.get("messages", []):
        content = message["content"]
        blocks = [content] if isinstance(content, str) else content
        out.append((4, False))
        out += [(_block_tokens(b), isinstance(b, dict) and "cache_control" in b) for b in blocks]
    return out


def count_request(body: dict[str, Any]) -> int:
    return sum(n for n, _ in _pieces(body)) + (TOOL_FRAMING if body.get("tools") else 0)


def _violations(body: dict[str, Any]) -> list[str]:
    problems = []
    messages = body.get("messages") or []
    if not messages or messages[0].get("role") != "user":
        problems.append("messages: the first message must use the user role")
    for i, (a, b) in enumerate(zip(messages, messages[1:])):
        if a.get("role") == b.get("role"):
            problems.append(f"messages.{i + 1}: roles must alternate between user and assistant")
    breakpoints = 0
    for i, m in enumerate(messages):
        content = m.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
        if not blocks:
            problems.append(f"messages.{i}: content cannot be empty")
        for j, blk in enumerate(blocks):
            breakpoints += "cache_control" in blk
            if blk.get("type") == "text" and not blk.get("text", "").strip():
                problems.append(f"messages.{i}.content.{j}: text content blocks must contain non-whitespace text")
        if m.get("role") == "assistant":
            uses = [blk["id"] for blk in blocks if blk.get("type") == "tool_use"]
            if uses and i + 1 < len(messages):
                nxt = messages[i + 1].get("content")
                nxt = nxt if isinstance(nxt, list) else []
                results = []
                for blk in nxt:
                    if blk.get("type") != "tool_result":
                        break
                    results.append(blk.get("tool_use_id"))
                if sorted(results) != sorted(uses):
                    problems.append(
                        f"messages.{i + 1}: tool_use ids were found without tool_result blocks immediately after: "
                        + ", ".join(u for u in uses if u not in results)
                    )
    system = body.get("system")
    if isinstance(system, list):
        breakpoints += sum("cache_control" in b for b in system)
        problems += [
            "system: text content blocks must contain non-whitespace text"
            for b in system
            if b.get("type") == "text" and not b.get("text", "").strip()
        ]
    for tool in body.get("tools") or []:
        breakpoints += "cache_control" in tool
        if not TOOL_NAME.match(tool.get("name", "")):
            problems.append(f"tools: name {tool.get('name')!r} does not match ^[a-zA-Z0-9_-]{{1,64}}$")
    if breakpoints > 4:
        problems.append(f"A maximum of 4 blocks with cache_control may be provided. Found {breakpoints}.")
    limit = next((v for k, v in MAX_OUTPUT.items() if str(body.get("model", "")).startswith(k)), 64000)
    if not isinstance(body.get("max_tokens"), int) or not 1 <= body["max_tokens"] <= limit:
        problems.append(f"max_tokens: {body.get('max_tokens')} is not within 1..{limit} for {body.get('model')}")
    return problems


class StubServer:
    """``replies``: queued reply dicts, each one of ``{"content": [...]}``, ``{"text": ...}``, optionally
    with ``stop_reason``, ``output_tokens``, ``status`` (an error status instead, with ``error_type``,
    ``message`` and ``headers``). ``status``: every request fails with it (the old single-status mode)."""

    def __init__(self, replies: list[dict[str, Any]], status: int = 200):
        self.replies = list(replies)
        self.requests: list[dict[str, Any]] = []  # message requests that passed validation or not
        self.headers: list[dict[str, str]] = []
        self.counts: list[dict[str, Any]] = []  # count_tokens requests
        self.violations: list[str] = []
        self.usages: list[dict[str, int]] = []
        self.status = status
        self.cache: set[str] = set()
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                with stub.lock:
                    if self.path.startswith("/v1/messages/count_tokens"):
                        stub.counts.append(body)
                        return self._send(200, {"input_tokens": count_request(body)})
                    stub.requests.append(body)
                    stub.headers.append({k.lower(): v for k, v in self.headers.items()})
                    if stub.status != 200:
                        return self._error(stub.status, "invalid_request_error", "bad model")
                    problems = _violations(body)
                    if problems:
                        stub.violations += problems
                        return self._error(400, "invalid_request_error", problems[0])
                    reply = stub.replies.pop(0)
                    if reply.get("status"):
                        return self._error(
                            reply["status"],
                            reply.get("error_type", "api_error"),
                            reply.get("message", "error"),
                            reply.get("headers"),
                        )
                    self._send(200, stub._message(body, reply))

            def _error(self, status: int, kind: str, message: str, headers: dict | None = None) -> None:
                self._send(status, {"type": "error", "error": {"type": kind, "message": message}}, headers)

            def _send(self, status: int, payload: dict[str, Any], headers: dict | None = None) -> None:
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                for k, v in (headers or {}).items():
                    self.send_header(k, str(v))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _usage(self, body: dict[str, Any]) -> dict[str, int]:
        pieces = _pieces(body)
        total = sum(n for n, _ in pieces) + (TOOL_FRAMING if body.get("tools") else 0)
        usage = {"input_tokens": total, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
        ends = [i for i, (_, mark) in enumerate(pieces) if mark]
        if not ends:
            return usage
        best_read, written = 0, 0
        prefix = (TOOL_FRAMING if body.get("tools") else 0) + sum(n for n, _ in pieces[: ends[-1] + 1])
        key = hashlib.sha256(json.dumps(_prefix_body(body), sort_keys=True).encode()).hexdigest()
        if prefix >= MIN_CACHEABLE:
            if key in self.cache:
                best_read = prefix
            else:
                written = prefix
                self.cache.add(key)
        usage["cache_read_input_tokens"] = best_read
        usage["cache_creation_input_tokens"] = written
        usage["input_tokens"] = total - best_read - written
        return usage

    def _message(self, body: dict[str, Any], reply: dict[str, Any]) -> dict[str, Any]:
        content = reply.get("content") or [{"type": "text", "text": reply.get("text", "")}]
        usage = self._usage(body)
        out = reply.get("output_tokens")
        usage["output_tokens"] = out if out is not None else sum(_block_tokens(b) for b in content)
        self.usages.append(usage)
        stop = reply.get("stop_reason") or ("tool_use" if any(b["type"] == "tool_use" for b in content) else "end_turn")
        return {
            "id": f"msg_{len(self.requests)}",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": usage,
        }

    def __enter__(self) -> "StubServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


def _prefix_body(body: dict[str, Any]) -> list[Any]:
    """The request in prompt order cut after its last cache breakpoint (what the cache is keyed by)."""
    parts: list[Any] = [{"tool": t} for t in body.get("tools") or []]
    system = body.get("system")
    parts += [{"system": b} for b in (system if isinstance(system, list) else [system] if system else [])]
    for m in body.get("messages", []):
        content = m["content"]
        parts += [{"role": m["role"], "block": b} for b in ([content] if isinstance(content, str) else content)]
    last = max(
        (
            i
            for i, p in enumerate(parts)
            if isinstance(next(iter(p.values())), dict) and "cache_control" in next(iter(p.values()))
        ),
        default=-1,
    )
    return [_strip_cache(p) for p in parts[: last + 1]]


def _strip_cache(part: dict[str, Any]) -> dict[str, Any]:
    return {
        k: ({kk: vv for kk, vv in v.items() if kk != "cache_control"} if isinstance(v, dict) else v)
        for k, v in part.items()
    }


def tool_use(id_: str, name: str, **args: Any) -> dict[str, Any]:
    return {"content": [{"type": "tool_use", "id": id_, "name": name, "input": args}]}

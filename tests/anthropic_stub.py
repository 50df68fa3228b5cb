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


def count_request(body: dict[str, Any]) -> int:
    """Input tokens of a request, as the usage of a reply counts them (cache breakpoints aside)."""
    return sum(n for n, _, _ in _blocks(body)) + (TOOL_FRAMING if body.get("tools") else 0)


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
                    message = stub._message(body, reply)
                    if body.get("stream"):
                        return self._stream(message)
                    self._send(200, message)

            def _stream(self, message: dict[str, Any]) -> None:
                """The reply as server-sent events, as the API streams one."""
                events = [("message_start", {"message": {**message, "content": [], "stop_reason": None}})]
                for i, block in enumerate(message["content"]):
                    if block["type"] == "tool_use":
                        start, delta = (
                            {**block, "input": {}},
                            {"type": "input_json_delta", "partial_json": json.dumps(block["input"])},
                        )
                    else:
                        start, delta = {"type": "text", "text": ""}, {"type": "text_delta", "text": block["text"]}
                    events += [
                        ("content_block_start", {"index": i, "content_block": start}),
                        ("content_block_delta", {"index": i, "delta": delta}),
                        ("content_block_stop", {"index": i}),
                    ]
                events += [
                    (
                        "message_delta",
                        {
                            "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                            "usage": {"output_tokens": message["usage"]["output_tokens"]},
                        },
                    ),
                    ("message_stop", {}),
                ]
                raw = "".join(f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n" for name, data in events)
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("content-length", str(len(raw.encode())))
                self.end_headers()
                self.wfile.write(raw.encode())

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
        """Usage as the API reports it. The prompt is a sequence of blocks (tools, system, message
        blocks); a request writes a cache entry at each of its breakpoints and reads the longest
        cached prefix that ends at a breakpoint or up to 20 blocks before one. ``cache_read`` is that
        prefix, ``cache_creation`` the rest up to the last breakpoint, ``input_tokens`` what follows."""
        blocks = _blocks(body)
        framing = TOOL_FRAMING if body.get("tools") else 0
        cum, hashes, h = [framing], [hashlib.sha256(b"start").hexdigest()], hashlib.sha256(b"start").hexdigest()
        for tokens_, material, _ in blocks:
            h = hashlib.sha256((h + material).encode()).hexdigest()
            cum.append(cum[-1] + tokens_)
            hashes.append(h)
        marks = [i + 1 for i, (_, _, mark) in enumerate(blocks) if mark]
        total = cum[-1]
        if not marks:
            return {"input_tokens": total, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
        read_at = 0
        for b in marks:
            for j in range(b, max(0, b - 20) - 1, -1):
                if hashes[j] in self.cache:
                    read_at = max(read_at, j)
                    break
        last = marks[-1]
        for b in marks:
            if cum[b] >= MIN_CACHEABLE:
                self.cache.add(hashes[b])
        read = cum[read_at] if read_at else 0
        if cum[last] < MIN_CACHEABLE:  # too short to cache: all of it is plain input
            return {"input_tokens": total, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
        return {
            "input_tokens": total - cum[last],
            "cache_creation_input_tokens": cum[last] - read,
            "cache_read_input_tokens": read,
        }

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


def _blocks(body: dict[str, Any]) -> list[tuple[int, str, bool]]:
    """The prompt in order as (tokens, what the cache keys it by, carries a breakpoint)."""
    out = []

    def add(tokens_: int, part: Any, mark: bool) -> None:
        clean = {k: v for k, v in part.items() if k != "cache_control"} if isinstance(part, dict) else part
        out.append((tokens_, json.dumps(clean, sort_keys=True, ensure_ascii=False), mark))

    for tool in body.get("tools") or []:
        add(
            8 + tokens(json.dumps({k: v for k, v in tool.items() if k != "cache_control"}, sort_keys=True)),
            tool,
            "cache_control" in tool,
        )
    system = body.get("system")
    if isinstance(system, str) and system:
        add(tokens(system), {"system": system}, False)
    for b in system if isinstance(system, list) else []:
        add(_block_tokens(b), b, "cache_control" in b)
    for m in body.get("messages", []):
        content = m["content"]
        for i, b in enumerate([{"type": "text", "text": content}] if isinstance(content, str) else content):
            add(_block_tokens(b) + (4 if i == 0 else 0), {"role": m["role"], **b}, "cache_control" in b)
    return out


def tool_use(id_: str, name: str, **args: Any) -> dict[str, Any]:
    return {"content": [{"type": "tool_use", "id": id_, "name": name, "input": args}]}

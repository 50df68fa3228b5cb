"""A tiny local HTTP server that speaks enough of the Anthropic Messages API for tests.

It answers ``POST /v1/messages`` with queued replies (tool_use or text blocks) and records every
request body, so tests drive the real ``anthropic`` SDK end to end over loopback.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class StubServer:
    def __init__(self, replies: list[dict[str, Any]], status: int = 200):
        self.replies = list(replies)
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.status = status
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                stub.requests.append(body)
                stub.headers.append({k.lower(): v for k, v in self.headers.items()})
                if stub.status != 200:
                    payload = {"type": "error", "error": {"type": "invalid_request_error", "message": "bad model"}}
                    return self._send(stub.status, payload)
                reply = stub.replies.pop(0)
                content = reply.get("content") or [{"type": "text", "text": reply.get("text", "")}]
                self._send(
                    200,
                    {
                        "id": f"msg_{len(stub.requests)}",
                        "type": "message",
                        "role": "assistant",
                        "model": body["model"],
                        "content": content,
                        "stop_reason": "tool_use" if any(b["type"] == "tool_use" for b in content) else "end_turn",
                        "stop_sequence": None,
                        "usage": {
                            "input_tokens": 100 + len(stub.requests),
                            "output_tokens": 20,
                            "cache_read_input_tokens": 7,
                        },
                    },
                )

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "StubServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


def tool_use(id_: str, name: str, **args: Any) -> dict[str, Any]:
    return {"content": [{"type": "tool_use", "id": id_, "name": name, "input": args}]}

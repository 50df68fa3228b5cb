"""The HTTP side of ``llmos serve``: MCP over streamable HTTP at ``/mcp`` and the read-only
dashboard at ``/``, behind one bearer token, on 127.0.0.1 unless told otherwise.

``/mcp`` needs ``Authorization: Bearer TOKEN``. The dashboard takes the same header, or the cookie
that ``/?token=TOKEN`` sets once (a browser cannot send a header on its own). Anything else gets 401
and a line saying where the token is. DNS-rebinding protection (Host and Origin checks) is the SDK's.
"""

from __future__ import annotations

import contextlib
import threading
import time
from http.cookies import SimpleCookie
from typing import Any, Callable

from .mcp import build
from .token import matches, token_path

COOKIE = "llmos_token"


class BearerGate:
    """ASGI middleware: every HTTP request must carry the token (header, or the dashboard's cookie)."""

    def __init__(self, app: Any, token: str, hint: str):
        self.app, self.token, self.hint = app, token, hint

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        auth = headers.get("authorization", "")
        bearer = auth[7:].strip() if auth[:7].lower() == "bearer " else None
        if matches(bearer, self.token):
            return await self.app(scope, receive, _timed(send))
        if not scope["path"].startswith("/mcp"):
            query = dict(p.split("=", 1) for p in scope.get("query_string", b"").decode().split("&") if "=" in p)
            if matches(query.get("token"), self.token):  # sign in: the cookie, then the page without the token
                cookie = f"{COOKIE}={self.token}; HttpOnly; SameSite=Strict; Path=/"
                return await _send(
                    send, 303, b"", [(b"location", scope["path"].encode()), (b"set-cookie", cookie.encode())]
                )
            jar = SimpleCookie(headers.get("cookie", ""))
            if COOKIE in jar and matches(jar[COOKIE].value, self.token):
                return await self.app(scope, receive, send)
        body = f"401: llmos serve needs its bearer token ({self.hint})\n".encode()
        await _send(
            send, 401, body, [(b"content-type", b"text/plain; charset=utf-8"), (b"www-authenticate", b"Bearer")]
        )


def _timed(send: Callable) -> Callable:
    """``send`` that adds ``Server-Timing: app;dur=MS`` (request in to response start) to the response,
    so a client can tell the server's share of a call's latency from the network's and its own."""
    started = time.perf_counter()

    async def timed(message: dict) -> None:
        if message["type"] == "http.response.start":
            ms = (time.perf_counter() - started) * 1000
            message = {
                **message,
                "headers": [*message.get("headers", []), (b"server-timing", f"app;dur={ms:.2f}".encode())],
            }
        await send(message)

    return timed


async def _send(send: Callable, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def build_app(kernel: Any, token: str, routes: list[Any] = (), host: str = "127.0.0.1") -> tuple[Any, Any]:
    """(the ASGI app, its MCP server): MCP at /mcp, ``routes`` (the dashboard's) beside it."""
    server = build(kernel, via="mcp-http")
    for route in routes:
        server._custom_starlette_routes.append(route)
    # on a loopback host the SDK checks Host and Origin (DNS rebinding); elsewhere the token alone guards
    app = server.streamable_http_app(streamable_http_path="/mcp", host=host)
    hint = f"it is in {token_path(kernel.root)}"
    return BearerGate(app, token, hint), server


class Service:
    """``llmos serve`` in-process: uvicorn on a thread, stopped by :meth:`stop` (tests, benchmarks)."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0):
        import uvicorn

        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="llmos-serve", daemon=True)

    def start(self, timeout: float = 20) -> int:
        """Start and return the port it listens on."""
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("llmos serve did not start")
            time.sleep(0.02)
        return self.server.servers[0].sockets[0].getsockname()[1]

    def stop(self) -> None:
        self.server.should_exit = True
        with contextlib.suppress(RuntimeError):
            self.thread.join(timeout=10)


def serve(
    kernel: Any, *, host: str = "127.0.0.1", port: int = 7878, say: Callable[[str], None] = print, schedule: bool = True
) -> None:
    """``llmos serve``: run until interrupted (or the service stops)."""
    from .token import ensure_token

    from ..live.root import LiveRoot
    from .dashboard.app import routes

    live = LiveRoot(kernel)  # hot reload: edited agents, prompts and config apply to the next call or job
    live.listen(lambda event: say(f"  [reload] {event.line()}"))
    token, made = ensure_token(kernel.root)
    app, server = build_app(kernel, token, routes(kernel), host)
    service = Service(app, host, port)
    port = service.start()
    base = f"http://{host}:{port}"
    say(f"llmos serve: {kernel.root}")
    say(f"  MCP        {base}/mcp  (header Authorization: Bearer TOKEN)")
    if made:
        say(f"  token      {token}  (made now and shown once; it stays in {token_path(kernel.root)})")
        say(f"  dashboard  {base}/?token={token}")
    else:
        say(f"  token      in {token_path(kernel.root)}")
        say(f"  dashboard  {base}/?token=TOKEN")
    scheduler = None
    if schedule:
        from .schedule import Scheduler

        scheduler = Scheduler(kernel, say).start()
        say(f"  schedule   {', '.join(j.name for j in scheduler.jobs) or 'no jobs'} (llmos schedule)")
    try:
        while service.thread.is_alive():
            service.thread.join(0.5)
    finally:
        if scheduler is not None:
            scheduler.stop()
        service.stop()
        live.close()
        server.llmos_gate.close()

"""MCP servers' tools as syscalls: ``mcp_servers:`` in system/llmos.yaml, through the official ``mcp`` SDK.

Each configured server's tools become syscalls named ``mcp__SERVER__TOOL`` with the server's own JSON
schema, so they pass the same hooks (kill switch, allowlist), appear in traces and are granted in an
agent's ``tools`` like any syscall (``mcp__SERVER`` grants all of a server's tools). The tool lists are
cached in ``.llmos/cache/mcp-tools.json`` under each server's config, so opening a root does not start
servers; a server starts on its first call and stays up for the process (one asyncio thread holds its
session). While a call waits the kill switch is polled every 0.2 s: ``llmos halt`` stops the server.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import hashlib
import json
import threading
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, create_model

from ..atomic import atomic_write
from ..syscalls import Context, Outcome, Syscall, SyscallTable
from .config import McpServer

CACHE = Path(".llmos") / "cache" / "mcp-tools.json"
PREFIX = "mcp__"
START_S = 30  # the longest a server may take to start and list its tools (timeout_s bounds a call)


class McpSyscall(Syscall):
    """A syscall whose schema is the MCP tool's own ``inputSchema``."""

    def __init__(self, name: str, fn: Any, description: str, input_schema: dict[str, Any]):
        params = create_model(f"{name}_args", __config__=ConfigDict(extra="allow"))
        super().__init__(name, fn, description, params)
        self.input_schema = input_schema

    def schema(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "input_schema": self.input_schema}


def _key(cfg: McpServer) -> str:
    return hashlib.sha256(cfg.model_dump_json().encode()).hexdigest()[:16]


class Server:
    """One server's session, held by a task on the hub's event loop; calls are queued to it."""

    def __init__(self, hub: "Hub", name: str, cfg: McpServer, root: Path):
        self.hub, self.name, self.cfg, self.root = hub, name, cfg, root
        self.ready = concurrent.futures.Future()  # the tool list, or the error that stopped the start
        self.queue: asyncio.Queue | None = None
        self.task: asyncio.Task | None = None

    def _transport(self) -> Any:
        if self.cfg.url:
            from mcp.client.streamable_http import streamable_http_client

            return streamable_http_client(self.cfg.url)
        from mcp import StdioServerParameters
        from mcp.client.stdio import get_default_environment, stdio_client

        log_dir = self.root / ".llmos" / "mcp"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.errlog = open(log_dir / f"{self.name}.log", "a", encoding="utf-8")  # the server's stderr
        command, *args = self.cfg.command
        cwd = self.root / self.cfg.cwd if self.cfg.cwd else self.root
        env = {**get_default_environment(), **self.cfg.env}
        return stdio_client(StdioServerParameters(command=command, args=args, env=env, cwd=cwd), errlog=self.errlog)

    async def main(self) -> None:
        from mcp import ClientSession

        self.queue = asyncio.Queue()
        try:
            async with self._transport() as streams:
                async with ClientSession(streams[0], streams[1]) as session:
                    await session.initialize()
                    tools = (await session.list_tools()).tools
                    self.ready.set_result([t.model_dump(by_alias=True, exclude_none=True) for t in tools])
                    while (item := await self.queue.get()) is not None:
                        tool, args, done = item
                        try:
                            late = self.cfg.timeout_s + 5  # the caller stops the server first
                            done.set_result(await session.call_tool(tool, args, read_timeout_seconds=late))
                        except Exception as exc:  # the server's error is the model's observation
                            done.set_exception(exc)
        except BaseException as exc:  # noqa: B036 (a cancelled or failed start must reach the waiting caller)
            if not self.ready.done():
                self.ready.set_exception(exc if isinstance(exc, Exception) else RuntimeError("stopped"))
            if not isinstance(exc, (Exception, asyncio.CancelledError)):
                raise

    def tools(self, timeout: float) -> list[dict[str, Any]]:
        return self.ready.result(timeout)

    def call(self, tool: str, args: dict[str, Any]) -> Any:
        done: concurrent.futures.Future = concurrent.futures.Future()
        self.hub.loop.call_soon_threadsafe(self.queue.put_nowait, (tool, args, done))
        return done

    def stop(self) -> None:
        if self.task is not None:
            self.hub.loop.call_soon_threadsafe(self.task.cancel)


class Hub:
    """The process's MCP connections: one event loop thread, one :class:`Server` per configured server."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="llmos-mcp", daemon=True)
        self.thread.start()
        self.servers: dict[tuple[str, str, str], Server] = {}
        self.lock = threading.Lock()
        atexit.register(self.close)

    def server(self, root: Path, name: str, cfg: McpServer) -> Server:
        key = (str(root), name, _key(cfg))
        with self.lock:
            srv = self.servers.get(key)
            if srv is None or (srv.ready.done() and srv.ready.exception() is not None) or srv.task.done():
                srv = self.servers[key] = Server(self, name, cfg, root)
                started = asyncio.run_coroutine_threadsafe(self._start(srv), self.loop)
                started.result(10)
            return srv

    async def _start(self, srv: Server) -> None:
        srv.task = asyncio.get_running_loop().create_task(srv.main())
        await asyncio.sleep(0)

    def stop(self, root: Path, name: str) -> None:
        with self.lock:
            for key in [k for k in self.servers if k[:2] == (str(root), name)]:
                self.servers.pop(key).stop()

    def close(self) -> None:
        with self.lock:
            for srv in self.servers.values():
                srv.stop()
            self.servers.clear()


_HUB: Hub | None = None
_HUB_LOCK = threading.Lock()


def hub() -> Hub:
    global _HUB
    with _HUB_LOCK:
        if _HUB is None:
            _HUB = Hub()
        return _HUB


def list_tools(root: Path, name: str, cfg: McpServer, *, refresh: bool = False) -> list[dict[str, Any]]:
    """The server's tools (name, description, inputSchema), from the cache unless ``refresh``."""
    path = root / CACHE
    try:
        cache = json.loads(path.read_text())
    except (OSError, ValueError):
        cache = {}
    entry = cache.get(name)
    if not refresh and isinstance(entry, dict) and entry.get("key") == _key(cfg):
        return entry["tools"]
    tools = hub().server(root, name, cfg).tools(max(cfg.timeout_s, START_S))
    cache[name] = {"key": _key(cfg), "tools": tools}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(cache, indent=1), durable=False)
    return tools


def render(result: Any) -> tuple[bool, str]:
    parts = []
    for block in result.content or []:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(block.text)
        else:
            parts.append(f"[{kind} content: {getattr(block, 'mime_type', '') or ''}]".replace(" ]", "]"))
    if not parts and getattr(result, "structured_content", None) is not None:
        parts.append(json.dumps(result.structured_content))
    return not result.is_error, "\n".join(parts) or "(no output)"


def make_tool(root: Path, server: str, cfg: McpServer, tool: dict[str, Any]) -> McpSyscall:
    name = f"{PREFIX}{server}__{tool['name']}"

    def fn(ctx: Context, **args: Any) -> Outcome:
        from ..halt import check_halt

        pending = hub().server(root, server, cfg)
        try:
            pending.tools(max(cfg.timeout_s, START_S))
        except Exception as exc:
            return Outcome(False, f"MCP server {server!r} did not start: {exc} (see .llmos/mcp/{server}.log)")
        done = pending.call(tool["name"], args)
        waited = 0.0
        while True:
            try:
                check_halt(root)
            except Exception:
                hub().stop(root, server)
                raise
            try:
                return Outcome(*render(done.result(0.2)))
            except concurrent.futures.TimeoutError:
                waited += 0.2
                if waited > cfg.timeout_s:
                    hub().stop(root, server)
                    return Outcome(False, f"{name} timed out after {cfg.timeout_s:g} s (the server was stopped)")
            except Exception as exc:
                return Outcome(False, f"{name} failed: {exc}")

    description = (tool.get("description") or f"{tool['name']} of MCP server {server}").strip()
    schema = tool.get("inputSchema") or {"type": "object", "properties": {}}
    return McpSyscall(name, fn, f"[MCP {server}] {description}", schema)


def register_mcp_tools(table: SyscallTable, root: Path, config: Any) -> list[str]:
    """Add the tools of every server in ``config.mcp_servers`` to ``table``; return one line per server
    that could not be listed (it is left out, and ``llmos check`` says why)."""
    problems = []
    for server, cfg in (getattr(config, "mcp_servers", None) or {}).items():
        try:
            tools = list_tools(root, server, cfg)
        except Exception as exc:
            problems.append(f"MCP server {server!r} could not be listed: {exc} (see .llmos/mcp/{server}.log)")
            continue
        for tool in tools:
            if cfg.tools is None or tool["name"] in cfg.tools:
                sc = make_tool(root, server, cfg, tool)
                table.syscalls.setdefault(sc.name, sc)
    return problems

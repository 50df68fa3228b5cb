"""`llmos serve`: MCP over streamable HTTP behind a bearer token, driven by the SDK's own client."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from helpers import call, git


@contextmanager
def serving(root: Path):
    """`llmos serve --port 0` in a subprocess; yields (base url, the lines it printed)."""
    env = {**os.environ, "LLMOS_ROOT": str(root)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmos", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        lines = []
        while not any(line.lstrip().startswith("dashboard") for line in lines):
            line = proc.stdout.readline()
            assert line, f"llmos serve exited: {proc.stderr.read()}"
            lines.append(line)
        url = re.search(r"(http://127\.0\.0\.1:\d+)/mcp", "".join(lines)).group(1)
        yield url, lines
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def client(url: str, token: str | None) -> Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=120))
    return Client(streamable_http_client(f"{url}/mcp", http_client=http), read_timeout_seconds=60)


def status(url: str, headers: dict | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_mcp_over_http_with_the_bearer_token(root: Path, script):
    from llmos.halt import halt, resume

    model = script(call("write_file", path="projects/web/a.txt", content="via http"), call("finish", result="done"))
    with serving(root) as (url, lines):
        token_file = root / ".llmos" / "serve-token"
        token = token_file.read_text().strip()
        assert any(token in line for line in lines), "the token is shown when it is made"
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600

        assert status(f"{url}/mcp") == 401
        assert status(f"{url}/mcp", {"Authorization": "Bearer not-the-token"}) == 401
        progress = []

        async def on_progress(done, total, message):
            progress.append(done)

        async def session():
            async with client(url, token) as c:
                tools = {t.name for t in (await c.list_tools()).tools}
                mem = await c.call_tool("remember", {"text": "The staging database lives on host db-3."})
                hits = await c.call_tool("recall", {"query": "where does the staging database live"})
                run = await c.call_tool("boot", {"goal": "write a.txt", "model": model}, progress_callback=on_progress)
            return tools, mem, hits, run

        tools, mem, hits, run = anyio.run(session)
        halt(root, "stop everything")

        async def halted():
            async with client(url, token) as c:
                return await c.call_tool("boot", {"goal": "anything", "model": model})

        stopped = anyio.run(halted)
        resume(root)

        async def refused():
            async with client(url, None) as c:
                await c.list_tools()

        try:
            anyio.run(refused)
            raise AssertionError("a client without the token was served")
        except AssertionError:
            raise
        except BaseException:  # the SDK raises (an exception group) on the 401
            pass

    assert {"recall", "remember", "boot", "claim"} <= tools
    assert not mem.is_error and mem.structured_content["commit"]
    assert "Via: mcp-http" in git(root, "log", "-1", "--format=%B", mem.structured_content["commit"])
    assert hits.structured_content["hits"][0]["id"] == mem.structured_content["id"]
    assert run.structured_content["outcome"] == "success" and progress == [1, 2]
    assert (root / "projects/web/a.txt").read_text() == "via http"
    assert token not in git(root, "log", "--format=%B")
    assert stopped.is_error and "stop everything" in stopped.content[0].text

    with serving(root) as (url, lines):  # the second start does not show it again
        assert not any(token in line for line in lines)
        assert any(".llmos/serve-token" in line for line in lines)

"""`llmos mcp`: the MCP server on stdio, driven by the official SDK's own client in a subprocess."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters

from helpers import call, git

TOOLS = {"recall", "remember", "brief", "boot", "trace_show", "log", "budget_status", "claim", "release"}


def stdio(root: Path, **env: str) -> Client:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "llmos", "mcp"], env={**os.environ, "LLMOS_ROOT": str(root), **env}
    )
    return Client(params, read_timeout_seconds=60)


def data(result) -> dict:
    assert not result.is_error, result.content[0].text
    return result.structured_content if result.structured_content is not None else json.loads(result.content[0].text)


def test_tools_resources_and_writes_land_in_git(root: Path, script):
    model = script(
        call("write_file", path="projects/demo/hello.txt", content="hello from mcp"),
        call("finish", result="wrote hello.txt"),
    )
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    async def session() -> dict:
        out = {}
        async with stdio(root, DEPLOY_TOKEN="tok-0123456789-secret") as client:
            out["tools"] = {t.name for t in (await client.list_tools()).tools}
            out["remember"] = data(
                await client.call_tool(
                    "remember", {"text": "Deploys use port 8080; the key is tok-0123456789-secret.", "tags": ["ops"]}
                )
            )
            out["recall"] = data(await client.call_tool("recall", {"query": "which port do deploys use"}))
            memory = await client.read_resource(f"llmos://memories/{out['remember']['id']}")
            out["memory"] = memory.contents[0].text
            agents = await client.read_resource("llmos://agents")
            out["agents"] = json.loads(agents.contents[0].text)
            out["soul"] = (await client.read_resource("llmos://souls/assistant")).contents[0].text
            out["boot"] = data(
                await client.call_tool(
                    "boot",
                    {"goal": "Write hello into projects/demo/hello.txt", "model": model},
                    progress_callback=on_progress,
                )
            )
            out["tree"] = data(await client.call_tool("trace_show", {"trace_id": out["boot"]["trace_id"]}))
            out["trace"] = (await client.read_resource(f"llmos://traces/{out['boot']['trace_id']}")).contents[0].text
            out["log"] = data(await client.call_tool("log", {"limit": 5}))
            out["budget"] = data(await client.call_tool("budget_status", {}))
            out["brief"] = (await client.call_tool("brief", {})).content[0].text
            out["claim"] = data(await client.call_tool("claim", {"resource": "projects/demo", "holder": "alice"}))
            out["claim_bob"] = data(await client.call_tool("claim", {"resource": "projects/demo", "holder": "bob"}))
            out["release_bob"] = data(await client.call_tool("release", {"resource": "projects/demo", "holder": "bob"}))
            out["release"] = data(await client.call_tool("release", {"resource": "projects/demo", "holder": "alice"}))
            out["bad_trace"] = await client.call_tool("trace_show", {"trace_id": "nope"})
            out["empty"] = await client.call_tool("remember", {"text": ""})
            out["no_agent"] = await client.call_tool("brief", {"agent": "nobody"})
            out["still_alive"] = await client.call_tool("log", {})
        return out

    out = anyio.run(session)
    assert TOOLS <= out["tools"]

    mid = out["remember"]["id"]
    assert out["remember"]["commit"] and out["remember"]["path"].startswith("memory/beta/")
    subject_and_trailers = git(root, "log", "-1", "--format=%B", out["remember"]["commit"])
    assert "llmos: remember Deploys use port 8080" in subject_and_trailers
    assert f"Memory-Id: {mid}" in subject_and_trailers and "Via: mcp-stdio" in subject_and_trailers
    assert "tok-0123456789-secret" not in out["memory"] and "[secret:DEPLOY_TOKEN]" in out["memory"]
    assert [h["id"] for h in out["recall"]["hits"]][:1] == [mid] and not out["recall"]["abstain"]

    assert "assistant" in {a["name"] for a in out["agents"]["agents"]}
    assert out["soul"].strip()

    boot = out["boot"]
    assert boot["outcome"] == "success" and boot["result"] == "wrote hello.txt" and boot["commit"]
    assert (root / "projects/demo/hello.txt").read_text() == "hello from mcp"
    assert [p[0] for p in progress] == [1, 2] and "write_file" in (progress[0][2] or "")
    assert out["tree"]["id"] == boot["trace_id"] and out["tree"]["steps"] == 2
    assert f"id: {boot['trace_id']}" in out["trace"]
    assert out["log"]["runs"][0]["trailers"]["Trace-Id"] == boot["trace_id"]
    assert "per_day" in out["budget"]["ceilings"]
    assert "# Brief: assistant" in out["brief"]

    assert out["claim"]["ok"] and not out["claim_bob"]["ok"] and "alice" in out["claim_bob"]["message"]
    assert not out["release_bob"]["ok"] and out["release"]["ok"]
    assert out["bad_trace"].is_error and out["empty"].is_error  # an error result, not a crash
    assert out["no_agent"].is_error and "nobody" in out["no_agent"].content[0].text
    assert not out["still_alive"].is_error
    assert git(root, "status", "--porcelain") == ""


def test_halt_refuses_every_tool_and_resource(root: Path):
    from llmos.halt import halt

    halt(root, "maintenance window")

    async def session() -> tuple:
        async with stdio(root) as client:
            recall = await client.call_tool("recall", {"query": "anything"})
            remember = await client.call_tool("remember", {"text": "must not be written"})
            boot = await client.call_tool("boot", {"goal": "do something"})
            try:
                await client.read_resource("llmos://agents")
                resource = None
            except Exception as exc:  # the SDK raises the server's resource error
                resource = str(exc)
        return recall, remember, boot, resource

    recall, remember, boot, resource = anyio.run(session)
    for result in (recall, remember, boot):
        assert result.is_error and "maintenance window" in result.content[0].text
    assert resource and "maintenance window" in resource
    assert not list((root / "memory/beta").glob("*.md"))
    assert not list((root / "traces").rglob("*.md"))


def test_boot_passes_the_budget_gate(root: Path, script):
    """In-process (the SDK's client on the server object): a run over its ceiling ends `budget`."""
    import yaml

    from llmos.kernel import Kernel
    from llmos.serve.mcp import build

    cfg = root / "system" / "llmos.yaml"
    doc = yaml.safe_load(cfg.read_text())
    doc["budget"]["per_run"] = 0.000001
    cfg.write_text(yaml.safe_dump(doc))
    model = script(call("finish", result="too dear"), model="claude-sonnet-4-6")
    server = build(Kernel(root))

    async def session():
        async with Client(server) as client:
            return await client.call_tool("boot", {"goal": "anything at all", "model": model})

    result = anyio.run(session)
    server.llmos_gate.close()
    assert result.is_error
    text = result.content[0].text
    assert "budget per_run" in text and "would be exceeded" in text and "trace traces/" in text, text
    trace = next((root / "traces").rglob("*.md")).read_text()
    assert "outcome: budget" in trace

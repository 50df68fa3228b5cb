"""MCP tools through the official SDK, against a real third-party server from PyPI: mcp-server-git over
stdio on a temporary repository."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from llmos.kernel import Kernel
from llmos.syscalls import Context
from llmos.traces import read_trace

pytest.importorskip("mcp_server_git", reason="pip install -e '.[test]' installs mcp-server-git")


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    r = tmp_path / "repo"
    r.mkdir()
    subprocess.run(["git", "init", "-q", str(r)], check=True)
    (r / "a.txt").write_text("hello\n")
    subprocess.run(["git", "-C", str(r), "add", "a.txt"], check=True)
    subprocess.run(["git", "-C", str(r), "commit", "-qm", "first commit"], check=True)
    (r / "a.txt").write_text("changed\n")
    return r


def configure(root: Path, repo: Path, **extra) -> None:
    path = root / "system" / "llmos.yaml"
    config = yaml.safe_load(path.read_text())
    server = {"command": [sys.executable, "-m", "mcp_server_git", "--repository", str(repo)], **extra}
    config["mcp_servers"] = {"git": server}
    path.write_text(yaml.safe_dump(config))


def test_server_tools_appear_as_mcp_syscalls_with_their_schemas_and_run(root: Path, repo: Path):
    configure(root, repo)
    kernel = Kernel(root)
    names = [n for n in kernel.syscalls.names() if n.startswith("mcp__git__")]
    assert "mcp__git__git_status" in names and "mcp__git__git_log" in names
    schema = kernel.syscalls.syscalls["mcp__git__git_log"].schema()
    assert "repo_path" in schema["input_schema"]["properties"]
    res = kernel.syscalls.call(Context(root, "t", host=kernel), "mcp__git__git_status", {"repo_path": str(repo)})
    assert res.ok and "a.txt" in res.output
    bad = kernel.syscalls.call(Context(root, "t", host=kernel), "mcp__git__git_log", {"repo_path": "/nonexistent"})
    assert not bad.ok
    assert (root / ".llmos" / "cache" / "mcp-tools.json").is_file()  # the next kernel lists tools from the cache


def test_an_agent_granted_mcp_tools_uses_them_and_the_call_is_a_trace_step(root: Path, repo: Path, script):
    configure(root, repo, tools=["git_status", "git_log"])
    (root / "agents" / "gitter.md").write_text(
        "---\nname: gitter\ndescription: x\ntools: Read, mcp__git__git_log, mcp__other__x\n---\nUse git.\n"
    )
    kernel = Kernel(root)
    agent = kernel.agent("gitter")
    assert agent.tools == {"read_file", "mcp__git__git_log"} and "mcp__other__x" in agent.notes[0].message
    assert "mcp__git__git_diff" not in kernel.syscalls.names()  # not in the server's tools: list
    model = script(
        {"tool_calls": [{"name": "mcp__git__git_log", "args": {"repo_path": str(repo)}}]},
        {"tool_calls": [{"name": "mcp__git__git_status", "args": {"repo_path": str(repo)}}]},
        {"tool_calls": [{"name": "finish", "args": {"result": "ok"}}]},
    )
    res = kernel.run("log", model=model, agent="gitter")
    steps = read_trace(res.trace_path).steps
    assert steps[0].ok and "first commit" in steps[0].result
    assert not steps[1].ok and "may not use 'mcp__git__git_status'" in steps[1].result  # the allowlist holds


def test_a_server_that_cannot_start_is_named(root: Path):
    path = root / "system" / "llmos.yaml"
    config = yaml.safe_load(path.read_text())
    config["mcp_servers"] = {"broken": {"command": [sys.executable, "-c", "import sys; sys.exit(3)"], "timeout_s": 5}}
    path.write_text(yaml.safe_dump(config))
    kernel = Kernel(root)
    assert kernel.mcp_problems and "'broken' could not be listed" in kernel.mcp_problems[0]


def test_halt_and_timeouts_stop_a_slow_mcp_call(root: Path):
    import threading
    import time

    from llmos.errors import Halted
    from llmos.halt import halt, resume

    server = Path(__file__).with_name("mcp_slow_server.py")
    path = root / "system" / "llmos.yaml"
    config = yaml.safe_load(path.read_text())
    config["mcp_servers"] = {"slow": {"command": [sys.executable, str(server)], "timeout_s": 1}}
    path.write_text(yaml.safe_dump(config))
    kernel = Kernel(root)
    ctx = Context(root, "t", host=kernel)
    assert kernel.syscalls.call(ctx, "mcp__slow__nap", {"seconds": 0}).output == "slept 0.0"
    t0 = time.monotonic()
    res = kernel.syscalls.call(ctx, "mcp__slow__nap", {"seconds": 30})
    assert not res.ok and "timed out after 1 s" in res.output and time.monotonic() - t0 < 5
    assert kernel.syscalls.call(ctx, "mcp__slow__nap", {"seconds": 0}).ok  # a new server after the stop
    threading.Timer(0.5, lambda: halt(root, "stop")).start()
    t0 = time.monotonic()
    with pytest.raises(Halted):
        kernel.syscalls.call(ctx, "mcp__slow__nap", {"seconds": 30})
    assert time.monotonic() - t0 < 5
    resume(root)


def test_a_server_over_streamable_http(root: Path):
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = Path(__file__).with_name("mcp_slow_server.py")
    proc = subprocess.Popen([sys.executable, str(server), "http", str(port)], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        path = root / "system" / "llmos.yaml"
        config = yaml.safe_load(path.read_text())
        config["mcp_servers"] = {"remote": {"url": f"http://127.0.0.1:{port}/mcp", "timeout_s": 5}}
        path.write_text(yaml.safe_dump(config))
        kernel = Kernel(root)
        res = kernel.syscalls.call(Context(root, "t", host=kernel), "mcp__remote__nap", {"seconds": 0.1})
        assert res.ok and res.output == "slept 0.1"
    finally:
        from llmos.toolbelt.mcpclient import hub

        hub().stop(root, "remote")
        proc.kill()
        proc.wait()

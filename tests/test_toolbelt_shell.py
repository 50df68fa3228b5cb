"""bash: a command line in the bubblewrap sandbox, its output capped inline, killed by llmos halt."""

import threading
import time
from pathlib import Path

import pytest

from llmos.kernel import Kernel
from llmos.modes.jail import bwrap_path
from llmos.syscalls import Context
from llmos.traces import read_trace

pytestmark = pytest.mark.skipif(bwrap_path() is None, reason="bubblewrap is not installed (apt-get install bubblewrap)")


def bash(root: Path, command: str, agent: str = "tester", **args):
    kernel = Kernel(root)
    ctx = Context(root, agent, host=kernel)
    return kernel.syscalls.call(ctx, "bash", {"command": command, **args}), ctx


def test_a_command_runs_in_a_project_and_its_exit_code_and_output_come_back(root: Path):
    (root / "projects" / "demo").mkdir(parents=True)
    res, ctx = bash(root, "echo hi > out.txt && cat out.txt && echo oops >&2 && exit 3", cwd="projects/demo")
    assert not res.ok and res.output.startswith("exit 3\nhi\n[stderr]\noops")
    assert (root / "projects" / "demo" / "out.txt").read_text() == "hi\n"
    assert "projects/demo/out.txt" in ctx.written  # the run's commit takes what the command wrote


def test_the_root_is_read_only_but_projects_and_kernel_folders_are_hidden(root: Path):
    res, _ = bash(root, "touch agents/x.md; touch system/x; find .git .llmos -mindepth 1 | wc -l; echo end")
    assert "Read-only file system" in res.output and "\nend\n" in res.output
    assert not (root / "agents" / "x.md").exists()
    assert "\n0\n" in res.output  # .git and .llmos are empty in the sandbox
    (root / "projects" / "p" / "memory").mkdir(parents=True)
    res, _ = bash(root, "touch projects/p/memory/m.md")
    assert "Read-only" in res.output and not (root / "projects" / "p" / "memory" / "m.md").exists()


def test_no_network_unless_the_agent_is_granted_it(root: Path):
    res, _ = bash(root, "cat /proc/net/dev | grep -c ':'")
    assert res.output.split("\n")[1] == "1"  # loopback only: a new network namespace


def test_long_output_is_capped_inline_and_kept_whole_as_a_blob(root: Path):
    res, _ = bash(root, "seq 1 20000")
    assert res.ok and len(res.output) < 31_000 and "blob:" in res.output
    from llmos.blobs import BlobStore

    bid = res.output.split("blob:")[1].split("]")[0]
    with BlobStore.open(root / ".llmos" / "blobs") as store:
        assert store.get(bid).decode().splitlines()[-1] == "20000"


def test_timeout_and_halt_kill_the_command(root: Path):
    t0 = time.monotonic()
    res, _ = bash(root, "sleep 30", timeout_s=0.5)
    assert not res.ok and "timed out after 0.5 s" in res.output and time.monotonic() - t0 < 5
    from llmos.errors import Halted
    from llmos.halt import halt

    threading.Timer(0.4, lambda: halt(root, "stop")).start()
    t0 = time.monotonic()
    with pytest.raises(Halted):
        bash(root, "sleep 30")
    assert time.monotonic() - t0 < 5


def test_an_agent_run_uses_bash_and_commits_what_it_wrote(root: Path, script):
    (root / "projects" / "demo").mkdir(parents=True)
    model = script(
        {"tool_calls": [{"name": "bash", "args": {"command": "echo 42 > answer.txt", "cwd": "projects/demo"}}]},
        {"tool_calls": [{"name": "finish", "args": {"result": "done"}}]},
    )
    (root / "agents" / "sh.md").write_text("---\nname: shell-user\ndescription: x\ntools: Bash\n---\nUse bash.\n")
    res = Kernel(root).run("write the answer", model=model, agent="shell-user")
    assert res.outcome == "success", res.error
    assert read_trace(res.trace_path).steps[0].ok
    import subprocess

    tracked = subprocess.run(["git", "ls-files", "projects/demo"], cwd=root, capture_output=True, text=True).stdout
    assert "projects/demo/answer.txt" in tracked

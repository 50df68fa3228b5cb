"""`llmos boot` end to end on the scripted backend: traces, audit commits, bad input, crashes, concurrency."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llmos.audit.log import parse_trailers, run_log
from llmos.errors import AgentNotFound, GoalError, ModelSpecError, RootError, ScriptError
from llmos.kernel import Kernel
from llmos.traces import read_trace
from helpers import call, git, run_llmos, run_llmos_process

HELLO = [
    call("write_file", path="projects/demo/hello.txt", content="hello world"),
    call("finish", result="wrote hello.txt"),
]


def test_boot_runs_writes_trace_and_commits(root: Path, script):
    res = Kernel(root).run("Write hello into projects/demo/hello.txt", model=script(*HELLO))
    assert res.outcome == "success" and res.result == "wrote hello.txt" and res.steps == 2
    assert (root / "projects/demo/hello.txt").read_text() == "hello world"
    t = read_trace(res.trace_path)
    assert t.outcome == "success" and t.ended and t.model == "scripted" and t.mode == "LEARNER"
    assert t.goal_signature and t.slots == {"path1": "projects/demo/hello.txt"}
    assert t.agent == "assistant" and t.agent_hash and t.soul_hash
    assert [s.tool for s in t.steps] == ["write_file", "finish"] and all(s.ok for s in t.steps)
    assert t.tokens.input > 0 and t.tokens.input == sum(s.tokens.input for s in t.steps)
    assert res.trace_path.parent == root / "traces" / t.id[:4] / t.id[4:6]
    # the commit: message, trailers, exactly the run's files
    msg = git(root, "log", "-1", "--format=%B")
    assert msg.startswith("llmos: Write hello into projects/demo/hello.txt")
    trailers = parse_trailers(msg)
    assert trailers["Trace-Id"] == t.id and trailers["Agent"] == "assistant" and trailers["Mode"] == "LEARNER"
    assert trailers["Model"] == "scripted" and trailers["Tokens"] == f"{t.tokens.input}/{t.tokens.output}"
    assert trailers["Cost-USD"] == "0.000000"
    files = git(root, "show", "--name-only", "--format=", "HEAD").split()
    assert sorted(files) == sorted(["projects/demo/hello.txt", res.trace_path.relative_to(root).as_posix()])
    assert git(root, "status", "--porcelain") == ""
    assert [e.trailers["Trace-Id"] for e in run_log(root)] == [t.id]


def test_commit_never_takes_a_persons_uncommitted_work(root: Path, script):
    (root / "agents" / "assistant.md").write_text((root / "agents/assistant.md").read_text() + "\nMy edit.\n")
    (root / "projects" / "staged.md").write_text("staged by a person")
    git(root, "add", "projects/staged.md")
    Kernel(root).run("Write hello into projects/demo/hello.txt", model=script(*HELLO))
    files = git(root, "show", "--name-only", "--format=", "HEAD").split()
    assert "agents/assistant.md" not in files and "projects/staged.md" not in files
    status = git(root, "status", "--porcelain")
    assert " M agents/assistant.md" in status and "A  projects/staged.md" in status


def test_refusals_and_missing_files_are_observations(root: Path, script):
    model = script(
        call("write_file", path="../escape.txt", content="x"),
        call("read_file", path="projects/nothing.md"),
        call("delete_everything"),
        {"text": "I am thinking"},
        call("finish", result="done anyway"),
    )
    res = Kernel(root).run("try bad things", model=model)
    assert res.outcome == "success" and res.steps == 5
    t = read_trace(res.trace_path)
    assert [s.ok for s in t.steps] == [False, False, False, False, True]
    assert "outside the OS root" in t.steps[0].result and "no such file" in t.steps[1].result
    assert "unknown tool" in t.steps[2].result and t.steps[3].tool is None
    assert not (root.parent / "escape.txt").exists()


def test_allowlist_refusal_reaches_the_model(root: Path, script):
    (root / "agents" / "reader.md").write_text("---\nname: reader\ndescription: reads\ntools: Read\n---\nRead.\n")
    model = script(call("write_file", path="projects/x.md", content="x"), call("finish", result="ok"))
    res = Kernel(root).run("write x", agent="reader", model=model)
    t = read_trace(res.trace_path)
    assert "may not use 'write_file'" in t.steps[0].result and not (root / "projects/x.md").exists()


def test_max_steps_ends_in_failure_with_trace(root: Path, script):
    model = script(*[call("list_dir", path=".") for _ in range(5)])
    res = Kernel(root).run("loop forever", model=model, max_steps=3)
    assert res.outcome == "failure" and "max_steps" in res.error and res.steps == 3
    assert read_trace(res.trace_path).outcome == "failure"
    assert parse_trailers(git(root, "log", "-1", "--format=%B"))["Trace-Id"] == res.trace_id


def test_exhausted_script_fails_cleanly(root: Path, script):
    with pytest.raises(ScriptError, match="exhausted") as info:
        Kernel(root).run("write and never finish", model=script(HELLO[0]))
    run = info.value.run
    t = read_trace(run.trace_path)
    assert t.outcome == "failure" and "exhausted" in t.error and len(t.steps) == 1
    assert git(root, "status", "--porcelain") == ""  # trace and file committed


@pytest.mark.parametrize(
    "goal,kwargs,error,match",
    [
        ("   ", {}, GoalError, "the goal is empty"),
        ("x", {"agent": "ghost"}, AgentNotFound, "no agent named 'ghost'"),
        ("x", {"model": "gpt:4"}, ModelSpecError, "unknown model spec"),
        ("x", {"model": "scripted:"}, ModelSpecError, "needs a value"),
        ("x", {"model": "scripted:/nonexistent.yaml"}, ScriptError, "not found"),
    ],
)
def test_bad_input_writes_nothing(root: Path, goal, kwargs, error, match):
    head = git(root, "rev-parse", "HEAD")
    with pytest.raises(error, match=match):
        Kernel(root).run(goal, **kwargs)
    assert git(root, "rev-parse", "HEAD") == head and git(root, "status", "--porcelain") == ""
    assert not list((root / "traces").rglob("*.md"))


def test_malformed_script_names_file_and_line(root: Path, tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("replies:\n  - tool_calls:\n      - {name: finish, argz: {}}\n")
    with pytest.raises(ScriptError, match=r"bad.yaml:3: replies.0.tool_calls.0.argz: unknown field"):
        Kernel(root).run("x", model=f"scripted:{bad}")
    bad.write_text("replies: [\n")
    with pytest.raises(ScriptError, match="bad YAML"):
        Kernel(root).run("x", model=f"scripted:{bad}")


def test_root_that_is_not_a_git_repository(root: Path, script):
    import shutil

    shutil.rmtree(root / ".git")
    with pytest.raises(RootError, match="not a git repository"):
        Kernel(root).run("x", model=script(*HELLO))
    res = run_llmos("boot", "x", "--model", script(*HELLO), root=root)
    assert res.returncode == 1 and res.stderr.startswith("error: ") and "git init" in res.stderr


def test_cli_boot_json_summary(root: Path, script):
    res = run_llmos("boot", "Write hello into projects/demo/hello.txt", "--json", "--model", script(*HELLO), root=root)
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["outcome"] == "success" and summary["steps"] == 2 and summary["tokens"]["input"] > 0
    assert summary["trace_id"] in summary["trace_path"]
    log = run_llmos("log", root=root)
    assert "llmos: Write hello" in log.stdout and "assistant" in log.stdout


def test_cli_progress_and_bad_input_exit_codes(root: Path, script):
    res = run_llmos_process("boot", "Write hello", "--model", script(*HELLO), root=root)
    assert res.returncode == 0 and "write_file" in res.stderr and "success: wrote hello.txt" in res.stdout
    for args, fragment in (
        (["boot", ""], "goal is empty"),
        (["boot", "x", "--agent", "nope"], "no agent named"),
        (["boot", "x", "--model", "what:ever"], "unknown model spec"),
    ):
        res = run_llmos(*args, root=root)
        assert res.returncode == 1 and fragment in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_killed_run_leaves_a_readable_aborted_trace(root: Path, script):
    model = script(
        call("write_file", path="projects/demo/a.txt", content="first"),
        {"tool_calls": [{"name": "finish", "args": {"result": "never"}}], "delay": 60},
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmos", "boot", "slow goal", "--model", model],
        env={**__import__("os").environ, "LLMOS_ROOT": str(root)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    trace = None
    while time.monotonic() < deadline:
        found = list((root / "traces").rglob("*.md"))
        if found and "n: 1" in found[0].read_text():
            trace = found[0]
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert trace is not None
    t = read_trace(trace)
    assert t.outcome == "aborted" and t.ended is None and len(t.steps) == 1 and t.steps[0].ok


def test_interrupted_run_records_aborted_and_commits(root: Path, script):
    model = script(
        call("list_dir", path="."), {"tool_calls": [{"name": "finish", "args": {"result": "never"}}], "delay": 60}
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmos", "boot", "slow", "--model", model],
        env={**__import__("os").environ, "LLMOS_ROOT": str(root)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any("n: 1" in p.read_text() for p in (root / "traces").rglob("*.md")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130
    t = read_trace(next((root / "traces").rglob("*.md")))
    assert t.outcome == "aborted" and t.ended and t.error == "interrupted"
    assert parse_trailers(git(root, "log", "-1", "--format=%B"))["Trace-Id"] == t.id


def test_two_concurrent_runs_both_commit(root: Path, script):
    procs = []
    for n in range(2):
        model = script(
            call("write_file", path=f"projects/p{n}/out.txt", content=f"run {n}"),
            {"tool_calls": [{"name": "finish", "args": {"result": f"run {n}"}}], "delay": 0.3},
        )
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "llmos", "boot", f"concurrent run {n}", "--model", model],
                env={**__import__("os").environ, "LLMOS_ROOT": str(root)},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    subjects = git(root, "log", "--format=%s").splitlines()
    assert {"llmos: concurrent run 0", "llmos: concurrent run 1"} <= set(subjects)
    git(root, "fsck", "--strict")
    assert git(root, "status", "--porcelain") == ""
    assert len(git(root, "ls-files", "traces").split()) == 3  # two traces + .gitkeep

"""Recovery after kills: what a killed run wrote reaches history with a trail; nothing is left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from helpers import call, git, run_llmos
from llmos.budget.gate import Budget
from llmos.config import load_config
from llmos.kernel import Kernel
from llmos.procs import temp_prefix
from llmos.team.recover import sweep_temp_dirs
from llmos.team.runs import Registration, runs_dir
from llmos.traces import TraceMeta, TraceWriter, read_trace, trace_path


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _price_the_scripted_model(root: Path) -> None:
    path = root / "system/llmos.yaml"
    config = yaml.safe_load(path.read_text()) or {}
    config["budget"] = {
        **(config.get("budget") or {}),
        "free_models": ["local"],
        "prices": {"scripted": {"input": 100.0, "output": 100.0}},
    }
    path.write_text(yaml.safe_dump(config))
    git(root, "commit", "-qam", "price the scripted model")


def _boot_and_kill_after_first_step(root: Path, model: str) -> int:
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmos", "boot", "write the kill note", "--model", model],
        env={**os.environ, "LLMOS_ROOT": str(root)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        entries = list(runs_dir(root).glob("*.json")) if runs_dir(root).is_dir() else []
        if entries and json.loads(entries[0].read_text()).get("step", 0) >= 1:
            break
        time.sleep(0.05)
    else:
        proc.kill()
        raise AssertionError("the run never finished its first step")
    time.sleep(0.2)  # inside the second model call (it waits 30 s)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return proc.pid


def test_a_killed_runs_trace_and_files_are_committed_by_the_next_command(root: Path, script, capfd):
    _price_the_scripted_model(root)
    model = script(
        call("write_file", path="projects/kill/note.md", content="written before the kill\n"),
        {**call("finish", result="never reached"), "delay": 30},
    )
    pid = _boot_and_kill_after_first_step(root, model)
    entry = json.loads(next(runs_dir(root).glob("*.json")).read_text())
    assert entry["written"] == ["projects/kill/note.md"]
    assert "projects/kill/note.md" in git(root, "status", "--porcelain", "--untracked-files=all")

    kernel = Kernel(root)  # the next command that opens the root

    assert [r.outcome for r in kernel.recovered] == ["aborted"]
    assert f"recovered run {entry['id']}" in capfd.readouterr().err
    assert git(root, "status", "--porcelain", "--untracked-files=all") == ""
    assert not list(runs_dir(root).glob("*.json"))
    tracked = git(root, "ls-tree", "-r", "--name-only", "HEAD")
    rel = trace_path(root, entry["id"]).relative_to(root).as_posix()
    assert "projects/kill/note.md" in tracked and rel in tracked
    body = git(root, "log", "-1", "--format=%B")
    assert "Outcome: aborted" in body and f"pid {pid}) died" in body and f"Trace-Id: {entry['id']}" in body
    meta = read_trace(trace_path(root, entry["id"]))
    assert meta.outcome == "aborted" and meta.ended and "died" in meta.error
    # the call in flight was charged its worst case by the ledger; the trace and trailer say the same
    spent = Budget(root, load_config(root).budget).status(run_id=entry["id"])["ceilings"]["per_run"]["spent"]
    assert abs(spent - meta.cost_usd) < 1e-9 and spent > 0
    assert f"Cost-USD: {meta.cost_usd:.6f}" in body
    assert Kernel(root).recovered == []  # once only


def test_a_run_killed_after_it_ended_keeps_its_outcome(root: Path):
    meta = TraceMeta(
        id="20260101T000000-abcdef",
        goal="finish then die",
        goal_signature="finish then die",
        agent="assistant",
        agent_hash="0" * 12,
        model="scripted",
        started="2026-01-01T00:00:00.000Z",
    )
    writer = TraceWriter(root, meta)
    writer.end("success", result="done")
    (root / "projects").mkdir(exist_ok=True)
    (root / "projects/done.md").write_text("done\n")
    reg = Registration.start(
        root, id=meta.id, agent="assistant", goal=meta.goal, parent=None, depth=0, mode="LEARNER", started=meta.started
    )
    reg.wrote("projects/done.md")
    reg.wrote("../outside.md")  # a hand-edited entry cannot make recovery commit outside the root
    data = json.loads(reg.path.read_text())
    reg.path.write_text(json.dumps({**data, "pid": _dead_pid()}))

    out = run_llmos("ps", root=root)

    assert out.returncode == 0, out.stderr
    assert "recovered run 20260101T000000-abcdef" in out.stderr and "outcome success" in out.stderr
    assert read_trace(writer.path).outcome == "success"
    assert "Outcome: success" in git(root, "log", "-1", "--format=%B")
    assert git(root, "status", "--porcelain", "--untracked-files=all") == ""


def test_temporary_copies_left_by_dead_processes_are_removed(tmp_path: Path):
    base = Path(tempfile.gettempdir())
    dead = base / f"llmos-sandbox-{_dead_pid()}-x1"
    mine = Path(tempfile.mkdtemp(prefix=temp_prefix("sandbox")))
    other = base / "llmos-sandbox-notapid"
    for d in (dead, other):
        d.mkdir(exist_ok=True)
        (d / "f").write_text("x")
    try:
        assert sweep_temp_dirs() >= 1
        assert not dead.exists() and mine.exists() and other.exists()
    finally:
        for d in (dead, mine, other):
            subprocess.run(["rm", "-rf", str(d)])

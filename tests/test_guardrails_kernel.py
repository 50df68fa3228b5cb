"""The guardrails inside real runs: HALT stops a run, the budget ends one, secrets never reach disk."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from llmos.blobs import BlobStore, load_request
from llmos.errors import BudgetExceeded, Halted
from llmos.halt import halt, resume
from llmos.kernel import Kernel
from llmos.traces import read_trace
from helpers import call, git, run_llmos


def set_budget(root: Path, **ceilings) -> None:
    cfg_path = root / "system" / "llmos.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    cfg["budget"].update(ceilings)
    cfg_path.write_text(yaml.safe_dump(cfg))


def test_halt_refuses_a_new_run_and_resume_lifts_it(root: Path, script):
    halt(root, "maintenance window")
    with pytest.raises(Halted, match="maintenance window"):
        Kernel(root).run("x", model=script(call("finish", result="no")))
    assert not list((root / "traces").rglob("*.md"))
    res = run_llmos("boot", "x", "--model", script(call("finish", result="no")), root=root)
    assert res.returncode == 1 and "maintenance window" in res.stderr
    resume(root)
    assert Kernel(root).run("x", model=script(call("finish", result="yes"))).outcome == "success"


def test_halt_stops_a_running_goal_within_one_step(root: Path, script):
    model = script(
        call("list_dir", path="."),
        {"tool_calls": [{"name": "write_file", "args": {"path": "projects/late.txt", "content": "x"}}], "delay": 1.5},
        call("finish", result="never"),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmos", "boot", "long job", "--model", model],
        env={**os.environ, "LLMOS_ROOT": str(root)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any("n: 1" in p.read_text() for p in (root / "traces").rglob("*.md")):
        time.sleep(0.02)
    halt(root, "stop now")  # while the model "thinks" about step 2
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "stop now" in err
    t = read_trace(next((root / "traces").rglob("*.md")))
    assert t.outcome == "halted" and len(t.steps) == 1 and "stop now" in t.error
    assert not (root / "projects" / "late.txt").exists()
    assert f"Trace-Id: {t.id}" in git(root, "log", "-1", "--format=%B")
    assert "HALT" not in git(root, "show", "--name-only", "--format=", "HEAD")


def test_budget_ceiling_ends_the_run_before_the_call(root: Path, script):
    set_budget(root, per_run=0.3)
    # a scripted model named like a priced Claude model is charged like one
    big = "word " * 4000
    model = script(
        call("write_file", path="projects/a.txt", content=big),
        call("write_file", path="projects/b.txt", content=big),
        call("finish", result="done"),
        model="claude-opus-4-6",
    )
    with pytest.raises(BudgetExceeded) as info:
        Kernel(root).run("spend a lot", model=model, max_steps=10)
    t = read_trace(info.value.run.trace_path)
    assert t.outcome == "budget" and 0 < t.cost_usd <= 0.3
    assert 1 <= t.model_calls < 3 and "per_run" in t.error
    assert not (root / "projects" / "b.txt").exists() or t.model_calls == 2


def test_agent_budget_can_only_lower_the_ceiling(root: Path, script):
    set_budget(root, per_run=1.0)
    (root / "agents" / "frugal.md").write_text("---\nname: frugal\ndescription: x\nbudget: 0.0001\n---\nBe frugal.\n")
    model = script(call("finish", result="x"), model="claude-opus-4-6")
    with pytest.raises(BudgetExceeded):
        Kernel(root).run("x", agent="frugal", model=model)


def test_budget_status_syscall(root: Path, script):
    set_budget(root, per_run=0.5)
    res = Kernel(root).run("how much is left", model=script(call("budget_status"), call("finish", result="ok")))
    step = read_trace(res.trace_path).steps[0]
    assert step.ok and '"per_run": {"limit": 0.5' in step.result


def test_vault_snapshot_syscall_seals_head(root: Path, script):
    (root / "agents" / "careful.md").write_text(
        "---\nname: careful\ndescription: x\ntools: [vault_snapshot, finish]\n---\nSeal first.\n"
    )
    res = Kernel(root).run(
        "seal it",
        agent="careful",
        model=script(call("vault_snapshot", label="before risk"), call("finish", result="ok")),
    )
    step = read_trace(res.trace_path).steps[0]
    assert step.ok and step.result.startswith("sealed snapshot")
    listing = run_llmos("vault", "list", root=root)
    assert "before risk" in listing.stdout


def test_a_planted_secret_never_reaches_disk(root: Path, script, monkeypatch: pytest.MonkeyPatch):
    secret = "sk-test-Zq8LrT4vW2pXy9"
    monkeypatch.setenv("PLANTED_API_KEY", secret)
    from llmos.scrub import refresh

    refresh()
    (root / "projects" / "creds.txt").write_text(f"token={secret}\n")
    git(root, "add", "projects/creds.txt")  # staged by a person; never part of a run's commit
    model = script(
        call("write_file", path="projects/leak.txt", content=f"key is {secret}"),
        call("read_file", path="projects/creds.txt"),
        {"text": f"my key: {secret}", "tool_calls": [{"name": "finish", "args": {"result": secret}}]},
    )
    res = Kernel(root).run("leak it", model=model)
    assert res.outcome == "success"
    assert secret not in (root / "projects" / "leak.txt").read_text()
    assert "[secret:PLANTED_API_KEY]" in (root / "projects" / "leak.txt").read_text()
    assert secret not in res.trace_path.read_text()
    assert secret not in git(root, "log", "-p", "-1")
    t = read_trace(res.trace_path)
    with BlobStore.open(root / ".llmos" / "blobs") as store:
        for step in t.steps:
            request = load_request(store, step.request.removeprefix("blob:"))
            response = store.get(step.response.removeprefix("blob:"))
            assert secret not in str(request) and secret.encode() not in response
    refresh()


def test_long_results_go_to_the_blob_store(root: Path, script):
    (root / "projects" / "big.txt").write_text("line of text\n" * 1000)
    res = Kernel(root).run(
        "read big", model=script(call("read_file", path="projects/big.txt"), call("finish", result="ok"))
    )
    step = read_trace(res.trace_path).steps[0]
    assert len(step.result) < 2300 and "full text blob:" in step.result
    blob_id = step.result.rsplit("blob:", 1)[1].rstrip("]")
    with BlobStore.open(root / ".llmos" / "blobs") as store:
        assert store.get(blob_id).decode() == "line of text\n" * 1000

"""Claims, handoffs, the run registry and `llmos ps`."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

from llmos.team import claims
from llmos.blobs import BlobStore, load_request
from llmos.kernel import Kernel
from llmos.team.runs import Registration, running, runs_dir
from llmos.traces import read_trace
from helpers import call, git, run_llmos


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def register(root: Path, run_id: str, agent: str = "assistant") -> Registration:
    return Registration.start(
        root,
        id=run_id,
        agent=agent,
        goal=f"goal of {run_id}",
        parent=None,
        depth=0,
        mode="LEARNER",
        started="2026-01-01T00:00:00Z",
    )


def test_a_live_claim_is_refused_to_others_and_released_by_its_holder(root: Path):
    register(root, "run-a")
    assert claims.claim(root, "projects/site", run="run-a", agent="assistant", ttl=60).ok
    other = claims.claim(root, "projects/site", run="run-b", agent="reviewer", ttl=60)
    assert not other.ok and "claimed by agent 'assistant' (run run-a" in other.message
    assert not claims.release(root, "projects/site", run="run-b").ok
    assert claims.claim(root, "projects/site", run="run-a", agent="assistant", ttl=120).ok  # renew
    assert claims.release(root, "projects/site", run="run-a").ok
    assert claims.claim(root, "projects/site", run="run-b", agent="reviewer", ttl=60).ok


def test_claims_expire(root: Path):
    register(root, "run-a")
    register(root, "run-b")
    now = time.time()
    assert claims.claim(root, "db", run="run-a", agent="assistant", ttl=10, now=now).ok
    assert not claims.claim(root, "db", run="run-b", agent="x", ttl=10, now=now + 9).ok
    later = claims.claim(root, "db", run="run-b", agent="x", ttl=10, now=now + 11)
    assert later.ok and "reclaimed" in later.message and "expired" in later.message
    assert [c["run"] for c in claims.held(root, now=now + 11)[0]] == ["run-b"]
    assert claims.held(root, now=now + 30)[0] == []


def test_a_claim_held_by_a_dead_process_or_an_ended_run_is_reclaimable(root: Path):
    pid = dead_pid()
    state = {
        "format": "llmos-claims/1",
        "handoffs": [],
        "claims": {
            "deploy": {
                "resource": "deploy",
                "run": "run-x",
                "agent": "assistant",
                "pid": pid,
                "pstart": None,
                "host": None,
                "acquired": time.time(),
                "expires": time.time() + 3600,
            }
        },
    }
    claims.claims_path(root).parent.mkdir(parents=True, exist_ok=True)
    claims.claims_path(root).write_text(json.dumps(state))
    taken = claims.claim(root, "deploy", run="run-y", agent="reviewer", ttl=60)
    assert taken.ok and f"holder process {pid} is gone" in taken.message
    # same (live) process, but the holder's run is no longer registered: it ended
    reg = register(root, "run-y")
    reg.remove()
    again = claims.claim(root, "deploy", run="run-z", agent="assistant", ttl=60)
    assert again.ok and "run run-y has ended" in again.message


def test_bad_claim_input(root: Path):
    for resource, ttl in (("", 10), ("x" * 300, 10), ("ok", 0), ("ok", -1)):
        try:
            claims.claim(root, resource, run="r", agent="a", ttl=ttl)
        except ValueError:
            continue
        raise AssertionError(f"accepted {resource[:10]!r} ttl={ttl}")
    # a damaged claims file does not wedge agents
    claims.claims_path(root).parent.mkdir(parents=True, exist_ok=True)
    claims.claims_path(root).write_text("{not json")
    register(root, "r")
    assert claims.claim(root, "ok", run="r", agent="a", ttl=5).ok


def test_claim_syscalls_in_runs_and_release_at_the_end(root: Path, script):
    (root / "agents/worker.md").write_text(
        "---\nname: worker\ndescription: w\ntools: [claim, release, handoff, finish]\n---\nWork.\n"
    )
    register(root, "run-other", agent="reviewer")
    claims.claim(root, "taken", run="run-other", agent="reviewer", ttl=60)
    model = script(
        call("claim", resource="projects/a", ttl=30),
        call("claim", resource="taken"),
        call("release", resource="nothing"),
        call("claim", resource="projects/b"),
        call("finish", result="done"),
    )
    res = Kernel(root).run("claim things", agent="worker", model=model)
    steps = read_trace(res.trace_path).steps
    assert [s.ok for s in steps] == [True, False, False, True, True]
    assert "claimed 'projects/a'" in steps[0].result and "claimed by agent 'reviewer'" in steps[1].result
    assert [c["resource"] for c in claims.held(root)[0]] == ["taken"]  # the run's own claims ended with it


def test_handoff_passes_claims_and_the_note_to_the_next_run(root: Path, script):
    (root / "agents/worker.md").write_text(
        "---\nname: worker\ndescription: w\ntools: [claim, handoff, finish]\n---\nWork.\n"
    )
    first = script(
        call("claim", resource="projects/report"),
        call("handoff", agent="nobody", note="x"),
        call("handoff", agent="reviewer", note="draft is in projects/report/draft.md"),
        call("finish", result="handed off"),
    )
    res = Kernel(root).run("start the report", agent="worker", model=first)
    steps = read_trace(res.trace_path).steps
    assert not steps[1].ok and "no agent named 'nobody'" in steps[1].result
    assert steps[2].ok and "'projects/report'" in steps[2].result
    live, pending = claims.held(root)
    assert live[0]["agent"] == "reviewer" and live[0]["run"] is None and pending[0]["to"] == "reviewer"
    # the reviewer's next run holds the claim and sees the note with its goal
    second = script(call("finish", result="reviewed"))
    res2 = Kernel(root).run("review the report", agent="reviewer", model=second)
    assert claims.held(root) == ([], [])  # taken by that run, released when it ended
    with BlobStore.open(root / ".llmos/blobs") as store:
        request = load_request(store, read_trace(res2.trace_path).steps[0].request.split(":", 1)[1])
    goal = request["messages"][1]["content"]
    assert goal.startswith("review the report") and "draft is in projects/report/draft.md" in goal
    assert "Handed off to you" in goal and "projects/report" in goal


def test_registry_lists_a_run_while_it_runs_and_removes_it_after(root: Path, script):
    model = script({**call("finish", result="slow"), "delay": 0.6})
    seen = []
    thread = threading.Thread(target=lambda: seen.append(Kernel(root).run("slow goal", model=model)))
    thread.start()
    deadline = time.time() + 5
    while not running(root) and time.time() < deadline:
        time.sleep(0.02)
    live = running(root)
    thread.join()
    assert len(live) == 1 and live[0].goal == "slow goal" and live[0].agent == "assistant"
    assert live[0].id == seen[0].trace_id and live[0].step == 0
    assert running(root) == [] and list(runs_dir(root).glob("*.json")) == []


def test_ps_lists_live_runs_and_claims_and_ignores_dead_ones(root: Path):
    reg = register(root, "20260101T000000-aaaaaa")
    reg.update(step=3, tokens={"input": 120, "output": 7, "cached": 0}, cost_usd=0.0)
    stale = runs_dir(root) / "20260101T000000-bbbbbb.json"
    stale.write_text(json.dumps({**reg.entry.as_dict(), "id": "20260101T000000-bbbbbb", "pid": dead_pid()}))
    claims.claim(root, "projects/x", run=reg.entry.id, agent="assistant", ttl=60)
    out = run_llmos("ps", root=root)
    assert out.returncode == 0, out.stderr
    assert "20260101T000000-aaaaaa" in out.stdout and "120/7" in out.stdout and "goal of" in out.stdout
    assert "bbbbbb" not in out.stdout and not stale.exists()
    assert "claim 'projects/x': assistant" in out.stdout
    data = json.loads(run_llmos("ps", "--json", root=root).stdout)
    assert [r["step"] for r in data["runs"]] == [3] and data["claims"][0]["resource"] == "projects/x"
    assert git(root, "status", "--porcelain") == ""  # the registry and claims are local state

"""Soak benchmark: many processes, random kills, a person's `git status`, a ceiling that runs out.

N worker processes (default 16) run goals against one OS root for a fixed time. Each goal writes one
file through the model's ``write_file`` (scripted backend, priced like a paid model so spending is
real). A killer SIGKILLs a random worker every 0.3-1.5 s (mid-run, mid-commit, mid-write, wherever
it lands) and starts a new one; a poller runs ``git status`` in the root in a loop as editors do; a
vault snapshot is taken now and then; the ``per_day`` ceiling is set to run out about halfway.

Afterwards one command opens the root (which recovers what killed runs left) and the checks run:
files on disk vs files in HEAD (lost = 0), staged deletions after a person's ``git commit`` (0),
``git fsck --strict`` errors (0), the ledger's hash chain, spend vs ceiling (overspend = 0), the
traces' cost vs the ledger, ``llmos blobs check`` and ``llmos vault verify``. Exit 1 if any fails.

    python bench/soak.py                    # 16 workers, 60 s
    python bench/soak.py --workers 8 --seconds 20 --json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

WORKER = r"""
import json, os, sys, time, uuid
from pathlib import Path
import yaml
from llmos.kernel import Kernel
from llmos.errors import LlmosError

root, tag, end = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
scripts = Path(sys.argv[4])
i = 0
while time.time() < end:
    i += 1
    word = uuid.uuid4().hex[:8]
    path = f"projects/soak/{tag}-{i}.md"
    script = scripts / f"{tag}-{i}.yaml"
    replies = [
        {"tool_calls": [{"name": "write_file", "args": {"path": path, "content": f"note {word} from {tag}\n"}}]},
        {"tool_calls": [{"name": "finish", "args": {"result": f"wrote {path}"}}]},
    ]
    script.write_text(yaml.safe_dump({"replies": replies}))
    try:
        goal = f"Write soak note {word} by {tag} number {i}"
        res = Kernel(root).run(goal, model=f"scripted:{script}", mode="LEARNER")
        outcome = res.outcome
    except LlmosError as exc:
        outcome = type(exc).__name__
    print(json.dumps({"tag": tag, "i": i, "outcome": outcome}), flush=True)
"""


def git(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=check)


def llmos(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LLMOS_ROOT": str(root)}
    return subprocess.run([sys.executable, "-m", "llmos", *args], capture_output=True, text=True, env=env)


def make_root(base: Path) -> Path:
    from llmos.root import init_root

    root = init_root(base / "os")
    path = root / "system/llmos.yaml"
    config = yaml.safe_load(path.read_text()) or {}
    config["budget"] = {
        **(config.get("budget") or {}),
        "free_models": ["local"],
        "prices": {"scripted": {"input": 50.0, "output": 50.0}},
        "alerts": [],
    }
    config.setdefault("vault", {})
    path.write_text(yaml.safe_dump(config))
    git(root, "commit", "-qam", "soak: priced scripted model")
    return root


def calibrate(root: Path, scripts: Path) -> tuple[float, float]:
    """One run's cost and wall time, measured in a throwaway copy of the root."""
    import shutil

    probe = root.parent / "probe"
    shutil.copytree(root, probe)
    end = time.time() + 6
    start = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-c", WORKER, str(probe), "probe", str(end), str(scripts)], capture_output=True, text=True
    )
    runs = max(1, len(out.stdout.splitlines()))
    seconds = (time.monotonic() - start) / runs
    from llmos.budget.ledger import ledger_path

    ledger = ledger_path(probe)
    lines = ledger.read_text().splitlines() if ledger.exists() else []
    spent = sum(e["cost_usd"] for e in map(json.loads, lines) if e["type"] == "charge")
    shutil.rmtree(probe)
    return spent / runs, seconds


def spent_so_far(root: Path) -> float:
    """Spent plus reserved by calls in flight: the ceiling set midway must leave room for those."""
    from llmos.budget.gate import Budget
    from llmos.config import load_config

    total = Budget(root, load_config(root).budget).status()["ceilings"]["total"]
    return total["spent"] + total["reserved"]


def set_ceiling(root: Path, per_day: float) -> None:
    """Set ``budget.per_day`` while the workers run: the gate of every run, in flight too, follows
    the edit from its next call."""
    from llmos.atomic import atomic_write

    path = root / "system/llmos.yaml"
    config = yaml.safe_load(path.read_text())
    config["budget"]["per_day"] = round(per_day, 6)
    atomic_write(path, yaml.safe_dump(config))


def soak(workers: int, seconds: float, seed: int) -> dict:
    rng = random.Random(seed)
    base = Path(tempfile.mkdtemp(prefix="llmos-soak-"))
    scripts = base / "scripts"
    scripts.mkdir()
    root = make_root(base)
    cost, _ = calibrate(root, scripts)
    ceiling = None
    end = time.time() + seconds
    procs: dict[str, subprocess.Popen] = {}
    outputs: list[str] = []
    counter = iter(range(1_000_000))
    lock = threading.Lock()

    def start() -> None:
        tag = f"w{next(counter)}"
        p = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(root), tag, str(end), str(scripts)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        procs[tag] = p

    for _ in range(workers):
        start()
    stop = threading.Event()
    polls = [0]

    def poller() -> None:
        while not stop.is_set():
            git(root, "status", "--porcelain", check=False)
            polls[0] += 1
            time.sleep(0.05)

    snapshots = [0]

    def snapshotter() -> None:
        while not stop.wait(rng.uniform(3, 6)):
            if llmos(root, "vault", "snapshot").returncode == 0:
                snapshots[0] += 1

    threads = [threading.Thread(target=poller, daemon=True), threading.Thread(target=snapshotter, daemon=True)]
    for t in threads:
        t.start()
    kills = 0
    while time.time() < end:
        time.sleep(rng.uniform(0.3, 1.5))
        if ceiling is None and time.time() > end - seconds / 2:  # midway: room for a few more runs only
            ceiling = spent_so_far(root) + 3 * cost
            set_ceiling(root, ceiling)
        alive = [t for t, p in procs.items() if p.poll() is None]
        if alive and time.time() < end - 0.5:
            victim = rng.choice(alive)
            procs[victim].send_signal(signal.SIGKILL)
            kills += 1
            start()
    for p in procs.values():
        try:
            out, _ = p.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
        with lock:
            outputs += out.splitlines()
    stop.set()
    for t in threads:
        t.join(timeout=60)
    return check(root, base, workers, seconds, kills, polls[0], snapshots[0], outputs, ceiling or float("inf"))


def check(root, base, workers, seconds, kills, polls, snapshots, outputs, ceiling) -> dict:
    from llmos.budget.gate import Budget
    from llmos.config import load_config
    from llmos.kernel import Kernel
    from llmos.traces import iter_trace_files, read_trace

    kernel = Kernel(root)  # the next command: recovers what killed runs left
    finished = [json.loads(line) for line in outputs if line.startswith("{")]
    on_disk = sorted(p.relative_to(root).as_posix() for p in (root / "projects/soak").glob("*.md"))
    tree = set(git(root, "ls-tree", "-r", "--name-only", "HEAD").stdout.split())
    changed = set(git(root, "diff", "--name-only", "HEAD").stdout.split())
    lost = [p for p in on_disk if p not in tree or p in changed]
    git(root, "commit", "--allow-empty", "-qm", "a person's next commit")
    tree_after = set(git(root, "ls-tree", "-r", "--name-only", "HEAD").stdout.split())
    deleted_by_person = sorted(tree - tree_after)
    staged_deletions = git(root, "diff", "--cached", "--diff-filter=D", "--name-only").stdout.split()
    fsck = git(root, "fsck", "--strict", check=False)
    fsck_errors = [ln for ln in (fsck.stdout + fsck.stderr).splitlines() if ln.startswith(("error", "fatal"))]
    budget = Budget(root, load_config(root).budget)
    ledger = budget.verify()
    status = budget.status()
    spent = status["ceilings"]["total"]["spent"]
    traces = [read_trace(p) for p in iter_trace_files(root)]
    trace_cost = sum(t.cost_usd for t in traces)
    untracked_traces = [t.id for t in traces if f"traces/{t.id[:4]}/{t.id[4:6]}/{t.id}.md" not in tree]
    blobs = llmos(root, "blobs", "check")
    vault = llmos(root, "vault", "verify")
    outcomes: dict[str, int] = {}
    for f in finished:
        outcomes[f["outcome"]] = outcomes.get(f["outcome"], 0) + 1
    figures = {
        "workers": workers,
        "seconds": seconds,
        "runs_finished": len(finished),
        "runs_recovered": len(kernel.recovered)
        + len(git(root, "log", "--format=%H", "--grep=Recovered: the run").stdout.split()),
        "outcomes": outcomes,
        "kills": kills,
        "git_status_polls": polls,
        "vault_snapshots": snapshots,
        "files_on_disk": len(on_disk),
        "files_lost": len(lost),
        "deleted_by_a_persons_commit": len(deleted_by_person),
        "staged_deletions": len(staged_deletions),
        "fsck_errors": len(fsck_errors),
        "ledger_ok": bool(ledger.ok),
        "ceiling_usd": round(ceiling, 6),
        "spent_usd": round(spent, 6),
        "overspend_usd": round(max(0.0, spent - ceiling), 6),
        "trace_cost_usd": round(trace_cost, 6),
        "traces_untracked": len(untracked_traces),
        "blobs_check_ok": blobs.returncode == 0,
        "vault_verify_ok": vault.returncode == 0,
        "root": str(root),
    }
    figures["ok"] = (
        not lost
        and not deleted_by_person
        and not staged_deletions
        and not fsck_errors
        and figures["ledger_ok"]
        and figures["overspend_usd"] == 0
        and not untracked_traces
        and figures["blobs_check_ok"]
        and figures["vault_verify_ok"]
    )
    figures["details"] = {
        "lost": lost[:10],
        "fsck": fsck_errors[:5],
        "blobs": blobs.stdout[-500:] + blobs.stderr[-500:] if blobs.returncode else "",
        "vault": vault.stdout[-500:] + vault.stderr[-500:] if vault.returncode else "",
        "untracked_traces": untracked_traces[:10],
    }
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print every figure as JSON")
    args = parser.parse_args()
    figures = soak(args.workers, args.seconds, args.seed)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for key, value in figures.items():
            if key != "details":
                print(f"{key:>28}: {value}")
        if not figures["ok"]:
            print(json.dumps(figures["details"], indent=2))
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

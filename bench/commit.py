"""Audit commit benchmark: the in-process commit against the git-subprocess commit, same run.

Each commit is what a run commits: a new trace file plus one changed workspace file, via
``audit.commit_paths`` in a fresh ``llmos init`` root. Sequential commits alternate between the two
paths in rounds (so machine noise hits both alike); then 8 threads commit at once (group commit).
The baseline is the git path (``LLMOS_GIT_SUBPROCESS=1``); the figure is the ratio. Afterwards
``git fsck --strict`` must pass and HEAD must hold every commit.

    python bench/commit.py            # a table
    python bench/commit.py --json     # every figure by name
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from llmos.audit.commit import commit_paths
from llmos.root import init_root

ENGINES = {"inprocess": None, "subprocess": "1"}


def _set_engine(name: str) -> None:
    if ENGINES[name]:
        os.environ["LLMOS_GIT_SUBPROCESS"] = "1"
    else:
        os.environ.pop("LLMOS_GIT_SUBPROCESS", None)


def _one(root: Path, tag: str, i: int) -> float:
    trace = f"traces/2026/01/{tag}-{i:05d}.md"
    (root / trace).parent.mkdir(parents=True, exist_ok=True)
    (root / trace).write_text(f"---\nid: {tag}-{i}\n---\nstep {i}\n")
    (root / "projects/notes.md").write_text(f"note {tag} {i}\n")
    t = time.perf_counter()
    sha = commit_paths(root, [trace, "projects/notes.md"], f"llmos: bench {tag} {i}\n\nTrace-Id: {tag}-{i}\n")
    assert sha, "every bench commit changes something"
    return (time.perf_counter() - t) * 1000


def sequential(root: Path, rounds: int, per_round: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in ENGINES}
    for r in range(rounds):
        for name in ENGINES if r % 2 == 0 else reversed(list(ENGINES)):
            _set_engine(name)
            times[name] += [_one(root, name, r * per_round + i) for i in range(per_round)]
    _set_engine("inprocess")
    return times


def threaded(root: Path, name: str, threads: int, each: int) -> float:
    """Commits per second with ``threads`` threads committing ``each`` runs at once."""
    _set_engine(name)
    start = time.perf_counter()
    workers = [
        threading.Thread(target=lambda k=k: [_one(root, f"{name}-t{k}", i) for i in range(each)])
        for k in range(threads)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start
    _set_engine("inprocess")
    return threads * each / elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print every figure as JSON")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--per-round", type=int, default=20)
    ap.add_argument("--threads", type=int, default=8)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="llmos-bench-commit-") as tmp:
        root = Path(tmp) / "root"
        init_root(root)
        times = sequential(root, args.rounds, args.per_round)
        rates = {name: threaded(root, name, args.threads, args.per_round) for name in ENGINES}
        fsck = subprocess.run(["git", "fsck", "--strict"], cwd=root, capture_output=True, text=True)
        count = int(
            subprocess.run(
                ["git", "rev-list", "--count", "HEAD"], cwd=root, capture_output=True, text=True, check=True
            ).stdout
        )
    expected = 1 + args.rounds * args.per_round * len(ENGINES) + args.threads * args.per_round * len(ENGINES)
    out = {}
    for name, ts in times.items():
        out[f"{name}_commit_p50_ms"] = statistics.median(ts)
        out[f"{name}_commit_p90_ms"] = statistics.quantiles(ts, n=10)[-1]
        out[f"{name}_commits_per_s"] = 1000 / statistics.mean(ts)
        out[f"{name}_threaded_commits_per_s"] = rates[name]
    out["p50_ratio_inprocess_vs_subprocess"] = out["inprocess_commit_p50_ms"] / out["subprocess_commit_p50_ms"]
    out["threaded_speedup"] = rates["inprocess"] / rates["subprocess"]
    out["fsck_strict_ok"] = fsck.returncode == 0
    out["head_commits"], out["expected_commits"] = count, expected
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"{'path':<12} {'p50 ms':>8} {'p90 ms':>8} {'commits/s':>10} {'8 threads/s':>12}")
        for name in ENGINES:
            print(
                f"{name:<12} {out[f'{name}_commit_p50_ms']:8.2f} {out[f'{name}_commit_p90_ms']:8.2f} "
                f"{out[f'{name}_commits_per_s']:10.1f} {out[f'{name}_threaded_commits_per_s']:12.1f}"
            )
        print(
            f"in-process / subprocess p50: {out['p50_ratio_inprocess_vs_subprocess']:.3f}; "
            f"threaded speed-up x{out['threaded_speedup']:.1f}; fsck --strict "
            f"{'ok' if out['fsck_strict_ok'] else 'FAILED: ' + fsck.stderr.strip()}; "
            f"HEAD holds {count}/{expected} commits"
        )
    return 0 if out["fsck_strict_ok"] and count == expected else 1


if __name__ == "__main__":
    sys.exit(main())

"""Fleet benchmark: many scripted goals on a local Ray cluster with 1, 2 and 4 workers, against one
process running the same goals one after another, in the same run.

The suite is F families x N instances (default 20 x 10 = 200 goals): each family is one kind of note
written for different people, so a family's later instances can be replayed at zero tokens once its
earlier ones are committed (the workers share traces through the remote). Replies come from the
scripted backend, priced as Claude Haiku so spending is real, each reply taking ``--delay`` seconds as
a remote API would (the wait the fleet overlaps). Reported per setting: wall time,
goals/s, tokens, zero-token goals, cost against the fleet ceiling (overspend must be 0), and lost
commits (a goal whose trace or file is not on the remote afterwards: must be 0).

    python bench/fleet.py                           # 200 goals, 1/2/4 workers
    python bench/fleet.py --families 10 --instances 4 --workers 1,2,4 --json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from llmos.config import load_config
from llmos.kernel import Kernel
from llmos.root import init_root

KINDS = [
    "welcome", "onboarding", "holiday", "review", "standup", "retro", "release", "incident", "budget", "travel",
    "training", "security", "privacy", "hiring", "farewell", "birthday", "office", "parking", "lunch", "offsite",
]  # fmt: skip
NAMES = ["ada", "grace", "alan", "edsger", "barbara", "ken", "dennis", "linus", "margaret", "donald", "frances", "john"]


def goals(base: Path, families: int, instances: int, delay: float) -> list[dict]:
    out = []
    for f in range(families):
        kind = KINDS[f % len(KINDS)] + ("" if f < len(KINDS) else str(f))
        for i in range(instances):
            name = NAMES[i % len(NAMES)] + ("" if i < len(NAMES) else str(i))
            path = f"projects/{kind}/{name}.md"
            script = base / f"{kind}-{name}.yaml"
            replies = [
                {
                    "tool_calls": [
                        {"name": "write_file", "args": {"path": path, "content": f"# {kind} note for {name}\n"}}
                    ],
                    "delay": delay,
                },
                {"tool_calls": [{"name": "finish", "args": {"result": f"wrote {path}"}}], "delay": delay},
            ]
            script.write_text(yaml.safe_dump({"replies": replies, "model": "claude-haiku-4-5"}))
            out.append({"goal": f'Write the {kind} note for "{name}" into {path}', "model": f"scripted:{script}",
                        "path": path})  # fmt: skip
    return out


def make_root(base: Path, name: str) -> Path:
    root = init_root(base / name)
    remote = base / f"{name}.git"
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(remote)], check=True)
    subprocess.run(["git", "-C", str(root), "remote", "add", "origin", str(remote)], check=True)
    return root


def lost(root: Path, results: list[dict], suite: list[dict]) -> int:
    remote = root.parent / f"{root.name}.git"
    tree = set(subprocess.run(["git", "-C", str(remote), "ls-tree", "-r", "--name-only", "main"],
                              capture_output=True, text=True).stdout.split())  # fmt: skip
    missing = 0
    for r, g in zip(results, suite):
        trace = r.get("trace") or ""
        path = f"traces/{trace[:4]}/{trace[4:6]}/{trace}.md"
        if r["outcome"] == "success" and (path not in tree or g["path"] not in tree):
            missing += 1
    return missing


def one_process(base: Path, suite: list[dict]) -> dict:
    from llmos.sync import sync

    root = make_root(base, "single")
    kernel = Kernel(root)
    started = time.monotonic()
    results = []
    for g in suite:
        res = kernel.run(g["goal"], model=g["model"])
        results.append({"outcome": res.outcome, "mode": res.mode, "trace": res.trace_id,
                        "tokens": res.tokens["input"] + res.tokens["output"], "cost_usd": res.cost_usd})  # fmt: skip
    sync(root)
    seconds = time.monotonic() - started
    return summarize("1 process", seconds, results, suite, root, None)


def fleet(base: Path, suite: list[dict], workers: int, ceiling: float) -> dict:
    from llmos.fleet import run_fleet

    root = make_root(base, f"fleet{workers}")
    goals = [{"goal": g["goal"], "model": g["model"]} for g in suite]
    summary = run_fleet(root, load_config(root), goals, workers=workers, ceiling=ceiling)
    return summarize(f"{workers} workers", summary["totals"]["seconds"], summary["results"], suite, root,
                     summary["totals"]["cost_usd"], ceiling)  # fmt: skip


def summarize(label, seconds, results, suite, root, spent, ceiling=None) -> dict:
    cost = spent if spent is not None else sum(r.get("cost_usd", 0.0) for r in results)
    return {
        "setting": label,
        "goals": len(results),
        "succeeded": sum(1 for r in results if r["outcome"] == "success"),
        "seconds": round(seconds, 2),
        "goals_per_s": round(len(results) / seconds, 3),
        "tokens": sum(r.get("tokens", 0) for r in results),
        "zero_token_goals": sum(1 for r in results if r["outcome"] == "success" and r.get("tokens", 0) == 0),
        "cost_usd": round(cost, 6),
        "overspend_usd": round(max(0.0, cost - ceiling), 6) if ceiling is not None else 0.0,
        "lost_commits": lost(root, results, suite),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--families", type=int, default=20)
    ap.add_argument("--instances", type=int, default=10)
    ap.add_argument("--workers", default="1,2,4", help="fleet sizes to time (default 1,2,4)")
    ap.add_argument("--ceiling", type=float, default=5.0, help="the fleet's USD ceiling (default 5.0)")
    ap.add_argument("--delay", type=float, default=0.5, help="seconds per model reply, like a remote API (0.5)")
    ap.add_argument("--json", action="store_true", help="print every figure as JSON")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="llmos-fleet-bench-"))
    suite = goals(base, args.families, args.instances, args.delay)
    rows = [one_process(base, suite)]
    for n in (int(x) for x in args.workers.split(",")):
        rows.append(fleet(base, suite, n, args.ceiling))
        print(f"  done: {rows[-1]['setting']}", file=sys.stderr)
    figures = {"suite": {"families": args.families, "instances": args.instances}, "rows": rows,
               "ok": all(r["lost_commits"] == 0 and r["overspend_usd"] == 0 for r in rows)}  # fmt: skip
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        keys = list(rows[0])
        print("  ".join(f"{k:>16}" for k in keys))
        for r in rows:
            print("  ".join(f"{r[k]!s:>16}" for k in keys))
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

"""CLI start-up benchmark: how long a person waits for the everyday commands.

Each command runs as a new process (``python -m llmos ...``, what the console script does), on a root
with 1,000 agents and 10,000 memories, alternating with the baseline ``python -c "import yaml, click"``
(the two libraries any such CLI needs) so both see the same machine load. Reported: the median wall
time of each, their ratio (target <= 1.5), and whether a heavy module (a model backend, the run path,
watchdog, whoosh) was imported.

    python bench/cli.py                 # a table
    python bench/cli.py --json          # every figure by name
    python bench/cli.py --agents 100 --memories 1000 --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAVY = (
    "llama_cpp",
    "anthropic",
    "llmos.backends.local",
    "llmos.backends.claude",
    "llmos.kernel",
    "llmos.loop",
    "watchdog",
    "whoosh",
    "git",
)
AGENT = """---
name: agent-{n:04d}
description: Benchmark agent {n} that reads notes and writes summaries for project {p}.
tools: [read_file, write_file, list_dir, finish]
max_steps: {steps}
---
You are agent {n}. Read the notes in projects/p{p}/ and write a summary of them.
"""
COMMANDS = {"--help": ["--help"], "log": ["log"], "agents": ["agents"], "recall": ["recall", "when is the dentist"]}


def make_root(base: Path, agents: int, memories: int) -> Path:
    from llmos.memory.recallsuite import SEED, Suite
    from llmos.root import init_root

    root = init_root(base / "root")
    for n in range(agents):
        (root / "agents" / f"agent-{n:04d}.md").write_text(AGENT.format(n=n, p=n % 7, steps=5 + n % 5))
    Suite(memories, random.Random(SEED + memories)).write(root)
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    subprocess.run(
        ["git", "-C", str(root), "commit", "-qm", "bench corpus"],
        check=True,
        env={
            **os.environ,
            "GIT_AUTHOR_NAME": "b",
            "GIT_AUTHOR_EMAIL": "b@b",
            "GIT_COMMITTER_NAME": "b",
            "GIT_COMMITTER_EMAIL": "b@b",
        },
    )
    return root


def timed(argv: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()[-400:]}")
    return elapsed


def heavy_imports(args: list[str], env: dict[str, str]) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "llmos", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    names = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time")}
    return sorted(h for h in HEAVY if h in names)


def run(agents: int, memories: int, repeat: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        root = make_root(Path(tmp), agents, memories)
        build_s = time.perf_counter() - t0
        env = {**os.environ, "LLMOS_ROOT": str(root)}
        baseline_argv = [sys.executable, "-c", "import yaml, click"]
        first = {name: timed([sys.executable, "-m", "llmos", *args], env) for name, args in COMMANDS.items()}
        samples: dict[str, list[float]] = {name: [] for name in ["baseline", *COMMANDS]}
        for _ in range(repeat):
            for name, args in COMMANDS.items():
                samples["baseline"].append(timed(baseline_argv, env))
                samples[name].append(timed([sys.executable, "-m", "llmos", *args], env))
        base = statistics.median(samples["baseline"])
        out = {
            "agents": agents,
            "memories": memories,
            "repeat": repeat,
            "root_build_s": round(build_s, 1),
            "baseline_ms": round(base * 1000, 1),
            "commands": {},
        }
        for name, args in COMMANDS.items():
            med = statistics.median(samples[name])
            out["commands"][name] = {
                "median_ms": round(med * 1000, 1),
                "ratio": round(med / base, 2),
                "first_run_ms": round(first[name] * 1000, 1),
                "heavy_imports": heavy_imports(args, env),
            }
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--agents", type=int, default=1000)
    ap.add_argument("--memories", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=9, help="samples per command (and as many of the baseline)")
    ap.add_argument("--json", action="store_true", help="print every figure as JSON")
    args = ap.parse_args()
    out = run(args.agents, args.memories, args.repeat)
    out["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"root: {out['agents']:,} agents, {out['memories']:,} memories (built in {out['root_build_s']} s)")
    print(
        f'baseline `python -c "import yaml, click"`: {out["baseline_ms"]} ms (median of {args.repeat * len(COMMANDS)})'
    )
    print(f"{'command':<10} {'median':>9} {'ratio':>6} {'first run':>10}  heavy modules imported")
    for name, r in out["commands"].items():
        flag = "" if r["ratio"] <= 1.5 else "  (target <= 1.5)"
        print(
            f"{name:<10} {r['median_ms']:>7.1f}ms {r['ratio']:>6.2f} {r['first_run_ms']:>8.1f}ms  "
            f"{', '.join(r['heavy_imports']) or '-'}{flag}"
        )


if __name__ == "__main__":
    main()

"""Boot benchmark: load + validate a root of 10, 100 and 1,000 agents (the local model's figures are
in ``bench/localmodel.py``).

Baseline in the same run: plain ``yaml.safe_load`` of the same frontmatter (no schema, no souls, no
inheritance).

    python bench/boot.py            # a table
    python bench/boot.py --json     # every figure by name
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import yaml

from llmos.kernel import Kernel
from llmos.root import init_root

AGENT = """---
name: agent-{n:04d}
description: Benchmark agent {n} that reads notes and writes summaries for project {p}.
tools: [read_file, write_file, list_dir, finish]
max_steps: {steps}
{extends}---
You are agent {n}. Read the notes in projects/p{p}/ and write a summary of them to
projects/p{p}/summary-{n}.md. Keep it under 200 words. Call finish when done.
"""


def make_root(base: Path, count: int) -> Path:
    root = init_root(base / f"root{count}")
    for n in range(count):
        extends = "extends: assistant\n" if n % 10 == 0 else ""
        (root / "agents" / f"agent-{n:04d}.md").write_text(AGENT.format(n=n, p=n % 7, steps=5 + n % 5, extends=extends))
        if n % 3 == 0:
            (root / "agents" / f"agent-{n:04d}.soul.md").write_text(f"I am agent {n}; I am terse and exact.\n")
    return root


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def baseline_parse(root: Path) -> None:
    for p in (root / "agents").glob("*.md"):
        if p.name.endswith(".soul.md"):
            continue
        text = p.read_text()
        yaml.safe_load(text.split("---")[1])


def boot_once(root: Path) -> int:
    agents, errors = Kernel(root).agents()
    assert not errors, errors[0]
    return len(agents)


def bench_boot(base: Path, repeat: int) -> dict:
    out = {}
    for count in (10, 100, 1000):
        root = make_root(base, count)
        loaded = boot_once(root)
        kernel_s = best_of(lambda r=root: boot_once(r), repeat)
        base_s = best_of(lambda r=root: baseline_parse(r), repeat)
        out[str(count)] = {
            "agents_loaded": loaded,
            "boot_ms": round(kernel_s * 1000, 2),
            "per_agent_us": round(kernel_s / loaded * 1e6, 1),
            "baseline_yaml_ms": round(base_s * 1000, 2),
            "ratio_vs_baseline": round(kernel_s / base_s, 2),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--repeat", type=int, default=5, help="runs per size; the best is reported")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = {"boot": bench_boot(Path(tmp), args.repeat)}
    result["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{'agents':>7} {'boot ms':>9} {'us/agent':>9} {'yaml-only ms':>13} {'ratio':>6}")
    for count, r in result["boot"].items():
        print(
            f"{count:>7} {r['boot_ms']:>9} {r['per_agent_us']:>9} {r['baseline_yaml_ms']:>13} "
            f"{r['ratio_vs_baseline']:>6}"
        )


if __name__ == "__main__":
    main()

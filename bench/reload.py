"""Hot-reload benchmark: edit-to-active latency and the cost of one reload as the root grows.

One root with 1,000 agents (every 10th ``extends: assistant``, every 3rd with a soul) and a growing
memory (100 -> 100,000 Markdown files in topic folders of 1,000). At each size:

* ``reload_ms``: one agent edited, :meth:`Registry.refresh` of that path (in-process, median);
* ``latency_ms`` p50/p95: a file saved -> the watcher -> the debounce -> the registry serving the new
  version (what a run's next model call would use), with a real watcher;
* ``watcher_start_ms``: what starting a watcher costs (why ``llmos boot`` does not start one);
* baseline, same run: a full re-read of the root (every agent and every memory file), what a kernel
  without incremental refresh does to pick up one edit; ``speedup`` = baseline / reload.

Then a save storm: 1,000 saves of one agent as fast as possible -> how many reloads, and the CPU the
watcher side used (process CPU minus the same saves made with no watcher running).

Targets (issue 8): latency p95 <= 100 ms; reload cost within 2x from 100 to 100,000 memories.

    python bench/reload.py                 # a table
    python bench/reload.py --json          # every figure by name
    python bench/reload.py --sizes 100,1000 --edits 20
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from llmos.docs import read_document
from llmos.kernel import Kernel
from llmos.live.root import LiveRoot
from llmos.root import init_root

AGENT = """---
name: agent-{n:04d}
description: Benchmark agent {n} that reads notes and writes summaries for project {p}.
tools: [read_file, write_file, list_dir, finish]
{extends}---
You are agent {n}. Read the notes in projects/p{p}/ and write a summary to projects/p{p}/summary-{n}.md.
Edit {edit}.
"""
MEMORY = """---
id: mem-{n:06d}
tier: {tier}
kind: fact
title: Fact number {n}
tags: [bench, topic-{topic}]
---
Fact {n}: the build of project p{p} needs step {n} before step {m}.
"""
TIERS = ("beta", "alpha", "delta")
TARGET = "agent-0500"


def make_agents(root: Path, count: int) -> None:
    for n in range(count):
        extends = "extends: assistant\n" if n % 10 == 0 else ""
        write_agent(root, n, 0, extends)
        if n % 3 == 0:
            (root / "agents" / f"agent-{n:04d}.soul.md").write_text(f"I am agent {n}; terse and exact.\n")


def write_agent(root: Path, n: int, edit: int, extends: str = "") -> Path:
    path = root / "agents" / f"agent-{n:04d}.md"
    path.write_text(AGENT.format(n=n, p=n % 7, extends=extends, edit=edit))
    return path


def grow_memory(root: Path, have: int, want: int) -> None:
    for n in range(have, want):
        topic = n // 1000
        folder = root / "memory" / TIERS[topic % 3] / f"topic-{topic:03d}"
        if n % 1000 == 0 or not folder.is_dir():
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"mem-{n:06d}.md").write_text(
            MEMORY.format(n=n, tier=TIERS[topic % 3], topic=topic, p=n % 7, m=n + 1)
        )


def full_reread(root: Path) -> int:
    """Baseline: what picking up one edit costs without incremental refresh."""
    agents, errors = Kernel(root).agents()
    assert not errors, errors[0]
    count = len(agents)
    for dirpath, _, files in os.walk(root / "memory"):
        for f in files:
            if f.endswith(".md"):
                read_document(Path(dirpath) / f)
                count += 1
    return count


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def reload_cost(root: Path, edits: int, counter: list[int]) -> float:
    """Median ms of one :meth:`Registry.refresh` after an agent edit (no watcher running)."""
    live = LiveRoot(Kernel(root), watch=False)
    times = []
    try:
        for _ in range(edits + 3):  # the first 3 warm caches up and are not counted
            counter[0] += 1
            write_agent(root, 500, counter[0])
            t0 = time.perf_counter()
            events = live.registry.refresh([f"agents/{TARGET}.md"])
            times.append(time.perf_counter() - t0)
            assert [e.kind for e in events] == ["changed"], events
    finally:
        live.close()
    return statistics.median(times[3:]) * 1000


def latency(root: Path, edits: int, counter: list[int]) -> tuple[list[float], float]:
    """Edit-to-active latencies (ms) with a real watcher, and the watcher's start time (ms)."""
    live = LiveRoot(Kernel(root), watch=False)
    t0 = time.perf_counter()
    live.watcher.start()
    start_ms = (time.perf_counter() - t0) * 1000
    got = threading.Event()
    want: dict[str, str] = {}
    live.listen(
        lambda e: (
            got.set()
            if e.kind == "changed"
            and e.name == TARGET
            and f"Edit {want.get('edit')}." in live.registry.current(TARGET).instructions
            else None
        )
    )
    out = []
    try:
        time.sleep(0.2)  # let the observer settle before the first edit
        for _ in range(edits):
            counter[0] += 1
            want["edit"] = str(counter[0])
            got.clear()
            t0 = time.perf_counter()
            write_agent(root, 500, counter[0])
            assert got.wait(10), "reload never arrived"
            out.append((time.perf_counter() - t0) * 1000)
    finally:
        live.close()
    return out, start_ms


def storm(root: Path, saves: int, counter: list[int]) -> dict:
    """``saves`` saves of one agent back to back: reloads caused, and the watcher side's CPU."""

    def burst() -> float:
        c0 = time.process_time()
        for _ in range(saves):
            counter[0] += 1
            write_agent(root, 500, counter[0])
        return time.process_time() - c0

    plain_cpu = burst()
    live = LiveRoot(Kernel(root))
    done = threading.Event()
    live.listen(lambda e: done.set() if e.kind == "changed" and e.name == TARGET else None)
    try:
        time.sleep(0.2)
        before, c0, w0 = live.registry.reloads, time.process_time(), time.perf_counter()
        burst()
        wall = time.perf_counter() - w0
        assert done.wait(10)
        time.sleep(live.watcher.config.max_delay_ms / 1000)  # anything still pending would land now
        cpu = time.process_time() - c0
        return {
            "saves": saves,
            "seconds": round(wall, 3),
            "reloads": live.registry.reloads - before,
            "watcher_events": live.watcher.events,
            "watcher_cpu_s": round(max(cpu - plain_cpu, 0.0), 3),
            "saves_cpu_s": round(plain_cpu, 3),
        }
    finally:
        live.close()


def run(base: Path, sizes: list[int], edits: int, agents: int) -> dict:
    root = init_root(base / "root")
    make_agents(root, agents)
    counter, have, rows = [0], 0, {}
    for size in sizes:
        grow_memory(root, have, size)
        have = size
        cost = reload_cost(root, edits, counter)
        lat, start_ms = latency(root, edits, counter)
        t0 = time.perf_counter()
        files = full_reread(root)
        base_ms = (time.perf_counter() - t0) * 1000
        rows[str(size)] = {
            "memories": size,
            "agents": agents,
            "reload_ms": round(cost, 3),
            "latency_p50_ms": round(pct(lat, 0.5), 1),
            "latency_p95_ms": round(pct(lat, 0.95), 1),
            "latency_max_ms": round(max(lat), 1),
            "watcher_start_ms": round(start_ms, 1),
            "baseline_full_reread_ms": round(base_ms, 1),
            "baseline_files": files,
            "speedup_vs_baseline": round(base_ms / cost, 1),
        }
    first, last = rows[str(sizes[0])], rows[str(sizes[-1])]
    growth = round(last["reload_ms"] / first["reload_ms"], 2)
    p95 = max(r["latency_p95_ms"] for r in rows.values())
    return {
        "sizes": rows,
        "storm": storm(root, 1000, counter),
        "reload_growth": {"from": sizes[0], "to": sizes[-1], "ratio": growth, "target": 2.0, "ok": growth <= 2.0},
        "latency_p95": {"worst_ms": p95, "target_ms": 100, "ok": p95 <= 100},
        "debounce_ms": 40,
        "edits_per_size": edits,
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--sizes", default="100,1000,10000,100000", help="memory counts, comma-separated, ascending")
    ap.add_argument("--edits", type=int, default=40, help="edits measured per size")
    ap.add_argument("--agents", type=int, default=1000, help="agents in the root (at least 501)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        result = run(Path(tmp), sizes, args.edits, max(args.agents, 501))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"{'memories':>9} {'reload ms':>10} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'watch start ms':>15} "
        f"{'full re-read ms':>16} {'speedup':>8}"
    )
    for r in result["sizes"].values():
        print(
            f"{r['memories']:>9} {r['reload_ms']:>10} {r['latency_p50_ms']:>7} {r['latency_p95_ms']:>7} "
            f"{r['latency_max_ms']:>7} {r['watcher_start_ms']:>15} {r['baseline_full_reread_ms']:>16} "
            f"{r['speedup_vs_baseline']:>7}x"
        )
    g, lat, s = result["reload_growth"], result["latency_p95"], result["storm"]
    print(
        f"\nreload cost {g['from']} -> {g['to']} memories: {g['ratio']}x (target <= {g['target']}x: "
        f"{'ok' if g['ok'] else 'MISSED'}); worst latency p95 {lat['worst_ms']} ms (target <= "
        f"{lat['target_ms']} ms: {'ok' if lat['ok'] else 'MISSED'}), debounce {result['debounce_ms']} ms"
    )
    print(
        f"storm: {s['saves']} saves in {s['seconds']} s -> {s['reloads']} reload(s), {s['watcher_events']} file "
        f"events, watcher CPU {s['watcher_cpu_s']} s (the saves themselves: {s['saves_cpu_s']} s)"
    )


if __name__ == "__main__":
    main()

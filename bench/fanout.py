"""Fan-out benchmark: the cost of delegation, and whether the kernel keeps up with parallel children.

Figures:
- overhead per delegated child: a parent delegating ``--overhead-children`` children one after the
  other (no model delay) minus the same parent delegating nothing, per child, against the baseline
  of one plain top-level ``Kernel.run`` of the same goal (ratio: what delegation adds to a run).
- wall time of 1, 10 and 100 parallel children (``delegate_many``, concurrency 100), each child
  making two model calls to a scripted backend that sleeps ``--delay`` seconds per reply like a
  remote API. Target: 100 children take < 3x the time of 10 (the kernel is not the bottleneck).

    python bench/fanout.py            # a table
    python bench/fanout.py --json     # every figure by name
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import yaml

from llmos.kernel import Kernel
from llmos.root import init_root
from llmos.traces import read_trace

WORKER = (
    "---\nname: worker\ndescription: writes one part\ntools: [write_file, finish]\n"
    "model: scripted:{script}\n---\nWrite it.\n"
)


def reply(name: str, delay: float, **args) -> dict:
    return {"tool_calls": [{"name": name, "args": args}], "delay": delay}


def write_script(path: Path, replies: list[dict]) -> str:
    path.write_text(yaml.safe_dump({"replies": replies}), encoding="utf-8")
    return f"scripted:{path}"


def make_root(base: Path, name: str, delay: float, parallel: int) -> Path:
    root = init_root(base / name)
    cfg = root / "system/llmos.yaml"
    cfg.write_text(cfg.read_text().replace("max_parallel: 4", f"max_parallel: {parallel}"))
    worker = write_script(
        base / f"{name}-worker.yaml",
        [
            reply("write_file", delay, path="projects/fan/part.md", content="a part"),
            reply("finish", delay, result="wrote a part"),
        ],
    )
    (root / "agents/worker.md").write_text(WORKER.format(script=worker.split(":", 1)[1]))
    return root


def parent_script(base: Path, name: str, tasks: int, parallel: bool) -> str:
    goals = [{"agent": "worker", "goal": f"write part {n} into projects/fan/part.md"} for n in range(tasks)]
    if not tasks:
        calls = []
    elif parallel:
        calls = [reply("delegate_many", 0.0, tasks=goals)]
    else:
        calls = [reply("delegate", 0.0, **g) for g in goals]
    return write_script(base / f"{name}.yaml", calls + [reply("finish", 0.0, result="done")])


def timed_run(kernel: Kernel, goal: str, **kw) -> tuple[float, object]:
    t0 = time.perf_counter()
    res = kernel.run(goal, **kw)
    return time.perf_counter() - t0, res


def overhead(base: Path, children: int) -> dict:
    root = make_root(base, "overhead", 0.0, 1)
    kernel = Kernel(root)
    kernel.run("warm up", agent="worker")
    plain = min(timed_run(kernel, f"write part {n} into projects/fan/part.md", agent="worker")[0] for n in range(5))
    empty = min(
        timed_run(kernel, "fan out to nobody", agent="orchestrator", model=parent_script(base, f"empty{n}", 0, False))[
            0
        ]
        for n in range(3)
    )
    t, res = timed_run(
        kernel, "fan out one by one", agent="orchestrator", model=parent_script(base, "seq", children, False)
    )
    assert len(read_trace(res.trace_path).children) == children, "children missing"
    per_child = (t - empty) / children
    return {
        "children": children,
        "plain_run_s": round(plain, 4),
        "per_child_s": round(per_child, 4),
        "ratio_vs_plain_run": round(per_child / plain, 2),
    }


def fanout(base: Path, sizes: list[int], delay: float, parallel: int) -> dict:
    out = {}
    for n in sizes:
        root = make_root(base, f"fan{n}", delay, parallel)
        t, res = timed_run(
            Kernel(root), f"fan out to {n}", agent="orchestrator", model=parent_script(base, f"fan{n}", n, True)
        )
        trace = read_trace(res.trace_path)
        ok = sum(
            read_trace(res.trace_path.parent / f"{c}.md").outcome == "success"
            if (res.trace_path.parent / f"{c}.md").exists()
            else 0
            for c in trace.children
        )
        out[str(n)] = {"wall_s": round(t, 3), "children_ok": ok, "ideal_s": round(2 * delay, 3)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print every figure as JSON")
    ap.add_argument("--delay", type=float, default=1.0, help="seconds per scripted reply (default 1.0)")
    ap.add_argument("--sizes", default="1,10,100", help="parallel fan-outs to time (default 1,10,100)")
    ap.add_argument("--parallel", type=int, default=100, help="orchestration.max_parallel (default 100)")
    ap.add_argument("--overhead-children", type=int, default=20, help="children for the overhead figure")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="llmos-fanout-") as tmp:
        base = Path(tmp)
        figures = {
            "delay_s": args.delay,
            "max_parallel": args.parallel,
            "overhead": overhead(base, args.overhead_children),
            "fanout": fanout(base, sizes, args.delay, args.parallel),
        }
    fan = figures["fanout"]
    if "10" in fan and "100" in fan:
        figures["ratio_100_vs_10"] = round(fan["100"]["wall_s"] / fan["10"]["wall_s"], 2)
        figures["target_met"] = figures["ratio_100_vs_10"] < 3.0
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    o = figures["overhead"]
    print(
        f"overhead per delegated child: {o['per_child_s'] * 1000:.1f} ms  (a plain run: "
        f"{o['plain_run_s'] * 1000:.1f} ms; ratio {o['ratio_vs_plain_run']}x)"
    )
    print(f"parallel children, 2 replies x {args.delay:.2f}s each, concurrency {args.parallel}:")
    for n, row in fan.items():
        print(f"  {n:>4} children: {row['wall_s']:7.2f} s wall ({row['children_ok']} ok; ideal {row['ideal_s']:.2f} s)")
    if "ratio_100_vs_10" in figures:
        verdict = "met" if figures["target_met"] else "MISSED"
        print(f"100 vs 10 children: {figures['ratio_100_vs_10']}x (target < 3x: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

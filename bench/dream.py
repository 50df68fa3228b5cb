"""Dream benchmark: a generated 90-day history of runs, memories and a bloated working memory,
measured before and after one `llmos dream` (the baseline is the same state without a dream).

History: RUNS_PER_DAY runs a day over 90 days by three agents in two projects, over a set of goal
templates (most reliable, some failing often), written as trace files with three steps each; the
recall benchmark's suite of memories (facts, knowledge updates, near-duplicates re-stated on later
days, contradicted facts); an assistant working memory edited past its cap by hand. The trace
retention window is set to 30 days so compaction has work to do. Reported: memory bytes (memory/)
(all, and only the current, not superseded, memories) and trace bytes, assembled context tokens
(assistant, a Claude budget), the recall suite's score,
the dream's own before/after check, what it changed, and its time.

    python bench/dream.py            # ~1,300 runs, ~600 memories
    python bench/dream.py --days 30 --json
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from llmos.dream import dream
from llmos.kernel import Kernel
from llmos.memory.model import MemoryMeta
from llmos.memory.store import list_memories
from llmos.memory.recallsuite import SEED, Suite, names, score  # the recall benchmark's generator and scorer
from llmos.root import init_root
from llmos.traces import Step, TraceMeta, TraceWriter, new_trace_id

TEMPLATES = [  # (goal template, success rate)
    ("Summarize the {p} changelog into notes.md", 0.97),
    ("Run the {p} test suite and report failures", 0.92),
    ("Deploy {p} to staging", 0.85),
    ("Rotate the {p} API keys", 0.4),
    ("Draft the {p} weekly update", 0.95),
    ("Triage new {p} issues", 0.9),
    ("Back up the {p} database", 0.99),
    ("Upgrade {p} dependencies", 0.6),
    ("Write release notes for {p}", 0.93),
    ("Check {p} links in the docs", 0.98),
    ("Benchmark {p} startup", 0.8),
    ("Clean the {p} build cache", 1.0),
]
AGENTS, PROJECTS = ("assistant", "ops", "writer"), ("atlas", "borealis")


def write_runs(root: Path, days: int, per_day: int, rng: random.Random, end: datetime) -> int:
    n = 0
    for day in range(days):
        for _ in range(per_day):
            (tmpl, rate), project = rng.choice(TEMPLATES), rng.choice(PROJECTS)
            agent = rng.choice(AGENTS[:2] if "Deploy" in tmpl or "Rotate" in tmpl else AGENTS)
            at = end - timedelta(days=days - day, seconds=rng.randrange(86_000))
            ok = rng.random() < rate
            goal = tmpl.format(p=project)
            meta = TraceMeta(
                id=new_trace_id(at),
                goal=goal,
                goal_signature="s" + str(TEMPLATES.index((tmpl, rate))),
                template=tmpl.replace("{p}", "{project}"),
                slots={"project": project},
                agent=agent,
                agent_hash="h0",
                model="scripted",
                started=at.isoformat().replace("+00:00", "Z"),
            )
            w = TraceWriter(root, meta)
            w.add_step(
                Step(
                    n=1, tool="list_dir", args={"path": f"projects/{project}"}, result="notes.md\nsrc/\n" * 20, ok=True
                )
            )
            w.add_step(
                Step(
                    n=2,
                    tool="read_file",
                    args={"path": f"projects/{project}/notes.md"},
                    result=" ".join(rng.choice(("alpha", "beta", "release", "fix", "doc")) for _ in range(150)),
                    ok=True,
                )
            )
            w.add_step(
                Step(
                    n=3,
                    tool="write_file",
                    args={"path": f"projects/{project}/out.md", "content": "done"},
                    result="wrote" if ok else "error: permission denied on out.md",
                    ok=ok,
                )
            )
            w.end(
                "success" if ok else "failure",
                result="done" if ok else None,
                error=None if ok else "write_file failed: permission denied on out.md",
            )
            n += 1
    return n


def restate(suite: Suite, rng: random.Random, n: int) -> None:
    """Near-duplicates: some facts of the crowd said again, later (what an agent re-remembering does)."""
    pool = [(m, t) for m, t in suite.mems[200:] if not m.superseded_by and not m.supersedes]
    for meta, text in rng.sample(pool, min(n, len(pool))):
        later = meta.created + timedelta(days=rng.randrange(1, 60))
        copy = MemoryMeta(**{**meta.model_dump(), "id": meta.id + "-again", "created": later, "valid_from": later})
        suite.mems.append((copy, text.rstrip(".") + " (confirmed)."))


def working(root: Path, cap: int, rng: random.Random) -> None:
    who = names(rng, 140)
    paras = [
        f"## Week {w}\n\nThe {who[2 * w].lower()} migration for {rng.choice(PROJECTS)} moved to "
        f"{rng.choice(('Monday', 'Tuesday', 'Thursday'))}; {who[2 * w + 1]} owns its rollback plan."
        for w in range(1, 70)
    ]
    text = "\n\n".join(paras) + "\n\n## Now\n\nFinish the borealis release notes."
    assert len(text.encode()) > cap
    path = root / "memory" / "working" / "assistant.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\nagent: assistant\ntier: working\n---\n{text}\n", encoding="utf-8")


def du(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0


def measure(root: Path, suite: Suite) -> dict:
    kernel = Kernel(root)
    info = kernel.assemble_context(kernel.agent("assistant"), "claude-sonnet-4-6").info
    ctx = info.tokens
    res = score(suite, root, kernel.config.memory.recall, 1)
    current = sum(m.path.stat().st_size for m in list_memories(root)[0] if not m.meta.superseded_by)
    return {
        "memory_bytes": du(root / "memory"),
        "current_memory_bytes": current + du(root / "memory" / "working"),
        "trace_bytes": du(root / "traces"),
        "context_tokens": ctx,
        "context_layers": info.layers,
        "recall_at_5": res["recall_at_5"],
        "update_current_first": res["update_current_first"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--runs-per-day", type=int, default=15)
    ap.add_argument("--memories", type=int, default=500, help="size of the recall suite's archive")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rng = random.Random(SEED)
    with tempfile.TemporaryDirectory(prefix="llmos-bench-dream-") as tmp:
        root = init_root(Path(tmp) / "os")
        suite = Suite(args.memories, random.Random(SEED + args.memories))
        restate(suite, rng, 40)
        suite.write(root)
        cfg = Kernel(root).config
        working(root, cfg.memory.working_cap_bytes, rng)
        runs = write_runs(root, args.days, args.runs_per_day, rng, datetime.now(timezone.utc))
        subprocess.run(["git", "add", "-A"], cwd=root, check=True)
        subprocess.run(["git", "commit", "-qm", "history"], cwd=root, check=True)
        before = measure(root, suite)  # the baseline: this state, no dream
        cfg.dream.snapshot = False
        cfg.dream.trace_retention_days = 30
        t0 = time.perf_counter()
        report = dream(root, cfg, progress=lambda m: print(f"  {m}", file=sys.stderr))
        dream_s = time.perf_counter() - t0
        after = measure(root, suite)
        t1 = time.perf_counter()
        again = dream(root, cfg)
        second_s = time.perf_counter() - t1
    kinds: dict[str, int] = {}
    for row in report.local + report.review:
        kinds[row["what"]] = kinds.get(row["what"], 0) + 1
    figures = [k for k in before if k != "context_layers"]
    ratio = {k: round(after[k] / before[k], 3) if before[k] else None for k in figures}
    out = {
        "runs": runs,
        "memories": len(suite.mems),
        "before": before,
        "after": after,
        "after_over_before": ratio,
        "dream_seconds": round(dream_s, 2),
        "second_dream_seconds": round(second_s, 2),
        "second_dream_changed": again.changed,
        "changes": kinds,
        "review_branch": report.branch,
        "self_check": {
            "before": report.recall_before,
            "after": report.recall_after,
            "questions": report.questions,
            "suite_before": report.suite_before,
            "suite_after": report.suite_after,
        },
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"{runs} runs over {args.days} days, {len(suite.mems)} memories; baseline = the same root without a dream")
    print(f"{'':22} {'before':>10} {'after':>10} {'after/before':>13}")
    for k in figures:
        print(f"{k:22} {before[k]:>10} {after[k]:>10} {str(ratio[k]):>13}")
    print(f"context layers (tokens): before {before['context_layers']}, after {after['context_layers']}")
    print(f"dream: {out['dream_seconds']} s; changes {kinds}; review branch {report.branch}")
    print(
        f"dream's own checks: recall on this root's memories {report.recall_before} -> {report.recall_after} "
        f"({report.questions} questions); recall suite canary {report.suite_before} -> {report.suite_after}"
    )
    print(f"second dream: {out['second_dream_seconds']} s, changed anything: {again.changed}")


if __name__ == "__main__":
    main()

"""Recall benchmark: the realistic conversation suite (the headline), then a fixed-seed generated suite over
archives of 100 to 100,000 memories (scale and speed).

The conversation suite (``llmos.memory.convsuite``): three chats between five people over ten months, one
memory per turn, questions as people ask them (paraphrase, "when", multi-hop, unanswerable). llmos recall is
printed beside plain BM25 and SQLite FTS5 (porter) on the same turns, in the same run: recall@5/@10 and
all-evidence@5 by question type, abstention precision/recall, latency.

The generated suite:

Facts are seeded across many sessions (months apart) among distractor memories about the same and
other people: single facts, knowledge updates (a fact changed later: the new memory supersedes the
old), temporal questions (what was true before date X), multi-session questions (the answer is spread
over two memories from different sessions) and questions with no answer (abstention).

Measured for llmos (the index + recall + context assembly) and two baselines in the same run, given
the same token budget: "recent" (the newest memories that fit) and "everything" (all memories
concatenated, oldest first, up to the budget). A baseline "recalls" a fact if the memory is anywhere in
its context (more lenient than top 5).

    python bench/recall.py                  # conversations, then 100, 1k, 10k, 100k memories (minutes)
    python bench/recall.py --sizes 1000 --json
    python bench/recall.py --sizes ''        # the conversation suite only
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from llmos.backends import count_tokens
from llmos.memory.index import open_index
from llmos.kernel import Kernel
from llmos.memory import convsuite
from llmos.memory.recall import recall
from llmos.memory.recallsuite import SEED, Suite, mean, score
from llmos.root import init_root


def baselines(suite: Suite, budget: int) -> dict:
    """Which memories each baseline's context holds, and its size, under the same token budget."""
    tokens = [count_tokens(text) + 4 for _, text in suite.mems]

    def fill(order: list[int]) -> tuple[set[str], int]:
        held, used = set(), 0
        for i in order:
            if used + tokens[i] > budget:
                break
            held.add(suite.mems[i][0].id)
            used += tokens[i]
        return held, used

    n = len(suite.mems)
    recent, everything = fill(list(range(n - 1, -1, -1))), fill(list(range(n)))
    return {"recent": recent, "everything": everything, "all_tokens": sum(tokens)}


def run_size(size: int, base: Path, repeat: int) -> dict:
    rng = random.Random(SEED + size)
    suite = Suite(size, rng)
    root = init_root(base / f"root{size}")
    t0 = time.perf_counter()
    suite.write(root)
    write_s = time.perf_counter() - t0
    index = open_index(root)
    report = index.sync()
    assert report.rebuilt and report.added == size and not report.errors, report
    kernel = Kernel(root)
    cfg = kernel.config.memory
    assembled = kernel.assemble_context(kernel.agent("assistant"), "claude-sonnet-4-6")
    res = score(suite, root, cfg.recall, repeat)
    noop = index.sync().seconds
    quick = index.quick_sync().seconds
    victim = root / "memory" / "beta" / f"{suite.mems[len(suite.mems) // 2][0].id}.md"
    victim.write_text(victim.read_text() + "\nEdited by hand.\n")
    scan = index.sync()
    victim.write_text(victim.read_text() + "\nEdited again.\n")
    targeted = index.sync([victim.relative_to(root)]).seconds
    assert scan.updated == 1
    base_ctx = assembled.info.tokens + res["recall_output_tokens"]
    b = baselines(suite, base_ctx)
    inside = lambda held: mean(
        [all(w in held for w in q["want"]) for q in suite.questions if q["type"] in ("single", "update", "multi")]
    )
    return {
        "memories": size,
        **res,
        "context_tokens": assembled.info.tokens,
        "baseline_budget_tokens": base_ctx,
        "index_build_s": round(report.seconds, 2),
        "fts5_build_s": round(fts5_build_s(root), 2),
        "write_files_s": round(write_s, 2),
        "sync_noop_ms": round(noop * 1000, 1),
        "incremental_update_ms": round(scan.seconds * 1000, 1),
        "targeted_update_ms": round(targeted * 1000, 1),
        "quick_sync_noop_ms": round(quick * 1000, 2),
        "dense_search_p95_ms_256d": dense_search_ms(size, 256)["p95"],
        "dense_search_p95_ms_384d": dense_search_ms(size, 384)["p95"],
        "recent_recall": inside(b["recent"][0]),
        "recent_tokens": b["recent"][1],
        "everything_recall": inside(b["everything"][0]),
        "everything_tokens": b["everything"][1],
        "everything_uncapped_tokens": b["all_tokens"],
    }


def conversations(base: Path, extra: list[str] = ()) -> dict:
    """llmos recall beside plain BM25 and FTS5 on the conversation suite, same turns, same run."""
    conv = convsuite.build()
    root = init_root(base / "conv")
    convsuite.write(conv, root)
    report = open_index(root).sync()
    assert report.added == len(conv.turns) and not report.errors, report
    cfg = Kernel(root).config.memory.recall

    def llmos(cfg):
        def rank(question: str) -> tuple[list[str], bool]:
            r = recall(root, question, k=10, config=cfg, sync=False)
            return [h.id for h in r.hits], r.abstain

        return rank

    hybrids = {name: cfg.model_copy(update={"hybrid": True, "embedder": name}) for name in extra}
    for name, hcfg in hybrids.items():  # load each embedding model, embed every turn once (a cache)
        t0 = time.perf_counter()
        recall(root, "warm up", config=hcfg, sync=False)
        print(f"  {name}: {len(conv.turns)} turns embedded in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    rankers = {
        "llmos": llmos(cfg),
        **{f"llmos-hybrid-{name}": llmos(hcfg) for name, hcfg in hybrids.items()},
        "bm25": convsuite.bm25_ranker(conv),
        "fts5": convsuite.fts5_ranker(conv),
    }
    rows = {name: convsuite.evaluate(conv, rank) for name, rank in rankers.items()}
    best = max(rows["bm25"]["r5"], rows["fts5"]["r5"])
    hybrid = {f"{n}_minus_best_lexical_r5": round(rows[f"llmos-hybrid-{n}"]["r5"] - best, 3) for n in extra}
    return {
        "turns": len(conv.turns),
        "questions": len(conv.questions),
        "systems": rows,
        "llmos_minus_best_lexical_r5": round(rows["llmos"]["r5"] - best, 3),
        **hybrid,
    }


CONV_COLUMNS = [
    "r5",
    "r10",
    "all5",
    *(f"{t}_r5" for t in convsuite.TYPES[:-1]),
    "multihop_all5",
    "abstain_precision",
    "abstain_recall",
    "answerable_flagged",
    "p50_ms",
    "p95_ms",
]


def conversation_speed(base: Path, size: int, cfg) -> dict:
    """Recall latency on the conversation suite grown to ``size`` turns (more years of the same chats)."""
    import math

    conv = convsuite.build(copies=math.ceil(size / 1481))
    root = init_root(base / f"conv{size}")
    convsuite.write(conv, root)
    build = open_index(root).sync().seconds
    recall(root, "warm up", config=cfg, sync=False)
    times = []
    for _ in range(3):
        for q in conv.questions:
            t0 = time.perf_counter()
            recall(root, q.q, config=cfg, sync=False)
            times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {
        "turns": len(conv.turns),
        "index_build_s": round(build, 1),
        "fts5_build_s": round(fts5_build_s(root), 1),
        "recall_p50_ms": round(times[len(times) // 2], 2),
        "recall_p95_ms": round(times[int(len(times) * 0.95) - 1], 2),
    }


def fts5_build_s(root: Path) -> float:
    """The baseline of the index build: plain FTS5 (porter) over the same files, read and split in Python."""
    import os
    import sqlite3

    t0 = time.perf_counter()
    db = sqlite3.connect(root / ".llmos" / "fts5-baseline.sqlite")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(path UNINDEXED, body, tokenize='porter unicode61')")
    folder = root / "memory" / "beta"
    with db:
        for name in os.listdir(folder):
            text = (folder / name).read_text(encoding="utf-8")
            db.execute("INSERT INTO t VALUES (?, ?)", (name, text.split("\n---\n", 1)[-1]))
    db.close()
    return time.perf_counter() - t0


def dense_search_ms(n: int, dim: int, repeat: int = 30) -> dict:
    """Brute-force search of n unit vectors (the matrix recall keeps in memory): p50/p95 of one query."""
    import numpy as np

    rng = np.random.default_rng(0)
    mat = rng.standard_normal((n, dim), dtype=np.float32)
    mat /= np.linalg.norm(mat, axis=1, keepdims=True)
    times = []
    for _ in range(repeat):
        q = rng.standard_normal(dim, dtype=np.float32)
        t0 = time.perf_counter()
        cos = mat @ q
        np.argpartition(-cos, 50)[:50]
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {"p50": round(times[len(times) // 2], 2), "p95": round(times[int(len(times) * 0.95) - 1], 2)}


def print_conversations(c: dict) -> None:
    print(f"conversation suite: {c['turns']} turns, {c['questions']} questions")
    print(" | ".join(["system", *CONV_COLUMNS]))
    for name, row in c["systems"].items():
        print(" | ".join([name, *(str(row[col]) for col in CONV_COLUMNS)]))
    print(f"llmos recall@5 minus the best lexical baseline: {c['llmos_minus_best_lexical_r5']:+.3f}")
    for key, value in c.items():
        if key.endswith("_minus_best_lexical_r5") and not key.startswith("llmos"):
            print(f"hybrid ({key.split('_')[0]}) recall@5 minus the best lexical baseline: {value:+.3f}")
    print()


COLUMNS = [
    "memories",
    "recall_at_5",
    "update_current_first",
    "temporal_at_5",
    "multi_at_5",
    "abstention",
    "context_tokens",
    "recall_output_tokens",
    "recall_p95_ms",
    "index_build_s",
    "fts5_build_s",
    "sync_noop_ms",
    "quick_sync_noop_ms",
    "incremental_update_ms",
    "targeted_update_ms",
    "dense_search_p95_ms_256d",
    "dense_search_p95_ms_384d",
    "recent_recall",
    "everything_recall",
    "everything_uncapped_tokens",
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100,1000,10000,100000", help="comma-separated archive sizes")
    ap.add_argument("--repeat", type=int, default=3, help="passes over the questions (timing)")
    ap.add_argument("--json", action="store_true", help="print every figure as JSON")
    ap.add_argument("--conv-sizes", default="10000", help="grow the conversations to these sizes and time recall")
    ap.add_argument("--embedders", default="e5", help="hybrid recall with these embedding models ('': none; e5 ~1 min)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    rows = []
    with tempfile.TemporaryDirectory(prefix="llmos-bench-recall-") as tmp:
        conv = conversations(Path(tmp), [e for e in args.embedders.split(",") if e])
        cfg = Kernel(init_root(Path(tmp) / "cfg")).config.memory.recall
        conv["speed"] = [conversation_speed(Path(tmp), int(n), cfg) for n in args.conv_sizes.split(",") if n]
        if not args.json:
            print_conversations(conv)
            for row in conv["speed"]:
                print(
                    f"conversations at {row['turns']} turns: "
                    + ", ".join(f"{k} {v}" for k, v in row.items() if k != "turns")
                )
            print()
        if not sizes:
            print(json.dumps({"conversations": conv}, indent=2) if args.json else "", end="")
            return
        for size in sizes:
            rows.append(run_size(size, Path(tmp), args.repeat))
            print(f"  {size} memories done", file=sys.stderr)
    ctx = [r["context_tokens"] for r in rows]
    ratio = lambda a, b: round(a / b, 1) if b else None  # None: the baseline recalled nothing at all
    summary = {
        "context_flatness": round(max(ctx) / min(ctx), 3),
        "vs_recent": ratio(rows[-1]["recall_at_5"], rows[-1]["recent_recall"]),
        "vs_everything": ratio(rows[-1]["recall_at_5"], rows[-1]["everything_recall"]),
    }
    if args.json:
        print(json.dumps({"conversations": conv, "sizes": rows, "summary": summary}, indent=2))
        return
    print(" | ".join(COLUMNS))
    for r in rows:
        print(" | ".join(str(r[c]) for c in COLUMNS))
    print(
        f"context tokens max/min across sizes: {summary['context_flatness']}  "
        f"(target <= 1.10); at {rows[-1]['memories']} memories recall@5 vs recent-only x{summary['vs_recent']}, "
        f"vs everything x{summary['vs_everything']} (None: the baseline found nothing)"
    )


if __name__ == "__main__":
    main()

"""Proof it helped: recall on the root's own memories, before and after the dream.

Questions are the titles of (a spread of) the current memories before the dream, plus the first line
of every paragraph pruned from working memory. A question is answered when recall's top 5 holds the
memory or the memory that now supersedes it (a merged or updated fact still counts), or, for pruned
text, the memory it was archived into. Before the dream, pruned text was in working memory (always
in context), so it counts as answered: pruning can only lose points, never win them.
"""

from __future__ import annotations

from pathlib import Path

from ..memory.index import _OPEN, open_index
from ..memory.model import Memory
from ..memory.recall import recall
from ..memory.store import list_memories

Question = tuple[str, str]  # (query, id of the memory that answers it)


def questions(memories: list[Memory], n: int) -> list[Question]:
    current = sorted((m for m in memories if not m.meta.superseded_by), key=lambda m: m.id)
    step = max(1, len(current) // n) if n else 0
    return [(m.meta.title, m.id) for m in current[::step][:n]] if step else []


def score(root: Path, qs: list[Question], config) -> tuple[float, list[str]]:
    """Share of ``qs`` whose memory (or its successor) recall ranks in the top 5, and the missed ones."""
    if not qs:
        return 1.0, []
    open_index(root).sync()
    successor = {m.id: m.meta.superseded_by for m in list_memories(root)[0]}
    hits, missed = 0, []
    for query, want in qs:
        ok = {want}
        while successor.get(want) and successor[want] not in ok:
            want = successor[want]
            ok.add(want)
        got = [h.id for h in recall(root, query, k=5, config=config.memory.recall, sync=False).hits]
        if ok & set(got):
            hits += 1
        else:
            missed.append(f"{query!r} -> {qs_want(query, qs)}")
    return round(hits / len(qs), 4), missed


def qs_want(query: str, qs: list[Question]) -> str:
    return next(w for q, w in qs if q == query)


def close(root: Path) -> None:
    """Forget the index of a discarded worktree."""
    _OPEN.pop(Path(root).resolve(), None)


def suite_check(scratch: Path, config, size: int, seed: int = 20240601) -> tuple[float, float]:
    """The recall benchmark's generated suite (``size`` memories) scored before and after this
    dream's consolidation rules run over it: a canary for a rule that would merge or supersede the
    wrong memories. Returns (recall@5 before, after)."""
    import random

    from ..memory.recallsuite import Suite, score as suite_score
    from .consolidate import merge_and_supersede

    (scratch / "memory" / "beta").mkdir(parents=True, exist_ok=True)
    suite = Suite(size, random.Random(seed + size))
    suite.write(scratch)
    try:
        open_index(scratch).sync()
        before = suite_score(suite, scratch, config.memory.recall, 1)["recall_at_5"]
        merge_and_supersede(scratch, list_memories(scratch)[0], config.dream)
        open_index(scratch).sync()
        after = suite_score(suite, scratch, config.memory.recall, 1)["recall_at_5"]
    finally:
        close(scratch)
    return before, after

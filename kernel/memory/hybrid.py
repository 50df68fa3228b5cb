"""Hybrid recall: the lexical ranking fused with a dense one by reciprocal rank fusion (RRF).

Both rankings apply the same filters and validity; the lexical one also its weights (tier, confidence,
recency: see :func:`dense` for why the dense one does not). Each
contributes ``vote / (rrf_k + rank)`` for the documents in its first ``depth``. RRF needs no score scale
shared by BM25 and cosine similarity, and no training. A lexical document's vote is its ``match``, the
share of the query's information (idf) it contains: one that matched only a name common to half the
conversation votes little, one that holds every rare word of the question votes fully; a dense
document's vote is ``dense_weight``.
"""

from __future__ import annotations

from typing import Any

from .config import RecallConfig
from .embed import embed_query
from .index import Cond


def lexical(index: Any, terms: list[str], where: Cond | None, weigh: Any, depth: int) -> tuple[Any, Any]:
    """``(rowids, scores)`` of the best ``depth`` by BM25 x weight, best first: every match scored, then cut."""
    rids, bm25 = index.matches(terms, where)
    return _top(rids, bm25 * weigh(rids), depth)


def dense(index: Any, embedder: Any, query: str, where: Cond | None, weigh: Any, depth: int) -> tuple[Any, Any, Any]:
    """``(rowids, scores, cosines)`` of the best ``depth`` by cosine similarity, best first."""
    import numpy as np

    from .vectors import matrix

    rids, mat = matrix(index, embedder)
    if not len(rids):
        return rids, np.zeros(0), np.zeros(0)
    cos = mat @ embed_query(embedder, query)
    if where is not None:
        allowed = np.array(
            [r[0] for r in index.db().execute(f"SELECT rowid FROM docs d WHERE {where.sql}", where.params)],
            dtype=np.int64,
        )
        keep = np.isin(rids, allowed)
        rids, cos = rids[keep], cos[keep]
    # Weights only mask here (superseded, filtered out): cosines sit in a narrow band, where a 3% recency
    # difference would reorder them; the lexical ranking carries the weights into the fusion.
    top_rids, scores = _top(rids, np.where(weigh(rids) > 0, np.maximum(cos, 0.0), 0.0), depth)
    by_id = dict(zip(rids.tolist(), cos.tolist()))
    return top_rids, scores, np.array([by_id[r] for r in top_rids.tolist()])


def _top(rids: Any, scores: Any, n: int) -> tuple[Any, Any]:
    import numpy as np

    keep = scores > 0
    rids, scores = rids[keep], scores[keep]
    if len(scores) > n:
        part = np.argpartition(-scores, n - 1)[:n]
        rids, scores = rids[part], scores[part]
    order = np.lexsort((rids, -scores))  # ties: the older document (smaller rowid) first, always the same
    return rids[order], scores[order]


def fuse(rankings: list[tuple[Any, Any]], cfg: RecallConfig, k: int) -> list[tuple[int, float]]:
    """``(rowid, fused score)`` of the best ``k`` by reciprocal rank fusion, best first. A ranking is
    ``(weights, rowids)``: one weight per document (its vote), or one number for all."""
    fused: dict[int, float] = {}
    for weight, rids in rankings:
        votes = weight if hasattr(weight, "__len__") else [weight] * len(rids)
        for rank, (rid, vote) in enumerate(zip(rids.tolist(), votes)):
            fused[rid] = fused.get(rid, 0.0) + vote / (cfg.rrf_k + rank + 1)
    return sorted(fused.items(), key=lambda x: (-x[1], x[0]))[:k]

"""Finding the past runs that may help with a goal: the seam where matching by meaning plugs in.

:func:`find_candidates` returns templates, best first: the goal's own template (``exact``), then the
templates most similar to it. Today similarity is lexical (idf-weighted word overlap,
:meth:`~llmos.modes.traceindex.TraceIndex.similar`); hybrid recall (lexical + embeddings) replaces that
part of this one function, so "Draft the weekly status for Acme" can find "Write Acme's weekly status
report". What a candidate may do is decided elsewhere and does not change with how it was found: only
the goal's own template is ever replayed, and only under the rules of :mod:`llmos.modes.follow`; any
other candidate can at most guide the model (MIXED).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..goals import NormalGoal
from .traceindex import TraceIndex


@dataclass(frozen=True)
class Match:
    signature: str  # the template's signature (see llmos.goals)
    similarity: float  # 1.0 for the goal's own template
    match: str  # "exact" or how it was found: "lexical" (later "hybrid")


def find_candidates(idx: TraceIndex, ng: NormalGoal, k: int) -> list[Match]:
    """The goal's own template, then up to ``k`` other templates most similar to it."""
    out = [Match(ng.signature, 1.0, "exact")]
    for sig, score in idx.similar(ng.template, k + 1):
        if sig != ng.signature and len(out) <= k:
            out.append(Match(sig, score, "lexical"))
    return out

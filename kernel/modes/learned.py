"""What llmos has learned, as data for people: traces with their reuse statistics, crystallization
candidates, crystallized tools and their state. The ``llmos traces|crystallize|tools`` commands
print these; a program can call them directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .crystallize import candidates, crystallize
from ..goals import normalize
from .traceindex import TraceIndex
from . import toolstate

if TYPE_CHECKING:
    from ..syscalls import Host


def trace_rows(kernel: "Host", goal: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """Newest traces first; with ``goal``, the traces matching it best (exact template, then lexical)."""
    cfg = kernel.config.modes
    index = TraceIndex.for_root(kernel.root)
    entries = sorted(index.entries.values(), key=lambda e: (e.started, e.id), reverse=True)
    scores: dict[str, tuple[str, float]] = {}
    if goal:
        ng = normalize(goal)
        ranked = [(ng.signature, 1.0)] + [s for s in index.similar(ng.template, cfg.top_k) if s[0] != ng.signature]
        order = {sig: (n, score) for n, (sig, score) in enumerate(ranked)}
        entries = sorted(
            (e for e in entries if e.signature in order),
            key=lambda e: (order[e.signature][0], e.started),
            reverse=False,
        )
        scores = {e.id: ("exact" if e.signature == ng.signature else "lexical", order[e.signature][1]) for e in entries}
    rows = []
    for e in entries[:limit]:
        st = index.stats(e, cfg.prior, cfg.prior_weight, cfg.demote_after)
        row = {
            "id": e.id,
            "goal": e.goal,
            "template": e.template,
            "agent": e.agent,
            "mode": e.mode,
            "outcome": e.outcome,
            "tokens": e.tokens,
            "path": e.rel,
            **st.as_dict(),
        }
        if e.id in scores:
            row["match"], row["similarity"] = scores[e.id][0], round(scores[e.id][1], 4)
        rows.append(row)
    return rows


def candidate_rows(kernel: "Host") -> list[dict[str, Any]]:
    """Templates with successful runs: how many share one step structure, and whether they are due."""
    index = TraceIndex.for_root(kernel.root)
    return [
        {
            "template": c.template,
            "agent": c.agent,
            "name": c.name,
            "runs": len(c.runs),
            "all_runs": c.all_runs,
            "eligible": c.eligible,
            "reason": c.reason,
            "tool_state": c.tool.state if c.tool else None,
            "sources": [e.id for e in c.runs],
        }
        for c in candidates(kernel.root, index, kernel.config.crystallize)
    ]


def crystallize_now(kernel: "Host") -> list[dict[str, Any]]:
    """Crystallize every eligible template now; one row (with the verification report) per tool."""
    index = TraceIndex.for_root(kernel.root)
    out = []
    for cand in candidates(kernel.root, index, kernel.config.crystallize):
        if cand.eligible:
            state = crystallize(kernel.root, cand, kernel.config.crystallize)
            out.append({"name": state.name, "state": state.state, "template": state.template, "report": state.report})
    return out


def tool_rows(kernel: "Host") -> tuple[list[dict[str, Any]], list[str]]:
    """Crystallized tools with their state, whether their files changed since verification, and use counts."""
    cfg = kernel.config.modes
    index = TraceIndex.for_root(kernel.root)
    states, errors = toolstate.load_all(kernel.root)
    rows = []
    for st in sorted(states.values(), key=lambda s: s.name):
        stats = index.tool_stats(st.name, st.verified or "", cfg.prior, cfg.prior_weight, cfg.demote_after)
        current = toolstate.files_hash(kernel.root, st.name)
        rows.append(
            {
                "name": st.name,
                "state": st.state,
                "template": st.template,
                "agent": st.agent,
                "edited": current != st.hash,
                "missing": current == "",
                "verified": st.verified,
                "sources": st.sources,
                "report": st.report,
                **stats.as_dict(),
            }
        )
    return rows, [str(e) for e in errors]

"""Recall: BM25 over the body (and title and tags where they add words), weighted by tier, confidence,
recency and validity; the exact top k. With ``memory.recall.hybrid`` the lexical ranking is fused with
a dense one (:mod:`.hybrid`).

Superseded memories are left out unless history is asked for (or a point in time, ``as_of``, at
which they were still valid). Every hit carries ``score`` (the ranking: BM25 x weights, or the fused
score), ``match`` (0..1: the share of the query's information, by idf, that the memory contains),
``date`` (when what it says happened) and, with hybrid, ``similarity``; when the best match is below
``min_match`` the result says so (``abstain``): nothing relevant is known.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from . import hybrid
from .embed import EmbedderMissing, embedder
from .analysis import query_terms
from .entries import ts
from .index import Cond, all_of, any_of, between, open_index
from .config import RecallConfig
from .model import ALL_TIERS

SNIPPET = 240
DAY = 86400.0


@dataclass
class Hit:
    id: str
    tier: str
    kind: str
    title: str
    snippet: str
    score: float
    match: float
    path: str
    agent: str
    project: str
    created: str
    current: bool
    superseded_by: str | None = None
    date: str = ""  # when what it says happened or became true (valid_from), else when it was written
    similarity: float | None = None  # cosine similarity to the query (hybrid recall, when in the dense list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RecallResult:
    query: str
    hits: list[Hit]
    abstain: bool
    skipped: list[str] = field(default_factory=list)  # memory files with errors, 'file:line: problem'
    dense: str = "off"  # the embedding model used, or why none was

    def as_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "abstain": self.abstain,
            "hits": [h.as_dict() for h in self.hits],
            "skipped": self.skipped,
            "dense": self.dense,
        }


def parse_when(value: str | datetime | None, name: str) -> datetime | None:
    """``YYYY-MM-DD`` or an ISO timestamp (UTC unless it says otherwise)."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        when = value
    else:
        try:
            when = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{name}: {value!r} is not a date; use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS") from None
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when


@dataclass
class Filters:
    """What a hit must satisfy: a condition the index evaluates exactly, before ranking."""

    tiers: list[str]
    agent: str | None
    project: str | None
    tags: list[str]
    since: datetime | None
    as_of: datetime | None

    def query(self) -> Cond | None:
        parts = [
            any_of("tier", self.tiers) if self.tiers else None,
            any_of("agent", [self.agent]) if self.agent else None,
            any_of("project", [self.project]) if self.project else None,
            *(any_of("tags", [t]) for t in self.tags),
            between("created", ts(self.since), None) if self.since else None,
        ]
        if self.as_of is not None:
            parts += [between("start", None, ts(self.as_of)), between("end", ts(self.as_of) + 1, None)]
        return all_of(parts)


def _filters(
    tiers: Iterable[str] | None,
    agent: str | None,
    project: str | None,
    tags: Iterable[str],
    since: datetime | None,
    as_of: datetime | None,
) -> Filters:
    tiers = [t for t in (tiers or []) if t]
    bad = [t for t in tiers if t not in ALL_TIERS]
    if bad:
        raise ValueError(f"unknown tier {bad[0]!r}; tiers are {', '.join(ALL_TIERS)}")
    return Filters(tiers, agent, project, [t.lower() for t in tags if t], since, as_of)


def weights(index: Any, rids: Any, cfg: RecallConfig, ref: float, in_time: bool, current_only: bool) -> Any:
    """tier x confidence x validity x recency of documents ``rids`` (numpy): what multiplies BM25.
    Superseded documents get 0 when only current ones are asked for."""
    import numpy as np

    cols = index.columns()
    tier_w = np.array([cfg.tier_weights.get(t, 1.0) for t in cols["tiers"]] or [1.0])
    age_days = np.maximum(0.0, (ref - cols["start"][rids]) / DAY)
    recency = cfg.recency_floor + (1 - cfg.recency_floor) * 0.5 ** (age_days / cfg.half_life_days)
    current = cols["end"][rids] > datetime.now(timezone.utc).timestamp()
    validity = np.where(current | in_time, 1.0, 0.0 if current_only else cfg.superseded_weight)
    return tier_w[cols["tier"][rids]] * (0.5 + 0.5 * cols["confidence"][rids]) * validity * recency


def _snippet(text: str, terms: list[str]) -> str:
    flat = " ".join(text.split())
    low = flat.lower()
    pos = min((i for i in (low.find(t[:5]) for t in terms) if i >= 0), default=0)
    start = max(0, pos - SNIPPET // 4)
    cut = flat[start : start + SNIPPET]
    return ("…" if start else "") + cut + ("…" if start + SNIPPET < len(flat) else "")


def _match(present: set[str], terms: list[str], idf: dict[str, float]) -> float:
    total = sum(idf.values()) or 1.0
    return sum(idf[t] for t in terms if t in present) / total


def _iso(stamp: int) -> str:
    return datetime.fromtimestamp(stamp, timezone.utc).isoformat()[:19] + "Z"


def recall(
    root: Path,
    query: str,
    *,
    tiers: Iterable[str] | None = None,
    agent: str | None = None,
    project: str | None = None,
    tags: Iterable[str] = (),
    since: str | datetime | None = None,
    as_of: str | datetime | None = None,
    history: bool = False,
    k: int | None = None,
    config: RecallConfig | None = None,
    sync: bool | str | Iterable[Path] = True,
) -> RecallResult:
    """The ``k`` memories (and traces) that best answer ``query``; see the module docstring.

    ``sync``: True (stat every file), ``"quick"`` (only folders whose mtime moved), False, or paths."""
    cfg = config or RecallConfig()
    k = k or cfg.k
    when = parse_when(as_of, "as_of")
    filt = _filters(tiers, agent, project, tags, parse_when(since, "since"), when)
    index = open_index(root)
    if sync == "quick":
        index.quick_sync()
    elif sync is True:
        index.sync()
    elif sync:
        index.sync(sync)
    terms = query_terms(query)
    ref = ts(when) if when else datetime.now(timezone.utc).timestamp()
    current_only = not (history or when)
    where = filt.query()

    def weigh(rids: Any) -> Any:
        return weights(index, rids, cfg, ref, when is not None, current_only)

    idf = index.idfs(terms)
    top, cos, dense_note = _ranked(index, query, terms, idf, where, weigh, cfg, k)
    docs = index.docs([rid for rid, _ in top])
    hits = [_hit(d, score, terms, idf, cos.get(rid)) for (rid, score), d in zip(top, docs)]
    abstain = not hits or hits[0].match < cfg.min_match  # similarity does not tell (bench/recall.py)
    return RecallResult(query, hits, abstain, index.problems(), dense=dense_note)


def _ranked(
    index: Any, query: str, terms: list[str], idf: dict, where: Cond | None, weigh: Any, cfg: RecallConfig, k: int
) -> tuple[list[tuple[int, float]], dict[int, float], str]:
    """``(rowid, score)`` of the best ``k``, the cosine of each dense hit, and the dense model's name
    (or why there is none)."""
    depth = max(cfg.depth, k)
    lex_rids, lex_scores = hybrid.lexical(index, terms, where, weigh, depth)
    if not (cfg.hybrid and query.strip()):
        return list(zip(lex_rids.tolist()[:k], lex_scores.tolist()[:k])), {}, "off"
    try:
        model = embedder(cfg.embedder)
    except EmbedderMissing as exc:
        return list(zip(lex_rids.tolist()[:k], lex_scores.tolist()[:k])), {}, f"off: {exc}"
    d_rids, _, d_cos = hybrid.dense(index, model, query, where, weigh, depth)
    votes = [_match(set(d["terms"].split()), terms, idf) for d in index.docs(lex_rids.tolist())]
    top = hybrid.fuse([(votes, lex_rids), (cfg.dense_weight, d_rids)], cfg, k)
    return top, dict(zip(d_rids.tolist(), d_cos.tolist())), model.name


def _hit(d: dict[str, Any], score: float, terms: list[str], idf: dict[str, float], cos: float | None) -> Hit:
    return Hit(
        id=d["id"],
        tier=d["tier"],
        kind=d["kind"],
        title=d["title"],
        snippet=_snippet(d.get("body") or "", terms),
        score=round(score, 4),
        match=round(_match(set(d["terms"].split()), terms, idf), 3),
        path=d["path"],
        agent=d["agent"],
        project=d["project"],
        created=_iso(d["created"]),
        current=d["current"] == "yes",
        superseded_by=d.get("superseded_by"),
        date=_iso(d["start"]),
        similarity=None if cos is None else round(cos, 3),
    )


def format_hits(result: RecallResult, min_match: float) -> str:
    """The text the model (or a person) reads."""
    if not result.hits:
        lines = ["No memory matches this query."]
    else:
        lines = (
            [f"Nothing relevant is known (best match {result.hits[0].match:.2f} < {min_match}); the closest:"]
            if result.abstain
            else []
        )
        for n, h in enumerate(result.hits, 1):
            old = f" superseded by {h.superseded_by}" if not h.current else ""
            lines.append(
                f"{n}. [{h.tier}] {h.id} (score {h.score:.2f}, match {h.match:.2f}, {h.date[:10]}{old})"
                f"\n   {h.title}\n   {h.snippet}"
            )
    if result.skipped:
        lines.append(f"({len(result.skipped)} memory file(s) skipped, broken: {'; '.join(result.skipped[:3])})")
    return "\n".join(lines)

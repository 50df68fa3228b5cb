"""Recall: BM25 over title, body and tags, weighted by tier, confidence, recency and validity.

Superseded memories are left out unless history is asked for (or a point in time, ``as_of``, at
which they were still valid). Every hit carries ``score`` (the ranking: BM25 x weights) and
``match`` (0..1: the share of the query's information, by idf, that the memory contains); when the
best match is below ``min_match`` the result says so (``abstain``): nothing relevant is known.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from .index import all_of, any_of, between, open_index, query_terms, ts
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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RecallResult:
    query: str
    hits: list[Hit]
    abstain: bool
    skipped: list[str] = field(default_factory=list)  # memory files with errors, 'file:line: problem'

    def as_dict(self) -> dict[str, Any]:
        return {"query": self.query, "abstain": self.abstain, "hits": [h.as_dict() for h in self.hits],
                "skipped": self.skipped}


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
    """What a hit must satisfy. Checked on the best candidates in Python (cheap); only when too few
    pass does the index compute the exact filter (costly on a large archive)."""

    tiers: list[str]
    agent: str | None
    project: str | None
    tags: list[str]
    since: datetime | None
    as_of: datetime | None

    def __bool__(self) -> bool:
        return bool(self.tiers or self.agent or self.project or self.tags or self.since or self.as_of)

    def accepts(self, d: dict[str, Any]) -> bool:
        tags = {t.strip().lower() for t in (d.get("tags") or "").split(",")}
        return ((not self.tiers or d["tier"] in self.tiers) and (not self.agent or d["agent"] == self.agent)
                and (not self.project or d["project"] == self.project) and all(t in tags for t in self.tags)
                and (not self.since or d["created"] >= ts(self.since))
                and (not self.as_of or d["start"] <= ts(self.as_of) < d["end"]))

    def query(self) -> Any:
        parts = [any_of("tier", self.tiers) if self.tiers else None,
                 any_of("agent", [self.agent]) if self.agent else None,
                 any_of("project", [self.project]) if self.project else None,
                 *(any_of("tags", [t]) for t in self.tags),
                 between("created", ts(self.since), None) if self.since else None]
        if self.as_of is not None:
            parts += [between("start", None, ts(self.as_of)), between("end", ts(self.as_of) + 1, None)]
        return all_of(parts)


def _filters(tiers: Iterable[str] | None, agent: str | None, project: str | None, tags: Iterable[str],
             since: datetime | None, as_of: datetime | None) -> Filters:
    tiers = [t for t in (tiers or []) if t]
    bad = [t for t in tiers if t not in ALL_TIERS]
    if bad:
        raise ValueError(f"unknown tier {bad[0]!r}; tiers are {', '.join(ALL_TIERS)}")
    return Filters(tiers, agent, project, [t.lower() for t in tags if t], since, as_of)


def _candidates(index: Any, terms: list[str], filt: Filters, mask: Any, k: int) -> list[tuple[float, dict]]:
    if not filt:
        return index.search(terms, mask=mask, limit=max(50, k * 10))
    limit = max(200, k * 40)
    pool = index.search(terms, mask=mask, limit=limit)
    found = [c for c in pool if filt.accepts(c[1])]
    if len(found) >= k or len(pool) < limit:  # enough, or every match was seen already
        return found
    return index.search(terms, filter=filt.query(), mask=mask, limit=max(50, k * 10))


def _weight(doc: dict[str, Any], cfg: RecallConfig, ref: float, in_time: bool) -> float:
    age_days = max(0.0, (ref - doc["start"]) / DAY)
    recency = cfg.recency_floor + (1 - cfg.recency_floor) * 0.5 ** (age_days / cfg.half_life_days)
    validity = 1.0 if (doc["current"] == "yes" or in_time) else cfg.superseded_weight
    confidence = 0.5 + 0.5 * float(doc.get("confidence") or 0.0)
    return cfg.tier_weights.get(doc["tier"], 1.0) * confidence * recency * validity


def _snippet(text: str, terms: list[str]) -> str:
    flat = " ".join(text.split())
    low = flat.lower()
    pos = min((i for i in (low.find(t[:5]) for t in terms) if i >= 0), default=0)
    start = max(0, pos - SNIPPET // 4)
    cut = flat[start:start + SNIPPET]
    return ("…" if start else "") + cut + ("…" if start + SNIPPET < len(flat) else "")


def _match(doc: dict[str, Any], terms: list[str], idf: dict[str, float]) -> float:
    present = set(query_terms(f"{doc['title']} {doc.get('body') or ''} {doc.get('tags') or ''}"))
    total = sum(idf.values()) or 1.0
    return sum(idf[t] for t in terms if t in present) / total


def recall(root: Path, query: str, *, tiers: Iterable[str] | None = None, agent: str | None = None,
           project: str | None = None, tags: Iterable[str] = (), since: str | datetime | None = None,
           as_of: str | datetime | None = None, history: bool = False, k: int | None = None,
           config: RecallConfig | None = None, sync: bool | Iterable[Path] = True) -> RecallResult:
    """The ``k`` memories (and traces) that best answer ``query``; see the module docstring."""
    cfg = config or RecallConfig()
    k = k or cfg.k
    when = parse_when(as_of, "as_of")
    filt = _filters(tiers, agent, project, tags, parse_when(since, "since"), when)
    index = open_index(root)
    if sync is True:
        index.sync()
    elif sync:
        index.sync(sync)
    terms = query_terms(query)
    mask = None if (history or when) else any_of("current", ["no"])
    candidates = _candidates(index, terms, filt, mask, k)
    ref = ts(when) if when else datetime.now(timezone.utc).timestamp()
    idf = {t: index.idf(t) for t in terms}
    ranked = sorted(((s * _weight(d, cfg, ref, when is not None), d) for s, d in candidates),
                    key=lambda x: -x[0])[:k]
    hits = [Hit(id=d["id"], tier=d["tier"], kind=d["kind"], title=d["title"], snippet=_snippet(d.get("body") or "", terms),
                score=round(score, 4), match=round(_match(d, terms, idf), 3), path=d["path"], agent=d["agent"],
                project=d["project"], created=datetime.fromtimestamp(d["created"], timezone.utc).isoformat()[:19] + "Z",
                current=d["current"] == "yes", superseded_by=d.get("superseded_by")) for score, d in ranked]
    abstain = not hits or hits[0].match < cfg.min_match
    return RecallResult(query, hits, abstain, index.problems())


def format_hits(result: RecallResult, min_match: float) -> str:
    """The text the model (or a person) reads."""
    if not result.hits:
        lines = ["No memory matches this query."]
    else:
        lines = [f"Nothing relevant is known (best match {result.hits[0].match:.2f} < {min_match}); the closest:"] \
            if result.abstain else []
        for n, h in enumerate(result.hits, 1):
            old = f" superseded by {h.superseded_by}" if not h.current else ""
            lines.append(f"{n}. [{h.tier}] {h.id} (score {h.score:.2f}, match {h.match:.2f}, {h.created[:10]}{old})"
                         f"\n   {h.title}\n   {h.snippet}")
    if result.skipped:
        lines.append(f"({len(result.skipped)} memory file(s) skipped, broken: {'; '.join(result.skipped[:3])})")
    return "\n".join(lines)

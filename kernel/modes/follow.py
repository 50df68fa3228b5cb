"""May this goal be replayed (FOLLOWER)? The evidence of its template, and the script it allows.

The runs of one template and agent are its *family*. Only runs that are what their run committed count
(:mod:`llmos.modes.evidence`). Its *sources* are the model's successful runs (LEARNER, MIXED), grouped
by shape (the same tools with the same argument names, in order): a group is one way of doing the work.
A group's statistics count each source as a success and each replay of it (a FOLLOWER run naming one of
its sources, or one that fell back) as a success or a failure; confidence and demotion follow from them
(:func:`llmos.modes.traceindex.confidence`), so one success is never enough (``modes.prior``) and
``modes.min_sources`` sources with different slot values are needed before a script is even built.
The newest group that qualifies gives the script (:mod:`llmos.modes.script`); if its arguments are not
all explained, the goal goes to the model (MIXED) and the reason is in the decision record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..traces import TraceMeta
from .explain import Unexplained
from .script import Script, build
from .traceindex import Entry, TraceIndex, confidence, read_frontmatter

ORIGINS = ("LEARNER", "MIXED")  # modes in which the model did the work: what a source can be


@dataclass
class Group:
    shape: str
    sources: list[Entry]  # newest first, one per slot assignment
    uses: list[tuple[str, str, bool]] = field(default_factory=list)  # (started, id, ok) of sources and replays

    def stats(self, cfg: Any) -> dict[str, Any]:
        ok = sum(1 for *_, good in self.uses if good)
        tail = [good for *_, good in sorted(self.uses)][-cfg.demote_after :]
        return {
            "uses": len(self.uses),
            "successes": ok,
            "confidence": round(confidence(ok, len(self.uses), cfg.prior, cfg.prior_weight), 4),
            "demoted": len(tail) == cfg.demote_after and not any(tail),
        }


def groups(family: list[Entry]) -> list[Group]:
    """The family's sources by shape, the group with the newest source first."""
    by_shape: dict[str, Group] = {}
    owner: dict[str, Group] = {}  # source id -> its group
    ordered = sorted(family, key=lambda e: (e.started, e.id), reverse=True)
    for e in ordered:
        if e.mode in ORIGINS and e.outcome == "success" and e.replayable > 0:
            g = owner[e.id] = by_shape.setdefault(e.shape, Group(e.shape, []))
            g.uses.append((e.started, e.id, True))
            if all(s.assignment != e.assignment for s in g.sources):
                g.sources.append(e)
    for e in ordered:
        if e.replayed and e.source in owner:
            owner[e.source].uses.append((e.started, e.id, e.outcome == "success" and e.source not in e.failed))
    return list(by_shape.values())


class Blobs:
    """The blob store, opened only if a source's argument was too long to keep inline."""

    def __init__(self, root: Path):
        self.root, self.store = root, None

    def get(self, blob_id: str) -> bytes:
        if self.store is None:
            from ..blobs import BlobStore

            self.store = BlobStore.open(self.root / ".llmos" / "blobs")
        return self.store.get(blob_id)

    def close(self) -> None:
        if self.store is not None:
            self.store.close()


def follow(
    root: Path, family: list[Entry], slots: dict[str, str], cfg: Any, forced: bool
) -> tuple[Script | None, Entry | None, dict[str, Any]]:
    """(the script to replay, its newest source, the decision's ``replay`` record) for a goal whose
    template's trusted runs are ``family``; no script when the evidence does not allow one."""
    found = groups(family)
    record: dict[str, Any] = {"explained": False, "sources": []}
    ready = [g for g in found if len(g.sources) >= cfg.min_sources]
    if not ready:
        best = max((len(g.sources) for g in found), default=0)
        record["reason"] = (
            f"{best} successful run(s) of this template with different slot values, as their runs committed "
            f"them; {cfg.min_sources} are needed before a run is replayed"
        )
        return None, None, record
    g = ready[0]
    chosen = g.sources[: cfg.max_sources]
    record.update(sources=[e.id for e in chosen], **g.stats(cfg))
    if record["demoted"]:
        record["reason"] = f"its last {cfg.demote_after} replays failed"
        return None, None, record
    if record["confidence"] < cfg.follower and not forced:
        record["reason"] = f"confidence {record['confidence']} < {cfg.follower}"
        return None, None, record
    blobs = Blobs(root)
    try:
        script = build([load(root, e) for e in chosen], slots, blobs.get, cfg.min_sources)
    except Unexplained as exc:
        record["reason"] = str(exc)
        return None, None, record
    finally:
        blobs.close()
    record.update(explained=True, steps=script.record(), reason="every argument is derived from slots or constant")
    return script, chosen[0], record


def load(root: Path, e: Entry) -> TraceMeta:
    """A source run's trace (its frontmatter, as fast as the trace index reads it); raises Unexplained."""
    data = read_frontmatter(root / e.rel)
    try:
        return TraceMeta.model_validate(data)
    except ValidationError as exc:
        raise Unexplained(f"trace {e.id} does not fit the trace format: {exc.error_count()} error(s)") from None


def family_of(idx: TraceIndex, signature: str, agent: str) -> list[Entry]:
    """Every ended run of the template by ``agent``."""
    return [e for e in idx.exact(signature) if e.agent == agent and e.ended]

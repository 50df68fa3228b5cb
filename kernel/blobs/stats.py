"""Usage counters (logical bytes put, per kind and per agent) and the ``stats()`` report.

Unique and stored bytes come from the index (the packs are the truth). Logical bytes, the
bytes callers asked to store including every duplicate, exist nowhere else: each process
counts them in memory and adds them to ``stats.json`` under a lock on flush and close.
A process killed before flushing loses only its unflushed counts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

from ..atomic import atomic_write, file_lock
from .index import Entry
from .record import DENSE

FORMAT = "llmos-blobstats/1"
FIELDS = ("puts", "logical_bytes", "new_blobs", "new_bytes")


class Counters:
    """Per-process counts not yet merged into the stats file: name -> [puts, logical, new, new bytes]."""

    def __init__(self) -> None:
        self.kinds: dict[str, list[int]] = {}
        self.agents: dict[str, list[int]] = {}

    def put(self, kind: str, agent: str | None, size: int) -> None:
        """Count a put (new or not) of ``size`` canonical bytes."""
        self._add(kind, agent, size, 0)

    def new(self, kind: str, agent: str | None, size: int) -> None:
        """Count a put that stored a new record."""
        self._add(kind, agent, size, 2)

    def _add(self, kind: str, agent: str | None, size: int, col: int) -> None:
        row = self.kinds.get(kind)
        if row is None:
            row = self.kinds[kind] = [0, 0, 0, 0]
        row[col] += 1
        row[col + 1] += size
        if agent is not None:
            row = self.agents.get(agent)
            if row is None:
                row = self.agents[agent] = [0, 0, 0, 0]
            row[col] += 1
            row[col + 1] += size

    def empty(self) -> bool:
        return not self.kinds and not self.agents

    def merge_into(self, path: Path, lock: Path) -> None:
        """Add these counts to the stats file and reset them."""
        if self.empty():
            return
        with file_lock(lock):
            saved = load(path)
            for name, table in (("kinds", self.kinds), ("agents", self.agents)):
                _add(saved.setdefault(name, {}), table)
            atomic_write(path, json.dumps(saved, sort_keys=True, indent=1), durable=False)
        self.kinds, self.agents = {}, {}

    def combined(self, path: Path) -> dict:
        """The saved counts plus this process's unsaved ones."""
        saved = load(path)
        for name, table in (("kinds", self.kinds), ("agents", self.agents)):
            _add(saved.setdefault(name, {}), table)
        return saved


def _add(saved: dict[str, dict[str, int]], table: dict[str, list[int]]) -> None:
    for key, row in table.items():
        slot = saved.setdefault(key, dict.fromkeys(FIELDS, 0))
        for field, value in zip(FIELDS, row):
            slot[field] = slot.get(field, 0) + value


def load(path: Path) -> dict:
    """The stats file, or empty counts if it is missing or unreadable (it is only counters)."""
    try:
        data = json.loads(path.read_text("utf-8"))
        if data.get("format") == FORMAT:
            return data
    except (OSError, ValueError, AttributeError):
        pass
    return {"format": FORMAT, "kinds": {}, "agents": {}}


def _ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else 0.0


def report(
    entries: Iterable[Entry],
    counts: dict,
    *,
    pack_bytes: int,
    index_bytes: int,
    packs: int,
    dictionaries: int,
    pinned: int,
) -> dict:
    """Build the stats dictionary from index entries and saved counters."""
    kinds: dict[str, dict[str, int]] = {}
    dense = 0
    for e in entries:
        k = kinds.setdefault(e.kind, {"blobs": 0, "unique_bytes": 0, "stored_bytes": 0})
        k["blobs"] += 1
        k["unique_bytes"] += e.ulen
        k["stored_bytes"] += e.clen
        if e.flags & DENSE:
            dense += e.ulen
    for kind, row in counts["kinds"].items():
        k = kinds.setdefault(kind, {"blobs": 0, "unique_bytes": 0, "stored_bytes": 0})
        k.update({f: row.get(f, 0) for f in FIELDS})
    for k in kinds.values():
        k["dedup_ratio"] = _ratio(k.get("logical_bytes", 0), k["unique_bytes"])
        k["compression_ratio"] = _ratio(k["unique_bytes"], k["stored_bytes"])
    unique = sum(k["unique_bytes"] for k in kinds.values())
    stored = sum(k["stored_bytes"] for k in kinds.values())
    logical = sum(k.get("logical_bytes", 0) for k in kinds.values())
    disk = pack_bytes + index_bytes
    return {
        "blobs": sum(k["blobs"] for k in kinds.values()),
        "logical_bytes": logical,
        "unique_bytes": unique,
        "stored_bytes": stored,
        "pack_bytes": pack_bytes,
        "index_bytes": index_bytes,
        "disk_bytes": disk,
        "dedup_ratio": _ratio(logical, unique),
        "compression_ratio": _ratio(unique, stored),
        "total_reduction": _ratio(logical, disk),
        "packs": packs,
        "dictionaries": dictionaries,
        "repacked_share": _ratio(dense, unique),  # of unique bytes, at the dense (repack) level
        "pinned": pinned,
        "kinds": kinds,
        "agents": counts["agents"],
    }

"""``gc``: mark blobs reachable from roots, then rewrite or delete packs full of garbage.

Roots are: pinned blobs; ids given by the caller (``roots=``); every ``blob:<id>`` found in
files under ``scan_dirs`` (default ``<root>/traces`` and ``<root>/.llmos/vault``); and every
blob written or re-written within the grace period. From roots, marking follows manifests
(parent and refs) and the dictionary each record was compressed with.

Safety against concurrent writers: gc holds ``locks/gc.lock`` (pin/unpin wait for it), never
touches a pack another process is appending to (its flock is held), and keeps anything
written within ``grace_seconds``. A writer whose put hits a copy older than half the grace
period writes a fresh copy instead, so a blob it just handed out is always recent.
A pack with more than ``garbage_ratio`` garbage is rewritten: live records are copied
(byte for byte, keeping their time) into a new pack, which is synced and indexed before
the old pack's idx and then the pack are deleted; a crash in between leaves duplicates only.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from ..atomic import file_lock, fsync_dir
from ..errors import BlobError
from . import record as rec
from .check import trace_refs
from .codec import check_id
from .index import Entry, PackState
from .pack import PACK_HEADER, file_size, try_lock

if TYPE_CHECKING:
    from .store import BlobStore

Progress = Callable[[int, int], None]
GARBAGE_RATIO = 0.10


@dataclass
class GcReport:
    """What gc found and (unless ``dry_run``) did."""

    dry_run: bool
    roots: int = 0
    live_blobs: int = 0
    garbage_blobs: int = 0
    garbage_bytes: int = 0
    packs_rewritten: int = 0
    packs_deleted: int = 0
    packs_in_use: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    missing_roots: list[str] = field(default_factory=list)

    @property
    def reclaimed_bytes(self) -> int:
        return self.bytes_before - self.bytes_after

    def to_dict(self) -> dict:
        return {**asdict(self), "reclaimed_bytes": self.reclaimed_bytes}


@dataclass
class _Plan:
    state: PackState
    keep: list[tuple[str, Entry]]
    garbage: int
    size: int


def collect(
    store: "BlobStore",
    *,
    dry_run: bool = False,
    roots: Iterable[str] = (),
    scan_dirs: Iterable[Path] | None = None,
    grace_seconds: int,
    progress: Progress | None = None,
) -> GcReport:
    """Run one gc over ``store``; see the module docstring."""
    report = GcReport(dry_run=dry_run)
    with file_lock(store.path / "locks" / "gc.lock", timeout=600):
        store.flush()
        store.pool.retire()
        store.index.refresh(repair=True)
        start = {check_id(r) for r in roots} | store.pins()
        for _, ids in trace_refs(store.os_root, None if scan_dirs is None else list(scan_dirs)):
            start |= ids
        report.roots = len(start)
        live = mark(store, start, time.time() - grace_seconds, report)
        plans = [_plan(store, s, live) for s in list(store.index.packs.values())]
        _tally(plans, report)
        if not dry_run:
            _sweep(store, [p for p in plans if _worth_it(p)], report, progress)
    return report


def mark(store: "BlobStore", roots: set[str], cutoff: float, report: GcReport) -> set[str]:
    """Every blob reachable from ``roots`` or written after ``cutoff``."""
    entries, dicts = store.index.entries, store.index.dicts
    stack = list(roots) + [b for b, e in entries.items() if e.time >= cutoff]
    live: set[str] = set()
    missing = set()
    while stack:
        bid = stack.pop()
        if bid in live:
            continue
        entry = entries.get(bid)
        if entry is None:
            missing.add(bid)
            continue
        live.add(bid)
        if entry.btype == rec.MANIFEST:
            m = store.manifest(bid)  # a damaged manifest raises: never guess what it kept
            stack.extend(([m.parent] if m.parent else []) + m.refs)
        if entry.flags & rec.DICT_USED:
            if entry.dict_id not in dicts:
                raise BlobError(
                    f"blob {bid} uses missing dictionary {entry.dict_id}",
                    hint="run `llmos blobs check`; gc refuses to run on it",
                )
            stack.append(dicts[entry.dict_id])
    report.missing_roots = sorted(missing & roots)
    report.live_blobs = len(live)
    return live


def _plan(store: "BlobStore", state: PackState, live: set[str]) -> _Plan:
    """Which records of a pack to keep: the one indexed copy of each live blob."""
    entries = store.index.entries
    keep = [(b, e) for b, e in state.rows if b in live and entries.get(b) == e]
    size = file_size(state.path)
    garbage = size - PACK_HEADER - sum(e.size for _, e in keep)
    return _Plan(state, keep, max(garbage, 0) if keep else size, size)


def _worth_it(plan: _Plan) -> bool:
    return not plan.keep or plan.garbage > GARBAGE_RATIO * plan.size


def _tally(plans: list[_Plan], report: GcReport) -> None:
    for p in plans:
        kept = {b for b, _ in p.keep}
        report.garbage_blobs += sum(1 for b, _ in p.state.rows if b not in kept)
        report.garbage_bytes += p.garbage
        report.bytes_before += p.size
    report.bytes_after = report.bytes_before - sum(p.garbage for p in plans if _worth_it(p))


def _sweep(store: "BlobStore", plans: list[_Plan], report: GcReport, progress: Progress | None) -> None:
    locked = []
    for plan in plans:
        fd = try_lock(plan.state.path)
        if fd is None:
            report.packs_in_use += 1
            report.bytes_after += plan.garbage
            continue
        locked.append((plan, fd))
    try:
        for i, (plan, _) in enumerate(locked):
            for bid, entry in plan.keep:
                _copy(store, plan.state, bid, entry)
            if progress:
                progress(i + 1, len(locked))
        store.pool.retire()  # synced and indexed before anything is deleted
        for plan, _ in locked:
            report.packs_rewritten += bool(plan.keep)
            report.packs_deleted += not plan.keep
        drop_packs(store, [plan.state for plan, _ in locked])
    finally:
        for _, fd in locked:
            os.close(fd)
    store.index.refresh(repair=False)


def _copy(store: "BlobStore", state: PackState, bid: str, entry: Entry) -> None:
    """Move one record, byte for byte (so it keeps its write time), to the current pack."""
    raw = os.pread(store._fd(state), entry.size, entry.offset)
    store.decode(bid, raw, state.name, entry.offset)  # never copy a damaged record silently
    writer = store.pool.writer_for(len(raw))
    offset = writer.append(raw)
    store.index.append_row(bid, entry._replace(pack=writer.no, offset=offset))


def drop_packs(store: "BlobStore", states: list[PackState]) -> None:
    """Delete these packs (idx first, then pack) and the store's descriptors on them, then
    sync the folder. Callers have already synced and indexed whatever they moved out."""
    for state in states:
        for path in (state.idx_path, state.path):
            try:
                path.unlink()
            except FileNotFoundError:
                pass
        fd = store._fds.pop(state.no, None)
        if fd is not None:
            os.close(fd)
    if states:
        fsync_dir(store.index.dir)

"""``check``: verify every pack, index, manifest and trace reference, naming each fault.

Without ``read_data`` every record's header and payload checksum are verified and the idx
files are compared with the packs (missing or truncated packs, records the index promises
but the pack lacks). With ``read_data`` every payload is also decompressed and hashed, so a
record whose bytes no longer match its id is found even if its checksum was rewritten.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

import zstandard

from . import record as rec
from .codec import blob_id, find_refs
from .index import read_idx
from .pack import IDX_SUFFIX, PACK_HEADER, PACK_SUFFIX, is_locked, pack_name, valid_pack_header

if TYPE_CHECKING:
    from .store import BlobStore

Progress = Callable[[int, int], None]


@dataclass
class Problem:
    """One fault: where it is (pack, offset, blob id, file) and what is wrong."""

    message: str
    pack: str | None = None
    offset: int | None = None
    blob_id: str | None = None
    file: str | None = None

    def __str__(self) -> str:
        where = [f"{k} {v}" for k, v in (("pack", self.pack), ("offset", self.offset),
                                         ("blob", self.blob_id), ("file", self.file))
                 if v is not None]
        return f"{', '.join(where)}: {self.message}" if where else self.message


@dataclass
class CheckReport:
    """What ``check`` looked at and every problem it found (``ok`` when none)."""

    packs: int = 0
    records: int = 0
    bytes_checked: int = 0
    data_bytes: int = 0
    manifests: int = 0
    trace_refs: int = 0
    read_data: bool = False
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}


def check(store: "BlobStore", *, read_data: bool = False,
          progress: Progress | None = None) -> CheckReport:
    """Check ``store``; see the module docstring. Never modifies anything."""
    store.flush()
    store.index.refresh(repair=False)
    report = CheckReport(read_data=read_data)
    packs_dir = store.index.dir
    packs = sorted(packs_dir.glob(f"pack-*{PACK_SUFFIX}"))
    total = sum(p.stat().st_size for p in packs) or 1
    done = 0
    for path in packs:
        _check_pack(store, path, report, read_data)
        done += path.stat().st_size
        if progress:
            progress(done, total)
    for idx in sorted(packs_dir.glob(f"pack-*{IDX_SUFFIX}")):
        if not idx.with_suffix(PACK_SUFFIX).exists():
            _missing_pack(idx, report)
    _check_links(store, report)
    return report


def _missing_pack(idx: Path, report: CheckReport) -> None:
    loaded = read_idx(idx, -1)
    rows = loaded[1] if loaded else []
    name = pack_name(idx.with_suffix(PACK_SUFFIX))
    report.problems.append(Problem(f"pack file missing; its index lists {len(rows)} records",
                                   pack=name))
    for bid, e in rows:
        report.problems.append(Problem("blob lost with missing pack", pack=name,
                                       offset=e.offset, blob_id=bid))


def _check_pack(store: "BlobStore", path: Path, report: CheckReport, read_data: bool) -> None:
    name = pack_name(path)
    data = path.read_bytes()
    report.packs += 1
    report.bytes_checked += len(data)
    if not valid_pack_header(data[:PACK_HEADER]):
        if data or not is_locked(path):
            report.problems.append(Problem("not a pack file (bad header)", pack=name, offset=0))
        return
    loaded = read_idx(path.with_suffix(IDX_SUFFIX), -1)
    expected = {e.offset: (bid, e.size) for bid, e in loaded[1]} if loaded else {}
    seen: set[int] = set()
    for item in rec.scan(data, PACK_HEADER):
        if isinstance(item, rec.Bad):
            if item.resume is None and is_locked(path):
                break  # an append in flight by a live writer
            report.problems.append(Problem(f"damaged record: {item.reason}", pack=name,
                                           offset=item.offset,
                                           blob_id=expected.get(item.offset, (None,))[0]))
            continue
        offset, header = item
        seen.add(offset)
        report.records += 1
        if read_data:
            _check_data(store, data, offset, header, name, report)
    _check_idx(name, len(data), loaded[0] if loaded else 0, expected, seen, report)


def _check_idx(name: str, size: int, covered: int, expected: dict[int, tuple[str, int]],
               seen: set[int], report: CheckReport) -> None:
    if covered > size:
        report.problems.append(Problem(
            f"pack truncated: index covers {covered} bytes, file has {size}", pack=name,
            offset=size))
    for offset, (bid, _) in sorted(expected.items()):
        if offset not in seen and offset >= size:
            report.problems.append(Problem("record listed in index is beyond the end of the pack",
                                           pack=name, offset=offset, blob_id=bid))


def _check_data(store: "BlobStore", data: bytes, offset: int, header: rec.Header, name: str,
                report: CheckReport) -> None:
    bid = header.digest.hex()
    start, end = rec.payload_bounds(offset, header)
    try:
        raw = store._decompress(header, data[start:end])
    except (rec.RecordError, zstandard.ZstdError) as exc:
        report.problems.append(Problem(f"cannot decompress: {exc}", pack=name, offset=offset,
                                       blob_id=bid))
        return
    report.data_bytes += len(raw)
    if len(raw) != header.ulen or blob_id(header.btype, raw) != bid:
        report.problems.append(Problem("content does not match its id", pack=name,
                                       offset=offset, blob_id=bid))


def _check_links(store: "BlobStore", report: CheckReport) -> None:
    """Manifests, dictionaries and trace references must point at blobs that exist."""
    entries = store.index.entries
    for bid, e in list(entries.items()):
        if e.flags & rec.DICT_USED and e.dict_id not in store.index.dicts:
            report.problems.append(Problem(f"uses missing dictionary {e.dict_id}",
                                           blob_id=bid, offset=e.offset,
                                           pack=_pack_of(store, e.pack)))
        if e.btype == rec.MANIFEST:
            report.manifests += 1
            _check_manifest(store, bid, report)
    for file, ids in trace_refs(store.os_root):
        report.trace_refs += len(ids)
        for bid in sorted(ids - entries.keys()):
            report.problems.append(Problem("trace refers to a missing blob", blob_id=bid,
                                           file=str(file)))


def _check_manifest(store: "BlobStore", bid: str, report: CheckReport) -> None:
    try:
        m = store.manifest(bid)
    except Exception as exc:  # noqa: BLE001 - any failure here is a finding, not a crash
        report.problems.append(Problem(f"unreadable manifest: {exc}", blob_id=bid))
        return
    for ref in ([m.parent] if m.parent else []) + m.refs:
        if ref not in store.index.entries:
            report.problems.append(Problem(f"manifest refers to missing blob {ref}", blob_id=bid))


def _pack_of(store: "BlobStore", no: int) -> str | None:
    state = store.index.packs.get(no)
    return state.name if state else None


def trace_dirs(os_root: Path | None) -> list[Path]:
    """Folders whose files may hold ``blob:<id>`` references (gc roots)."""
    if os_root is None:
        return []
    return [d for d in (os_root / "traces", os_root / ".llmos" / "vault") if d.is_dir()]


def trace_refs(os_root: Path | None, dirs: list[Path] | None = None
               ) -> Iterator[tuple[Path, set[str]]]:
    """``(file, ids)`` for every file under the trace folders that mentions blobs."""
    for folder in trace_dirs(os_root) if dirs is None else dirs:
        for dirpath, _, files in os.walk(folder):
            for fname in files:
                path = Path(dirpath) / fname
                try:
                    ids = find_refs(path.read_bytes())
                except OSError:
                    continue
                if ids:
                    yield path, ids

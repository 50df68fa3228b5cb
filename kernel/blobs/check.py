"""``check``: verify every pack, index, manifest and trace reference, naming each fault.

Without ``read_data`` every record's header and payload checksum are verified and the idx
files are compared with the packs (missing or truncated packs, records the index promises
but the pack lacks). With ``read_data`` every payload is also decompressed and hashed, so a
record whose bytes no longer match its id is found even if its checksum was rewritten.
"""

from __future__ import annotations

import os
import struct
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import zstandard

from . import manifest as mf
from . import record as rec
from . import verify
from .codec import HASHERS, find_refs
from .index import idx_covered, read_idx, read_idx_offsets
from .pack import IDX_SUFFIX, PACK_HEADER, PACK_SUFFIX, is_locked, pack_name, valid_pack_header

if TYPE_CHECKING:
    from .store import BlobStore

Progress = Callable[[int, int], None]
BATCH_BYTES = 32 << 20  # uncompressed bytes decompressed at once by check --read-data
THREADS = 2  # zstd threads for that (zstd's own, outside the GIL)


@dataclass
class Problem:
    """One fault: where it is (pack, offset, blob id, file) and what is wrong."""

    message: str
    pack: str | None = None
    offset: int | None = None
    blob_id: str | None = None
    file: str | None = None

    def __str__(self) -> str:
        where = [
            f"{k} {v}"
            for k, v in (("pack", self.pack), ("offset", self.offset), ("blob", self.blob_id), ("file", self.file))
            if v is not None
        ]
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


def check(store: "BlobStore", *, read_data: bool = False, progress: Progress | None = None) -> CheckReport:
    """Check ``store``; see the module docstring. Never modifies anything."""
    store.flush()
    store.index.refresh(repair=False)
    report = CheckReport(read_data=read_data)
    packs_dir = store.index.dir
    packs = sorted(packs_dir.glob(f"pack-*{PACK_SUFFIX}"))
    total = sum(p.stat().st_size for p in packs) or 1
    done = 0
    manifests: dict[str, bytes] = {}
    for path in packs:
        _check_pack(store, path, report, read_data, manifests)
        done += path.stat().st_size
        if progress:
            progress(done, total)
    for idx in sorted(packs_dir.glob(f"pack-*{IDX_SUFFIX}")):
        if not idx.with_suffix(PACK_SUFFIX).exists():
            _missing_pack(idx, report)
    _check_links(store, report, manifests)
    return report


def _missing_pack(idx: Path, report: CheckReport) -> None:
    loaded = read_idx(idx, -1)
    rows = loaded[1] if loaded else []
    name = pack_name(idx.with_suffix(PACK_SUFFIX))
    report.problems.append(Problem(f"pack file missing; its index lists {len(rows)} records", pack=name))
    for bid, e in rows:
        report.problems.append(Problem("blob lost with missing pack", pack=name, offset=e.offset, blob_id=bid))


def _check_pack(
    store: "BlobStore", path: Path, report: CheckReport, read_data: bool, manifests: dict[str, bytes]
) -> None:
    name = pack_name(path)
    data = path.read_bytes()
    report.packs += 1
    report.bytes_checked += len(data)
    if not valid_pack_header(data[:PACK_HEADER]):
        if data or not is_locked(path):
            report.problems.append(Problem("not a pack file (bad header)", pack=name, offset=0))
        return
    if _fast_pack(store, path, data, report, read_data, manifests):
        return
    loaded = read_idx_offsets(path.with_suffix(IDX_SUFFIX))
    expected = loaded[1] if loaded else {}
    good: list[tuple[int, rec.Header]] = []
    for item in rec.scan(data, PACK_HEADER):
        if isinstance(item, rec.Bad):
            if item.resume is None and is_locked(path):
                break  # an append in flight by a live writer
            report.problems.append(
                Problem(
                    f"damaged record: {item.reason}",
                    pack=name,
                    offset=item.offset,
                    blob_id=_hex(expected.get(item.offset)),
                )
            )
            continue
        good.append(item)
    report.records += len(good)
    if read_data and good:
        _check_records(store, data, good, name, report, manifests)
    seen = {offset: h.digest for offset, h in good}
    _check_idx(name, len(data), loaded[0] if loaded else 0, expected, seen, report)


def _fast_pack(
    store: "BlobStore", path: Path, data: bytes, report: CheckReport, read_data: bool, manifests: dict[str, bytes]
) -> bool:
    """The whole pack proved sound by :mod:`.verify` (True), or nothing counted (False)."""
    no = store.index.by_path.get(path)
    rows = store.index.packs[no].rows if no is not None else []
    if not rows:
        return False
    covered = idx_covered(path.with_suffix(IDX_SUFFIX))
    if covered is not None and covered > len(data):
        return False  # the pack lost records its idx lists: named by the slow path
    try:
        dicts = {d: store.dictionaries.bytes_of(d) for d in store.index.dicts} if read_data else {}
    except Exception:  # noqa: BLE001 - a bad dictionary is named by the slow path
        return False
    verdict = verify.verify_pack(data, rows, dicts, read_data, store.index.entries)
    if not verdict.sound:
        return False
    report.records += len(rows)
    report.data_bytes += verdict.data_bytes
    manifests.update(verdict.manifests)
    for bid in verdict.linked:
        manifests[bid] = _LINKED
    for bid, ref in verdict.broken:
        report.problems.append(Problem(f"manifest refers to missing blob {ref}", blob_id=bid))
    return True


_LINKED: Any = object()  # in ``manifests``: a manifest whose links the fast path checked


def _check_idx(
    name: str, size: int, covered: int, expected: dict[int, bytes], seen: dict[int, bytes], report: CheckReport
) -> None:
    """The idx file against the records found: ``seen`` maps offset -> digest."""
    if covered > size:
        report.problems.append(
            Problem(f"pack truncated: index covers {covered} bytes, file has {size}", pack=name, offset=size)
        )
    for offset, bid in sorted(expected.items()):
        held = seen.get(offset)
        if held is None and offset >= size:
            report.problems.append(
                Problem(
                    "record listed in index is beyond the end of the pack", pack=name, offset=offset, blob_id=bid.hex()
                )
            )
        elif held is not None and held != bid:
            report.problems.append(
                Problem(
                    f"index names this blob here, the pack holds {held.hex()}: delete {name}.idx to rebuild it",
                    pack=name,
                    offset=offset,
                    blob_id=bid.hex(),
                )
            )


def _check_records(
    store: "BlobStore",
    data: bytes,
    records: list[tuple[int, rec.Header]],
    name: str,
    report: CheckReport,
    manifests: dict[str, bytes],
) -> None:
    """Decompress and hash the payloads of ``records`` (offset, header) of one pack.

    zstd frames are decompressed in batches per dictionary by zstd's own threads; a batch
    that fails is redone record by record so each damaged one is named. Manifests' bytes
    are kept in ``manifests`` so their links are checked without reading them again."""
    view = memoryview(data)
    groups: dict[int, list[tuple[int, rec.Header]]] = {}
    for item in records:
        h = item[1]
        if h.flags & rec.ZSTD:
            groups.setdefault(h.dict_id if h.flags & rec.DICT_USED else 0, []).append(item)
        else:
            start = item[0] + rec.HEADER_SIZE + h.klen
            _verify(view[start : start + h.clen], item[0], h, name, report, manifests)
    for dict_id, items in groups.items():
        for batch in batches(items):
            outs = _decompress_batch(store, view, dict_id, batch)
            if outs is None:
                for offset, h in batch:
                    _check_data(store, data, offset, h, name, report, manifests)
                continue
            _verify_all(batch, outs, name, report, manifests)


def batches(items: list, limit: int = BATCH_BYTES):
    """Split ``items``, pairs whose second member has a ``ulen``, into runs of at most
    ``limit`` uncompressed bytes (bounded memory)."""
    start, total = 0, 0
    for i, (_, h) in enumerate(items):
        if total and total + h.ulen > limit:
            yield items[start:i]
            start, total = i, 0
        total += h.ulen
    if start < len(items):
        yield items[start:]


def _decompress_batch(store: "BlobStore", view: memoryview, dict_id: int, batch: list[tuple[int, rec.Header]]):
    """The decompressed payloads of ``batch`` (buffers), or None if any frame fails."""
    multi = getattr(zstandard.ZstdDecompressor, "multi_decompress_to_buffer", None)
    if multi is None:
        return None
    try:
        if dict_id:
            store.dictionaries.load(dict_id)
        dctx = store.codec.decompressor(dict_id)
        frames = []
        for offset, h in batch:
            start = offset + rec.HEADER_SIZE + h.klen
            frames.append(view[start : start + h.clen])
        sizes = struct.pack(f"={len(batch)}Q", *[h.ulen for _, h in batch])
        return dctx.multi_decompress_to_buffer(frames, decompressed_sizes=sizes, threads=THREADS)
    except Exception:  # noqa: BLE001 - redone one by one, which names the failure
        return None


def _verify_all(
    batch: list[tuple[int, rec.Header]], outs, name: str, report: CheckReport, manifests: dict[str, bytes]
) -> None:
    """:func:`_verify` over a batch and its decompressed buffers (the common case inline)."""
    total = 0
    for (offset, h), raw in zip(batch, outs):
        n = len(raw)
        total += n
        if n == h.ulen and HASHERS[h.btype].copy().update(raw).digest() == h.digest:
            if h.btype == rec.MANIFEST:
                manifests[h.digest.hex()] = bytes(raw)
        else:
            report.problems.append(
                Problem("content does not match its id", pack=name, offset=offset, blob_id=h.digest.hex())
            )
    report.data_bytes += total


def _verify(raw, offset: int, h: rec.Header, name: str, report: CheckReport, manifests: dict[str, bytes]) -> None:
    """Count ``raw`` and check that it is the blob the header names."""
    report.data_bytes += len(raw)
    if len(raw) != h.ulen or HASHERS[h.btype].copy().update(raw).digest() != h.digest:
        report.problems.append(
            Problem("content does not match its id", pack=name, offset=offset, blob_id=h.digest.hex())
        )
    elif h.btype == rec.MANIFEST:
        manifests[h.digest.hex()] = bytes(raw)


def _check_data(
    store: "BlobStore",
    data: bytes,
    offset: int,
    header: rec.Header,
    name: str,
    report: CheckReport,
    manifests: dict[str, bytes],
) -> None:
    start, end = rec.payload_bounds(offset, header)
    try:
        raw = store.dictionaries.decompress(header, data[start:end])
    except (rec.RecordError, zstandard.ZstdError) as exc:
        report.problems.append(
            Problem(f"cannot decompress: {exc}", pack=name, offset=offset, blob_id=header.digest.hex())
        )
        return
    _verify(raw, offset, header, name, report, manifests)


def _check_links(store: "BlobStore", report: CheckReport, manifests: dict[str, bytes]) -> None:
    """Manifests, dictionaries and trace references must point at blobs that exist."""
    entries = store.index.entries
    for bid, e in list(entries.items()):
        if e.flags & rec.DICT_USED and e.dict_id not in store.index.dicts:
            report.problems.append(
                Problem(
                    f"uses missing dictionary {e.dict_id}", blob_id=bid, offset=e.offset, pack=_pack_of(store, e.pack)
                )
            )
        if e.btype == rec.MANIFEST:
            report.manifests += 1
            raw = manifests.get(bid)
            if raw is not _LINKED:
                _check_manifest(store, bid, report, raw)
    for file, ids in trace_refs(store.os_root):
        report.trace_refs += len(ids)
        for bid in sorted(ids - entries.keys()):
            report.problems.append(Problem("trace refers to a missing blob", blob_id=bid, file=str(file)))


def _check_manifest(store: "BlobStore", bid: str, report: CheckReport, raw: bytes | None = None) -> None:
    try:
        m = store.manifest(bid) if raw is None else mf.decode(raw, bid)
    except Exception as exc:  # noqa: BLE001 - any failure here is a finding, not a crash
        report.problems.append(Problem(f"unreadable manifest: {exc}", blob_id=bid))
        return
    for ref in ([m.parent] if m.parent else []) + m.refs:
        if ref not in store.index.entries:
            report.problems.append(Problem(f"manifest refers to missing blob {ref}", blob_id=bid))


def _hex(digest: bytes | None) -> str | None:
    return None if digest is None else digest.hex()


def _pack_of(store: "BlobStore", no: int) -> str | None:
    state = store.index.packs.get(no)
    return state.name if state else None


def trace_dirs(os_root: Path | None) -> list[Path]:
    """Folders whose files may hold ``blob:<id>`` references (gc roots)."""
    if os_root is None:
        return []
    return [d for d in (os_root / "traces", os_root / ".llmos" / "vault") if d.is_dir()]


def trace_refs(os_root: Path | None, dirs: list[Path] | None = None) -> Iterator[tuple[Path, set[str]]]:
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

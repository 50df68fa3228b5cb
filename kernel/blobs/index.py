"""The index: blob id -> where its record lives. A cache rebuilt from the packs.

Each pack ``pack-X.pack`` may have ``pack-X.idx`` listing every record in its first
``covered`` bytes (~38 bytes a record: the id, then the other fields zstd-compressed column
by column; format 1, fixed 56-byte rows, is still read). Loading reads the idx files and
scans only the bytes past ``covered``; a missing or damaged idx just means a longer scan.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import zstandard

from ..atomic import atomic_write
from . import record as rec
from .pack import IDX_SUFFIX, PACK_HEADER, PACK_SUFFIX, pack_name, try_lock, valid_pack_header

IDX_MAGIC = b"LLMOSIX2"
IDX_MAGIC_1 = b"LLMOSIX1"  # format 1 (fixed 56-byte rows): still read
_IDX_HEAD = struct.Struct("<8sQII")
_ROW = struct.Struct("<32sIIIIIBBH")


class Entry(NamedTuple):
    """Where one record is: pack number, offset, total size, and its header fields."""

    pack: int
    offset: int
    size: int
    btype: int
    flags: int
    ulen: int
    clen: int
    dict_id: int
    time: int
    kind: str


@dataclass
class PackState:
    """What the index knows about one pack file."""

    no: int
    path: Path
    scanned: int = PACK_HEADER
    rows: list[tuple[str, Entry]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return pack_name(self.path)

    @property
    def idx_path(self) -> Path:
        return self.path.with_suffix(IDX_SUFFIX)


@dataclass(frozen=True)
class Damage:
    """A damaged stretch found while indexing a pack."""

    pack: str
    offset: int
    reason: str


class Index:
    """In-memory map of blob ids to entries, over every pack in ``packs_dir``."""

    def __init__(self, packs_dir: Path):
        self.dir = packs_dir
        self.entries: dict[str, Entry] = {}
        self.packs: dict[int, PackState] = {}
        self.by_path: dict[Path, int] = {}
        self.dicts: dict[int, str] = {}
        self.damage: list[Damage] = []
        self._next_no = 0

    def add(self, bid: str, entry: Entry) -> None:
        """Index a record; of several copies of one blob the newest wins."""
        old = self.entries.get(bid)
        if old is None or entry.time > old.time:
            self.entries[bid] = entry
        if entry.btype == rec.DICT:
            self.dicts[entry.dict_id] = bid

    def register(self, path: Path) -> PackState:
        """The state of pack ``path``, created (empty) if the index did not know it."""
        no = self.by_path.get(path)
        if no is None:
            no = self._next_no
            self._next_no += 1
            self.packs[no] = PackState(no, path)
            self.by_path[path] = no
        return self.packs[no]

    def refresh(self, *, repair: bool = True) -> None:
        """Bring the index up to date with the packs on disk (new, grown and deleted packs)."""
        on_disk = set(self.dir.glob(f"pack-*{PACK_SUFFIX}")) if self.dir.exists() else set()
        for path in sorted(on_disk - set(self.by_path)):
            self._load_idx(self.register(path))
        for path in sorted(on_disk):
            self.scan_tail(self.packs[self.by_path[path]], repair=repair)
        gone = set(self.by_path) - on_disk
        if gone:
            self._forget({self.by_path[p] for p in gone})

    def _forget(self, numbers: set[int]) -> None:
        for no in numbers:
            del self.by_path[self.packs.pop(no).path]
        self.entries = {b: e for b, e in self.entries.items() if e.pack not in numbers}
        self.dicts = {d: b for d, b in self.dicts.items() if b in self.entries}
        self._reindex_survivors()

    def _reindex_survivors(self) -> None:
        """Blobs whose newest copy was in a deleted pack may have older copies elsewhere."""
        for state in self.packs.values():
            for bid, entry in state.rows:
                if bid not in self.entries:
                    self.add(bid, entry)

    def _load_idx(self, state: PackState) -> None:
        rows = read_idx(state.idx_path, state.no)
        if rows is None:
            return
        covered, rows = rows
        try:
            if os.path.getsize(state.path) < covered:
                return
        except FileNotFoundError:
            return
        for bid, entry in rows:
            self.add(bid, entry)
        state.rows = rows
        state.scanned = covered

    def scan_tail(self, state: PackState, *, repair: bool, lock_fd: int | None = None) -> None:
        """Index the records past ``state.scanned``; cut a torn tail if no one writes the pack.

        ``lock_fd``: this process already holds the pack's lock through that descriptor."""
        try:
            with open(state.path, "rb") as fh:
                head = fh.read(PACK_HEADER)
                size = os.fstat(fh.fileno()).st_size
                if size <= state.scanned or not valid_pack_header(head):
                    return
                fh.seek(state.scanned)
                buf = fh.read(size - state.scanned)
        except FileNotFoundError:
            return
        base = state.scanned
        for item in rec.scan(buf, 0):
            if isinstance(item, rec.Bad):
                if item.resume is None:
                    if repair:
                        self._bad_tail(state, base + item.offset, size, item.reason, buf[item.offset :], lock_fd)
                    return
                self.damage.append(Damage(state.name, base + item.offset, item.reason))
                state.scanned = base + item.resume
                continue
            pos, header = item
            self._add_scanned(state, base + pos, header)
            state.scanned = base + pos + header.size

    def _add_scanned(self, state: PackState, offset: int, h: rec.Header) -> None:
        entry = Entry(state.no, offset, h.size, h.btype, h.flags, h.ulen, h.clen, h.dict_id, h.time, h.kind)
        bid = h.digest.hex()
        state.rows.append((bid, entry))
        self.add(bid, entry)

    def _bad_tail(
        self, state: PackState, offset: int, size: int, reason: str, tail: bytes, lock_fd: int | None
    ) -> None:
        """A tail that does not decode. With a live writer it is in flight: leave it.
        Otherwise an incomplete or zero-filled record is a torn write and is cut; a complete
        record that fails its checks is damage, kept for ``check`` to report."""
        fd = lock_fd if lock_fd is not None else try_lock(state.path)
        if fd is None:
            return
        try:
            if reason.startswith("truncated") or not tail.strip(b"\0"):
                if os.fstat(fd).st_size == size:
                    os.ftruncate(fd, offset)
                    os.fsync(fd)
            else:
                self.damage.append(Damage(state.name, offset, reason))
                state.scanned = size
        finally:
            if lock_fd is None:
                os.close(fd)

    def write_idx(self, state: PackState) -> None:
        """Persist the rows of ``state`` (what a scan found up to ``state.scanned``)."""
        atomic_write(state.idx_path, encode_idx(state.scanned, state.rows))

    def rows_of(self, no: int) -> list[tuple[str, Entry]]:
        return self.packs[no].rows

    def append_row(self, bid: str, entry: Entry) -> None:
        """Index a record this process just appended."""
        state = self.packs[entry.pack]
        state.rows.append((bid, entry))
        state.scanned = max(state.scanned, entry.offset + entry.size)
        self.add(bid, entry)

    def idx_bytes(self) -> int:
        total = 0
        for state in self.packs.values():
            try:
                total += state.idx_path.stat().st_size
            except FileNotFoundError:
                pass
        return total


def encode_idx(covered: int, rows: list[tuple[str, Entry]]) -> bytes:
    """Serialize an idx file (format 2): header, kind table, the 32-byte ids, then the other
    fields column by column, zstd-compressed (offsets as gaps after the previous record,
    nearly all 0), then a crc32 of everything before it."""
    kinds = sorted({e.kind for _, e in rows})
    code = {k: i for i, k in enumerate(kinds)}
    kind_blob = json.dumps(kinds).encode("utf-8")
    n = len(rows)
    gaps, end = [], PACK_HEADER
    for _, e in rows:
        gaps.append(e.offset - end)
        end = e.offset + e.size
    cols = [struct.pack(f"<{n}q", *gaps)]
    for fmt, name in _COLUMNS:
        cols.append(struct.pack(f"<{n}{fmt}", *[getattr(e, name) for _, e in rows]))
    cols.append(struct.pack(f"<{n}H", *[code[e.kind] for _, e in rows]))
    packed = zstandard.ZstdCompressor(level=3).compress(b"".join(cols))
    body = b"".join(
        [
            _IDX_HEAD.pack(IDX_MAGIC, covered, n, len(kind_blob)),
            kind_blob,
            b"".join(bytes.fromhex(b) for b, _ in rows),
            packed,
        ]
    )
    return body + zlib.crc32(body).to_bytes(4, "little")


_COLUMNS = (("I", "clen"), ("I", "ulen"), ("I", "dict_id"), ("I", "time"), ("B", "btype"), ("B", "flags"))


def _parse_idx(path: Path) -> tuple[int, list[bytes], list[tuple]] | None:
    """``(covered, digests, rows of (offset, clen, ulen, dict_id, time, btype, flags, kind))``
    of an idx file in either format; None if missing or damaged."""
    data = path.read_bytes()
    if len(data) < _IDX_HEAD.size + 4 or zlib.crc32(data[:-4]) != int.from_bytes(data[-4:], "little"):
        return None
    magic, covered, count, klen = _IDX_HEAD.unpack_from(data)
    start = _IDX_HEAD.size + klen
    kinds = json.loads(data[_IDX_HEAD.size : start])
    if magic == IDX_MAGIC_1:
        rows = list(_ROW.iter_unpack(memoryview(data)[start:-4]))
        digests = [r[0] for r in rows]
        return covered, digests, [(*r[1:3], *r[3:8], kinds[r[8]]) for r in rows]
    if magic != IDX_MAGIC:
        return None
    ids_end = start + 32 * count
    digests = [data[i : i + 32] for i in range(start, ids_end, 32)]
    cols = zstandard.ZstdDecompressor().decompress(data[ids_end:-4])
    pos, columns = 8 * count, []
    gaps = struct.unpack_from(f"<{count}q", cols)
    for fmt, _ in _COLUMNS + (("H", "kind"),):
        columns.append(struct.unpack_from(f"<{count}{fmt}", cols, pos))
        pos += struct.calcsize(fmt) * count
    if pos != len(cols) or len(digests) != count:
        return None
    klens = [len(k.encode("utf-8")) for k in kinds]
    rows, end = [], PACK_HEADER
    for gap, clen, ulen, did, t, bt, fl, kc in zip(gaps, *columns):
        offset = end + gap
        end = offset + rec.OVERHEAD + klens[kc] + clen
        rows.append((offset, clen, ulen, did, t, bt, fl, kinds[kc]))
    return covered, digests, rows


def read_idx(path: Path, no: int) -> tuple[int, list[tuple[str, Entry]]] | None:
    """Parse an idx file; None if missing or damaged (the pack will be scanned instead)."""
    try:
        parsed = _parse_idx(path)
        if parsed is None:
            return None
        covered, digests, rows = parsed
        out = []
        for digest, (off, clen, ulen, did, t, bt, fl, kind) in zip(digests, rows):
            size = rec.record_size(len(kind.encode("utf-8")), clen)
            out.append((digest.hex(), Entry(no, off, size, bt, fl, ulen, clen, did, t, kind)))
        return covered, out
    except (OSError, ValueError, IndexError, struct.error, zstandard.ZstdError):
        return None


def idx_covered(path: Path) -> int | None:
    """How many bytes of its pack the idx file at ``path`` says it covers (from its header
    alone, unverified), or None if there is no readable idx."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(_IDX_HEAD.size)
    except OSError:
        return None
    if len(head) < _IDX_HEAD.size or head[:8] not in (IDX_MAGIC, IDX_MAGIC_1):
        return None
    return _IDX_HEAD.unpack(head)[1]


def read_idx_offsets(path: Path) -> tuple[int, dict[int, bytes]] | None:
    """``(covered, {offset: blob digest})`` of an idx file, or None if missing or damaged
    (what ``check`` needs, without building an :class:`Entry` per row)."""
    try:
        parsed = _parse_idx(path)
        if parsed is None:
            return None
        covered, digests, rows = parsed
        return covered, {row[0]: d for d, row in zip(digests, rows)}
    except (OSError, ValueError, IndexError, struct.error, zstandard.ZstdError):
        return None

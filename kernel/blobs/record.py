"""The on-disk record: one self-describing blob inside a pack file.

Layout (little-endian)::

    magic    4   b"LBR1"
    type     1   BYTES | TEXT | JSON | MANIFEST | DICT
    flags    1   ZSTD: payload is a zstd frame; DICT_USED: compressed with dictionary `dict_id`;
                 DENSE: recompressed by repack (zstd level 19), not to be repacked again
    kind_len 1   length of the kind name that follows the header
    reserved 1
    hash     32  the blob id (keyed blake3, see ``codec``)
    ulen     4   canonical (uncompressed) length
    clen     4   payload length
    dict_id  4   zstd dictionary id (for a DICT record: the id of the dictionary it holds)
    time     4   unix seconds when this copy was written (gc grace period)
    hcrc     4   crc32 of the 56 bytes above plus the kind
    kind     kind_len bytes, utf-8
    payload  clen bytes
    pcrc     4   crc32 of payload

Because each record carries its hash and lengths, any index can be rebuilt by scanning packs,
and a torn or corrupted record is detected without trusting anything else.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Iterator, NamedTuple

from ..errors import BlobError

MAGIC = b"LBR1"
BYTES, TEXT, JSON, MANIFEST, DICT = 1, 2, 3, 4, 5
TYPE_NAMES = {BYTES: "bytes", TEXT: "text", JSON: "json", MANIFEST: "manifest", DICT: "dict"}
ZSTD, DICT_USED, DENSE = 1, 2, 4

_PREFIX = struct.Struct("<4sBBBB32sIIII")
_U32 = struct.Struct("<I")
_FULL = struct.Struct("<4sBBBB32sIIIII")
HEADER_SIZE = _PREFIX.size + 4
OVERHEAD = HEADER_SIZE + 4
MAX_BLOB = 1 << 30


class RecordError(ValueError):
    """A record that does not decode; ``reason`` says which check failed."""


class Header(NamedTuple):
    """The decoded fixed part of a record (a tuple: cheap to build on every scanned record)."""

    btype: int
    flags: int
    kind: str
    digest: bytes
    ulen: int
    clen: int
    dict_id: int
    time: int
    klen: int = 0

    @property
    def size(self) -> int:
        """Total bytes of the record on disk."""
        return OVERHEAD + self.klen + self.clen


def kind_bytes(kind: str, size: int) -> bytes:
    """``kind`` as a record stores it; raise BlobError for a bad kind or an oversized blob."""
    kind_b = kind.encode("utf-8") if isinstance(kind, str) else b""
    if not 0 < len(kind_b) < 256:
        raise BlobError(f"blob kind must be a non-empty name under 256 bytes, not {kind!r}")
    if size > MAX_BLOB:
        raise BlobError(f"blob of {size} bytes is over the {MAX_BLOB}-byte limit")
    return kind_b


def record_size(kind_len: int, clen: int) -> int:
    """Bytes a record with this kind length and payload length takes on disk."""
    return OVERHEAD + kind_len + clen


def encode(
    btype: int, flags: int, kind: bytes, digest: bytes, ulen: int, payload: bytes, dict_id: int, time: int
) -> bytes:
    """Serialize one record."""
    prefix = _PREFIX.pack(MAGIC, btype, flags, len(kind), 0, digest, ulen, len(payload), dict_id, time)
    hcrc = zlib.crc32(kind, zlib.crc32(prefix))
    return b"".join((prefix, _U32.pack(hcrc), kind, payload, _U32.pack(zlib.crc32(payload))))


def decode_header(buf: bytes | memoryview, pos: int = 0) -> Header:
    """Decode and verify the header at ``buf[pos:]``; raise :class:`RecordError` if it is bad."""
    if len(buf) - pos < HEADER_SIZE:
        raise RecordError("truncated header")
    magic, btype, flags, klen, _, digest, ulen, clen, dict_id, time, hcrc = _FULL.unpack_from(buf, pos)
    if magic != MAGIC:
        raise RecordError("bad magic")
    end = pos + HEADER_SIZE + klen
    if len(buf) < end:
        raise RecordError("truncated header")
    kind = bytes(buf[pos + HEADER_SIZE : end])
    if zlib.crc32(kind, zlib.crc32(buf[pos : pos + _PREFIX.size])) != hcrc:
        raise RecordError("header checksum mismatch")
    if btype not in TYPE_NAMES:
        raise RecordError(f"unknown record type {btype}")
    return Header(btype, flags, kind.decode("utf-8", "replace"), digest, ulen, clen, dict_id, time, klen)


def payload_bounds(pos: int, header: Header) -> tuple[int, int]:
    """``(start, end)`` of the payload of the record at ``pos``."""
    start = pos + HEADER_SIZE + header.klen
    return start, start + header.clen


def payload_of(buf: bytes | memoryview, pos: int, header: Header) -> bytes | memoryview:
    """Return the payload of the record at ``pos`` after checking its length and crc."""
    start = pos + HEADER_SIZE + header.klen
    end = start + header.clen
    if len(buf) < end + 4:
        raise RecordError("truncated payload")
    payload = buf[start:end]
    if zlib.crc32(payload) != _U32.unpack_from(buf, end)[0]:
        raise RecordError("payload checksum mismatch")
    return payload


@dataclass(frozen=True, slots=True)
class Bad:
    """A stretch of a pack that is not a valid record: from ``offset`` up to ``resume``.

    ``resume`` is the next valid record, or ``None`` when nothing valid follows (a torn tail).
    """

    offset: int
    reason: str
    resume: int | None


def scan(buf: bytes | memoryview, start: int) -> Iterator[tuple[int, Header] | Bad]:
    """Yield ``(offset, header)`` for each record in ``buf`` from ``start``, and :class:`Bad`
    for each damaged stretch (then scanning resumes at the next valid record, if any)."""
    pos, n = start, len(buf)
    unpack, crc, u32, prefix = _FULL.unpack_from, zlib.crc32, _U32.unpack_from, _PREFIX.size
    while pos < n:
        # the common case inline (the same checks as decode_header and payload_of) ...
        if n - pos >= HEADER_SIZE:
            magic, btype, flags, klen, _, digest, ulen, clen, dict_id, t, hcrc = unpack(buf, pos)
            kstart = pos + HEADER_SIZE
            pstart = kstart + klen
            pend = pstart + clen
            if (
                magic == MAGIC
                and pend + 4 <= n
                and btype in TYPE_NAMES
                and crc(buf[kstart:pstart], crc(buf[pos : pos + prefix])) == hcrc
                and crc(buf[pstart:pend]) == u32(buf, pend)[0]
            ):
                yield (
                    pos,
                    Header(
                        btype, flags, str(buf[kstart:pstart], "utf-8", "replace"), digest, ulen, clen, dict_id, t, klen
                    ),
                )
                pos = pend + 4
                continue
        # ... and the general functions, which name what is wrong
        try:
            header = decode_header(buf, pos)
            payload_of(buf, pos, header)
        except RecordError as exc:
            resume = resync(buf, pos + 1)
            yield Bad(pos, str(exc), resume)
            if resume is None:
                return
            pos = resume
            continue
        yield pos, header
        pos += header.size


def resync(buf: bytes | memoryview, pos: int) -> int | None:
    """Offset of the next record at or after ``pos`` whose full record verifies, or None."""
    data = bytes(buf) if isinstance(buf, memoryview) else buf
    while True:
        pos = data.find(MAGIC, pos)
        if pos < 0:
            return None
        try:
            payload_of(data, pos, decode_header(data, pos))
            return pos
        except RecordError:
            pos += 1

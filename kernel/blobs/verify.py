"""The fast path of ``check``: prove a whole pack sound in one pass, on every core.

``check`` must look at every record, and records are small (about 1.4 KB of chat text on
average), so a sequential scan spends most of its time in per-record Python, not in zstd.
When the index's rows for a pack tile the file exactly (no gaps, nothing past them), every
record's place is known in advance: one fused loop per record checks the magic, type,
header and payload checksums, that the header names the blob the index names, and (with
``read_data``) that the payload decompresses to bytes hashing to that id. Halves of the
pack are verified by forked worker processes (zstd and blake3 keep the GIL for small
inputs, so threads would not run in parallel); the pack's bytes are shared copy-on-write.

The fast path only ever says "all sound". At the first doubt (a row that fails, rows that
do not tile the file, a worker that dies) the caller falls back to the sequential scan,
which names each fault precisely.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import time
import zlib
from typing import Callable, Container

import zstandard

from . import manifest as mf
from . import record as rec
from .codec import HASHERS
from .index import Entry
from .pack import PACK_HEADER

MIN_PARALLEL = 2000  # records below which forking costs more than it saves


class Verdict:
    """What one part of a pack came to: sound or not, bytes hashed, and its manifests:
    the ids of binary ones whose links were checked, with the ``(manifest, ref)`` pairs
    whose ref is missing, and the bytes of older (JSON) ones, left to the caller."""

    __slots__ = ("sound", "data_bytes", "linked", "broken", "manifests")

    def __init__(
        self,
        sound: bool,
        data_bytes: int = 0,
        linked: list | None = None,
        broken: list | None = None,
        manifests: dict | None = None,
    ):
        self.sound = sound
        self.data_bytes = data_bytes
        self.linked = linked or []
        self.broken = broken or []
        self.manifests = manifests or {}


def verify_pack(
    data: bytes,
    rows: list[tuple[str, Entry]],
    dictionaries: dict[int, bytes],
    read_data: bool,
    known: Container[str] = (),
    workers: int | None = None,
) -> Verdict:
    """Verify the records ``rows`` of pack bytes ``data``, which must tile the pack from its
    header to its end with no gap (each part checks its own rows; the seams are checked
    here); with ``read_data`` (or when a manifest is stored uncompressed, as binary ones
    are), the refs of each binary manifest are looked up in ``known``."""
    if not rows:
        return Verdict(False)
    workers = workers or os.cpu_count() or 1
    parts = 1 if len(rows) < MIN_PARALLEL or not hasattr(os, "fork") else min(workers, 8)
    step = -(-len(rows) // parts)
    chunks = [rows[i : i + step] for i in range(0, len(rows), step)]
    starts = [c[0][1].offset for c in chunks]
    ends = [c[-1][1].offset + c[-1][1].size for c in chunks]  # true once each part is sound
    if starts[0] != PACK_HEADER or ends[-1] != len(data) or starts[1:] != ends[:-1]:
        return Verdict(False)

    def one(chunk: list[tuple[str, Entry]]) -> Verdict:
        return _verify_rows(data, chunk, dictionaries, read_data, known)

    verdicts = _in_parallel(one, chunks)
    total = Verdict(all(v.sound for v in verdicts))
    for v in verdicts:
        total.data_bytes += v.data_bytes
        total.linked += v.linked
        total.broken += v.broken
        total.manifests.update(v.manifests)
    return total


def _verify_rows(
    data: bytes, rows: list[tuple[str, Entry]], dictionaries: dict[int, bytes], read_data: bool, known: Container[str]
) -> Verdict:
    unpack, crc, u32 = rec._FULL.unpack_from, zlib.crc32, rec._U32.unpack_from
    head, prefix, types = rec.HEADER_SIZE, rec._PREFIX.size, rec.TYPE_NAMES
    magic_ok, zstd_flag, dict_flag, manifest = rec.MAGIC, rec.ZSTD, rec.DICT_USED, rec.MANIFEST
    dctx: dict[int, zstandard.ZstdDecompressor] = {}
    fromhex, hashers = bytes.fromhex, HASHERS
    hashed = 0
    verdict = Verdict(True)
    view = memoryview(data)
    end = rows[0][1].offset if rows else 0
    for bid, e in rows:
        pos = e.offset
        if pos != end:  # a gap, or rows out of order: not a tiling
            return Verdict(False)
        magic, btype, flags, klen, _, digest, ulen, clen, dict_id, _, hcrc = unpack(data, pos)
        kstart = pos + head
        pstart = kstart + klen
        pend = pstart + clen
        if (
            magic != magic_ok
            or btype not in types
            or pend + 4 - pos != e.size
            or digest != fromhex(bid)
            or crc(data[kstart:pstart], crc(data[pos : pos + prefix])) != hcrc
        ):
            return Verdict(False)
        end = pend + 4
        payload = view[pstart:pend]
        if crc(payload) != u32(data, pend)[0]:
            return Verdict(False)
        if not read_data:
            if btype == manifest and not flags & zstd_flag:  # stored as is: links readable
                _links(bid, bytes(payload), known, verdict)
            continue
        if flags & zstd_flag:
            key = dict_id if flags & dict_flag else 0
            d = dctx.get(key)
            if d is None:
                if key and key not in dictionaries:
                    return Verdict(False)
                zd = zstandard.ZstdCompressionDict(dictionaries[key]) if key else None
                d = dctx[key] = zstandard.ZstdDecompressor(dict_data=zd) if zd else zstandard.ZstdDecompressor()
            try:
                raw = d.decompress(payload, max_output_size=ulen) if ulen else b""
            except zstandard.ZstdError:
                return Verdict(False)
        else:
            raw = payload
        if len(raw) != ulen or hashers[btype].copy().update(raw).digest() != digest:
            return Verdict(False)
        hashed += ulen
        if btype == manifest:
            _links(bid, bytes(raw), known, verdict)
    verdict.data_bytes = hashed
    return verdict


def _links(bid: str, raw: bytes, known: Container[str], verdict: Verdict) -> None:
    """Look up the refs of a binary manifest (a JSON one is left to the caller)."""
    if raw[:4] != mf.MAGIC or len(raw) < 5 or raw[4] not in (0, 1) or (len(raw) - 5) % 32:
        verdict.manifests[bid] = raw
        return
    verdict.linked.append(bid)
    for i in range(5, len(raw), 32):
        ref = raw[i : i + 32].hex()
        if ref not in known:
            verdict.broken.append((bid, ref))


def _in_parallel(fn: Callable[[list], Verdict], chunks: list[list], patience: float = 60.0) -> list[Verdict]:
    """``fn`` over ``chunks``: all but the first in forked children, the first here.
    A child that fails or dies is reported unsound (the caller then takes the slow path)."""
    children = []
    for chunk in chunks[1:]:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: compute, send, and leave without running any cleanup
            code = 1
            try:
                os.close(r)
                payload = pickle.dumps(fn(chunk), protocol=pickle.HIGHEST_PROTOCOL)
                with os.fdopen(w, "wb") as out:
                    out.write(payload)
                code = 0
            finally:
                os._exit(code)
        os.close(w)
        children.append((pid, r))
    started = time.monotonic()
    verdicts = [fn(chunks[0])]
    # A child does the same work as this process just did: one that takes far longer is
    # stuck (it should never be), and is killed rather than waited for.
    deadline = time.monotonic() + max(patience, 20 * (time.monotonic() - started))
    for pid, r in children:
        payload = _read_all(r, deadline)
        if payload is None:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        try:
            ok = status == 0 and payload
            verdicts.append(pickle.loads(payload) if ok else Verdict(False))
        except pickle.UnpicklingError:
            verdicts.append(Verdict(False))
    return verdicts


def _read_all(fd: int, deadline: float) -> bytes | None:
    """Everything written to pipe ``fd`` until it closes, or None past ``deadline``."""
    parts = []
    try:
        while True:
            left = max(0.0, deadline - time.monotonic())  # past it: take what is ready
            if not select.select([fd], [], [], left)[0]:
                return None
            part = os.read(fd, 1 << 20)
            if not part:
                return b"".join(parts)
            parts.append(part)
    finally:
        os.close(fd)

"""BlobStore: the public face of the content-addressed store.

Directory layout (normally ``<root>/.llmos/blobs``)::

    FORMAT                 "llmos-blobs/1"
    packs/pack-X.pack      append-only records (see ``record``), 16-64 MiB each
    packs/pack-X.idx       index of a pack's records (a cache; rebuilt by scanning)
    pins                   pinned blob ids, one a line (gc roots)
    stats.json             logical bytes put, per kind and agent
    locks/                 gc.lock (gc, pin), stats.lock

Tiers: hot = an in-memory LRU of verified bytes; warm = an in-memory LRU of verified,
still-compressed frames (~3.6x denser; a hit costs one decompression); cold = packs on disk
(through the OS page cache). Every read from a pack is verified (crc, then blake3 of the
decompressed bytes) before it enters either tier:
a damaged record raises :class:`CorruptBlob`, never wrong bytes.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import zstandard

from ..atomic import atomic_write
from ..errors import BlobError, BlobNotFound, CorruptBlob
from . import manifest as mf
from . import record as rec
from .codec import HASHERS as _HASHERS, Codec, blob_id, canonical, check_id
from .background import Background
from .dicts import SMALL_MAX, Dictionaries
from .index import Entry, Index, PackState
from .pack import file_size
from .lru import LRU
from .pins import edit_pins, read_pins
from .pool import WriterPool
from .stats import Counters, report

STORE_FORMAT = "llmos-blobs/1"
_TEXT = rec.TEXT
DAY = 24 * 3600
Progress = Callable[[int, int], None]


class BlobStore:
    """A content-addressed store of blobs in pack files. Use :meth:`open`."""

    def __init__(
        self,
        path: Path,
        *,
        grace_seconds: int = DAY,
        max_pack_bytes: int = 64 << 20,
        cache_bytes: int = 32 << 20,
        warm_bytes: int = 64 << 20,
        commit_interval: float = 0.01,
        os_root: Path | None = None,
        dictionaries: bool = True,
    ):
        self.path = Path(path)
        self.grace_seconds = grace_seconds
        self.max_pack_bytes = max_pack_bytes
        self.commit_interval = commit_interval
        self.os_root = os_root if os_root is not None else _guess_root(self.path)
        self.index = Index(self.path / "packs")
        self.codec = Codec()
        self.dictionaries = Dictionaries(self, dictionaries)
        self.cache = LRU(cache_bytes)
        self.warm = LRU(warm_bytes)  # verified compressed frames: (header, payload)
        self.counters = Counters()
        self.pool = WriterPool(self.index, max_pack_bytes, commit_interval)
        self._fds: dict[int, int] = {}
        self._kinds: dict[str, bytes] = {}
        self._closed = False
        self._lock = threading.RLock()  # writer and index, shared with the background worker
        self.background = Background()
        self._bg_cctx = self.codec.new_compressor()

    @classmethod
    def open(cls, path: str | os.PathLike, **options: Any) -> "BlobStore":
        """Open (creating if needed) the store at ``path``; torn pack tails are cut here.

        Options: ``grace_seconds`` (gc keeps blobs written this recently; default one day),
        ``max_pack_bytes``, ``cache_bytes`` (hot tier), ``warm_bytes`` (compressed frames),
        ``commit_interval`` (group commit,
        seconds), ``os_root`` (for gc roots; default: the parent of ``.llmos``),
        ``dictionaries`` (train zstd dictionaries for small blobs; default True).
        """
        store = cls(Path(path), **options)
        store._init_dir()
        store.index.refresh(repair=True)
        store.dictionaries.policy.load(store.index.entries.items())
        return store

    def _init_dir(self) -> None:
        fmt = self.path / "FORMAT"
        if fmt.exists():
            found = fmt.read_text("utf-8").strip()
            if found != STORE_FORMAT:
                raise BlobError(
                    f"{self.path} holds a blob store of format {found!r}", hint=f"this llmos reads {STORE_FORMAT}"
                )
            return
        if self.path.exists() and any(self.path.iterdir()) and not (self.path / "packs").exists():
            raise BlobError(f"{self.path} is not empty and is not a blob store")
        (self.path / "packs").mkdir(parents=True, exist_ok=True)
        (self.path / "locks").mkdir(exist_ok=True)
        atomic_write(fmt, STORE_FORMAT + "\n")

    # -- writing -------------------------------------------------------------------------

    def put(self, data: bytes | str | dict | list, kind: str, *, agent: str | None = None) -> str:
        """Store ``data`` (bytes, text, or JSON-able dict/list) and return its id.

        A blob already present costs only a hash. ``kind`` (message, prompt, tool_schema...)
        and ``agent`` feed the statistics; ``kind`` also picks the compression dictionary.
        """
        if type(data) is str:  # the common case, without the dispatch of canonical()
            btype, raw = _TEXT, data.encode()
        else:
            btype, raw = canonical(data)
        bid = _HASHERS[btype].copy().update(raw).digest().hex()
        self.counters.put(kind, agent, len(raw))
        entry = self.index.entries.get(bid)
        if entry is None or entry.time < time.time() - self.grace_seconds / 2:
            if len(raw) > SMALL_MAX:
                self._store_later(btype, raw, bid, kind, agent)
            else:  # here and now: a handoff would cost more than zstd saves on small blobs
                self._store(btype, raw, bytes.fromhex(bid), kind, agent)
        return bid

    def _store_later(self, btype: int, raw: bytes, bid: str, kind: str, agent: str | None) -> None:
        """Queue a large blob or a manifest: compressed and appended, in order, by the
        background worker (so a manifest never reaches the pack before a large ref)."""
        if bid in self.background:
            return
        self._check_open()
        kind_b = self._kind_bytes(kind, len(raw))
        digest = bytes.fromhex(bid)
        if len(raw) <= SMALL_MAX:

            def task() -> None:
                self._store(btype, raw, digest, kind, agent)
        else:

            def task() -> None:  # large blobs never use a dictionary, nor the store's lock
                payload = self._bg_cctx.compress(raw)
                flags = rec.ZSTD
                if len(payload) >= len(raw):
                    payload, flags = raw, 0
                self._append(btype, raw, digest, kind_b, kind, agent, payload, flags, 0)

        self.background.submit(bid, raw, task)

    def _kind_bytes(self, kind: str, size: int) -> bytes:
        """``kind`` encoded and checked once per name (and the size checked every time)."""
        kind_b = self._kinds.get(kind) if type(kind) is str and size <= rec.MAX_BLOB else None
        if kind_b is None:
            kind_b = self._kinds[kind] = rec.kind_bytes(kind, size)
        return kind_b

    def _store(self, btype: int, raw: bytes, digest: bytes, kind: str, agent: str | None, provides: int = 0) -> Entry:
        """Compress and append a new record (also used to refresh an old copy for gc)."""
        self._check_open()
        kind_b = self._kind_bytes(kind, len(raw))
        with self._lock:
            payload, flags, dict_id = self.dictionaries.compress(kind, raw, btype)
            return self._append(btype, raw, digest, kind_b, kind, agent, payload, flags, provides or dict_id)

    def _append(
        self,
        btype: int,
        raw: bytes,
        digest: bytes,
        kind_b: bytes,
        kind: str,
        agent: str | None,
        payload: bytes,
        flags: int,
        dict_id: int,
    ) -> Entry:
        """Append the record of a compressed blob and index it (under the store's lock)."""
        with self._lock:
            stamp = int(time.time())
            record = rec.encode(btype, flags, kind_b, digest, len(raw), payload, dict_id, stamp)
            writer = self.pool.writer_for(len(record))
            offset = writer.append(record)
            entry = Entry(writer.no, offset, len(record), btype, flags, len(raw), len(payload), dict_id, stamp, kind)
            self.index.append_row(digest.hex(), entry)
            self.counters.new(kind, agent, len(raw))
        return entry

    def train_dictionary(self, kind: str) -> int:
        """Train and store a compression dictionary for small blobs of ``kind`` now.

        Returns its dictionary id, or 0 when there are too few samples."""
        return self.dictionaries.train(kind)

    def put_manifest(
        self, parent: str | None, refs: list[str], kind: str = "conversation", agent: str | None = None
    ) -> str:
        """Store a manifest: ``parent`` manifest (or None) plus the refs added since it.

        Every ref and the parent must already be in the store."""
        for bid in ([parent] if parent else []) + list(refs):
            if not self.has(bid):
                raise BlobNotFound(f"manifest refers to missing blob {bid}")
        raw = mf.encode(parent, refs)
        digest = _HASHERS[rec.MANIFEST].copy().update(raw).digest()
        self.counters.put(kind, agent, len(raw))
        bid = digest.hex()
        entry = self.index.entries.get(bid)
        if entry is None or entry.time < time.time() - self.grace_seconds / 2:
            if self.background.idle():  # every ref is appended already: append it now
                self._store(rec.MANIFEST, raw, digest, kind, agent)
            else:  # behind the pending blobs it may name, never before them
                self._store_later(rec.MANIFEST, raw, bid, kind, agent)
        return bid

    # -- reading -------------------------------------------------------------------------

    def has(self, bid: str) -> bool:
        """True if blob ``bid`` is in the store (written by any process)."""
        bid = check_id(bid)
        if bid in self.index.entries or bid in self.background:
            return True
        self._refresh()
        return bid in self.index.entries

    def get(self, bid: str) -> bytes:
        """The canonical bytes of blob ``bid``; raises BlobNotFound or CorruptBlob."""
        bid = check_id(bid)
        cached = self.cache.get(bid)
        if cached is None:
            cached = self.background.get(bid)
        if cached is not None:
            return cached
        frame = self.warm.get(bid)
        if frame is not None:  # verified on its way in: decompress only
            raw = self.dictionaries.decompress(*frame)
            self.cache.put(bid, raw)
            return raw
        entry = self.index.entries.get(bid)
        if entry is None or entry.pack not in self.index.packs:
            self._refresh()
            entry = self.index.entries.get(bid)
            if entry is None:
                raise BlobNotFound(f"no blob {bid} in {self.path}")
        try:
            raw = self._read(bid, entry)
        except FileNotFoundError:
            self._refresh()
            entry = self.index.entries.get(bid)
            if entry is None:
                raise BlobNotFound(f"no blob {bid} in {self.path} (collected)") from None
            raw = self._read(bid, entry)
        self.cache.put(bid, raw)
        return raw

    def _refresh(self) -> None:
        """Catch up with records other processes wrote (not while the worker appends)."""
        with self._lock:
            self.index.refresh(repair=False)

    def get_json(self, bid: str) -> Any:
        """Blob ``bid`` parsed as JSON."""
        try:
            return json.loads(self.get(bid))
        except ValueError as exc:
            raise BlobError(f"blob {bid} is not JSON: {exc}") from exc

    def _read(self, bid: str, entry: Entry) -> bytes:
        state = self.index.packs.get(entry.pack)
        if state is None:
            raise FileNotFoundError(bid)
        buf = None
        if self.pool.current is not None and self.pool.current.path == state.path:
            buf = self.pool.current.read(entry.offset, entry.size)
        if buf is None:
            buf = os.pread(self._fd(state), entry.size, entry.offset)
        raw, header, payload = self._verified(bid, buf, state.name, entry.offset)
        self.warm.put(bid, (header, payload), len(payload))
        return raw

    def decode(self, bid: str, buf: bytes, pack: str, offset: int) -> bytes:
        """Verify and decompress one record's bytes; the result hashes to ``bid``."""
        return self._verified(bid, buf, pack, offset)[0]

    def _verified(self, bid: str, buf: bytes, pack: str, offset: int) -> tuple[bytes, rec.Header, bytes]:
        """``(canonical bytes, header, payload)`` of one record, every check passed."""
        try:
            header = rec.decode_header(buf)
            if header.digest.hex() != bid:
                raise rec.RecordError("record holds a different blob")
            payload = bytes(rec.payload_of(buf, 0, header))
            raw = self.dictionaries.decompress(header, payload)
        except (rec.RecordError, zstandard.ZstdError) as exc:
            raise CorruptBlob(f"damaged record: {exc}", pack=pack, offset=offset, blob_id=bid) from None
        if len(raw) != header.ulen or blob_id(header.btype, raw) != bid:
            raise CorruptBlob("content does not match its id", pack=pack, offset=offset, blob_id=bid)
        return raw, header, payload

    def _fd(self, state: PackState) -> int:
        fd = self._fds.get(state.no)
        if fd is None:
            fd = self._fds[state.no] = os.open(state.path, os.O_RDONLY)
        return fd

    def manifest(self, bid: str) -> mf.Manifest:
        """The manifest stored as ``bid``."""
        return mf.decode(self.get(bid), bid)

    def expand(self, bid: str) -> list[str]:
        """Every ref of the manifest chain ending at ``bid``, oldest first."""
        return mf.expand(self.manifest, check_id(bid))

    # -- pins, durability, lifecycle -----------------------------------------------------

    def pins(self) -> set[str]:
        """The pinned blob ids (always kept by gc)."""
        return read_pins(self.path)

    def pin(self, bid: str) -> None:
        """Keep blob ``bid`` (and, for a manifest, all it reaches) through every gc."""
        bid = check_id(bid)
        if not self.has(bid):
            raise BlobNotFound(f"cannot pin missing blob {bid}")
        self.flush()
        edit_pins(self.path, lambda pins: pins | {bid})

    def unpin(self, bid: str) -> None:
        """Let gc collect ``bid`` again once nothing else refers to it."""
        bid = check_id(bid)
        self.flush()
        edit_pins(self.path, lambda pins: pins - {bid})

    def flush(self) -> None:
        """Make every blob put so far durable (fdatasync) and save the usage counters."""
        self.background.drain()
        if self.pool.current is not None:
            self.pool.current.sync()
        self.counters.merge_into(self.path / "stats.json", self.path / "locks" / "stats.lock")

    def close(self) -> None:
        """Flush, write the index of packs this process wrote, release locks and files."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self.background.close()
        self.pool.retire()
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise BlobError(f"blob store {self.path} is closed")

    def __enter__(self) -> "BlobStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reports -------------------------------------------------------------------------

    def stats(self) -> dict:
        """Logical, unique and stored bytes, ratios, per kind and per agent."""
        self.background.drain()
        pack_bytes = sum(max(file_size(s.path), s.scanned) for s in self.index.packs.values())
        counts = self.counters.combined(self.path / "stats.json")
        return report(
            self.index.entries.values(),
            counts,
            pack_bytes=pack_bytes,
            index_bytes=self.index.idx_bytes(),
            packs=len(self.index.packs),
            dictionaries=len(self.index.dicts),
            pinned=len(self.pins()),
        )

    def check(self, read_data: bool = False, progress: Progress | None = None):
        """Verify every pack, index and manifest; see :func:`llmos.blobs.check.check`."""
        from .check import check

        return check(self, read_data=read_data, progress=progress)

    def repack(self, level: int | None = None, max_bytes: int | None = None, progress: Progress | None = None):
        """Recompress sealed packs at zstd level 19; see :func:`llmos.blobs.repack.repack`."""
        from .repack import DENSE_LEVEL, repack

        return repack(self, level=level or DENSE_LEVEL, max_bytes=max_bytes, progress=progress)

    def gc(
        self,
        dry_run: bool = False,
        roots: Iterable[str] = (),
        scan_dirs: Iterable[Path] | None = None,
        grace_seconds: int | None = None,
        progress: Progress | None = None,
    ):
        """Collect unreachable blobs; see :func:`llmos.blobs.gc.collect`."""
        from .gc import collect

        return collect(
            self,
            dry_run=dry_run,
            roots=roots,
            scan_dirs=scan_dirs,
            grace_seconds=self.grace_seconds if grace_seconds is None else grace_seconds,
            progress=progress,
        )


def _guess_root(path: Path) -> Path | None:
    """``<root>/.llmos/blobs`` -> ``<root>``; None for a store elsewhere."""
    return path.parent.parent if path.parent.name == ".llmos" else None

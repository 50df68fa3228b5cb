"""Trained zstd dictionaries per blob kind, for small blobs.

Small blobs (chat messages, tool schemas) compress poorly alone because each starts from an
empty window; a dictionary trained on earlier blobs of the same kind primes it. Once a kind
has ``train_after`` small blobs stored without a dictionary, one is trained from a sample of
them and stored as a blob itself (type DICT, ``dict_id`` = its zstd dictionary id). Records
compressed with it name that id, so the index can always find the dictionary again, and gc
keeps a dictionary while any live record uses it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable

import zstandard

from . import record as rec
from .codec import HASHERS, train
from .index import Entry

if TYPE_CHECKING:
    from .store import BlobStore

SMALL_MAX = 16 * 1024
SMALL_MIN = 64


@dataclass
class DictionaryPolicy:
    """Which dictionary to use for each kind, and when to train a new one."""

    train_after: int = 300
    samples: int = 2000
    max_size: int = 110 * 1024
    current: dict[str, int] = field(default_factory=dict)
    _pending: dict[str, int] = field(default_factory=dict)

    @staticmethod
    def is_small(size: int) -> bool:
        return SMALL_MIN <= size <= SMALL_MAX

    def load(self, entries: Iterable[tuple[str, Entry]]) -> None:
        """Pick the newest dictionary of each kind from the index."""
        newest: dict[str, Entry] = {}
        for _, e in entries:
            if e.btype == rec.DICT and (e.kind not in newest or e.time > newest[e.kind].time):
                newest[e.kind] = e
        self.current = {k: e.dict_id for k, e in newest.items()}

    def note(self, kind: str, entries: Callable[[], Iterable[Entry]]) -> bool:
        """Count one more small blob of ``kind`` stored without a dictionary;
        True when it is time to train one."""
        n = self._pending.get(kind)
        if n is None:
            n = sum(
                1
                for e in entries()
                if e.kind == kind and e.btype != rec.DICT and not e.flags & rec.DICT_USED and self.is_small(e.ulen)
            )
        self._pending[kind] = n + 1
        return n + 1 >= self.train_after

    def train(self, kind: str, sample_ids: list[str], read: Callable[[str], bytes]) -> tuple[int, bytes] | None:
        """Train a dictionary for ``kind`` from blobs ``sample_ids``; None if zstd cannot."""
        self._pending[kind] = 0
        samples = [read(b) for b in sample_ids[-self.samples :]]
        total = sum(len(s) for s in samples)
        size = max(4096, min(self.max_size, total // 10))
        try:
            return train(samples, size)
        except zstandard.ZstdError:
            return None


def sample_ids(entries: Iterable[tuple[str, Entry]], kind: str) -> list[str]:
    """Ids of small blobs of ``kind`` (candidates to train on), oldest first."""
    rows = [
        (e.time, b) for b, e in entries if e.kind == kind and e.btype != rec.DICT and DictionaryPolicy.is_small(e.ulen)
    ]
    rows.sort()
    return [b for _, b in rows]


class Dictionaries:
    """A store's dictionaries: which one a new small blob is compressed with (training one
    when it is due), loading them into the store's codec by dictionary id, and compressing
    and decompressing records with the right one. Callers hold the store's lock to
    compress (zstd contexts are not shared between threads)."""

    def __init__(self, store: "BlobStore", enabled: bool):
        self.store = store
        self.enabled = enabled
        self.policy = DictionaryPolicy()

    def for_blob(self, kind: str, size: int) -> int:
        """The dictionary id (loaded) for a new blob of ``kind`` and ``size``; 0 for none."""
        if not self.enabled or not self.policy.is_small(size):
            return 0
        dict_id = self.policy.current.get(kind, 0)
        if not dict_id and self.policy.note(kind, self.store.index.entries.values):
            dict_id = self.train(kind)
        if dict_id:
            self.load(dict_id)
        return dict_id

    def bytes_of(self, dict_id: int) -> bytes:
        """The raw bytes of dictionary ``dict_id``; RecordError if no blob holds it."""
        bid = self.store.index.dicts.get(dict_id)
        if bid is None:
            raise rec.RecordError(f"compression dictionary {dict_id} is missing")
        return self.store.get(bid)

    def compress(self, kind: str, raw: bytes, btype: int) -> tuple[bytes, int, int]:
        """``(payload, flags, dict_id)`` of a new record: zstd with the kind's dictionary
        when small, the bytes as they are when zstd does not make them smaller."""
        dict_id = self.for_blob(kind, len(raw)) if btype != rec.DICT else 0
        payload = self.store.codec.compress(raw, dict_id)
        if len(payload) >= len(raw):
            return raw, 0, 0
        return payload, rec.ZSTD | (rec.DICT_USED if dict_id else 0), dict_id

    def decompress(self, header: rec.Header, payload: bytes) -> bytes:
        """The canonical bytes of a record's payload (not yet checked against its id)."""
        if not header.flags & rec.ZSTD:
            return payload
        dict_id = header.dict_id if header.flags & rec.DICT_USED else 0
        if dict_id:
            self.load(dict_id)
        return self.store.codec.decompress(payload, header.ulen, dict_id)

    def load(self, dict_id: int) -> None:
        """Make dictionary ``dict_id`` usable by the store's codec."""
        if not self.store.codec.has_dictionary(dict_id):
            self.store.codec.add_dictionary(dict_id, self.bytes_of(dict_id))

    def train(self, kind: str) -> int:
        """Train a dictionary for ``kind`` from the store's small blobs, store it as a DICT
        blob and make it current; its dictionary id, or 0 when zstd cannot train one (too
        few samples) or the same dictionary is already stored."""
        store = self.store
        trained = self.policy.train(kind, sample_ids(store.index.entries.items(), kind), store.get)
        if trained is None or trained[0] in store.index.dicts or trained[0] == 0:
            return 0
        dict_id, data = trained
        digest = HASHERS[rec.DICT].copy().update(data).digest()
        store._store(rec.DICT, data, digest, kind, None, provides=dict_id)
        store.codec.add_dictionary(dict_id, data)
        self.policy.current[kind] = dict_id
        return dict_id

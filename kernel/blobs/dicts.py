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
            n = sum(1 for e in entries() if e.kind == kind and e.btype != rec.DICT
                    and not e.flags & rec.DICT_USED and self.is_small(e.ulen))
        self._pending[kind] = n + 1
        return n + 1 >= self.train_after

    def train(self, kind: str, sample_ids: list[str], read: Callable[[str], bytes]
              ) -> tuple[int, bytes] | None:
        """Train a dictionary for ``kind`` from blobs ``sample_ids``; None if zstd cannot."""
        self._pending[kind] = 0
        samples = [read(b) for b in sample_ids[-self.samples:]]
        total = sum(len(s) for s in samples)
        size = max(4096, min(self.max_size, total // 10))
        try:
            return train(samples, size)
        except zstandard.ZstdError:
            return None


def sample_ids(entries: Iterable[tuple[str, Entry]], kind: str) -> list[str]:
    """Ids of small blobs of ``kind`` (candidates to train on), oldest first."""
    rows = [(e.time, b) for b, e in entries
            if e.kind == kind and e.btype != rec.DICT and DictionaryPolicy.is_small(e.ulen)]
    rows.sort()
    return [b for _, b in rows]


def train_and_store(store: "BlobStore", kind: str) -> int:
    """Train a dictionary for ``kind`` from ``store``'s small blobs, store it as a DICT blob
    and make it current; its dictionary id, or 0 when zstd cannot train one (too few
    samples) or the same dictionary is already stored."""
    trained = store.policy.train(kind, sample_ids(store.index.entries.items(), kind), store.get)
    if trained is None or trained[0] in store.index.dicts or trained[0] == 0:
        return 0
    dict_id, data = trained
    digest = HASHERS[rec.DICT].copy().update(data).digest()
    store._store(rec.DICT, data, digest, kind, None, provides=dict_id)
    store.codec.add_dictionary(dict_id, data)
    store.policy.current[kind] = dict_id
    return dict_id

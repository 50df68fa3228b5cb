"""The hot tier: recently read blobs, in memory, bounded by total bytes."""
from __future__ import annotations

from collections import OrderedDict


class LRU:
    """A least-recently-used map of id -> bytes holding at most ``max_bytes``."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict[str, bytes] = OrderedDict()

    def get(self, key: str) -> bytes | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: str, value: bytes) -> None:
        if len(value) > self.max_bytes // 4 or key in self._items:
            return
        self._items[key] = value
        self.bytes += len(value)
        while self.bytes > self.max_bytes:
            _, old = self._items.popitem(last=False)
            self.bytes -= len(old)

    def clear(self) -> None:
        self._items.clear()
        self.bytes = 0

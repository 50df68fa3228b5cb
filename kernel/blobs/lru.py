"""The in-memory tiers: recently read blobs (hot: their bytes; warm: their verified, still
compressed frames), each bounded by total bytes."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any


class LRU:
    """A least-recently-used map of id -> value holding at most ``max_bytes``, where a
    value's size is ``len(value)`` or the ``size`` given to :meth:`put`."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict[str, tuple[Any, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: str) -> Any:
        item = self._items.get(key)
        if item is None:
            return None
        self._items.move_to_end(key)
        return item[0]

    def put(self, key: str, value: Any, size: int | None = None) -> None:
        size = len(value) if size is None else size
        if size > self.max_bytes // 4 or key in self._items:
            return
        self._items[key] = (value, size)
        self.bytes += size
        while self.bytes > self.max_bytes:
            _, (_, old) = self._items.popitem(last=False)
            self.bytes -= old

    def clear(self) -> None:
        self._items.clear()
        self.bytes = 0

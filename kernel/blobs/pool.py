"""The pack this process appends to: reuse a closed pack with room, else start a new one.

Each writer process holds an exclusive lock on the one pack it appends to; a pack is retired
(synced, its idx written) when it is full, before gc, and on close.
"""

from __future__ import annotations

import os

from .index import Index
from .pack import PACK_HEADER, PackWriter, create_pack, try_lock


class WriterPool:
    """Chooses and holds the current :class:`PackWriter` of one store."""

    def __init__(self, index: Index, max_pack_bytes: int, commit_interval: float):
        self.index = index
        self.max_pack_bytes = max_pack_bytes
        self.commit_interval = commit_interval
        self.current: PackWriter | None = None
        self.written: set[int] = set()  # packs this store appended to (not reused twice)

    def writer_for(self, size: int) -> PackWriter:
        """The pack to append ``size`` bytes to (a new one when the current one is full)."""
        w = self.current
        if w is not None and (w.end + size <= self.max_pack_bytes or w.end == PACK_HEADER):
            return w
        if w is not None:
            self.retire()
        self.current = self._reuse_pack() or self._new_pack()
        self.current.no = self.index.by_path[self.current.path]
        self.written.add(self.current.no)
        return self.current

    def _reuse_pack(self) -> PackWriter | None:
        """Take over a closed pack with room left (keeps short runs from making tiny packs)."""
        for state in sorted(self.index.packs.values(), key=lambda s: s.scanned):
            if state.scanned > self.max_pack_bytes // 2 or state.no in self.written:
                continue
            fd = try_lock(state.path)
            if fd is None:
                continue
            self.index.scan_tail(state, repair=True, lock_fd=fd)
            end = os.fstat(fd).st_size
            if end == state.scanned:
                return PackWriter(state.path, fd, end, self.commit_interval)
            os.close(fd)  # damage past the last record: leave that pack alone
        return None

    def _new_pack(self) -> PackWriter:
        path, fd = create_pack(self.index.dir)
        self.index.register(path)
        return PackWriter(path, fd, PACK_HEADER, self.commit_interval)

    def retire(self) -> None:
        """Sync and close the current pack and write its idx."""
        w, self.current = self.current, None
        if w is not None:
            w.close()
            self.index.write_idx(self.index.packs[self.index.by_path[w.path]])

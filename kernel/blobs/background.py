"""Compression of large new blobs off the caller's thread.

zstd-3 of a 50 KiB blob takes ~200 us here, most of a ``put``. For blobs over
``dicts.SMALL_MAX`` (which never use a dictionary) ``put`` hashes, checks the index, hands
the bytes to one worker thread and returns the id; the worker compresses (zstd releases the
GIL) and appends the record under the store's lock, where the group-commit thread makes it
durable as before. Until then the blob is *pending*: ``get``/``has`` answer from the bytes
held here, ``flush``/``close``/``check``/``gc`` wait for the worker first. Pending bytes are
bounded (``max_bytes``): past it ``put`` waits, so memory stays bounded and a caller
faster than zstd is slowed to zstd's pace. A failure in the worker is raised by the next
:meth:`Background.drain` (every ``flush``). A killed process loses pending blobs exactly
like any other unflushed tail.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable


class Background:
    """Pending large blobs (id -> canonical bytes) and the worker that stores them."""

    def __init__(self, max_bytes: int = 16 << 20):
        self.max_bytes = max_bytes
        self._pending: dict[str, bytes] = {}
        self._bytes = 0
        self._cond = threading.Condition()
        self._failure: BaseException | None = None
        self._pool: ThreadPoolExecutor | None = None

    def get(self, bid: str) -> bytes | None:
        """The bytes of pending blob ``bid``, or None if it is not pending."""
        return self._pending.get(bid)

    def __contains__(self, bid: str) -> bool:
        return bid in self._pending

    def submit(self, bid: str, raw: bytes, task: Callable[[], None]) -> None:
        """Hold ``raw`` as pending blob ``bid`` and run ``task`` (compress, append) later."""
        with self._cond:
            while self._pending and self._bytes + len(raw) > self.max_bytes:
                self._cond.wait()
            self._pending[bid] = raw
            self._bytes += len(raw)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="llmos-blobs-zstd")
        self._pool.submit(self._run, bid, raw, task)

    def _run(self, bid: str, raw: bytes, task: Callable[[], None]) -> None:
        try:
            task()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller by drain()
            self._failure = self._failure or exc
        finally:
            with self._cond:
                del self._pending[bid]
                self._bytes -= len(raw)
                self._cond.notify_all()

    def drain(self) -> None:
        """Wait until every pending blob is appended; raise the worker's failure, if any."""
        with self._cond:
            while self._pending:
                self._cond.wait()
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    def close(self) -> None:
        """Drain, then stop the worker thread."""
        try:
            self.drain()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None

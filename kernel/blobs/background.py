"""Compression and appending of large new blobs off the caller's thread, in order.

zstd-3 of a 50 KB result takes ~200 us here, most of a ``put``. For blobs over
``dicts.SMALL_MAX`` ``put`` hashes, checks the index, queues the bytes and returns the id;
one worker thread takes whatever has queued (so it batches under load with no timer),
compresses (zstd releases the GIL, so this runs beside the caller on another core) and
appends the records under the store's lock, where the group-commit thread makes them
durable as before. Small blobs are compressed by the caller: a handoff costs more than
their ~8 us of zstd (measured: 36-42k vs 47-51k durable blobs/s).

Records are appended in the order they were put (one FIFO worker): a manifest is never on
disk before the blobs it names, so a killed process leaves a prefix of its puts, which
``check`` passes (``put_manifest`` appends at once only when nothing is pending, and
queues otherwise). Until appended a blob is *pending*: ``get``/``has`` answer from the bytes
held here, ``flush``/``close``/``check``/``gc`` wait for the worker first. Pending bytes are
bounded (``max_bytes``): past it ``put`` waits, so memory stays bounded and a caller faster
than zstd is slowed to zstd's pace. A failure in the worker is raised by the next
:meth:`Background.drain` (every ``flush``).
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Callable


class Background:
    """Pending new blobs (id -> canonical bytes) and the worker that stores them."""

    def __init__(self, max_bytes: int = 16 << 20):
        self.max_bytes = max_bytes
        self._pending: dict[str, bytes] = {}
        self._queue: deque[tuple[str, bytes, Callable[[], None]]] = deque()
        self._bytes = 0
        self._cond = threading.Condition()
        self._failure: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._busy = False
        self._closing = False

    def get(self, bid: str) -> bytes | None:
        """The bytes of pending blob ``bid``, or None if it is not pending."""
        return self._pending.get(bid)

    def idle(self) -> bool:
        """True when nothing is pending (every blob submitted so far is appended)."""
        return not self._pending

    def __contains__(self, bid: str) -> bool:
        return bid in self._pending

    def submit(self, bid: str, raw: bytes, task: Callable[[], None]) -> None:
        """Hold ``raw`` as pending blob ``bid`` and run ``task`` (compress, append) later,
        after every task submitted before it."""
        with self._cond:
            while self._pending and self._bytes + len(raw) > self.max_bytes:
                self._cond.wait()
            self._pending[bid] = raw
            self._bytes += len(raw)
            self._queue.append((bid, raw, task))
            if self._thread is None:
                self._closing = False
                self._thread = threading.Thread(target=self._work, name="llmos-blobs-writer", daemon=True)
                self._thread.start()
            elif not self._busy:
                self._cond.notify_all()

    def _work(self) -> None:
        cond, queue = self._cond, self._queue
        while True:
            with cond:
                while not queue:
                    self._busy = False
                    if self._closing:
                        return
                    cond.wait()
                self._busy = True
                batch = list(queue)
                queue.clear()
            for _bid, _raw, task in batch:
                try:
                    if self._failure is None:
                        task()
                except BaseException as exc:  # noqa: BLE001 - handed to the caller by drain()
                    self._failure = exc
            with cond:
                for bid, raw, _ in batch:
                    if self._pending.pop(bid, None) is not None:
                        self._bytes -= len(raw)
                cond.notify_all()

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
            with self._cond:
                self._closing = True
                self._cond.notify_all()
                thread, self._thread = self._thread, None
            if thread is not None:
                thread.join()

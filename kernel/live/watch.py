"""Hot reload, part 1: watch an OS root's folders and hand debounced batches of changed paths to subscribers.

A :class:`Watcher` runs a watchdog observer (inotify on Linux) on ``agents/``, ``system/``, ``memory/``,
``crystallized/`` and ``traces/``. Every file event only adds a path to a pending set (constant work,
so a thousand saves a second cannot spin the CPU); one dispatcher thread waits until the set has been
quiet for ``debounce_ms`` (or ``max_delay_ms`` has passed since the first change, so a save storm that
never pauses still gets served) and then calls each subscriber once with the paths under its prefix::

    watcher = Watcher(root).start()
    unsubscribe = watcher.subscribe("memory/", lambda paths: index.refresh(paths))

Subscribers receive root-relative POSIX paths, sorted; a directory created, deleted or moved is passed
with a trailing ``/`` (its files are reported too). A path means "may have changed": the subscriber
looks at the disk to see what it is now (present, gone, valid or not), which is correct whatever order
the events came in. Editor and kernel temporary files (hidden names, ``~``, ``.swp``, ``.tmp``, vim's
``4913``) are never reported.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..config import WatchConfig

WATCHED = ("agents", "system", "memory", "crystallized", "traces")
Callback = Callable[[list[str]], None]
ErrorHandler = Callable[[str, BaseException], None]


def ignored(name: str) -> bool:
    """Temporary files of editors and of :func:`llmos.atomic.atomic_write`: never a document."""
    return (
        name.startswith((".", "#"))
        or name.endswith(("~", ".swp", ".swx", ".tmp", ".pyc"))
        or name == "4913"
        or name == "__pycache__"
    )


class Debouncer:
    """Collects keys from any thread; calls ``flush(keys)`` on its own thread once a burst is over."""

    def __init__(self, flush: Callable[[set[str]], None], *, quiet: float, max_delay: float):
        self.flush, self.quiet, self.max_delay = flush, quiet, max_delay
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._pending: set[str] = set()
        self._first = self._last = 0.0
        self._thread = threading.Thread(target=self._run, name="llmos-debounce", daemon=True)
        self.batches = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def add(self, key: str) -> None:
        now = time.monotonic()
        with self._lock:
            if not self._pending:
                self._first = now
            self._pending.add(key)
            self._last = now
        self._wake.set()

    def _take_when_due(self) -> set[str] | None:
        """The pending batch once it is due; None after waiting (or with nothing pending)."""
        with self._lock:
            if not self._pending:
                self._wake.clear()
                return None
            delay = min(self._last + self.quiet, self._first + self.max_delay) - time.monotonic()
            if delay <= 0:
                batch, self._pending = self._pending, set()
                return batch
        self._stop.wait(delay)
        return None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            batch = self._take_when_due()
            if batch and not self._stop.is_set():
                self.batches += 1
                self.flush(batch)


@dataclass
class _Subscription:
    prefix: str
    callback: Callback


@dataclass
class Watcher:
    """Watches ``folders`` of ``root``; see the module docstring."""

    root: Path
    config: WatchConfig = field(default_factory=WatchConfig)
    folders: tuple[str, ...] = WATCHED
    on_error: ErrorHandler | None = None

    def __post_init__(self) -> None:
        self.root = Path(self.root).resolve()
        self._subs: list[_Subscription] = []
        self._subs_lock = threading.Lock()
        self._observer = None
        self._debouncer = Debouncer(
            self._dispatch, quiet=self.config.debounce_ms / 1000, max_delay=self.config.max_delay_ms / 1000
        )
        self.events = 0  # raw file events seen (for benchmarks and tests)

    # -- subscriptions ----------------------------------------------------------------------
    def subscribe(self, prefix: str, callback: Callback) -> Callable[[], None]:
        """Call ``callback(paths)`` with each batch's paths starting with ``prefix`` (e.g. ``"memory/"``,
        ``"system/llmos.yaml"``, ``""`` for all). Returns a function that unsubscribes."""
        sub = _Subscription(prefix, callback)
        with self._subs_lock:
            self._subs.append(sub)

        def unsubscribe() -> None:
            with self._subs_lock:
                if sub in self._subs:
                    self._subs.remove(sub)

        return unsubscribe

    def _dispatch(self, batch: set[str]) -> None:
        paths = sorted(batch)
        with self._subs_lock:
            subs = list(self._subs)
        for sub in subs:
            mine = [p for p in paths if p.startswith(sub.prefix)]
            if not mine:
                continue
            try:
                sub.callback(mine)
            except Exception as exc:  # a broken subscriber must not stop reloads for the others
                if self.on_error is not None:
                    self.on_error(sub.prefix, exc)

    def notify(self, rel: str) -> None:
        """Report a change by hand (what the observer does for each file event)."""
        self._debouncer.add(rel)

    # -- watchdog ------------------------------------------------------------------------------
    def _on_event(self, event) -> None:
        self.events += 1
        is_dir = event.is_directory
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            if not raw:
                continue
            path = os.fsdecode(raw)
            if ignored(os.path.basename(path)):
                continue
            try:
                rel = Path(path).relative_to(self.root).as_posix()
            except ValueError:
                continue
            self._debouncer.add(rel + "/" if is_dir else rel)

    def start(self) -> "Watcher":
        """Start watching (the folders that exist; a folder created later is not watched)."""
        from watchdog import events as ev
        from watchdog.observers import Observer

        # watchdog warns when a folder made by `mkdir -p` gets its watch twice (harmless; it keeps one).
        warnings.filterwarnings("ignore", message="Callback with id", category=RuntimeWarning, module=r"watchdog\.")
        handler = ev.FileSystemEventHandler()
        handler.dispatch = self._on_event  # type: ignore[method-assign]
        # Close-after-write, not every write(): a file is not read in the middle of a save. Created
        # too, so the files of a new folder (made before its watch existed) are reported.
        kinds = [
            ev.FileCreatedEvent,
            ev.FileClosedEvent,
            ev.FileDeletedEvent,
            ev.FileMovedEvent,
            ev.DirCreatedEvent,
            ev.DirDeletedEvent,
            ev.DirMovedEvent,
        ]
        self._observer = Observer()
        for name in self.folders:
            folder = self.root / name
            if folder.is_dir():
                self._observer.schedule(handler, str(folder), recursive=True, event_filter=kinds)
        self._debouncer.start()
        self._observer.start()
        return self

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
        self._debouncer.stop()

    @property
    def batches(self) -> int:
        """Batches dispatched so far."""
        return self._debouncer.batches

    def __enter__(self) -> "Watcher":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

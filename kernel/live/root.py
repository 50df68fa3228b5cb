"""A live root: a :class:`~llmos.kernel.Kernel` kept current by a watcher (what ``llmos shell`` runs on).

    with LiveRoot(Kernel.open()) as live:
        live.listen(lambda event: print(event.line()))
        live.subscribe("memory/", my_index.refresh)     # other subsystems hook in the same way
        live.kernel.run("a goal")                        # uses the newest valid agents, prompts, config

Wiring: the watcher's ``agents/`` and ``system/`` batches go to the registry; the kernel takes its
agents, its system prompt and (on a ``config`` event) its config from the registry; runs hold a lease
on their agent (see :func:`llmos.live.follow.hold`). ``memory/``, ``crystallized/`` and ``traces/`` are
watched for subscribers: a memory index, trace matching and crystallized tools refresh from there.
"""

from __future__ import annotations

from typing import Any, Callable

from .registry import Listener, Registry, ReloadEvent
from .watch import Callback, Watcher


class LiveRoot:
    """Registry + watcher for one kernel; ``close()`` (or ``with``) stops watching."""

    def __init__(self, kernel: Any, *, watch: bool = True):
        self.kernel = kernel
        self.registry = Registry(kernel.root, set(kernel.syscalls.names()), kernel.config)
        self.registry.load_all()
        self.watcher = Watcher(kernel.root, kernel.config.watch, on_error=self._subscriber_failed)
        self.watcher.subscribe("agents/", self.registry.refresh)
        self.watcher.subscribe("system/", self.registry.refresh)
        self.registry.listen(self._apply)
        kernel.live = self
        if watch:
            self.watcher.start()

    def _apply(self, event: ReloadEvent) -> None:
        if event.kind == "config":
            self.kernel.config = self.registry.config

    def _subscriber_failed(self, prefix: str, exc: BaseException) -> None:
        self.registry.emit([ReloadEvent("error", prefix, message=f"{type(exc).__name__}: {exc}")])

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Be told every :class:`ReloadEvent` (changed, invalid, fixed, retiring, retired, config...)."""
        return self.registry.listen(listener)

    def subscribe(self, prefix: str, callback: Callback) -> Callable[[], None]:
        """Get debounced batches of changed paths under ``prefix`` (see :class:`~llmos.live.watch.Watcher`)."""
        return self.watcher.subscribe(prefix, callback)

    def reload(self) -> list[ReloadEvent]:
        """Re-read every agent, prompt and the config (``:reload``): what a missed event would have told."""
        return self.registry.load_all()

    def close(self) -> None:
        self.watcher.stop()
        if getattr(self.kernel, "live", None) is self:
            self.kernel.live = None

    def __enter__(self) -> "LiveRoot":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""Pinned blob ids: gc roots a person or the kernel names explicitly, one id a line in ``pins``."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..atomic import atomic_write, file_lock


def read_pins(store_dir: Path) -> set[str]:
    """The pinned blob ids of the store at ``store_dir``."""
    try:
        return {line.strip() for line in (store_dir / "pins").read_text("utf-8").splitlines() if line.strip()}
    except FileNotFoundError:
        return set()


def edit_pins(store_dir: Path, change: Callable[[set[str]], set[str]]) -> None:
    """Rewrite the pins file atomically under the gc lock (gc reads pins under the same lock)."""
    with file_lock(store_dir / "locks" / "gc.lock", timeout=600):
        pins = change(read_pins(store_dir))
        atomic_write(store_dir / "pins", "".join(f"{p}\n" for p in sorted(pins)))

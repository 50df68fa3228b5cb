"""The one way a CLI command reaches its OS root, config and kernel: ``current()``.

Each is found only when a command asks for it, and only as much as it needs: ``root()`` is a folder
walk, ``config()`` reads one YAML file, and only ``kernel()`` builds a :class:`~llmos.kernel.Kernel`
(syscall table, crystallized tools). Commands that need only the root start in milliseconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click


class Obj:
    """``ctx.obj`` of the main group. ``root_flag`` is ``--root``; ``root`` forces a folder (tests)."""

    def __init__(self, root_flag: str | None = None, *, root: Path | None = None, config: Any = None):
        self.root_flag = root_flag
        self._root = Path(root).resolve() if root is not None else None
        self._config = config
        self._kernel: Any = None

    def root(self) -> Path:
        if self._root is None:
            from ..root import find_root

            self._root = find_root(self.root_flag)
        return self._root

    def config(self) -> Any:
        if self._config is None:
            from ..config import load_config

            self._config = load_config(self.root())
        return self._config

    def kernel(self) -> Any:
        if self._kernel is None:
            from ..kernel import Kernel

            self._kernel = Kernel(self.root(), self.config())
        return self._kernel


def echo_err(text: str) -> None:
    """A line on stderr: progress, warnings and errors, so stdout stays the command's result."""
    click.echo(text, err=True)


def current() -> Obj:
    """The running command's :class:`Obj` (a bare one when a command is invoked on its own)."""
    ctx = click.get_current_context().find_root()
    if not isinstance(ctx.obj, Obj):
        ctx.obj = Obj()
    return ctx.obj

"""Checks every syscall passes before it runs: kill switch, the agent's tool allowlist, path confinement.

A hook raises :class:`Refused`; the syscall table turns that into an observation for the model.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..plugins import hookimpl

# Top-level names inside an OS root that no agent may read or write through syscalls.
PRIVATE = (".llmos", ".git", "HALT")
# Syscalls every agent may call whatever its allowlist says: ending the run is always allowed.
ALWAYS_ALLOWED = frozenset({"finish"})


class Refused(Exception):
    """Raised by a hook or syscall to refuse a call; the message is the model's observation."""


def confine(root: Path, rel: str, *, for_write: bool = False) -> Path:
    """Resolve ``rel`` against ``root`` and refuse anything that lands outside it.

    Refused: empty paths, ``..`` escapes, absolute paths elsewhere, symlinks that point out of the
    root (at any depth), and anything under ``.llmos/``, ``.git/`` or the ``HALT`` file.
    """
    if not isinstance(rel, str) or not rel.strip():
        raise Refused("empty path")
    if "\x00" in rel:
        raise Refused("path contains a NUL byte")
    real_root = Path(os.path.realpath(root))
    candidate = Path(rel) if os.path.isabs(rel) else real_root / rel
    resolved = Path(os.path.realpath(candidate))
    if resolved != real_root and real_root not in resolved.parents:
        raise Refused(f"path {rel!r} is outside the OS root")
    inside = resolved.relative_to(real_root)
    if inside.parts and inside.parts[0] in PRIVATE:
        raise Refused(f"path {rel!r} is kernel-private ({inside.parts[0]})")
    if for_write and resolved == real_root:
        raise Refused("cannot write to the root directory itself")
    return resolved


def allowlist(ctx: Any, name: str, args: dict[str, Any]) -> None:
    """Refuse a syscall the agent's ``tools`` field does not grant."""
    if ctx.allowed is not None and name not in ctx.allowed and name not in ALWAYS_ALLOWED:
        granted = ", ".join(sorted(ctx.allowed | ALWAYS_ALLOWED))
        raise Refused(f"agent {ctx.agent!r} may not use {name!r} (its tools: {granted})")


def kill_switch(ctx: Any, name: str, args: dict[str, Any]) -> None:
    """While ``HALT`` exists no syscall runs: raises :class:`~llmos.errors.Halted`, which ends the run."""
    from ..halt import check_halt

    check_halt(ctx.root)


def default_chain() -> list:
    """The hooks every syscall passes, in order: kill switch, then policy."""
    return [kill_switch, allowlist]


@hookimpl
def register_hooks(register: Any) -> None:
    """The built-in checks, first in every chain: kill switch, then the agent's allowlist."""
    for hook in default_chain():
        register(hook)

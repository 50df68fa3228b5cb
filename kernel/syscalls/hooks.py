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
PRIVATE_FOLDED = {p.lower() for p in PRIVATE}
# Syscalls every agent may call whatever its allowlist says: ending the run is always allowed.
ALWAYS_ALLOWED = frozenset({"finish"})


class Refused(Exception):
    """Raised by a hook or syscall to refuse a call; the message is the model's observation."""


# Top-level folders and files of an OS root that only the kernel's own code paths write (remember,
# dream, crystallize, create_agent, the audit commit): an agent's write to them is refused unless
# ``protection.grants`` gives that agent the path.
CONTROL = ("system", "agents", "crystallized", "traces", "memory", "claims", ".gitignore")  # claims/: shared claims


def _git_name(name: str) -> bool:
    """A name git itself refuses to track: ``.git`` in any case, with trailing dots or spaces, or its
    8.3 short form."""
    folded = name.rstrip(". ").lower()
    return folded in (".git", "git~1")


def confine(root: Path, rel: str, *, for_write: bool = False) -> Path:
    """Resolve ``rel`` against ``root`` and refuse anything that lands outside it.

    Refused: empty paths, ``..`` escapes, absolute paths elsewhere, symlinks that point out of the
    root (at any depth), anything under ``.llmos/`` or the ``HALT`` file (compared without case, as
    a case-insensitive file system would), and a ``.git`` component at any depth in any case.
    """
    if not isinstance(rel, str) or not rel.strip():
        raise Refused("empty path")
    if "\x00" in rel:
        raise Refused("path contains a NUL byte")
    real_root = Path(os.path.realpath(root))
    candidate = Path(rel) if os.path.isabs(rel) else real_root / rel
    if any(_git_name(part) for part in Path(rel).parts):
        raise Refused(f"path {rel!r} names a .git folder, which is git's own")
    resolved = Path(os.path.realpath(candidate))
    if resolved != real_root and real_root not in resolved.parents:
        raise Refused(f"path {rel!r} is outside the OS root")
    inside = resolved.relative_to(real_root)
    if inside.parts and inside.parts[0].lower() in PRIVATE_FOLDED:
        raise Refused(f"path {rel!r} is kernel-private ({inside.parts[0]})")
    if any(_git_name(part) for part in inside.parts):
        raise Refused(f"path {rel!r} names a .git folder, which is git's own")
    if for_write and resolved == real_root:
        raise Refused("cannot write to the root directory itself")
    return resolved


def control_path(rel: str) -> bool:
    """Whether ``rel`` (relative to the root) is a kernel-owned control path (see :data:`CONTROL`);
    a project's own memory folder (``projects/P/memory/``) is one too."""
    parts = Path(rel).parts
    if not parts:
        return False
    if parts[0].lower() in CONTROL:
        return True
    return len(parts) >= 3 and parts[0] == "projects" and parts[2].lower() == "memory"


def check_write(ctx: Any, rel: str, size: int) -> None:
    """Refuse an agent's write to a control path it was not granted, or one over the size limit."""
    config = ctx.config
    limit = config.limits.max_write_bytes if config is not None else 4 << 20
    if size > limit:
        raise Refused(f"{rel}: {size:,} bytes is more than one write may hold ({limit:,}; limits.max_write_bytes)")
    if control_path(rel) and not _granted(config, ctx.agent, rel):
        raise Refused(
            f"{rel} is a kernel-owned path ({Path(rel).parts[0]}/): agents change it through the kernel "
            "(remember, create_agent, crystallize), or a person grants it in protection.grants"
        )


def _granted(config: Any, agent: str, rel: str) -> bool:
    from fnmatch import fnmatchcase

    grants = config.protection.grants if config is not None else []
    return any(g.agent == agent and any(fnmatchcase(rel, p) for p in g.paths) for g in grants)


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

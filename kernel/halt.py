"""Kill switch: while a file named ``HALT`` exists at the OS root, no model call or syscall runs.
Anything else by that name (a directory, a broken link, an unreadable file) halts too: fail closed.

The kernel calls :func:`check_halt` before every model call and every syscall, so a run in progress
stops at its next step. The file is plain text: the first line is the reason, then who and when.
"""

from __future__ import annotations

import getpass
import os
import socket
from datetime import datetime, timezone
from pathlib import Path

from .atomic import atomic_write
from .errors import Halted, RootError

HALT_NAME = "HALT"
DEFAULT_REASON = "halted by a person (no reason given)"


def halt_path(root: Path) -> Path:
    """The kill-switch file of ``root``."""
    return Path(root) / HALT_NAME


def halt(root: Path, reason: str | None = None) -> Path:
    """Set the kill switch with ``reason``; setting it again replaces the reason. Returns the path."""
    reason = " ".join((reason or "").split()) or DEFAULT_REASON
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = str(os.getuid())
    when = datetime.now(timezone.utc).isoformat(timespec="seconds")
    text = (
        f"{reason}\n\nhalted_by: {who}@{socket.gethostname()}\nhalted_at: {when}\n"
        "# While this file exists llmos makes no model call and runs no syscall.\n"
        "# Remove it with `llmos resume`.\n"
    )
    path = halt_path(root)
    try:
        atomic_write(path, text)
    except IsADirectoryError:
        raise RootError(
            f"{path} is a directory: the root is halted all the same, but the reason cannot be written",
            hint=f"to record one, remove it (rm -r {path}) and run `llmos halt` again",
        ) from None
    return path


def resume(root: Path) -> bool:
    """Lift the kill switch. Returns False if it was not set. A directory named ``HALT`` (which halts
    too) is removed if empty; one holding files is a :class:`RootError` saying what to remove."""
    path = halt_path(root)
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:  # a directory: EISDIR on Linux, EPERM on macOS
        if not path.is_dir() or path.is_symlink():
            raise RootError(f"cannot remove {path}: {exc.strerror}", hint="remove it by hand to resume") from None
        try:
            path.rmdir()
        except OSError as exc:
            raise RootError(
                f"{path} is a directory holding files ({exc.strerror}); it halts this root, and llmos does not "
                "delete what it did not write",
                hint=f"look at it, then remove it: rm -r {path}",
            ) from None
    return True


def halt_reason(root: Path) -> str | None:
    """The reason the root is halted, or None if it is not."""
    path = halt_path(root)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return f"{path} is a link to nothing" if path.is_symlink() else None
    except IsADirectoryError:
        return f"{path} is a directory"
    except OSError as exc:  # exists but unreadable: still halted (fail closed)
        return f"{path} exists but cannot be read ({exc.strerror})"
    first = text.strip().splitlines()[0].strip() if text.strip() else ""
    return first or DEFAULT_REASON


def check_halt(root: Path) -> None:
    """Raise :class:`Halted` (with the reason) if the kill switch of ``root`` is set."""
    reason = halt_reason(root)
    if reason is not None:
        raise Halted(reason)

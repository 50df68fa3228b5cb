"""Kill switch: while a file named ``HALT`` exists at the OS root, no model call or syscall runs.

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
from .errors import Halted

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
    atomic_write(path, text)
    return path


def resume(root: Path) -> bool:
    """Lift the kill switch. Returns False if it was not set."""
    try:
        halt_path(root).unlink()
    except FileNotFoundError:
        return False
    return True


def halt_reason(root: Path) -> str | None:
    """The reason the root is halted, or None if it is not."""
    path = halt_path(root)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        return f"{path} exists (a directory)"
    except OSError as exc:  # exists but unreadable: still halted (fail closed)
        return f"{path} exists but cannot be read ({exc.strerror})"
    first = text.strip().splitlines()[0].strip() if text.strip() else ""
    return first or DEFAULT_REASON


def check_halt(root: Path) -> None:
    """Raise :class:`Halted` (with the reason) if the kill switch of ``root`` is set."""
    reason = halt_reason(root)
    if reason is not None:
        raise Halted(reason)

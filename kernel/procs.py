"""Who holds what: the identity of this process, and whether a recorded process still runs.

Run registry entries and claims record ``pid``, ``pstart`` (the kernel's start time of the pid,
which guards against pid reuse) and ``host``; :func:`alive` says whether that process is still there.
"""

from __future__ import annotations

import os
import socket
from typing import Any


def process_start(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (from /proc), or None if unknown or gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None


def me() -> dict[str, Any]:
    """This process as recorded in registries: pid, start time, host."""
    pid = os.getpid()
    return {"pid": pid, "pstart": process_start(pid), "host": socket.gethostname()}


def alive(entry: dict[str, Any]) -> bool:
    """Is the process recorded in ``entry`` (pid, pstart, host) still running?

    A process on another host cannot be checked and counts as alive.
    """
    if entry.get("host") not in (None, socket.gethostname()):
        return True
    try:
        pid = int(entry.get("pid") or 0)
    except (TypeError, ValueError):
        return False
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    started = entry.get("pstart")
    return started is None or process_start(pid) in (None, started)


def temp_prefix(kind: str) -> str:
    """The name prefix of a temporary folder this process makes, ``llmos-KIND-PID-``: recovery
    (:func:`llmos.team.recover.sweep_temp_dirs`) removes the ones whose process was killed."""
    return f"llmos-{kind}-{os.getpid()}-"

"""Git lock files left by a killed process: told apart from live ones, and reclaimed.

git guards the index and every ref with ``<file>.lock``, created exclusively and renamed over the
file when done. A git process that is killed leaves its lock behind and every later git command (and
every audit commit) fails on it until a person removes it. A lock is reclaimed here only when all of
this holds: it is older than :data:`MIN_AGE_S` (a live git command holds one for milliseconds), no
process has it open, and no git process is running in the repository (a ``git commit`` waiting for
its editor, or a long ``git gc``, keeps its locks). Reclaiming prints one line to stderr saying so.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

MIN_AGE_S = 2.0


def _git_running_in(repo: Path) -> bool:
    """Whether a process named git runs with its working folder inside ``repo`` (this process's own
    git children, such as GitPython's ``cat-file`` helpers, hold no lock and do not count)."""
    top, me = str(repo), str(os.getpid()).encode()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/comm", "rb") as fh:
                if not fh.read().startswith(b"git"):
                    continue
            with open(f"/proc/{pid}/stat", "rb") as fh:
                if fh.read().rsplit(b")", 1)[1].split()[1] == me:
                    continue
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if cwd == top or cwd.startswith(top + "/"):
            return True
    return False


def _open_by_any(path: Path) -> bool:
    """Whether any process we can see has ``path`` open."""
    target = str(path)
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return True
            except OSError:
                continue
    return False


def reclaim(lock: Path, repo: Path, *, min_age: float = MIN_AGE_S) -> bool:
    """Remove ``lock`` if it is stale (see the module doc); True if it is gone now.

    ``repo`` is the repository's top folder. Where ``/proc`` is not there to ask, nothing is removed.
    """
    try:
        before = lock.stat()
    except FileNotFoundError:
        return True
    age = time.time() - before.st_mtime
    if age < min_age or not os.path.isdir("/proc"):
        return False
    if _open_by_any(lock) or _git_running_in(Path(repo).resolve()):
        return False
    try:
        now = lock.stat()
        if (now.st_ino, now.st_mtime_ns) != (before.st_ino, before.st_mtime_ns):
            return False  # a new holder took it while we looked
        os.unlink(lock)
    except FileNotFoundError:
        return True
    rel = os.path.relpath(lock, repo)
    print(
        f"llmos: removed a stale {rel} ({age:.0f}s old, no process has it open and no git command runs "
        "here: a killed git or llmos left it)",
        file=sys.stderr,
    )
    return True

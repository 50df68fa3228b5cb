"""Crash-safe file writes (temp file, fsync, rename) and inter-process file locks."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator

from .errors import LockTimeout


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in ``path`` durable (fsync the directory)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike, data: bytes | str, *, mode: int | None = None, durable: bool = True) -> None:
    """Write ``data`` to ``path`` so that readers see either the old or the new file, never half.

    The parent directory is created. With ``durable`` the file and its directory are fsynced.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
        if durable:
            fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


_LOCAL_GUARD = threading.Lock()
_LOCAL: dict[str, threading.Lock] = {}


def _local_lock(path: Path) -> threading.Lock:
    """The in-process lock of ``path``: threads of one process queue on it (instant hand-over)
    instead of polling the ``flock``, which only has to arbitrate between processes."""
    key = os.path.abspath(path)
    with _LOCAL_GUARD:
        lock = _LOCAL.get(key)
        if lock is None:
            lock = _LOCAL[key] = threading.Lock()
        return lock


@contextlib.contextmanager
def file_lock(
    path: str | os.PathLike, *, timeout: float = 60.0, shared: bool = False, poll: float = 0.01
) -> Iterator[None]:
    """Hold an advisory ``flock`` on ``path`` (created if missing) for the ``with`` block.

    The lock is released by the OS if the process dies, so a crashed holder never wedges others.
    Threads of one process take an in-process lock first (exclusive, even for ``shared``), so the
    lock is safe and fair between threads too. Raises :class:`LockTimeout` after ``timeout`` seconds.
    """
    path = Path(path)
    local = _local_lock(path)
    if not local.acquire(timeout=timeout):
        raise LockTimeout(
            f"lock {path} is held by another thread of this process",
            hint=f"waited {timeout:.0f}s; is another run in this process stuck?",
        )
    try:
        with _flock(path, timeout=timeout, shared=shared, poll=poll):
            yield
    finally:
        local.release()


@contextlib.contextmanager
def _flock(path: Path, *, timeout: float, shared: bool, poll: float) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    op = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fd, op)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    raise LockTimeout(
                        f"lock {path} is held by another process",
                        hint=f"waited {timeout:.0f}s; is another llmos still running?",
                    ) from None
                time.sleep(poll)
                poll = min(poll * 2, 0.2)
        yield
    finally:
        os.close(fd)


def write_beneath(root: str | os.PathLike, rel: str, data: bytes | str) -> None:
    """Atomically write ``root/rel`` without following a symlink anywhere on the way.

    Every folder of ``rel`` is opened (or created) relative to its parent's descriptor with
    ``O_NOFOLLOW``, and the file is written and renamed relative to the last one. A folder swapped for
    a symlink between a check and this write makes it fail (``OSError``); it cannot send the write
    outside ``root``. The file and its folder are fsynced.
    """
    parts = [p for p in Path(rel).parts if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts) or os.path.isabs(rel):
        raise ValueError(f"not a path inside the root: {rel!r}")
    raw = data.encode("utf-8") if isinstance(data, str) else data
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    fd = os.open(root, flags)
    try:
        for name in parts[:-1]:
            try:
                nxt = os.open(name, flags, dir_fd=fd)
            except FileNotFoundError:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, 0o755, dir_fd=fd)
                nxt = os.open(name, flags, dir_fd=fd)
            os.close(fd)
            fd = nxt
        tmp = f".{parts[-1]}.{os.getpid()}.{threading.get_ident()}.tmp"
        out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=fd)
        try:
            with os.fdopen(out, "wb") as fh:
                fh.write(raw)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, parts[-1], src_dir_fd=fd, dst_dir_fd=fd)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp, dir_fd=fd)
            raise
        os.fsync(fd)
    finally:
        os.close(fd)

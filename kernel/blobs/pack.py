"""Pack files: append-only files of records, one live writer each, with group commit.

A pack starts with a 16-byte header (``b"LLMOSPK1"`` + 8 random bytes, also its name).
A process that appends to a pack holds an exclusive ``flock`` on it for as long as it
writes, so appends never interleave, gc never rewrites a pack in use, and a pack whose
lock can be taken has no live writer: an incomplete tail there is torn and may be cut.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import threading
from pathlib import Path

from ..atomic import fsync_dir

PACK_MAGIC = b"LLMOSPK1"
PACK_HEADER = 16
PACK_SUFFIX = ".pack"
IDX_SUFFIX = ".idx"


def pack_name(path: Path) -> str:
    """The short name of a pack (``pack-<hex>``), used in reports."""
    return path.name[: -len(PACK_SUFFIX)] if path.name.endswith(PACK_SUFFIX) else path.name


def try_lock(path: Path, *, write: bool = True) -> int | None:
    """Open ``path`` and take its exclusive lock without waiting; return the fd or None.

    None means another process holds the lock, or the file vanished (deleted by gc).
    """
    try:
        fd = os.open(path, os.O_RDWR if write else os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if not _same_file(fd, path):
            raise BlockingIOError
        return fd
    except OSError:
        os.close(fd)
        return None


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (st.st_ino, st.st_dev) == (own.st_ino, own.st_dev)


def file_size(path: Path) -> int:
    """Size of ``path`` in bytes; 0 if it is gone (a pack gc or repack just deleted)."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def is_locked(path: Path) -> bool:
    """True when some process (maybe this one) holds the write lock of ``path``."""
    fd = try_lock(path, write=False)
    if fd is None:
        return path.exists()
    os.close(fd)
    return False


def create_pack(directory: Path) -> tuple[Path, int]:
    """Create a new empty pack, locked; return its path and open read-write fd."""
    directory.mkdir(parents=True, exist_ok=True)
    while True:
        uid = secrets.token_bytes(8)
        path = directory / f"pack-{uid.hex()}{PACK_SUFFIX}"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        os.write(fd, PACK_MAGIC + uid)
        os.fsync(fd)
        fsync_dir(directory)
        return path, fd


def valid_pack_header(head: bytes) -> bool:
    return len(head) >= PACK_HEADER and head[:8] == PACK_MAGIC


class PackWriter:
    """Appends records to one locked pack. Records are buffered and written in groups;
    a background thread writes and fdatasyncs them every ``commit_interval`` seconds
    (group commit), and :meth:`sync` does it now."""

    BUFFER = 256 * 1024

    def __init__(self, path: Path, fd: int, end: int, commit_interval: float = 0.01):
        self.path = path
        self.name = pack_name(path)
        self.no = -1  # the index's number for this pack (set by the writer pool)
        self._fd = fd
        self.end = end
        self._file_end = end
        self._buf = bytearray()
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._dirty = threading.Event()
        self._closed = False
        self._interval = commit_interval
        self._thread: threading.Thread | None = None

    def append(self, record: bytes) -> int:
        """Append one record; return its offset in the pack."""
        with self._lock:
            offset = self.end
            self._buf += record
            self.end += len(record)
            if len(self._buf) >= self.BUFFER:
                self._write_locked()
        if not self._dirty.is_set():
            self._dirty.set()
            if self._thread is None:
                self._start_thread()
        return offset

    def read(self, offset: int, size: int) -> bytes | None:
        """Bytes still in the write buffer at ``offset``, or None if already in the file."""
        with self._lock:
            if offset < self._file_end:
                return None
            start = offset - self._file_end
            return bytes(self._buf[start : start + size])

    def _write_locked(self) -> None:
        view = memoryview(self._buf)
        done = 0
        while done < len(view):
            done += os.pwrite(self._fd, view[done:], self._file_end + done)
        view.release()
        self._file_end += done
        self._buf.clear()

    def sync(self) -> None:
        """Write the buffer and fdatasync: every record appended so far is durable."""
        with self._sync_lock:
            if self._closed:
                return
            self._dirty.clear()
            with self._lock:
                self._write_locked()
            os.fdatasync(self._fd)

    def _start_thread(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"llmos-blobs-{self.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            self._dirty.wait()
            if self._closed:
                return
            threading.Event().wait(self._interval)
            with contextlib.suppress(OSError):
                self.sync()

    def close(self) -> None:
        """Sync, stop the commit thread, release the lock."""
        self.sync()
        with self._sync_lock:
            self._closed = True
            self._dirty.set()
        if self._thread is not None:
            self._thread.join()
        os.close(self._fd)

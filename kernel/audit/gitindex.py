"""The real index brought in line with a new HEAD for a few paths, in-process.

What ``git reset -q HEAD -- paths`` does, for the plain case: under git's ``index.lock``, every
entry of those paths (any stage) is replaced by HEAD's version with no stat data (so git re-hashes
the file the next time it looks, exactly as after ``git reset``), or dropped if HEAD no longer has
the path. Every other entry is copied byte for byte, so a person's staged work stays staged.
Optional extensions (cache tree, untracked cache, ...) are dropped, which is always valid: git
rebuilds them. Index version 4, a split or sparse index, or a file/directory clash raise
:class:`~llmos.audit.objects.Unsupported` and the caller falls back to git.
"""

from __future__ import annotations

import bisect
import hashlib
import struct
from pathlib import Path

from .objects import Entry, LockFile, Unsupported

_FIXED = 62  # ctime, mtime, dev, ino, mode, uid, gid, size (4 bytes each), sha (20), flags (2)


class IndexLocked(Exception):
    """Someone else (a person's git command) holds ``index.lock``; the index is left alone."""


def _entries(data: bytes, version: int, count: int) -> tuple[list[bytes], list[bytes], int]:
    """(names, raw entry bytes) in index order, and the offset after the last entry."""
    names, raws, i = [], [], 12
    for _ in range(count):
        flags = struct.unpack_from(">H", data, i + 60)[0]
        head = _FIXED + (2 if version >= 3 and flags & 0x4000 else 0)
        length = flags & 0xFFF
        if length == 0xFFF:
            length = data.index(b"\0", i + head) - i - head
        size = (head + length + 8) & ~7
        names.append(data[i + head : i + head + length])
        raws.append(data[i : i + size])
        i += size
    return names, raws, i


def _check_extensions(data: bytes, at: int) -> None:
    while at < len(data) - 20:
        sig, size = data[at : at + 4], struct.unpack_from(">I", data, at + 4)[0]
        if not sig[:1].isupper():
            raise Unsupported(f"index extension {sig!r} is required and not understood")
        at += 8 + size


def _new_entry(name: bytes, entry: Entry) -> bytes:
    mode = int(entry[0], 8)
    raw = struct.pack(">10I", 0, 0, 0, 0, 0, 0, mode, 0, 0, 0) + bytes.fromhex(entry[1])
    raw += struct.pack(">H", min(len(name), 0xFFF)) + name
    return raw + b"\0" * (8 - len(raw) % 8)


def _same(raw: bytes, entry: Entry) -> bool:
    """Whether an index entry is ``entry`` at stage 0."""
    mode, flags = struct.unpack_from(">I", raw, 24)[0], struct.unpack_from(">H", raw, 60)[0]
    return mode == int(entry[0], 8) and raw[40:60].hex() == entry[1] and not flags & 0x3000


def _clashes(names: list[bytes], name: bytes) -> bool:
    """Whether the index has ``name`` as a directory, or one of its parents as a file."""
    below = name + b"/"
    at = bisect.bisect_left(names, below)
    if at < len(names) and names[at].startswith(below):
        return True
    parts = name.split(b"/")
    for n in range(1, len(parts)):
        parent = b"/".join(parts[:n])
        at = bisect.bisect_left(names, parent)
        if at < len(names) and names[at] == parent:
            return True
    return False


def reset_paths(git_dir: Path, final: dict[str, Entry | None]) -> None:
    """Set the index entries of ``final``'s paths to their HEAD versions (None: not in HEAD)."""
    index = git_dir / "index"
    with LockFile(index, IndexLocked, repo=git_dir.parent) as lock:
        try:
            data = index.read_bytes()
        except FileNotFoundError:
            raise Unsupported("no index yet") from None
        version, names, raws = _read_index(data)
        if _apply(names, raws, final):
            body = struct.pack(">4sII", b"DIRC", version, len(raws)) + b"".join(raws)
            lock.commit(body + hashlib.sha1(body).digest())


def _read_index(data: bytes) -> tuple[int, list[bytes], list[bytes]]:
    try:
        sig, version, count = struct.unpack_from(">4sII", data, 0)
        if sig != b"DIRC" or version not in (2, 3):
            raise Unsupported(f"index version {version}")
        names, raws, end = _entries(data, version, count)
        _check_extensions(data, end)
    except (struct.error, ValueError, IndexError) as exc:
        raise Unsupported(f"index not readable in-process: {exc}") from None
    return version, names, raws


def _apply(names: list[bytes], raws: list[bytes], final: dict[str, Entry | None]) -> bool:
    """Edit the sorted entry lists in place; True if anything changed."""
    changed = False
    for path, entry in sorted(final.items()):
        name = path.encode("utf-8", "surrogateescape")
        if _clashes(names, name):
            raise Unsupported(f"{path} clashes with a directory or file in the index")
        lo = bisect.bisect_left(names, name)
        hi = lo
        while hi < len(names) and names[hi] == name:
            hi += 1
        if entry and hi == lo + 1 and _same(raws[lo], entry):
            continue  # already HEAD's version, unstaged: keep its stat data
        changed = True
        new = [(name, _new_entry(name, entry))] if entry else []
        names[lo:hi] = [n for n, _ in new]
        raws[lo:hi] = [r for _, r in new]
    return changed

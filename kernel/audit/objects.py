"""Git objects written and read in-process: blobs, trees and commits, no git subprocess.

Used by the audit commit (:mod:`llmos.audit.commit`) so a run's commit costs file writes, not six git
processes. Only the plain case is handled here; anything else (a path that is a directory or a
symlink, a file/directory clash, an odd path) raises :class:`Unsupported` and the caller falls back
to git itself. Objects are written loose, zlib-compressed, the way git writes them; packed objects
are read through gitdb.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
import time
import zlib
from pathlib import Path
from typing import Callable

from . import stale

TREE_MODE = b"40000"
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

Entry = tuple[bytes, str]  # (mode, hex sha) of one tree entry
Changes = dict[str, "Entry | None"]  # path -> new entry, or None to delete it


class Unsupported(Exception):
    """Something the in-process writer does not handle; the caller falls back to git."""


class LockFile:
    """git's lock-file protocol: ``PATH.lock`` created exclusively, written, renamed over ``PATH``.

    Use as a context manager; if the block ends without :meth:`commit` (nothing to write, or an
    error), the lock is removed and ``PATH`` is untouched. ``locked`` builds the exception raised
    when someone else holds the lock for more than ``wait`` seconds. With ``repo`` (the repository's
    top folder), a lock left by a killed process is reclaimed (:func:`llmos.audit.stale.reclaim`)."""

    def __init__(self, path: Path, locked: Callable[[], Exception], *, wait: float = 0.0, repo: Path | None = None):
        self.path = path
        self.lock = path.with_name(path.name + ".lock")
        deadline = time.monotonic() + wait
        while True:
            try:
                self.fd = os.open(self.lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                return
            except FileExistsError:
                if repo is not None and stale.reclaim(self.lock, repo):
                    continue
                if time.monotonic() >= deadline:
                    raise locked() from None
                time.sleep(0.02)

    def commit(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]
        os.close(self.fd)
        self.fd = -1
        os.replace(self.lock, self.path)

    def __enter__(self) -> "LockFile":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
            self.lock.unlink(missing_ok=True)


class ObjectStore:
    """The object database of one repository (``.git/objects``)."""

    def __init__(self, git_dir: Path) -> None:
        self.objects = git_dir / "objects"
        self._packed = None

    def write(self, kind: bytes, data: bytes) -> str:
        """Store one object (loose, if not there yet) and return its hex sha."""
        raw = b"%s %d\0" % (kind, len(data)) + data
        sha = hashlib.sha1(raw).hexdigest()
        path = self.objects / sha[:2] / sha[2:]
        if path.exists():
            return sha
        path.parent.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix="tmp_obj_", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(zlib.compress(raw, 1))
            os.chmod(tmp, 0o444)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return sha

    def read(self, sha: str) -> tuple[bytes, bytes]:
        """(kind, data) of one object, loose or packed."""
        path = self.objects / sha[:2] / sha[2:]
        try:
            raw = zlib.decompress(path.read_bytes())
        except FileNotFoundError:
            return self._read_packed(sha)
        header, _, data = raw.partition(b"\0")
        return header.split(b" ")[0], data

    def _read_packed(self, sha: str) -> tuple[bytes, bytes]:
        if self._packed is None:
            from gitdb import GitDB

            self._packed = GitDB(str(self.objects))
        try:
            stream = self._packed.stream(bytes.fromhex(sha))
            return stream.type, stream.read()
        except Exception as exc:  # missing or unreadable here: let git itself look
            raise Unsupported(f"object {sha} not readable in-process: {exc}") from None

    def blob_from_file(self, path: Path) -> Entry | None:
        """Hash a work-tree file as a blob; None if it does not exist."""
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return None
        if not stat.S_ISREG(st.st_mode):
            raise Unsupported(f"{path} is not a regular file")
        mode = b"100755" if st.st_mode & 0o100 else b"100644"
        return mode, self.write(b"blob", path.read_bytes())

    def commit_tree(self, commit: str) -> str:
        kind, data = self.read(commit)
        if kind != b"commit" or not data.startswith(b"tree "):
            raise Unsupported(f"{commit} is not a commit")
        return data[5:45].decode()


def parse_tree(data: bytes) -> dict[bytes, Entry]:
    """Entries of a tree object by name."""
    entries, i = {}, 0
    while i < len(data):
        space = data.index(b" ", i)
        nul = data.index(b"\0", space)
        entries[data[space + 1 : nul]] = (data[i:space], data[nul + 1 : nul + 21].hex())
        i = nul + 21
    return entries


def format_tree(entries: dict[bytes, Entry]) -> bytes:
    """A tree object's bytes, entries in git's order (a directory sorts as ``name/``)."""
    key = lambda name: name + b"/" if entries[name][0] == TREE_MODE else name
    return b"".join(b"%s %s\0%s" % (entries[n][0], n, bytes.fromhex(entries[n][1])) for n in sorted(entries, key=key))


def edit_tree(store: ObjectStore, tree: str | None, changes: Changes) -> str:
    """Write the tree ``tree`` with ``changes`` applied, rewriting only the trees along the changed
    paths; return the new root tree's sha (the empty tree if nothing is left)."""
    split = {}
    for path, entry in changes.items():
        parts = path.split("/")
        if any(p in ("", ".", "..", ".git") for p in parts) or "\0" in path or "\\" in path:
            raise Unsupported(f"path {path!r} is not a plain relative path")
        split[tuple(p.encode("utf-8", "surrogateescape") for p in parts)] = entry
    return _edit(store, tree, split) or store.write(b"tree", b"")


def _edit(store: ObjectStore, tree: str | None, changes: dict[tuple[bytes, ...], Entry | None]) -> str | None:
    entries = {}
    if tree:
        kind, data = store.read(tree)
        if kind != b"tree":
            raise Unsupported(f"{tree} is not a tree")
        entries = parse_tree(data)
    groups: dict[bytes, dict[tuple[bytes, ...], Entry | None]] = {}
    for parts, entry in changes.items():
        groups.setdefault(parts[0], {})[parts[1:]] = entry
    for name, sub in groups.items():
        old = entries.get(name)
        if () in sub:
            if len(sub) > 1 or (old and old[0] == TREE_MODE):
                raise Unsupported(f"{name!r} is both a file and a directory")
            if sub[()] is None:
                entries.pop(name, None)
            else:
                entries[name] = sub[()]
            continue
        if old and old[0] != TREE_MODE:
            raise Unsupported(f"{name!r} is both a file and a directory")
        new = _edit(store, old[1] if old else None, sub)
        if new is None:
            entries.pop(name, None)
        else:
            entries[name] = (TREE_MODE, new)
    return store.write(b"tree", format_tree(entries)) if entries else None


def commit_bytes(tree: str, parent: str | None, author: bytes, committer: bytes, message: str) -> bytes:
    """A commit object's bytes as ``git commit-tree -m`` writes them (message ends with a newline)."""
    head = b"tree %s\n" % tree.encode()
    if parent:
        head += b"parent %s\n" % parent.encode()
    body = message.encode()
    if body and not body.endswith(b"\n"):
        body += b"\n"
    return head + b"author %s\ncommitter %s\n\n" % (author, committer) + body

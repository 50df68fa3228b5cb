"""What goes into a snapshot and the archive format: a POSIX tar stream compressed with zstd.

Sources are the git tree at HEAD (streamed from ``git archive``, checked blob by blob), the spend
ledger (copied under its lock) and ``.llmos/blobs/``. The archive is a plain ``.tar.zst`` so it can
be opened without llmos (``zstd -d < X.tar.zst | tar t``); every member is hashed with blake3 as it
is written and again when it is read back.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Iterator

import blake3
import zstandard

from ..atomic import file_lock
from ..errors import VaultError
from ..budget.ledger import ledger_lock_path, ledger_path

LOCAL_PREFIX = ".llmos/"


@dataclass
class Source:
    """One file to seal: its path inside the snapshot, content, git-style mode."""

    path: str
    data: bytes
    mode: str = "100644"  # 100644 file, 100755 executable, 120000 symlink (data = target)


def _git(root: Path, *args: str) -> bytes:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, check=True)
    except FileNotFoundError:
        raise VaultError("git is not installed; the vault seals the git tree at HEAD") from None
    except subprocess.CalledProcessError as exc:
        err = exc.stderr.decode("utf-8", "replace").strip()
        raise VaultError(
            f"git {' '.join(args)} failed in {root}: {err}",
            hint="the vault seals committed state: commit something first",
        ) from None
    return done.stdout


def head_commit(root: Path) -> tuple[str, int]:
    """The commit at HEAD and its commit time (epoch seconds)."""
    out = _git(root, "log", "-1", "--format=%H %ct", "HEAD").decode().split()
    return out[0], int(out[1])


def tree_blobs(root: Path, commit: str) -> dict[str, tuple[str, str]]:
    """path -> (git mode, blob sha1) for every blob of the tree of ``commit``."""
    out = {}
    for item in _git(root, "ls-tree", "-r", "-z", "--full-tree", commit).split(b"\0"):
        if item:
            meta, path = item.split(b"\t", 1)
            mode, kind, sha = meta.decode().split()
            name = path.decode("utf-8", "surrogateescape")
            if kind == "blob" and not name.startswith(LOCAL_PREFIX):
                out[name] = (mode if mode in ("100755", "120000") else "100644", sha)
    return out


def _git_blob_id(data: bytes) -> str:
    h = hashlib.sha1(b"blob %d\0" % len(data))
    h.update(data)
    return h.hexdigest()


def git_sources(root: Path, commit: str) -> Iterator[Source]:
    """Every blob of the tree of ``commit``, exactly as committed (submodules skipped).

    Streams ``git archive`` (fast) and checks each file against its blob id; files that archive
    attributes changed or left out (``export-subst``, ``export-ignore``) are read with cat-file.
    """
    wanted = tree_blobs(root, commit)
    proc = subprocess.Popen(
        ["git", "-C", str(root), "archive", "--format=tar", commit], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            for info in tar:
                if info.issym():
                    data = info.linkname.encode("utf-8", "surrogateescape")
                elif info.isfile():
                    data = tar.extractfile(info).read()  # type: ignore[union-attr]
                else:
                    continue
                mode, sha = wanted.get(info.name, ("", ""))
                if sha and _git_blob_id(data) == sha:
                    del wanted[info.name]
                    yield Source(info.name, data, mode)
    finally:
        proc.stdout.close()  # type: ignore[union-attr]
        proc.wait()
    for name, (mode, sha) in sorted(wanted.items()):
        yield Source(name, _git(root, "cat-file", "blob", sha), mode)


def local_sources(root: Path) -> Iterator[Source]:
    """The ledger (a consistent copy, under its lock) and every file under ``.llmos/blobs/``."""
    ledger = ledger_path(root)
    if ledger.exists():
        with file_lock(ledger_lock_path(root)):
            data = ledger.read_bytes()
        yield Source(LOCAL_PREFIX + ledger.name, data)
    blobs = Path(root) / ".llmos" / "blobs"
    for dirpath, dirnames, filenames in os.walk(blobs):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            try:
                data = path.read_bytes()
            except FileNotFoundError:  # collected by the blob GC meanwhile
                continue
            yield Source(path.relative_to(root).as_posix(), data)


class _Hashing(io.RawIOBase):
    """A file wrapper that hashes every byte written to or read from it."""

    def __init__(self, fh: BinaryIO):
        self.fh, self.hasher, self.count = fh, blake3.blake3(), 0

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self.hasher.update(b)
        self.count += len(b)
        return self.fh.write(b)

    def read(self, n: int = -1) -> bytes:
        data = self.fh.read(n)
        self.hasher.update(data)
        self.count += len(data)
        return data

    def drain(self) -> None:
        while self.read(1 << 20):
            pass


def file_record(src: Source) -> dict[str, Any]:
    """The manifest line of one sealed file."""
    return {"path": src.path, "size": len(src.data), "mode": src.mode, "blake3": blake3.blake3(src.data).hexdigest()}


def write_archive(
    sources: Iterator[Source], dest: Path, level: int, mtime: int
) -> tuple[list[dict[str, Any]], str, int]:
    """Write ``sources`` as ``dest`` (.tar.zst, fsynced); return (file records, blake3, size)."""
    records: list[dict[str, Any]] = []
    seen: set[str] = set()
    cctx = zstandard.ZstdCompressor(level=level, threads=-1, write_checksum=True)
    with open(dest, "wb") as raw:
        hashing = _Hashing(raw)
        with cctx.stream_writer(hashing, closefd=False) as zw:
            with tarfile.open(fileobj=zw, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                for src in sources:
                    if src.path in seen:
                        continue
                    seen.add(src.path)
                    records.append(file_record(src))
                    tar.addfile(*_tarinfo(src, mtime))
        raw.flush()
        os.fsync(raw.fileno())
    return records, hashing.hasher.hexdigest(), hashing.count


def _tarinfo(src: Source, mtime: int) -> tuple[tarfile.TarInfo, BinaryIO | None]:
    info = tarfile.TarInfo(src.path)
    info.mtime = mtime
    if src.mode == "120000":
        info.type = tarfile.SYMTYPE
        info.linkname = src.data.decode("utf-8", "surrogateescape")
        return info, None
    info.size = len(src.data)
    info.mode = 0o755 if src.mode == "100755" else 0o644
    return info, io.BytesIO(src.data)


def read_archive(fh: BinaryIO) -> tuple[Iterator[Source], "_Hashing"]:
    """Iterate the members of an archive; the returned hasher has the archive's blake3 at the end.

    Raises :class:`tarfile.TarError` or :class:`zstandard.ZstdError` where the archive is damaged.
    """
    hashing = _Hashing(fh)

    def members() -> Iterator[Source]:
        reader = zstandard.ZstdDecompressor().stream_reader(hashing, read_across_frames=True, closefd=False)
        with tarfile.open(fileobj=reader, mode="r|") as tar:
            for info in tar:
                if info.issym():
                    yield Source(info.name, info.linkname.encode("utf-8", "surrogateescape"), "120000")
                elif info.isfile():
                    data = tar.extractfile(info).read()  # type: ignore[union-attr]
                    yield Source(info.name, data, "100755" if info.mode & 0o111 else "100644")
                else:
                    yield Source(info.name, b"", f"tar-type-{info.type!r}")
        hashing.drain()

    return members(), hashing

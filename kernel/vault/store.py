"""Where sealed vault objects are kept: a small interface and a local-filesystem implementation.

An object-storage backend with object lock (S3 ``COMPLIANCE`` retention) fits the same Protocol:
``put`` uploads with ``retain_until`` and the service refuses early deletes; the local store can
only make files read-only, so the vault itself refuses to delete before expiry.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, ContextManager, Iterator, Protocol

from ..atomic import file_lock, fsync_dir
from ..errors import VaultError

SEALED_MODE = 0o444
README = """THIS DIRECTORY IS A SEALED llmos VAULT (write once, read many).

Every file under snapshots/ is a sealed snapshot of an OS root: read-only, hash-chained,
kept until its retention date. It is NOT live data: do not edit, move or delete anything here.
Use `llmos vault list | verify | restore | prune`.
"""


class VaultStore(Protocol):
    """Write-once storage of named objects plus a local staging area and a writer lock."""

    def names(self) -> list[str]:
        """Names of all stored objects."""

    def put(self, name: str, src: Path, retain_until: datetime) -> None:
        """Seal the staged file ``src`` as ``name`` (consumed); refuse if ``name`` exists."""

    def open(self, name: str) -> BinaryIO:
        """Open a stored object for reading."""

    def size(self, name: str) -> int:
        """Size in bytes of a stored object."""

    def delete(self, name: str) -> None:
        """Remove an object (the caller has checked its retention)."""

    def staging(self) -> Path:
        """A local directory where objects are built before ``put``."""

    def lock(self) -> ContextManager[None]:
        """Exclusive lock held while snapshots are taken or pruned."""

    def clear_staging(self) -> None:
        """Drop whatever a snapshot that was cut short left in staging (under :meth:`lock`)."""


class LocalStore:
    """Objects are read-only files in ``<dir>/snapshots/``; staging in ``<dir>/.staging/``."""

    def __init__(self, directory: Path):
        self.dir = Path(directory)
        self.objects = self.dir / "snapshots"

    def _ready(self) -> None:
        self.objects.mkdir(parents=True, exist_ok=True)
        readme = self.dir / "SEALED-README.txt"
        if not readme.exists():
            readme.write_text(README, encoding="utf-8")

    def names(self) -> list[str]:
        if not self.objects.is_dir():
            return []
        return sorted(p.name for p in self.objects.iterdir() if not p.name.startswith("."))

    def put(self, name: str, src: Path, retain_until: datetime) -> None:
        self._ready()
        dst = self.objects / name
        os.chmod(src, SEALED_MODE)
        try:
            os.link(src, dst)  # atomic and never overwrites
        except FileExistsError:
            raise VaultError(f"vault object {name} already exists; sealed objects are never overwritten") from None
        except OSError:  # no hard links here: the lock keeps other writers out
            if dst.exists():
                raise VaultError(f"vault object {name} already exists") from None
            os.rename(src, dst)
        else:
            os.unlink(src)
        fsync_dir(self.objects)

    def open(self, name: str) -> BinaryIO:
        try:
            return open(self.objects / name, "rb")
        except FileNotFoundError:
            raise VaultError(f"vault object {name} is missing from {self.objects}") from None

    def size(self, name: str) -> int:
        return (self.objects / name).stat().st_size

    def delete(self, name: str) -> None:
        path = self.objects / name
        with contextlib.suppress(FileNotFoundError):
            os.chmod(path, 0o644)
            path.unlink()

    def staging(self) -> Path:
        path = self.dir / ".staging"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        with file_lock(self.dir / ".lock", timeout=600):
            yield

    def clear_staging(self) -> None:
        """Remove what a killed snapshot left half-built (call under :meth:`lock`)."""
        shutil.rmtree(self.dir / ".staging", ignore_errors=True)

"""The spend ledger: an append-only, hash-chained JSON-lines file under ``<root>/.llmos/``.

Every line is one entry ``{"v": 1, "seq": n, "ts": ..., "type": ..., ..., "prev": H(n-1), "hash": H(n)}``
where ``H(n)`` is the blake3 of the entry's canonical JSON without its ``hash`` field and ``prev`` of
the first entry is 64 zeros. Editing, removing or reordering any byte breaks the chain, and a broken
or unreadable ledger raises :class:`LedgerBroken`: whoever spends must stop (fail closed).

Writers append under an exclusive :func:`file_lock` on ``ledger.lock``; a :class:`Ledger` object
keeps the entries it has read and only reads what other processes appended since. It re-reads and
re-checks the whole file when the file was replaced, shrank, was rewritten without growing (mtime
changed at the same size) or its last known line moved. An in-place edit of an old line *while*
another process appends is only caught by the next full read (a new process, ``llmos budget verify``).
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import blake3

from ..atomic import file_lock
from ..errors import LedgerBroken

FORMAT_VERSION = 1
GENESIS = "0" * 64
LEDGER_NAME = "ledger.jsonl"
LOCK_NAME = "ledger.lock"
VERIFY_HINT = "inspect it with `llmos budget verify`; spending stays stopped until it is repaired"


def ledger_path(root: Path) -> Path:
    """Where the ledger of the OS root ``root`` lives."""
    return Path(root) / ".llmos" / LEDGER_NAME


def ledger_lock_path(root: Path) -> Path:
    """The lock file every ledger writer (and the vault, when copying it) holds."""
    return Path(root) / ".llmos" / "locks" / LOCK_NAME


def entry_hash(entry: dict[str, Any]) -> str:
    """blake3 hex of the canonical JSON of ``entry`` without its ``hash`` field."""
    body = {k: v for k, v in entry.items() if k != "hash"}
    canon = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return blake3.blake3(canon.encode("utf-8")).hexdigest()


def utc_now() -> str:
    """The current time as an ISO-8601 UTC string with microseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


@dataclass
class VerifyReport:
    """What :meth:`Ledger.verify` found. ``ok`` is False when the chain is broken at ``bad_line``."""

    path: str
    entries: int = 0
    last_hash: str = GENESIS
    ok: bool = True
    bad_line: int | None = None
    problem: str | None = None

    def summary(self) -> str:
        if self.ok:
            return f"ledger {self.path}: {self.entries} entries, chain intact, head {self.last_hash[:16]}"
        return f"ledger {self.path}: BROKEN at line {self.bad_line}: {self.problem}"


@dataclass
class _Cursor:
    """How far this process has read the ledger file."""

    inode: int | None = None
    mtime_ns: int = 0
    offset: int = 0
    last_line: bytes = b""
    entries: list[dict[str, Any]] = field(default_factory=list)


def _check_line(raw: bytes, lineno: int, prev: str, seq: int) -> dict[str, Any]:
    """Parse one ledger line and check its place in the chain; raise ValueError if it is wrong."""
    try:
        entry = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not valid JSON ({exc.msg if hasattr(exc, 'msg') else exc})") from None
    if not isinstance(entry, dict):
        raise ValueError("entry is not a JSON object")
    if entry.get("seq") != seq:
        raise ValueError(f"sequence {entry.get('seq')!r} where {seq} was expected")
    if entry.get("prev") != prev:
        raise ValueError("does not chain to the previous entry (prev hash differs)")
    if entry.get("hash") != entry_hash(entry):
        raise ValueError("content does not match its hash (edited?)")
    return entry


class Ledger:
    """Append-only hash-chained ledger of one OS root. Not thread-safe; one per process is usual."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.path = ledger_path(self.root)
        self.lock_path = ledger_lock_path(self.root)
        self._cursor = _Cursor()
        self.generation = 0  # bumped whenever the file is re-read from the start

    @contextlib.contextmanager
    def locked(self, timeout: float = 60.0) -> Iterator[list[dict[str, Any]]]:
        """Hold the exclusive ledger lock and yield all entries, brought up to date.

        Raises :class:`LedgerBroken` if the file cannot be read or its chain is broken.
        """
        with file_lock(self.lock_path, timeout=timeout):
            yield self._refresh()

    def append(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Chain ``entry`` after the last one and append it durably. Call inside :meth:`locked`."""
        cur = self._cursor
        prev = cur.entries[-1]["hash"] if cur.entries else GENESIS
        full = {"v": FORMAT_VERSION, "seq": len(cur.entries), "ts": utc_now(), **entry, "prev": prev}
        full["hash"] = entry_hash(full)
        line = (json.dumps(full, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
            st = os.fstat(fd)
        finally:
            os.close(fd)
        cur.inode, cur.offset, cur.last_line = st.st_ino, st.st_size, line
        cur.mtime_ns = st.st_mtime_ns
        cur.entries.append(full)
        return full

    def entries(self) -> list[dict[str, Any]]:
        """All entries (read under the lock). Raises :class:`LedgerBroken` if broken."""
        with self.locked() as entries:
            return list(entries)

    def verify(self) -> VerifyReport:
        """Re-read the whole file and check every link of the chain. Never raises for a bad chain."""
        report = VerifyReport(path=str(self.path))
        if not self.path.exists():
            return report
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            report.ok, report.bad_line, report.problem = False, 0, f"cannot read: {exc}"
            return report
        prev = GENESIS
        for lineno, raw in enumerate(data.splitlines(keepends=True), start=1):
            try:
                if not raw.endswith(b"\n"):
                    raise ValueError("last line is incomplete (torn write)")
                entry = _check_line(raw, lineno, prev, lineno - 1)
            except ValueError as exc:
                report.ok, report.bad_line, report.problem = False, lineno, str(exc)
                return report
            prev = entry["hash"]
            report.entries += 1
        report.last_hash = prev
        return report

    def _broken(self, detail: str) -> LedgerBroken:
        return LedgerBroken(f"the spend ledger {self.path} is broken: {detail}", hint=VERIFY_HINT)

    def _refresh(self) -> list[dict[str, Any]]:
        """Read what was appended since last time; re-read everything if the file was replaced."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            if self._cursor.entries:
                raise self._broken("the file has disappeared") from None
            return self._cursor.entries
        except OSError as exc:
            raise self._broken(f"cannot stat it ({exc})") from None
        cur = self._cursor
        rewritten = st.st_size == cur.offset and st.st_mtime_ns != cur.mtime_ns
        if cur.inode != st.st_ino or st.st_size < cur.offset or rewritten or not self._tail_intact(cur):
            self._cursor = cur = _Cursor()
            self.generation += 1
        if st.st_size > cur.offset:
            self._read_from(cur)
        return cur.entries

    def _tail_intact(self, cur: _Cursor) -> bool:
        """Is the last line we read still where we read it?"""
        if not cur.last_line:
            return cur.offset == 0
        with open(self.path, "rb") as fh:
            fh.seek(cur.offset - len(cur.last_line))
            return fh.read(len(cur.last_line)) == cur.last_line

    def _read_from(self, cur: _Cursor) -> None:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(cur.offset)
                data = fh.read()
                st = os.fstat(fh.fileno())
        except OSError as exc:
            raise self._broken(f"cannot read it ({exc})") from None
        lineno = len(cur.entries)
        prev = cur.entries[-1]["hash"] if cur.entries else GENESIS
        for raw in data.splitlines(keepends=True):
            lineno += 1
            if not raw.endswith(b"\n"):
                raise self._broken(f"line {lineno}: last line is incomplete (torn write)")
            try:
                entry = _check_line(raw, lineno, prev, lineno - 1)
            except ValueError as exc:
                raise self._broken(f"line {lineno}: {exc}") from None
            cur.entries.append(entry)
            cur.offset += len(raw)
            cur.last_line = raw
            prev = entry["hash"]
        cur.inode, cur.mtime_ns = st.st_ino, st.st_mtime_ns

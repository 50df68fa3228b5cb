"""Traces as evidence: replay and crystallization read a trace only if it is what its run committed.

A run commits its trace with a ``Trace-Id: ID`` trailer. A trace file is evidence when it sits at the
path of its id (``traces/YYYY/MM/ID.md``), exactly one commit carries ``Trace-Id: ID``, that commit
contains the file, and the file is byte for byte the committed one -- or, after a dream compacted it,
has the committed frontmatter (the data: steps, slots, outcome) and the one-line body naming the blob
that holds the old body. Anything else (a hand-edited trace, a copy under a new id, a file no run
committed) is ignored by matching, statistics, replay and crystallization, and ``llmos check`` lists it.

Which commit holds which run, and the committed file's hashes, are a cache
(``.llmos/cache/evidence.json``) that can be deleted: it is kept current by reading only the commits
HEAD gained since the last look (one ``git log``, one ``git cat-file --batch``). A verdict reads the
trace file itself each time, so an edit is seen at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import threading
from pathlib import Path
from typing import Iterable

import blake3

from ..atomic import atomic_write
from ..audit.log import parse_trailers
from ..audit.objects import Unsupported
from ..audit.refs import head_target, read_ref

CACHE_VERSION = 1
_ARCHIVED_BODY = re.compile(rb"\A# [^\n]*\n\n[^\n]*: blob:[0-9a-f]+\n\Z")  # what a dream leaves of a body
_FIELD, _RECORD = "\x1f", "\x1e"


def canonical(trace_id: str) -> str:
    """Where the run ``trace_id`` keeps its trace (see :func:`llmos.traces.trace_path`)."""
    return f"traces/{trace_id[:4]}/{trace_id[4:6]}/{trace_id}.md"


def blob_sha(data: bytes) -> str:
    """The id git gives ``data`` as a blob."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def split(data: bytes) -> tuple[bytes, bytes]:
    """(frontmatter with its fences, body) of a trace file's bytes; the body is empty if there is none."""
    end = data.find(b"\n---\n", 3) if data.startswith(b"---") else -1
    return (data[: end + 5], data[end + 5 :]) if end >= 0 else (data, b"")


def _digest(data: bytes) -> str:
    return blake3.blake3(data).hexdigest()[:32]


def head_of(root: Path) -> str | None:
    """The commit HEAD names (read in-process where git's layout allows), None before the first commit."""
    git_dir = Path(root) / ".git"
    try:
        if git_dir.is_dir():
            ref = head_target(git_dir)
            return read_ref(git_dir, ref) if ref != "HEAD" else (git_dir / "HEAD").read_text().strip()
    except (OSError, Unsupported):
        pass
    proc = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "-q", "--verify", "HEAD"], capture_output=True, text=True
    )
    return proc.stdout.strip() or None


class Evidence:
    """The runs' commits of one root and the trace files they committed; see the module docstring."""

    _open: dict[Path, "Evidence"] = {}
    _lock = threading.Lock()  # runs of one process (delegated children) share the instance

    def __init__(self, root: Path):
        self.root = Path(root)
        self._prefix = str(self.root) + os.sep
        self.cache_path = self.root / ".llmos" / "cache" / "evidence.json"
        self.tip = ""  # the HEAD whose history has been read
        self.runs: dict[str, str] = {}  # trace id -> its run's commit ("" when several commits claim the id)
        self.committed: dict[str, list[str]] = {}  # trace id -> [blob sha, frontmatter digest] as committed
        self.dirty = 0
        self._seen: dict[str, tuple[tuple[int, int, int], str | None]] = {}  # rel -> (stat, verdict)

    @classmethod
    def for_root(cls, root: Path) -> "Evidence":
        """The process-wide evidence of ``root``, brought up to date with HEAD."""
        key = Path(root).resolve()
        with cls._lock:
            ev = cls._open.get(key)
            if ev is None:
                ev = cls._open[key] = cls(key)
                ev.load()
            ev.refresh()
        return ev

    def load(self) -> None:
        try:
            data = json.loads(self.cache_path.read_text(encoding="utf-8"))
            if data.get("version") == CACHE_VERSION:
                self.tip, self.runs, self.committed = data["tip"], data["runs"], data["committed"]
        except (OSError, ValueError, TypeError, KeyError):
            self.tip, self.runs, self.committed = "", {}, {}  # missing or damaged: read from git again

    def save(self) -> None:
        data = {"version": CACHE_VERSION, "tip": self.tip, "runs": self.runs, "committed": self.committed}
        atomic_write(self.cache_path, json.dumps(data, separators=(",", ":")))
        self.dirty = 0

    def refresh(self) -> None:
        """Read the run commits HEAD gained since the last look, and the trace files they hold."""
        head = head_of(self.root)
        if head is None or head == self.tip:
            return
        records = self._log(head, self.tip)
        if records is None:  # the last tip is gone (a rewritten history, a new clone): read it all again
            self.runs, self.committed = {}, {}
            records = self._log(head, "") or []
        fresh = []
        for sha, message in records:
            tid = parse_trailers(message).get("Trace-Id", "")
            if not re.fullmatch(r"[\w.-]{1,80}", tid):
                continue
            known = self.runs.get(tid)
            if known is None:
                self.runs[tid] = sha
                fresh.append(tid)
            elif known != sha:  # two commits claim one run: neither is taken as its record
                self.runs[tid] = ""
                self.committed.pop(tid, None)
        self._fetch([t for t in fresh if self.runs[t]])
        self.tip = head
        self._seen.clear()
        self.dirty += len(records)
        if self.dirty >= 20:
            self.save()

    def _log(self, head: str, since: str) -> list[tuple[str, str]] | None:
        fmt = f"--format=%H{_FIELD}%B{_RECORD}"
        args = ["git", "-C", str(self.root), "log", fmt, "--grep=^Trace-Id: ", head] + ([f"^{since}"] if since else [])
        proc = subprocess.run([*args, "--"], capture_output=True, text=True)
        if proc.returncode != 0:
            return None
        records = [r.strip("\n").split(_FIELD, 1) for r in proc.stdout.split(_RECORD) if r.strip()]
        return [(r[0], r[1]) for r in records if len(r) == 2]

    def _fetch(self, ids: list[str]) -> None:
        """The blob and frontmatter of each run's trace as its commit holds it (one ``cat-file --batch``)."""
        if not ids:
            return
        query = "".join(f"{self.runs[t]}:{canonical(t)}\n" for t in ids).encode()
        out = subprocess.run(
            ["git", "-C", str(self.root), "cat-file", "--batch"], input=query, capture_output=True
        ).stdout
        pos = 0
        for tid in ids:
            end = out.index(b"\n", pos)
            header = out[pos:end].split()
            pos = end + 1
            if len(header) != 3 or header[1] != b"blob":  # "<name> missing": the commit lacks the file
                self.committed[tid] = ["", ""]
                continue
            data = out[pos : pos + int(header[2])]
            pos += int(header[2]) + 1
            self.committed[tid] = [header[0].decode(), _digest(split(data)[0])]

    def verdict(self, rel: str, trace_id: str) -> str | None:
        """Why the trace file ``rel`` (claiming to be run ``trace_id``) is not evidence; None if it is."""
        try:
            st = os.stat(self._prefix + rel)
        except OSError:
            return f"{rel} is gone"
        key = (st.st_mtime_ns, st.st_size, st.st_ino)
        seen = self._seen.get(rel)
        if seen is None or seen[0] != key:
            seen = self._seen[rel] = (key, self._judge(rel, trace_id))
        return seen[1]

    def _judge(self, rel: str, trace_id: str) -> str | None:
        if rel != canonical(trace_id):
            return f"{rel} is not where run {trace_id} keeps its trace ({canonical(trace_id)})"
        sha = self.runs.get(trace_id)
        if sha is None:
            return f"{rel} was never committed by its run (no commit has Trace-Id: {trace_id})"
        if not sha:
            return f"more than one commit claims Trace-Id: {trace_id}"
        blob, front = self.committed.get(trace_id, ["", ""])
        if not blob:
            return f"the commit of run {trace_id} ({sha[:10]}) does not contain {rel}"
        with open(self._prefix + rel, "rb") as fh:
            data = fh.read()
        if blob_sha(data) == blob:
            return None
        head, body = split(data)
        if _digest(head) != front:
            return f"{rel} differs from what its run committed ({sha[:10]})"
        if _ARCHIVED_BODY.match(body):
            return None  # a dream moved the body to the blob store; the data is as committed
        return f"the body of {rel} differs from what its run committed ({sha[:10]})"

    def trusted(self, entries: Iterable, why: dict[str, str] | None = None) -> list:
        """The entries (anything with ``rel`` and ``id``) that are evidence; ``why`` collects the others."""
        out = []
        for e in entries:
            reason = self.verdict(e.rel, e.id)
            if reason is None:
                out.append(e)
            elif why is not None:
                why[e.id] = reason
        return out


def ignored_traces(root: Path, limit: int = 20) -> list[str]:
    """``llmos check``'s lines for ended traces that replay and crystallization ignore, and why."""
    from .traceindex import TraceIndex

    ev = Evidence.for_root(root)
    lines = []
    for e in sorted((e for e in TraceIndex.for_root(root).entries.values() if e.ended), key=lambda e: e.rel):
        reason = ev.verdict(e.rel, e.id)
        if reason is not None:
            lines.append(f"{e.rel}: ignored by replay and crystallization: {reason}")
    if len(lines) > limit:
        lines = lines[:limit] + [f"... and {len(lines) - limit} more traces ignored by replay and crystallization"]
    return lines

"""Reading the audit trail: runs from git history by their ``Trace-Id`` trailer.

One ``git log`` subprocess, filtered by git itself, so ``llmos log`` imports no git library and
costs milliseconds however long the history is.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..errors import RootError

_FIELD, _RECORD = "\x1f", "\x1e"


@dataclass
class LogEntry:
    sha: str
    date: str
    subject: str
    trailers: dict[str, str]


def parse_trailers(message: str) -> dict[str, str]:
    """The ``Key: value`` lines that end a commit message, in order."""
    out = {}
    for line in reversed(message.strip().splitlines()):
        key, sep, value = line.partition(": ")
        if not sep or " " in key:
            break
        out[key] = value
    return dict(reversed(list(out.items())))


def _git_log(root: Path, fields: tuple[str, ...], *args: str) -> tuple[subprocess.CompletedProcess, list[list[str]]]:
    """``git log`` with ``fields`` (pretty-format codes) per commit, newest first, split into lists."""
    fmt = _FIELD.join(fields) + _RECORD
    proc = subprocess.run(["git", "-C", str(root), "log", f"--format={fmt}", *args], capture_output=True, text=True)
    records = [r.strip("\n").split(_FIELD) for r in proc.stdout.split(_RECORD) if r.strip()]
    return proc, [r for r in records if len(r) == len(fields)]


def run_log(root: Path, limit: int = 20) -> list[LogEntry]:
    """Runs recorded in git history (commits with a Trace-Id trailer), newest first."""
    proc, records = _git_log(root, ("%H", "%cI", "%s", "%B"), f"-n{limit}", "--grep=^Trace-Id: ", "HEAD", "--")
    if proc.returncode != 0:
        if "does not have any commits" in proc.stderr or "unknown revision" in proc.stderr:
            return []
        raise RootError(
            f"cannot read git history of {root}: {proc.stderr.strip().splitlines()[-1:]}",
            hint="an OS root must be a git repository: `git init` it, or `llmos init DIR`",
        )
    entries = [LogEntry(sha, date, subject, parse_trailers(body)) for sha, date, subject, body in records]
    return [e for e in entries if "Trace-Id" in e.trailers]


def trace_is_committed(root: Path, rel: str, trace_id: str) -> str | None:
    """Why the trace file ``rel`` cannot be trusted as its run's record, or None if it can: it must be
    as committed (no uncommitted edit), first committed by its own run (``Trace-Id: ID``), and since
    then changed only by dream cycles (``Dream:`` trailer, which move trace bodies to the blob store)."""
    status = subprocess.run(
        ["git", "-C", str(root), "status", "--porcelain", "--", rel], capture_output=True, text=True
    )
    if status.returncode != 0 or status.stdout.strip():
        return f"{rel} differs from what was committed"
    proc, commits = _git_log(root, ("%H", "%B"), "--", rel)
    if proc.returncode != 0 or not commits:
        return f"{rel} was never committed"
    if parse_trailers(commits[-1][1]).get("Trace-Id") != trace_id:
        return f"{rel} was first committed by something other than its run {trace_id}"
    for sha, message in commits[:-1]:
        if "Dream" not in parse_trailers(message):
            return f"{rel} was changed after its run by commit {sha[:10]}"
    return None

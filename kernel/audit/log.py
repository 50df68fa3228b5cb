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


def run_log(root: Path, limit: int = 20) -> list[LogEntry]:
    """Runs recorded in git history (commits with a Trace-Id trailer), newest first."""
    fmt = _FIELD.join(("%H", "%cI", "%s", "%B")) + _RECORD
    proc = subprocess.run(
        ["git", "-C", str(root), "log", f"-n{limit}", "--grep=^Trace-Id: ", f"--format={fmt}", "HEAD", "--"],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        if "does not have any commits" in proc.stderr or "unknown revision" in proc.stderr:
            return []
        raise RootError(
            f"cannot read git history of {root}: {proc.stderr.strip().splitlines()[-1:]}",
            hint="an OS root must be a git repository: `git init` it, or `llmos init DIR`",
        )
    entries = []
    for record in proc.stdout.split(_RECORD):
        parts = record.strip("\n").split(_FIELD)
        if len(parts) == 4:
            trailers = parse_trailers(parts[3])
            if "Trace-Id" in trailers:
                entries.append(LogEntry(parts[0], parts[1], parts[2], trailers))
    return entries

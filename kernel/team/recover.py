"""Recovery after a kill: what a dead run wrote is committed, with a trail, by the next command.

A run that is killed (SIGKILL, OOM, power) leaves its registry entry (``.llmos/runs/ID.json``, which
names every file the run wrote or was about to write), its trace (rewritten after every step) and
its files, none of them committed. The first command that opens the root afterwards
(:func:`recover`, called by ``Kernel()`` and ``llmos ps``) finds entries whose process is gone and,
for each:

- charges the run's open budget reservations (the provider may have billed the call in flight) and
  sets the trace's cost to what the ledger charged the run, so trace, trailer and ledger agree;
- marks the trace ``aborted`` with the reason if the run had not ended (a run killed after it ended
  but before its commit keeps its outcome);
- commits the trace and the files with the usual trailers and ``Outcome: aborted`` (or the outcome
  it had) in the body, saying the run was recovered;
- removes the entry, and temporary folders (sandbox copies of the root) the dead process left.

Recovery holds ``.llmos/locks/recover.lock`` so two commands never recover the same run twice.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..atomic import LockTimeout, file_lock
from ..audit.commit import TRAILERS, commit_paths, format_message
from ..errors import DocumentError
from ..procs import alive
from ..scrub import scrub
from ..traces import TraceWriter, now_iso, read_trace, tokens_text, trace_path
from .runs import RunEntry, entries

TEMP_PREFIXES = ("llmos-sandbox-", "llmos-agent-", "llmos-index-", "llmos-fleet-")
_PID_IN_NAME = re.compile(r"^llmos-[a-z]+-(\d+)-")


@dataclass
class Recovered:
    """One dead run brought into history."""

    id: str
    outcome: str
    paths: list[str]
    commit: str | None


def recover(root: Path, budget: Callable[[], Any] | None = None) -> list[Recovered]:
    """Commit the runs of dead processes (see the module doc); returns what was done. Cheap when
    there is nothing to do: one folder listing. ``budget`` makes the root's
    :class:`~llmos.budget.gate.Budget` (None: the trace's cost is left as the run recorded it)."""
    root = Path(root)
    dead = [(path, e) for path, e in entries(root) if not alive(e.__dict__)]
    if not dead:
        return []
    gate = budget() if budget is not None else None
    done = []
    try:
        with file_lock(root / ".llmos" / "locks" / "recover.lock", timeout=30):
            for path, entry in dead:
                if not path.exists():  # another command recovered it first
                    continue
                done.append(_recover_one(root, path, entry, gate))
    except LockTimeout:
        return done  # another command is recovering these runs right now
    sweep_temp_dirs()
    return done


def _recover_one(root: Path, entry_path: Path, entry: RunEntry, budget: Any) -> Recovered:
    trace = trace_path(root, entry.id)
    rel = trace.relative_to(root).as_posix()
    paths = sorted({p for p in entry.written if _safe(p)} | ({rel} if trace.exists() else set()))
    outcome, sha = "aborted", None
    meta = None
    if trace.exists():
        try:
            meta = read_trace(trace)
        except DocumentError:
            meta = None  # a trace cut short is committed as it is: a person can read what is there
    if meta is not None:
        if budget is not None:
            meta.cost_usd = round(budget.settle_dead_run(entry.id), 8)
        if meta.ended is None:
            meta.outcome = "aborted"
            meta.error = f"the run's process (pid {entry.pid}) died before the run ended; recovered by llmos"
            meta.ended = now_iso()
        TraceWriter(root, meta, scrub=scrub).save()
        outcome = meta.outcome
    if paths:
        sha = commit_paths(root, paths, _message(entry, meta, outcome))
    with contextlib.suppress(FileNotFoundError):
        entry_path.unlink()
    return Recovered(entry.id, outcome, paths, sha)


def _safe(rel: str) -> bool:
    """A registry entry is a local file: commit only plain paths inside the root, never into .git."""
    parts = rel.split("/")
    return bool(rel) and not rel.startswith("/") and ".." not in parts and parts[0].lower() not in (".git", ".llmos")


def run_trailers(meta: Any) -> dict[str, str]:
    """The audit trailers of a run's commit (``Trace-Id`` ... ``Cost-USD``) from its trace."""
    values = (meta.id, meta.agent, meta.mode, meta.model, tokens_text(meta.tokens), f"{meta.cost_usd:.6f}")
    return dict(zip(TRAILERS, values))


def _message(entry: RunEntry, meta: Any, outcome: str) -> str:
    if meta is not None:
        trailers, steps = run_trailers(meta), len(meta.steps)
    else:  # no readable trace: what the registry entry knows
        values = (entry.id, entry.agent, entry.mode, "", "0/0", f"{entry.cost_usd:.6f}")
        trailers, steps = {k: v for k, v in zip(TRAILERS, values) if v}, entry.step
    body = (
        f"Outcome: {outcome}; {steps} steps. Recovered: the run's process (pid {entry.pid}) died "
        "before it committed; this commit holds what it wrote."
    )
    return scrub(format_message(f"llmos: {entry.goal}", trailers, body=body))


def sweep_temp_dirs() -> int:
    """Remove temporary folders (named ``llmos-KIND-PID-...``, see :func:`llmos.procs.temp_prefix`)
    whose process is gone; returns how many. A folder without a pid in its name is never touched."""
    base = Path(tempfile.gettempdir())
    removed = 0
    with contextlib.suppress(OSError):
        for item in os.scandir(base):
            m = _PID_IN_NAME.match(item.name)
            if not m or not item.name.startswith(TEMP_PREFIXES) or not item.is_dir(follow_symlinks=False):
                continue
            if alive({"pid": int(m.group(1))}):
                continue
            shutil.rmtree(item.path, ignore_errors=True)
            removed += 1
    return removed

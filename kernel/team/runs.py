"""The run registry: one small JSON file per running run under ``.llmos/runs/``.

``Kernel.run`` writes ``.llmos/runs/<trace id>.json`` when a run starts, updates it after every
step (step number, tokens, cost) and before every file the run writes (``written``), and removes it
when the run has committed. ``llmos ps`` lists the entries whose process is still alive; an entry
left by a killed process is what :mod:`llmos.team.recover` commits the run's trace and files from.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..scrub import scrub
from ..atomic import atomic_write
from ..procs import alive, me

FORMAT = "llmos-run/1"


def runs_dir(root: Path) -> Path:
    return Path(root) / ".llmos" / "runs"


@dataclass
class RunEntry:
    """What ``llmos ps`` shows about one running run."""

    id: str
    agent: str
    goal: str
    pid: int
    pstart: str | None = None
    host: str | None = None
    parent: str | None = None
    depth: int = 0
    mode: str = ""
    started: str = ""
    step: int = 0
    tokens: dict[str, int] = field(default_factory=lambda: {"input": 0, "output": 0})
    cost_usd: float = 0.0
    written: list[str] = field(default_factory=list)  # root-relative paths written or about to be

    def as_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, **self.__dict__}


class Registration:
    """This process's entry for one run: created on start, updated per step, removed at the end."""

    def __init__(self, root: Path, entry: RunEntry):
        self.path = runs_dir(root) / f"{entry.id}.json"
        self.entry = entry
        self._write()

    @classmethod
    def start(
        cls, root: Path, *, id: str, agent: str, goal: str, parent: str | None, depth: int, mode: str, started: str
    ) -> "Registration":
        who = me()
        return cls(
            root,
            RunEntry(
                id=id,
                agent=agent,
                goal=scrub(goal),
                pid=who["pid"],
                pstart=who["pstart"],
                host=who["host"],
                parent=parent,
                depth=depth,
                mode=mode,
                started=started,
            ),
        )

    def update(self, *, step: int, tokens: dict[str, int], cost_usd: float) -> None:
        e = self.entry
        e.step, e.tokens, e.cost_usd = step, {"input": tokens["input"], "output": tokens["output"]}, cost_usd
        self._write()

    def wrote(self, rel: str) -> None:
        """Record ``rel`` before the run writes it, so a kill mid-write still leaves its name here."""
        if rel not in self.entry.written:
            self.entry.written.append(rel)
            self._write()

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _write(self) -> None:
        # not fsynced: the registry is a live view, rebuilt by running processes, never history
        atomic_write(self.path, json.dumps(self.entry.as_dict(), indent=1) + "\n", durable=False)


def entries(root: Path) -> list[tuple[Path, RunEntry]]:
    """Every readable registry entry, alive or not (unreadable ones are skipped)."""
    out = []
    folder = runs_dir(root)
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            data.pop("format", None)
            out.append((path, RunEntry(**data)))
        except (OSError, ValueError, TypeError):
            continue
    return out


def running(root: Path) -> list[RunEntry]:
    """Every run whose process is alive, oldest first. Entries of dead processes are left for
    :func:`llmos.team.recover.recover`."""
    out = [entry for _, entry in entries(root) if alive(entry.__dict__)]
    return sorted(out, key=lambda e: (e.started, e.id))


def is_running(root: Path, run_id: str) -> bool:
    """True if ``run_id`` has a registry entry whose process is alive."""
    path = runs_dir(root) / f"{run_id}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return alive(data)

"""The scheduler: when each job of ``schedule:`` last ran, when it runs next, and the loop that runs
them in ``llmos serve``.

State: ``.llmos/schedule.json`` (``llmos-schedule/1``): per job, when it was first seen (``since``)
and its last run (start, end, outcome, trace, commit). The history itself is in git (the job's trace
and commit); the file only says where each job is. A job is due when the first fire time of its cron
expression after its last run (or after ``since``) has passed; however many fire times passed while
nothing ran, it runs once (``catch_up``). A job never overlaps itself: each holds
``.llmos/locks/job-NAME.lock`` while it runs, across threads and processes (a timer's
``llmos schedule run-due`` and ``llmos serve`` at once). While the root is halted no job starts.
"""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator

from ..atomic import atomic_write, file_lock
from ..errors import LockTimeout
from ..halt import halt_reason
from . import jobs as jobs_mod
from .jobs import Job

FORMAT = "llmos-schedule/1"


def now() -> datetime:
    return datetime.now().astimezone()


def state_path(root: Path) -> Path:
    return Path(root) / ".llmos" / "schedule.json"


@contextmanager
def _state(root: Path) -> Iterator[dict[str, Any]]:
    with file_lock(Path(root) / ".llmos" / "locks" / "schedule.lock", timeout=30):
        try:
            state = json.loads(state_path(root).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            state = {}
        state.setdefault("format", FORMAT)
        state.setdefault("jobs", {})
        yield state
        atomic_write(state_path(root), json.dumps(state, indent=1, sort_keys=True) + "\n", durable=False)


def next_run(job: Job, after: datetime) -> datetime:
    from croniter import croniter

    return croniter(job.cron, after).get_next(datetime)


def _stamp(when: str | None) -> datetime | None:
    return datetime.fromisoformat(when) if when else None


def status(root: Path, jobs: list[Job], at: datetime | None = None) -> list[dict[str, Any]]:
    """One row per job: cron, last run, next run, and whether it is due (``llmos schedule``).
    Records ``since`` for jobs seen for the first time."""
    at = at or now()
    with _state(root) as state:
        rows = []
        for job in jobs:
            entry = state["jobs"].setdefault(job.name, {"since": at.isoformat(timespec="seconds")})
            ref = _stamp((entry.get("last") or {}).get("started")) or _stamp(entry["since"])
            nxt = next_run(job, ref)
            rows.append(
                {
                    "job": job.name,
                    "kind": job.kind,
                    "cron": job.cron,
                    "last": entry.get("last"),
                    "next": nxt.isoformat(timespec="seconds"),
                    "due": nxt <= at,
                    "running": _held(root, job),
                }
            )
    return rows


def _lock(root: Path, job: Job) -> Path:
    return Path(root) / ".llmos" / "locks" / f"job-{job.name}.lock"


def _held(root: Path, job: Job) -> bool:
    try:
        with file_lock(_lock(root, job), timeout=0):
            return False
    except LockTimeout:
        return True


def run_job(kernel: Any, job: Job, at: datetime | None = None) -> dict[str, Any] | None:
    """Run ``job`` now unless it is running already or the root is halted; its ``last`` entry, or None."""
    if halt_reason(kernel.root):
        return None
    try:
        with file_lock(_lock(kernel.root, job), timeout=0):
            started = (at or now()).isoformat(timespec="seconds")
            out = jobs_mod.run(kernel, job)
            last = {
                "started": started,
                "ended": now().isoformat(timespec="seconds"),
                "outcome": out.outcome,
                "trace": out.trace,
                "commit": out.commit,
                "summary": out.summary[:300],
            }
            with _state(kernel.root) as state:
                state["jobs"].setdefault(job.name, {"since": started})["last"] = last
            return last
    except LockTimeout:
        return None  # the same job is running (here or in another process): no overlap


def run_due(
    kernel: Any, jobs: list[Job] | None = None, at: datetime | None = None
) -> list[tuple[str, dict[str, Any] | None]]:
    """Run every due job once, one after another (``llmos schedule run-due``, a timer's command)."""
    jobs = jobs_mod.jobs(kernel.config) if jobs is None else jobs
    due = [r["job"] for r in status(kernel.root, jobs, at) if r["due"]]
    return [(job.name, run_job(kernel, job)) for job in jobs if job.name in due]


class Scheduler:
    """The loop of ``llmos serve``: missed jobs once at start (``catch_up``), then each job when due,
    each in its own thread so a long dream never delays a goal. :meth:`stop` ends it."""

    def __init__(self, kernel: Any, say: Callable[[str], None] = lambda line: None, tick: float = 20.0):
        self.kernel, self.say, self.tick = kernel, say, tick
        self.jobs = jobs_mod.jobs(kernel.config)
        self._stop = threading.Event()
        self._running: dict[str, threading.Thread] = {}
        self.thread = threading.Thread(target=self._loop, name="llmos-scheduler", daemon=True)

    def start(self) -> "Scheduler":
        if not self.kernel.config.schedule.catch_up:
            with _state(self.kernel.root) as state:  # forget what was missed: count from now
                for job in self.jobs:
                    entry = state["jobs"].setdefault(job.name, {})
                    entry["since"], entry["last"] = now().isoformat(timespec="seconds"), None
        self.thread.start()
        return self

    def stop(self, wait: float = 5.0) -> None:
        self._stop.set()
        self.thread.join(wait)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.jobs = jobs_mod.jobs(self.kernel.config)  # a hot-reloaded schedule: from the next tick
            rows = [] if halt_reason(self.kernel.root) else status(self.kernel.root, self.jobs)
            for row in rows:
                alive = self._running.get(row["job"])
                if row["due"] and not (alive and alive.is_alive()):
                    job = next(j for j in self.jobs if j.name == row["job"])
                    t = threading.Thread(target=self._run, args=(job,), name=f"llmos-job-{job.name}", daemon=True)
                    self._running[job.name] = t
                    t.start()
            self._stop.wait(self.tick)

    def _run(self, job: Job) -> None:
        last = run_job(self.kernel, job)
        if last is None:
            self.say(f"schedule: {job.name} not started (halted, or still running)")
        else:
            self.say(
                f"schedule: {job.name} {last['outcome']}: trace {last['trace']} commit {(last['commit'] or '-')[:10]}"
            )

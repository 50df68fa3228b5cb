"""One scheduled job, run once: the maintenance it does, and its outcome as a trace and a commit.

A goal job is a normal run (``Kernel.run``: its own trace and commit). The maintenance jobs
(``dream``, ``vault-snapshot``, ``crystallize``, ``blobs-repack``) call the library function the CLI
calls, then write a trace (agent ``scheduler``, mode ``SCHEDULED``, model ``none``, one step naming
the job, no goal signature so no mode or dream ever learns from it) and commit it with the usual
trailers and ``Job: NAME``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ..audit.commit import TRAILERS, commit_paths, format_message
from ..errors import LlmosError
from ..scrub import scrub
from ..traces import Step, TraceMeta, TraceWriter, new_trace_id, now_iso, tokens_text

KINDS = ("dream", "vault-snapshot", "crystallize", "blobs-repack", "goal")


@dataclass
class Job:
    name: str  # dream, vault-snapshot, crystallize, blobs-repack or goal-NAME
    kind: str
    cron: str
    goal: str | None = None
    agent: str | None = None
    model: str | None = None


@dataclass
class Outcome:
    outcome: str
    summary: str
    trace: str | None
    commit: str | None


def jobs(config: Any) -> list[Job]:
    """The jobs ``schedule:`` of ``config`` sets (those with a cron expression)."""
    s = config.schedule
    out = [
        Job(kind.replace("_", "-"), kind.replace("_", "-"), getattr(s, kind))
        for kind in ("dream", "vault_snapshot", "crystallize", "blobs_repack")
        if getattr(s, kind)
    ]
    return out + [Job(f"goal-{g.name}", "goal", g.cron, g.goal, g.agent, g.model) for g in s.goals]


def run(kernel: Any, job: Job) -> Outcome:
    """Run ``job`` now (the caller holds its lock); never raises for a job that failed."""
    if job.kind == "goal":
        try:
            res = kernel.run(job.goal, agent=job.agent, model=job.model)
            return Outcome(res.outcome, scrub(res.result or res.error or ""), res.trace_id, res.commit)
        except LlmosError as exc:
            run_ = getattr(exc, "run", None)
            return Outcome(getattr(run_, "outcome", "failure"), str(exc), getattr(run_, "trace_id", None), None)
    started, clock = now_iso(), time.monotonic()
    try:
        summary, ok = MAINTENANCE[job.kind](kernel), True
    except LlmosError as exc:
        summary, ok = str(exc), False
    except Exception as exc:  # a bug or an OS error: the job failed, the scheduler goes on
        summary, ok = f"{type(exc).__name__}: {exc}", False
    return _record(kernel, job, "success" if ok else "failure", summary, started, time.monotonic() - clock)


def _record(kernel: Any, job: Job, outcome: str, summary: str, started: str, seconds: float) -> Outcome:
    tid = new_trace_id()
    meta = TraceMeta(
        id=tid,
        goal=f"scheduled job {job.name} ({job.cron})",
        goal_signature="",
        agent="scheduler",
        agent_hash="",
        mode="SCHEDULED",
        model="none",
        started=started,
    )
    writer = TraceWriter(kernel.root, meta, scrub=scrub)
    writer.add_step(
        Step(
            n=1,
            tool=job.kind,
            args={"cron": job.cron},
            result=summary,
            ok=outcome == "success",
            seconds=round(seconds, 3),
        )
    )
    writer.end(
        outcome, result=summary if outcome == "success" else None, error=None if outcome == "success" else summary
    )
    values = (tid, "scheduler", "SCHEDULED", "none", tokens_text(meta.tokens), f"{meta.cost_usd:.6f}")
    trailers = {**dict(zip(TRAILERS, values)), "Job": job.name}
    message = format_message(
        f"llmos: scheduled {job.name}", trailers, body=f"Outcome: {outcome}; 1 steps.\n\n{summary}"
    )
    return Outcome(outcome, summary, tid, commit_paths(kernel.root, [writer.rel], scrub(message)))


def _dream(kernel: Any) -> str:
    from ..dream import dream

    report = dream(kernel.root, kernel.config)
    where = f"; committed {report.local_commit[:10]}" if report.local_commit else ""
    branch = f"; for review: {report.branch}" if report.branch else ""
    return (report.text().strip().splitlines() or ["dreamt"])[0] + where + branch


def _snapshot(kernel: Any) -> str:
    from ..vault import snapshot

    info = snapshot(kernel.root, "scheduled", kernel.config.vault)
    return f"sealed {info.id}: {info.files} files, {info.bytes:,} bytes, commit {info.commit[:12]}"


def _crystallize(kernel: Any) -> str:
    from ..modes.learned import crystallize_now

    rows = crystallize_now(kernel)
    return "; ".join(f"{r['state']} {r['name']}" for r in rows) or "nothing to crystallize"


def _repack(kernel: Any) -> str:
    from ..blobs import BlobStore

    with BlobStore.open(kernel.root / ".llmos" / "blobs") as store:
        r = store.repack(max_bytes=int(kernel.config.dream.repack_mb * 1e6))
    return f"repacked {r.packs_rewritten} packs ({r.records} records): {r.bytes_before} -> {r.bytes_after} bytes"


MAINTENANCE = {"dream": _dream, "vault-snapshot": _snapshot, "crystallize": _crystallize, "blobs-repack": _repack}

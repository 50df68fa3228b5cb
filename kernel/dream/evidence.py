"""What the traces say: runs grouped by goal template, and which groups earn a promotion or a lesson.

A workflow is every ended run of one goal template (``goal_signature``). Its uses, successes and
contexts (the distinct agents and projects it ran in; a run's project is its ``project`` slot) are
counted from the trace files, so the evidence is always the traces themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..modes.traceindex import read_frontmatter
from ..traces import iter_trace_files
from .config import DreamConfig, TierRule


@dataclass
class Run:
    id: str
    rel: str
    goal: str
    agent: str
    project: str | None
    started: str
    outcome: str
    steps: list[dict[str, Any]]
    error: str | None


@dataclass
class Group:
    """Every ended run of one goal template."""

    signature: str
    template: str
    runs: list[Run] = field(default_factory=list)

    @property
    def uses(self) -> int:
        return len(self.runs)

    @property
    def successes(self) -> int:
        return sum(1 for r in self.runs if r.outcome == "success")

    @property
    def failures(self) -> list[Run]:
        return [r for r in self.runs if r.outcome == "failure"]

    @property
    def rate(self) -> float:
        return self.successes / self.uses if self.uses else 0.0

    @property
    def contexts(self) -> set[str]:
        return {f"agent:{r.agent}" for r in self.runs} | {f"project:{r.project}" for r in self.runs if r.project}

    @property
    def agents(self) -> list[str]:
        return sorted({r.agent for r in self.runs})

    @property
    def projects(self) -> list[str]:
        return sorted({r.project for r in self.runs if r.project})

    def meets(self, rule: TierRule) -> bool:
        return (
            self.uses >= rule.min_uses
            and self.rate >= rule.min_success - 1e-9
            and len(self.contexts) >= rule.min_contexts
        )


@dataclass
class Candidate:
    """One memory the dream would write: a workflow for ``tier`` or a lesson."""

    kind: str  # "workflow" | "lesson"
    tier: str  # "beta" | "alpha" | "delta"
    group: Group

    def row(self) -> dict[str, Any]:
        g = self.group
        return {
            "kind": self.kind,
            "tier": self.tier,
            "template": g.template,
            "uses": g.uses,
            "successes": g.successes,
            "failures": len(g.failures),
            "success_rate": round(g.rate, 3),
            "agents": g.agents,
            "projects": g.projects,
        }


def _run_of(data: dict[str, Any], rel: str) -> Run | None:
    try:
        return Run(
            id=str(data["id"]),
            rel=rel,
            goal=str(data["goal"]),
            agent=str(data["agent"]),
            project=(data.get("slots") or {}).get("project"),
            started=str(data["started"]),
            outcome=str(data.get("outcome") or "aborted"),
            steps=list(data.get("steps") or []),
            error=data.get("error"),
        )
    except (KeyError, TypeError):
        return None


def gather(root: Path, agent: str | None = None) -> list[Group]:
    """Ended runs grouped by template (runs of ``agent`` only, when given), oldest run first."""
    groups: dict[str, Group] = {}
    for path in iter_trace_files(Path(root)):
        data = read_frontmatter(path)
        if not data or not data.get("ended") or not data.get("goal_signature"):
            continue
        run = _run_of(data, path.relative_to(root).as_posix())
        if run is None or (agent and run.agent != agent):
            continue
        sig = str(data["goal_signature"])
        g = groups.setdefault(sig, Group(sig, str(data.get("template") or data["goal"])))
        g.runs.append(run)
    for g in groups.values():
        g.runs.sort(key=lambda r: (r.started, r.id))
    return sorted(groups.values(), key=lambda g: g.signature)


def tier_of(group: Group, cfg: DreamConfig) -> str | None:
    """The highest tier a workflow earns (delta only ever as a proposal), or None."""
    for tier in ("delta", "alpha", "beta"):
        if group.meets(getattr(cfg, tier)):
            return tier
    return None


def candidates(
    root: Path, cfg: DreamConfig, agent: str | None = None, groups: list[Group] | None = None
) -> list[Candidate]:
    """Every promotion the traces support: one workflow per earned tier, and lessons from failures."""
    out = []
    for g in groups if groups is not None else gather(root, agent):
        top = tier_of(g, cfg)
        if top:
            tiers = ("beta", "alpha", "delta")
            out += [Candidate("workflow", t, g) for t in tiers[: tiers.index(top) + 1]]
        if len(g.failures) >= cfg.lesson_min_failures:
            out.append(Candidate("lesson", "beta", g))
    return out

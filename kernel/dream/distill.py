"""Candidates -> readable memories: what to do, when it applies, what went wrong before.

The deterministic distillation always works and is the same for the same traces (ids and dates come
from the evidence, not the clock), which is what makes a second dream a no-op. With
``dream.model_pass`` a model rewrites the prose, through the budget gate like any call.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from ..memory.model import Memory, MemoryMeta, folder_for, slug
from .evidence import Candidate, Group, Run

MAX_SOURCES = 50
TIER_SUFFIX = {"beta": "", "alpha": "-alpha", "delta": "-delta"}


def memory_id(c: Candidate) -> str:
    base = f"{c.kind}-{slug(c.group.template, 40)}-{slug(c.group.signature)[:6]}"
    return base + (TIER_SUFFIX[c.tier] if c.kind == "workflow" else "")


def _when(run: Run) -> datetime:
    return datetime.fromisoformat(run.started.replace("Z", "+00:00"))


def _step_line(step: dict[str, Any]) -> str:
    args = dict(step.get("args") or {})
    args.update(step.get("slot_args") or {})
    text = json.dumps(args, ensure_ascii=False, sort_keys=True)
    return f"`{step.get('tool')}` with {text[:160]}"


def _recipe(run: Run) -> list[str]:
    steps = [s for s in run.steps if s.get("ok") and s.get("tool")]
    return [f"{i}. {_step_line(s)}" for i, s in enumerate(steps, 1)] or ["1. Answer directly (no tool was needed)."]


def _failure_line(run: Run) -> str:
    bad = next((s for s in run.steps if not s.get("ok")), None)
    why = (run.error or (bad or {}).get("result") or "it ended in failure").strip().splitlines()[0][:200]
    where = f"step `{bad.get('tool')}` failed: " if bad else ""
    return f"- run {run.id}: {where}{why}"


def _evidence(g: Group) -> str:
    projects = f"; projects: {', '.join(g.projects)}" if g.projects else ""
    return f"Evidence: {g.uses} runs, {g.successes} succeeded ({g.rate:.0%}); agents: {', '.join(g.agents)}{projects}."


def body_of(c: Candidate) -> str:
    g = c.group
    wins = [r for r in g.runs if r.outcome == "success"]
    example = (wins or g.runs)[-1]
    failed = [_failure_line(r) for r in g.failures[-5:]]
    if c.kind == "workflow":
        lines = [
            f'When it applies: goals like "{g.template}" (e.g. "{example.goal}").',
            "",
            f"What to do (the steps of run {example.id}):",
            *_recipe(example),
            "",
            _evidence(g),
            "",
            "What went wrong before:",
            *(failed or ["- nothing has failed yet."]),
        ]
    else:
        lines = [
            f'Don\'t repeat what failed for goals like "{g.template}": {len(g.failures)} of {g.uses} runs failed.',
            "",
            "What went wrong:",
            *failed,
        ]
        if wins:
            lines += ["", f"What worked instead (run {wins[-1].id}):", *_recipe(wins[-1])]
    return "\n".join(lines)


def title_of(c: Candidate) -> str:
    t = c.group.template[:150]
    return f"Workflow: {t}" if c.kind == "workflow" else f"Lesson: {t} failed {len(c.group.failures)} times"


def memory_of(root: Path, c: Candidate) -> Memory:
    """The memory a candidate becomes (deterministic: the same traces give the same file)."""
    g = c.group
    mid = memory_id(c)
    runs = g.failures if c.kind == "lesson" else g.runs
    rate = g.rate if c.kind == "workflow" else 1 - g.rate
    meta = MemoryMeta(
        id=mid,
        tier=c.tier,
        kind=c.kind,
        title=title_of(c),
        agent=g.agents[0] if len(g.agents) == 1 else None,
        tags=["dream", c.kind, *(["proposal"] if c.tier == "delta" else [])],
        created=_when(runs[0]),
        updated=_when(runs[-1]),
        valid_from=_when(runs[0]),
        sources=[r.id for r in runs][-MAX_SOURCES:],
        uses=g.uses,
        successes=g.successes,
        confidence=round(min(max(rate, 0.0), 1.0), 3),
    )
    return Memory(meta, body_of(c), folder_for(root, c.tier, None) / f"{mid}.md")


def same_evidence(old: MemoryMeta, new: MemoryMeta) -> bool:
    """Nothing new since ``old`` was written: the dream leaves it alone (even its prose)."""
    return (old.uses, old.successes, old.sources) == (new.uses, new.successes, new.sources)


def improve(root: Path, memory: Memory, config: Any) -> dict[str, Any]:
    """Let the configured model rewrite ``memory``'s prose, through the budget gate. Errors propagate
    (the dream then aborts with nothing written); an empty answer keeps the deterministic text."""
    from ..backends import make_backend, parse_spec
    from ..budget.call import ask
    from ..budget.gate import Budget
    from ..prompts import render_file
    from ..syscalls.files import finish_schema

    backend = make_backend(parse_spec(config.dream.model, config.models), config=config, root=root)
    messages = [
        {
            "role": "user",
            "content": render_file(root, "dream", kind=memory.meta.kind, title=memory.meta.title, text=memory.body),
        }
    ]
    reply, cost = ask(
        backend, messages, [finish_schema()], budget=Budget(root, config.budget), agent=memory.meta.agent, kind="dream"
    )
    out = next((str(c.args.get("result", "")) for c in reply.tool_calls if c.name == "finish"), reply.text).strip()
    if out:
        memory.body = out
    return {
        "model": backend.model,
        "input": reply.usage.input,
        "output": reply.usage.output,
        "cost_usd": cost,
        "kept": bool(out),
    }

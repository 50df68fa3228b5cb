"""Running the chosen mode, with the fallback chain, and learning after the run.

CRYSTALLIZED fails -> FOLLOWER (if a proven trace exists) -> MIXED -> LEARNER; FOLLOWER fails ->
MIXED guided by the same trace, told what was already done. Each fallback is appended to
``decision.fallbacks`` in the trace (mode, tool or source, error), which is also how the failed
use counts against that tool or trace. After the run, a failing tool may be demoted and a
template that became eligible is crystallized (each a git commit of its own).
"""

from __future__ import annotations

import json
from typing import Any, Callable, TYPE_CHECKING

from ..backends import Backend
from .crystallize import crystallize_due, demote_if_failing
from ..errors import DocumentError, LlmosError
from ..loop import LoopResult, run_loop
from .choose import LazyBackend, Plan
from ..prompts import render_file
from .replay import Attempt, StepSink, replay, run_tool
from ..syscalls import Context
from .traceindex import TraceIndex
from ..traces import TraceMeta, read_trace
from . import toolstate

if TYPE_CHECKING:
    from ..syscalls import Host

STEP_CHARS = 300


def _fallback(meta: TraceMeta, mode: str, what: dict[str, str], error: str | None) -> None:
    meta.decision = meta.decision or {}
    meta.decision.setdefault("fallbacks", []).append({"mode": mode, **what, "error": error or "failed"})


def _guidance(kernel: "Host", guide: TraceMeta, meta: TraceMeta, done: list[str]) -> str:
    steps = [
        f"{n}. {s.tool} {json.dumps(s.args, ensure_ascii=False)[:STEP_CHARS]}"
        for n, s in enumerate((s for s in guide.steps if s.ok and s.tool), 1)
    ]
    return render_file(
        kernel.root,
        "mixed",
        similar_goal=guide.goal,
        similar_slots=json.dumps(guide.slots),
        slots=json.dumps(meta.slots),
        steps="\n".join(steps) or "(none)",
        done="\n".join(f"- {d}" for d in done) or "Nothing yet.",
    )


def _zero_token(kernel: "Host", plan: Plan, meta: TraceMeta, sink: StepSink) -> tuple[Attempt, str]:
    """Try CRYSTALLIZED then FOLLOWER as planned; return the last attempt and the mode to go on with."""
    mode = plan.mode
    if mode == "CRYSTALLIZED" and plan.tool is not None:
        path = toolstate.paths(kernel.root, plan.tool.name)[0]
        cfg = kernel.config.crystallize
        attempt = run_tool(path, plan.tool.slots, meta.slots, sink, timeout=cfg.timeout_s, unsandboxed=cfg.unsandboxed)
        if attempt.ok:
            return attempt, mode
        _fallback(meta, mode, {"tool": plan.tool.name}, attempt.error)
        mode = "FOLLOWER" if plan.script else "MIXED"
    if mode == "FOLLOWER" and plan.follow is not None and plan.script is not None:
        attempt = replay(plan.script, sink)
        if attempt.ok:
            meta.decision["source"] = plan.follow.id
            return attempt, mode
        _fallback(meta, mode, {"source": plan.follow.id}, attempt.error)
        plan.guide, mode = plan.follow, "MIXED"
    return Attempt(False, done=sink.done), mode


def execute(
    kernel: "Host",
    backend: Backend,
    ctx: Context,
    messages: list[dict[str, Any]],
    *,
    max_steps: int,
    recorder: Any,
    plan: Plan | None = None,
    build_messages: Callable[[], list[dict[str, Any]]] | None = None,
) -> LoopResult:
    """Run ``plan`` (none: the plain LLM loop); ``build_messages`` gives the model its context when a
    zero-token plan falls back to it."""
    if plan is None:
        return run_loop(backend, kernel.syscalls, ctx, messages, max_steps=max_steps, recorder=recorder)
    meta = recorder.writer.meta
    if plan.usage.input or plan.usage.output:  # the rerank call belongs to this run
        recorder.usage.add(plan.usage)
        meta.tokens = type(meta.tokens)(**recorder.usage.as_dict())
        meta.model_calls += 1
        meta.cost_usd = round(meta.cost_usd + plan.cost_usd, 8)
    sink = StepSink(kernel.syscalls, ctx, recorder)
    attempt, mode = _zero_token(kernel, plan, meta, sink)
    if attempt.ok:
        return LoopResult("success", result=attempt.result)
    if not messages:  # a zero-token plan fell back: now the model needs its context
        messages.extend(build_messages() if build_messages is not None else [])
    meta.mode = mode if mode in ("MIXED", "LEARNER", "ORCHESTRATOR") else "LEARNER"
    if meta.mode == "MIXED" and plan.guide is None:
        meta.mode = "LEARNER"
    if meta.mode == "MIXED":
        try:
            guide = read_trace(kernel.root / plan.guide.rel)
            # after the goal, not in the system prompt: the system prompt is the cached prefix
            messages.insert(2, {"role": "user", "content": _guidance(kernel, guide, meta, sink.done)})
            meta.decision["source"] = guide.id
        except DocumentError as exc:
            _fallback(meta, "MIXED", {"source": plan.guide.id}, f"guide unreadable: {exc}")
            meta.mode = "LEARNER"
    if isinstance(backend, LazyBackend):
        meta.model = backend.real().model
    recorder.writer.save()
    return run_loop(backend, kernel.syscalls, ctx, messages, max_steps=max_steps, recorder=recorder)


def learn(kernel: "Host", meta: TraceMeta) -> list[str]:
    """After a run: demote a tool that keeps failing; crystallize a template that became eligible."""
    try:
        return _learn(kernel, meta)
    except (LlmosError, OSError) as exc:  # learning never spoils a finished run; it says why it stopped
        return [f"learning skipped: {exc}"]


def _learn(kernel: "Host", meta: TraceMeta) -> list[str]:
    notes: list[str] = []
    decision = meta.decision or {}
    index = TraceIndex.for_root(kernel.root)
    failed = {f.get("tool") for f in decision.get("fallbacks") or []}
    if decision.get("tool") in failed:
        state = toolstate.load_all(kernel.root)[0].get(decision["tool"])
        if state is not None:
            after = demote_if_failing(kernel.root, state, index, kernel.config.modes, meta.id)
            if after.state != state.state:
                notes.append(f"tool {after.name} demoted: {after.report}")
    if meta.outcome == "success" and kernel.config.crystallize.auto and meta.mode != "CRYSTALLIZED":
        state = crystallize_due(kernel.root, index, kernel.config.crystallize, meta.goal_signature, meta.agent)
        if state is not None:
            notes.append(f"crystallized tool {state.name} ({state.state}): {state.report}")
    return notes

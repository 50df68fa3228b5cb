"""Choosing how to run a goal: CRYSTALLIZED -> FOLLOWER -> MIXED -> LEARNER, cheapest first.

Matching is cheap first: the exact goal signature, then the most similar templates of past traces
(:func:`~llmos.modes.candidates.find_candidates`, the seam for matching by meaning), then, only if
``modes.rerank_model`` is set, one LLM call that reranks a handful of candidates (charged to the run
through the budget). Only traces that are what their run committed are read
(:mod:`~llmos.modes.evidence`). A goal is replayed only if its own template's runs allow a script in which
every argument is explained (:mod:`~llmos.modes.follow`); a tool runs only where its tests cover the goal.
Thresholds come from ``modes:`` in system/llmos.yaml. The decision (candidates, scores, thresholds, the
replay's evidence and substitution, reason) is written into the trace.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from ..backends import Backend, Usage, make_backend, parse_spec
from ..budget.call import ask
from ..budget.gate import Budget
from .candidates import Match, find_candidates
from .crystallize import ensure_verified
from .evidence import Evidence
from .follow import family_of, follow
from ..goals import NormalGoal
from ..prompts import render_file
from .script import Script
from .slots import fill
from .traceindex import Entry, TraceIndex
from . import toolstate
from .toolstate import ToolState

if TYPE_CHECKING:
    from ..agents import Agent
    from ..syscalls import Host

MODES = ("CRYSTALLIZED", "FOLLOWER", "MIXED", "LEARNER")
ZERO_TOKEN = ("CRYSTALLIZED", "FOLLOWER")


@dataclass
class Plan:
    """The chosen mode and what it needs; ``decision`` is what the trace records."""

    mode: str
    decision: dict[str, Any]
    tool: ToolState | None = None
    follow: Entry | None = None  # the newest source of the replay script
    script: Script | None = None  # what FOLLOWER replays, every argument explained
    guide: Entry | None = None  # the trace whose steps guide MIXED
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0

    def backend(self, factory: Callable[[], Backend]) -> Backend:
        """The real backend for LLM modes; a lazy one (built only on fallback) for zero-token modes."""
        return LazyBackend(factory) if self.mode in ZERO_TOKEN else factory()


class LazyBackend:
    """A backend built on first use, so a zero-token run never loads a model it does not call."""

    def __init__(self, factory: Callable[[], Backend]):
        self._factory = factory
        self._real: Backend | None = None

    @property
    def built(self) -> bool:
        return self._real is not None

    def real(self) -> Backend:
        if self._real is None:
            self._real = self._factory()
        return self._real

    @property
    def model(self) -> str:
        return self._real.model if self._real is not None else "none"

    @property
    def max_output(self) -> int:
        return self.real().max_output

    @max_output.setter
    def max_output(self, value: int) -> None:  # the budget gate bounds one call's output this way
        self.real().max_output = value

    def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]):
        return self.real().complete(messages, tools)

    def estimate_input(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> int:
        return self.real().estimate_input(messages, tools)


def _row(idx: TraceIndex, e: Entry, match: str, similarity: float, cfg: Any) -> dict[str, Any]:
    st = idx.stats(e, cfg.prior, cfg.prior_weight, cfg.demote_after)
    return {
        "trace": e.id,
        "template": e.template,
        "match": match,
        "similarity": round(similarity, 4),
        **st.as_dict(),
        "score": round(similarity * st.confidence, 4),
    }


def _best_of(idx: TraceIndex, entries: list[Entry], m: Match, cfg: Any, trusted: Callable[[Entry], bool]):
    # Origins only: a FOLLOWER or CRYSTALLIZED run repeats its source, whose statistics it feeds.
    runs = [e for e in entries if e.mode in ("LEARNER", "MIXED") and e.outcome == "success" and e.replayable > 0]
    rows = [(_row(idx, e, m.match, m.similarity, cfg), e) for e in runs]
    rows.sort(key=lambda r: (not r[0]["demoted"], r[0]["confidence"], r[0]["uses"], r[1].id), reverse=True)
    return next((r for r in rows if trusted(r[1])), None)  # the best that is evidence, checked in that order


def _tool_row(kernel: "Host", idx: TraceIndex, ng: NormalGoal, agent: str) -> tuple[ToolState | None, dict | None]:
    tool = toolstate.for_signature(kernel.root, ng.signature, agent)
    if tool is None:
        return None, None
    tool = ensure_verified(kernel.root, tool, kernel.config.crystallize)  # an edited tool is verified first
    cfg = kernel.config.modes
    since = tool.verified or ""
    st = idx.tool_stats(tool.name, since, cfg.prior, cfg.prior_weight, cfg.demote_after)
    fresh = toolstate.files_hash(kernel.root, tool.name) == tool.hash
    row = {"name": tool.name, "state": tool.state, "verified": fresh and tool.state == "active", **st.as_dict()}
    changed = sorted(k for k, v in tool.fixed.items() if ng.slots.get(k) != v)
    split = [pair for pair in tool.ambiguous if len({_filled(t, ng.slots) for t in pair}) > 1]
    need = kernel.config.crystallize.min_assignments
    if tool.assignments < need:
        row["why_not"] = f"its tests cover {tool.assignments} slot assignment(s); {need} are needed"
    elif changed:
        row["why_not"] = f"its tests never varied {', '.join(changed)}, which this goal changes"
    elif split:
        row["why_not"] = f"its runs fit {split[0][0]!r} and {split[0][1]!r} alike, which differ for this goal"
    usable = row["verified"] and not st.demoted and "why_not" not in row
    return (tool if usable else None), row


def _filled(template: str, slots: dict[str, str]) -> str | None:
    try:
        return fill(template, slots)
    except KeyError:
        return None


def choose_mode(
    kernel: "Host",
    ng: NormalGoal,
    agent: "Agent",
    forced: str | None = None,
    *,
    budget: "Budget | None" = None,
    run_id: str = "",
) -> Plan:
    """Decide the mode for ``ng`` (``forced``: ``--mode``, else the agent's ``mode:``)."""
    started = time.perf_counter()
    cfg = kernel.config.modes
    forced = forced or agent.mode
    decision: dict[str, Any] = {
        "forced": forced,
        "thresholds": {
            "follower": cfg.follower,
            "mixed": cfg.mixed,
            "similarity": cfg.similarity,
            "min_sources": cfg.min_sources,
        },
        "candidates": [],
        "tool_candidate": None,
        "reason": "",
        "source": None,
        "tool": None,
    }
    if forced in ("LEARNER", "ORCHESTRATOR"):  # ORCHESTRATOR: the LLM loop plans and delegates
        decision["reason"] = f"mode {forced} forced"
        return _finish(Plan(forced, decision), started)
    idx = TraceIndex.for_root(kernel.root)
    evidence = Evidence.for_root(kernel.root)
    untrusted: dict[str, str] = {}
    tool, decision["tool_candidate"] = _tool_row(kernel, idx, ng, agent.name)
    family = evidence.trusted(family_of(idx, ng.signature, agent.name), untrusted)

    def trusted(e: Entry) -> bool:
        why = evidence.verdict(e.rel, e.id)
        if why is not None:
            untrusted[e.id] = why
        return why is None

    found = []
    for m in find_candidates(idx, ng, cfg.top_k):
        best = _best_of(idx, family if m.match == "exact" else family_of(idx, m.signature, agent.name), m, cfg, trusted)
        if best:
            found.append(best)
    exact = next((r for r in found if r[0]["match"] == "exact"), None)
    lexical = sorted((r for r in found if r[0]["match"] != "exact"), key=lambda r: -r[0]["score"])[: cfg.top_k]
    decision["candidates"] = ([exact[0]] if exact else []) + [r for r, _ in lexical]
    plan = Plan("LEARNER", decision, tool=tool)
    plan.script, plan.follow, decision["replay"] = follow(kernel.root, family, ng.slots, cfg, forced == "FOLLOWER")
    if untrusted:  # ignored: not what their runs committed
        decision["untrusted"] = dict(list(untrusted.items())[:10])
    guides = [
        (r, e)
        for r, e in ([exact] if exact else []) + lexical
        if not r["demoted"]
        and ((r["confidence"] >= cfg.mixed and r["similarity"] >= cfg.similarity) or forced == "MIXED")
    ]
    if len(guides) > 1 and cfg.rerank_model and budget is not None and not exact:
        guides = _rerank(kernel, ng, agent, guides, plan, budget, run_id)
    plan.guide = guides[0][1] if guides else None
    return _finish(_pick(plan, forced), started)


def _pick(plan: Plan, forced: str | None) -> Plan:
    d = plan.decision
    why_forced = f"mode {forced} forced; " if forced else ""
    if plan.tool is not None and forced in (None, "CRYSTALLIZED"):
        plan.mode, d["tool"] = "CRYSTALLIZED", plan.tool.name
        d["reason"] = why_forced + f"verified tool {plan.tool.name} matches the template"
    elif plan.script is not None and plan.follow is not None and forced in (None, "CRYSTALLIZED", "FOLLOWER"):
        plan.mode, d["source"] = "FOLLOWER", plan.follow.id
        d["reason"] = why_forced + (
            f"{len(plan.script.sources)} runs of the same template with different slot values explain every "
            f"argument (confidence {d['replay']['confidence']}, threshold {d['thresholds']['follower']})"
        )
    elif plan.guide is not None and forced != "LEARNER":
        plan.mode, d["source"] = "MIXED", plan.guide.id
        d["reason"] = why_forced + f"trace {plan.guide.id} is similar enough to guide the model"
    else:
        plan.mode = "LEARNER"
        d["reason"] = why_forced + (
            "no trace or tool is confident and similar enough"
            if d["candidates"] or d["tool_candidate"]
            else "no earlier run matches this goal"
        )
    return plan


def _finish(plan: Plan, started: float) -> Plan:
    plan.decision["mode"] = plan.mode
    plan.decision["fallbacks"] = []
    plan.decision["seconds"] = round(time.perf_counter() - started, 6)
    return plan


def _rerank(
    kernel: "Host", ng: NormalGoal, agent: "Agent", guides: list, plan: Plan, budget: "Budget", run_id: str
) -> list:
    """One model call picks the best of a few lexical candidates; its cost is charged to the run."""
    cfg = kernel.config.modes
    guides = guides[: cfg.rerank_candidates]
    backend = make_backend(parse_spec(cfg.rerank_model, kernel.config.models), config=kernel.config, root=kernel.root)
    listing = "\n".join(f"{n}. {e.goal}" for n, (_, e) in enumerate(guides, 1))
    messages = [{"role": "user", "content": render_file(kernel.root, "rerank", goal=ng.goal, candidates=listing)}]
    reply, cost = ask(backend, messages, [], budget=budget, agent=agent.name, run_id=run_id, agent_ceiling=agent.budget)
    plan.cost_usd += cost
    plan.usage.add(reply.usage)
    m = re.search(r"\d+", reply.text or "")
    choice = int(m.group(0)) if m else 0
    plan.decision["rerank"] = {
        "model": backend.model,
        "choice": choice,
        "tokens": reply.usage.as_dict(),
        "cost_usd": round(plan.cost_usd, 8),
    }
    if 1 <= choice <= len(guides):
        guides.insert(0, guides.pop(choice - 1))
    return guides

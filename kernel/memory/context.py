"""Context assembly: what an agent sees before its goal, under a token budget per model.

L0 the soul and the instructions (always, whole); L1 its working memory (always, capped); L2 a thin
"what's new since your last run" (a few lines, never full text); L3 nothing: everything else is
pulled with ``recall``. When the rendered prompt is over budget, trimming drops the lowest-value
items first (the last lines of L2, then the last lines of L1) and records what it dropped; the
trace keeps the assembled size (``context`` in the trace frontmatter).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from ..agents import Agent
from ..backends import count_tokens
from ..errors import DocumentError
from .index import MemoryIndex, all_of, any_of, between, open_index
from .config import MemoryConfig
from .working import read_working
from ..traces import ContextInfo, TraceMeta, read_trace

OPEN_ITEM = re.compile(r"^\s*(?:[-*]\s*\[ \]|.*\b(?:todo|next|open|blocked|waiting)\b)", re.IGNORECASE)
NO_WORKING = "(empty: rewrite_working_memory keeps notes for your next run)"
NOTHING_NEW = "(nothing new)"


# What an agent is told with its goal when the root has no system/prompts/context.md (made before it).
DEFAULT_CONTEXT = """

# Your working memory
${working_memory}

# What's new since your last run
${whats_new}
"""


@dataclass
class Assembled:
    text: str  # the system prompt
    info: ContextInfo
    working: str = ""
    whats_new: list[str] = field(default_factory=list)
    context: str = ""  # Layers 1 and 2 as told with the goal (empty when the system prompt holds them)


def render_layers(assembled: Assembled) -> dict[str, str]:
    """The ``working_memory`` and ``whats_new`` values of an assembled context, as templates take them."""
    return {
        "working_memory": assembled.working or NO_WORKING,
        "whats_new": "\n".join(f"- {x}" for x in assembled.whats_new) or NOTHING_NEW,
    }


def budget_for(model: str, cfg: MemoryConfig) -> int:
    """The token budget of ``model``: the first glob in ``memory.context.budgets`` that matches."""
    budgets = cfg.context.budgets
    for pattern, tokens in budgets.items():
        if pattern != "default" and fnmatch.fnmatchcase(model, pattern):
            return tokens
    return budgets.get("default", 3000)


def _when(ts: int) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M")


def short(text: str | None, n: int = 70) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _last_run(index: MemoryIndex, root: Path, agent: Agent) -> tuple[dict | None, object | None]:
    """The agent's last *finished* run: runs still going (this one among them: they have an entry in
    ``.llmos/runs/``) are not its last run. One trace is read, not one per candidate."""
    going = {p.name[:-5] for p in (Path(root) / ".llmos" / "runs").glob("*.json")}
    for doc in index.latest(all_of([any_of("tier", ["gamma"]), any_of("agent", [agent.name])]), limit=8):
        if Path(doc["path"]).name[:-3] in going:
            continue
        try:
            trace = read_trace(root / doc["path"])
        except DocumentError:
            return doc, None
        if trace.ended:
            return doc, trace
    return None, None


def whats_new(root: Path, agent: Agent, cfg: MemoryConfig, index: MemoryIndex | None = None) -> list[str]:
    """L2: a few lines, most valuable first, about what happened since ``agent``'s last run."""
    index = index or open_index(root)
    last, trace = _last_run(index, root, agent)
    since = last["created"] if last else 0
    if trace is not None and trace.ended:  # what the last run did itself is not news
        since = int(datetime.fromisoformat(trace.ended.replace("Z", "+00:00")).timestamp())
    lines = []
    if last is None:
        lines.append("This is your first run.")
    else:
        lines.append(f"Your last run ({_when(last['created'])}, {last.get('outcome')}): {short(last['title'])}")
        if trace is not None and trace.agent_hash != agent.hash:
            lines.append("Your agent file (instructions) changed since your last run.")
        if trace is not None and trace.soul_hash != agent.soul_hash:
            lines.append("Your soul changed since your last run.")
    newer = between("created", since, None) if last else None
    runs = all_of([any_of("tier", ["gamma"]), newer])
    others = [d for d in index.latest(runs, limit=4) if d["agent"] != agent.name][:3]
    if others:
        lines.append(
            f"{index.count(runs)} run(s) since by other agents, e.g. "
            + "; ".join(f"{d['agent']}: {short(d['title'], 50)} ({d.get('outcome')})" for d in others)
        )
    for tiers, label in ((["alpha", "delta"], "promoted"), (["beta"], "new")):
        mems = all_of([any_of("tier", tiers), newer])
        found = index.latest(mems, limit=3)
        if found:
            lines.append(
                f"{index.count(mems)} {label} memor{'y' if len(found) == 1 else 'ies'} since, e.g. "
                + "; ".join(f"{d['id']}: {short(d['title'], 50)}" for d in found)
            )
    if cfg.context.brief_in_l2:
        threads = open_threads(recent_traces(root, agent.name, sync=False), read_working(root, agent.name))
        if threads:
            lines.append("Open threads: " + "; ".join(short(t, 60) for t in threads[:3]))
    if agent.tools is None or "recall" in agent.tools:
        lines.append("Everything else (memories, past runs) is not shown: pull it with recall.")
    return lines[: cfg.context.whats_new_lines]


def recent_traces(root: Path, agent: str, limit: int = 20, sync: bool = True) -> list[TraceMeta]:
    """The agent's newest runs, newest first (unreadable traces skipped)."""
    index = open_index(root)
    if sync:
        index.sync()
    out = []
    for doc in index.latest(all_of([any_of("tier", ["gamma"]), any_of("agent", [agent])]), limit=limit):
        try:
            out.append(read_trace(Path(root) / doc["path"]))
        except DocumentError:
            continue
    return out


def open_threads(traces: list[TraceMeta], working: str) -> list[str]:
    """Runs that did not succeed and were not redone with success later; open items in the notes."""
    done: set[str] = set()
    threads = []
    for t in traces:  # newest first
        if t.outcome == "success":
            done.add(t.goal_signature)
        elif t.goal_signature not in done:
            done.add(t.goal_signature)
            threads.append(
                f"{t.started[:10]} {t.outcome}: {short(t.goal, 80)} ({short(t.error, 80) or 'no error text'})"
            )
    threads += [line.strip().lstrip("-* ").strip() for line in working.splitlines() if OPEN_ITEM.match(line)]
    return threads


def assemble(
    root: Path,
    agent: Agent,
    cfg: MemoryConfig,
    model: str,
    render: Callable[..., str],
    index: MemoryIndex | None = None,
) -> Assembled:
    """Render the system prompt with L1 and L2 filled, trimmed to the model's budget.

    ``render(working_memory=..., whats_new=...)`` returns the whole prompt (L0 included)."""
    budget = budget_for(model, cfg)
    working = read_working(root, agent.name)
    cap = cfg.working_cap_bytes
    w_lines = working.encode("utf-8")[:cap].decode("utf-8", "ignore").splitlines()
    new_lines = whats_new(root, agent, cfg, index)
    dropped = []
    if len(working.encode("utf-8")) > cap:
        dropped.append(f"L1: working memory past its cap of {cap} bytes (edited by hand?)")

    def text(w: list[str], n: list[str]) -> str:
        return render(
            working_memory="\n".join(w) or NO_WORKING, whats_new="\n".join(f"- {x}" for x in n) or NOTHING_NEW
        )

    base = count_tokens(text([], []))
    kept_new, kept_w = list(new_lines), list(w_lines)
    while count_tokens(text(kept_w, kept_new)) > budget and (kept_new or kept_w):
        (kept_new or kept_w).pop()  # lowest value first: the last line of L2, then of L1
    if len(kept_new) < len(new_lines):
        dropped.append(f"L2: {len(new_lines) - len(kept_new)} of {len(new_lines)} what's-new lines")
    if len(kept_w) < len(w_lines):
        dropped.append(
            f"L1: {len(w_lines) - len(kept_w)} of {len(w_lines)} working-memory lines "
            f"(read memory/working/{agent.name}.md)"
        )
    w_lines, new_lines = kept_w, kept_new
    final = text(w_lines, new_lines)
    tokens = count_tokens(final)
    if tokens > budget:
        dropped.append(f"over budget by {tokens - budget} tokens: instructions and soul are never trimmed")
    l1 = count_tokens("\n".join(w_lines))
    info = ContextInfo(
        tokens=tokens, budget=budget, dropped=dropped, layers={"L0": base, "L1": l1, "L2": max(0, tokens - base - l1)}
    )
    return Assembled(final, info, "\n".join(w_lines), new_lines)

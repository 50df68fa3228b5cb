"""The tree of a run: a trace and, through ``children:``, every run it delegated to, recursively.

``llmos trace show ID`` renders it with steps, tokens and cost per node and for the whole tree.
A child whose trace file is missing or invalid is shown as such, never hidden.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DocumentError, TraceNotFound
from ..traces import TraceMeta, iter_trace_files, read_trace, trace_path

ID = re.compile(r"^\d{8}T\d{6}-[0-9a-f]{6}$")
MAX_NODES = 10_000


@dataclass
class Node:
    id: str
    meta: TraceMeta | None = None
    problem: str | None = None  # why meta is missing
    children: list["Node"] = field(default_factory=list)

    def total_tokens(self) -> tuple[int, int]:
        own = (self.meta.tokens.input, self.meta.tokens.output) if self.meta else (0, 0)
        kids = [c.total_tokens() for c in self.children]
        return own[0] + sum(k[0] for k in kids), own[1] + sum(k[1] for k in kids)

    def total_cost(self) -> float:
        own = self.meta.cost_usd if self.meta else 0.0
        return own + sum(c.total_cost() for c in self.children)

    def as_dict(self) -> dict[str, Any]:
        m = self.meta
        own = (
            {}
            if m is None
            else {
                "agent": m.agent,
                "goal": m.goal,
                "mode": m.mode,
                "outcome": m.outcome,
                "steps": len(m.steps),
                "tokens": m.tokens.model_dump(),
                "cost_usd": m.cost_usd,
            }
        )
        tokens = self.total_tokens()
        return {
            "id": self.id,
            **own,
            "problem": self.problem,
            "tree": {"tokens": {"input": tokens[0], "output": tokens[1]}, "cost_usd": self.total_cost()},
            "children": [c.as_dict() for c in self.children],
        }


def find_trace(root: Path, trace_id: str) -> Path:
    """The file of trace ``trace_id`` (a unique prefix of an id works too)."""
    if ID.match(trace_id):
        path = trace_path(root, trace_id)
        if path.is_file():
            return path
    elif trace_id and "/" not in trace_id:
        found = [p for p in iter_trace_files(root) if p.stem.startswith(trace_id)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise TraceNotFound(
                f"trace id prefix {trace_id!r} matches {len(found)} traces", hint="give more characters of the id"
            )
    raise TraceNotFound(f"no trace {trace_id!r} in {root}", hint="`llmos log` lists the runs and their Trace-Id")


def load_tree(root: Path, trace_id: str) -> Node:
    """The run ``trace_id`` and all its descendants."""
    top = Node(find_trace(root, trace_id).stem)
    todo, seen = [top], set()
    while todo and len(seen) < MAX_NODES:
        node = todo.pop()
        seen.add(node.id)
        try:
            node.meta = read_trace(trace_path(root, node.id))
        except (OSError, DocumentError) as exc:
            node.problem = "trace missing" if isinstance(exc, OSError) else f"invalid trace: {exc}"
            continue
        node.children = [Node(c) for c in node.meta.children if c not in seen]
        todo.extend(node.children)
    return top


def render_tree(node: Node, prefix: str = "", last: bool = True, top: bool = True) -> list[str]:
    """Lines of the tree: one per run, children indented under their parent."""
    branch = "" if top else prefix + ("└── " if last else "├── ")
    lines = [branch + _line(node)]
    below = "" if top else prefix + ("    " if last else "│   ")
    for n, child in enumerate(node.children):
        lines += render_tree(child, below, n == len(node.children) - 1, top=False)
    if top and node.children:
        (tin, tout), cost = node.total_tokens(), node.total_cost()
        lines.append(f"tree: {_count(node)} runs, {tin}/{tout} tokens, ${cost:.6f}")
    return lines


def _count(node: Node) -> int:
    return 1 + sum(_count(c) for c in node.children)


def _line(node: Node) -> str:
    m = node.meta
    if m is None:
        return f"{node.id}  ({node.problem})"
    goal = m.goal if len(m.goal) <= 60 else m.goal[:59] + "…"
    return (
        f"{m.id}  {m.agent}  {m.mode}  {m.outcome}  {len(m.steps)} steps  "
        f"{m.tokens.input}/{m.tokens.output} tokens  ${m.cost_usd:.6f}  {goal}"
    )

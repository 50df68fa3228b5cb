"""What an MCP client may call, as plain functions over a :class:`~llmos.serve.gate.Gate`.

Each checks through the gate, calls one library function, and returns JSON-ready data. ``boot``
reports each step through ``progress(n, total, message)``. Resources (agents, souls, memories,
traces) are read through :func:`read_resource`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from .gate import Gate, Refusal

Progress = Callable[[int, int | None, str], None]


def recall(gate: Gate, query: str, k: int = 5, tiers: list[str] | None = None, **filters: Any) -> dict[str, Any]:
    from ..memory.recall import recall as do_recall

    cfg = gate.kernel.config.memory.recall
    args = {"query": query, "k": k, "tiers": tiers or [], **filters}
    opts = {key: value or None for key, value in filters.items() if key != "history"}
    found = lambda: do_recall(  # noqa: E731
        gate.root,
        query,
        tiers=tuple(tiers or ()),
        k=max(1, min(k, 50)),
        config=cfg,
        sync="quick",
        history=bool(filters.get("history")),
        **opts,
    ).as_dict()
    return gate.call("recall", args, found)


def remember(gate: Gate, text: str, agent: str = "mcp", **fields: Any) -> dict[str, Any]:
    """A beta memory (what an agent's ``remember`` may write), committed with ``Memory-Id``."""
    from ..memory.recall import parse_when
    from ..memory.store import remember as store_remember

    def write() -> dict[str, Any]:
        when = parse_when(fields.pop("valid_from", None) or None, "valid_from")
        memory, written = store_remember(gate.root, text, agent=agent, valid_from=when, **fields)
        trailers = {"Memory-Id": memory.id, "Agent": agent}
        if memory.meta.supersedes:
            trailers["Supersedes"] = ", ".join(memory.meta.supersedes)
        sha = gate.commit(written, f"llmos: remember {memory.meta.title}", trailers)
        return {"id": memory.id, "path": written[0], "superseded": [Path(p).stem for p in written[1:]], "commit": sha}

    return gate.call("remember", {"text": text, **fields}, write, agent)


def brief(gate: Gate, agent: str | None = None) -> str:
    from ..memory.brief import brief as make_brief

    kernel = gate.kernel
    name = agent or kernel.config.entry_agent
    return gate.call("brief", {"agent": name}, lambda: make_brief(kernel.root, kernel.agent(name), kernel.config))


def boot(
    gate: Gate,
    goal: str,
    agent: str | None = None,
    model: str | None = None,
    max_steps: int | None = None,
    mode: str | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run ``goal`` like ``llmos boot``: its model calls pass the budget gate, its trace is committed."""
    total = max_steps or gate.kernel.config.max_steps

    def on_event(kind: str, data: dict[str, Any]) -> None:
        if progress is not None and kind == "step":
            s = data["step"]
            progress(s.n, total, f"step {s.n}: {s.tool or '(no tool call)'} {'ok' if s.ok else 'refused/failed'}")

    def run() -> dict[str, Any]:
        try:
            res = gate.kernel.run(goal, agent=agent, model=model, max_steps=max_steps, on_event=on_event, mode=mode)
        except Exception as exc:
            run = getattr(exc, "run", None)
            if run is None:
                raise
            raise Refusal(f"{exc} (trace {run.trace_path.relative_to(gate.root)}, outcome {run.outcome})") from None
        out = res.as_dict()
        out["trace_path"] = str(res.trace_path.relative_to(gate.root))
        return out

    return gate.call("boot", {"goal": goal, "agent": agent, "model": model}, run, agent or "mcp")


def trace_show(gate: Gate, trace_id: str) -> dict[str, Any]:
    from ..team.tracetree import load_tree

    return gate.call("trace_show", {"trace_id": trace_id}, lambda: load_tree(gate.root, trace_id).as_dict())


def log(gate: Gate, limit: int = 20) -> list[dict[str, Any]]:
    from ..audit.log import run_log

    return gate.call("log", {"limit": limit}, lambda: [e.__dict__ for e in run_log(gate.root, max(1, min(limit, 500)))])


def budget_status(gate: Gate, agent: str | None = None) -> dict[str, Any]:
    return gate.call("budget_status", {"agent": agent}, lambda: gate.budget.status(agent=agent))


def claim(gate: Gate, resource: str, holder: str, ttl: float = 0) -> dict[str, Any]:
    from ..team import claims

    ttl = ttl if ttl > 0 else gate.kernel.config.orchestration.claim_ttl

    def take() -> dict[str, Any]:
        v = claims.claim(gate.root, resource, run=gate.holder(holder), agent=holder, ttl=ttl)
        return {"ok": v.ok, "message": v.message}

    return gate.call("claim", {"resource": resource, "ttl": ttl}, take, holder)


def release(gate: Gate, resource: str, holder: str) -> dict[str, Any]:
    from ..team import claims

    def give() -> dict[str, Any]:
        v = claims.release(gate.root, resource, run=gate.holder(holder))
        return {"ok": v.ok, "message": v.message}

    return gate.call("release", {"resource": resource}, give, holder)


# -- resources ------------------------------------------------------------------------------------
def list_agents(gate: Gate) -> str:
    found, errors = gate.kernel.agents()
    rows = [
        {
            "name": a.name,
            "description": a.description,
            "model": a.model,
            "tools": sorted(a.tools) if a.tools is not None else "all",
            "uri": f"llmos://agents/{a.name}",
        }
        for a in found
    ]
    return gate.call(
        "resource",
        {"uri": "llmos://agents"},
        lambda: json.dumps({"agents": rows, "errors": [str(e) for e in errors]}, indent=1),
    )


def read_resource(gate: Gate, kind: str, ident: str) -> str:
    """The Markdown file of agent, soul, memory or trace ``ident`` (scrubbed)."""
    return gate.call(
        "resource",
        {"uri": f"llmos://{kind}/{ident}"},
        lambda: resource_path(gate, kind, ident).read_text(encoding="utf-8"),
    )


def resource_path(gate: Gate, kind: str, ident: str) -> Path:
    from ..memory.store import find_memory
    from ..team.tracetree import find_trace

    root = gate.root
    if kind == "agents":
        return gate.kernel.agent(ident).path
    if kind == "souls":
        deps = gate.kernel.agent(ident).deps  # (agent file, its soul file or where one would be, ...)
        if len(deps) < 2 or not deps[1].is_file():
            raise ValueError(f"agent {ident!r} has no soul file")
        return deps[1]
    if kind == "memories":
        return find_memory(root, ident).path
    if kind == "traces":
        return find_trace(root, ident)
    raise ValueError(f"unknown resource kind {kind!r}")

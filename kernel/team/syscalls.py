"""Syscalls of many-agent work: delegation, on-demand agents, claims and handoffs.

The logic lives in :mod:`llmos.team.delegate`, :mod:`llmos.team.spawn` and :mod:`llmos.team.claims`; these are
the typed, documented doors the model sees. A refusal is an observation, never a crash.
"""

from __future__ import annotations

from typing import Any

from ..audit import shared
from ..plugins import hookimpl
from ..procs import me
from . import claims, delegate as deleg, spawn
from ..errors import AgentNotFound, DocumentError
from ..syscalls.hooks import Refused
from ..syscalls import Context, Outcome, syscall


def _scope(ctx: Context) -> Any:
    scope = ctx.scope
    if scope is None:
        raise Refused("delegation is only available inside a kernel run")
    return scope


@syscall
def delegate(ctx: Context, agent: str, goal: str) -> Outcome:
    """Give a sub-goal to another agent; it runs to the end as a child run and its result comes back.

    Args:
        agent: name of the agent to run (see agents/ and system/agents/)
        goal: what the child should do, self-contained: it sees nothing of your conversation
    """
    scope = _scope(ctx)
    tasks = [deleg.Task(agent.strip(), goal.strip())]
    reports = deleg.run_children(scope, tasks, deleg.plan(scope, tasks))
    return Outcome(reports[0].ok, reports[0].render())


@syscall
def delegate_many(ctx: Context, tasks: list[dict[str, str]]) -> Outcome:
    """Give several sub-goals to agents at once; they run in parallel and every result comes back.

    Args:
        tasks: list of {"agent": NAME, "goal": TEXT}, one per child run; each goal self-contained
    """
    scope = _scope(ctx)
    parsed = deleg.parse_tasks(tasks)
    reports = deleg.run_children(scope, parsed, deleg.plan(scope, parsed))
    done = sum(r.ok for r in reports)
    head = f"{done} of {len(reports)} children succeeded"
    return Outcome(done == len(reports), "\n\n".join([head] + [r.render() for r in reports]))


@syscall
def create_agent(
    ctx: Context, name: str, description: str, instructions: str, tools: list[str] | None = None, model: str = ""
) -> Outcome:
    """Write a new agent file (agents/NAME.md) for work no existing agent fits; usable at once.

    Args:
        name: lowercase name, letters, digits, - and _, e.g. csv-cleaner
        description: one sentence: what the agent is for
        instructions: the agent's instructions (Markdown)
        tools: the tools it may use, a subset of yours, e.g. ["read_file", "write_file"]
        model: optional model spec or alias, e.g. haiku; empty: inherit
    """
    kernel = ctx.host
    known = set(kernel.syscalls.names()) if kernel is not None else set()
    try:
        rel = spawn.create(
            ctx.root,
            known,
            ctx.allowed,
            name=name,
            description=description,
            instructions=instructions,
            tools=tools,
            model=model or None,
        )
    except DocumentError as exc:
        return Outcome(False, f"invalid agent, nothing written: {exc}")
    ctx.written.add(rel)
    return Outcome(True, f"created agent {name!r} in {rel}; delegate to it with delegate(agent={name!r}, goal=...)")


def _ttl(ctx: Context, ttl: float) -> float:
    config = ctx.config
    return ttl if ttl > 0 else (config.orchestration.claim_ttl if config is not None else 300.0)


@syscall
def claim(ctx: Context, resource: str, ttl: float = 0) -> Outcome:
    """Claim a resource (a path, a project, any agreed name) so other agents leave it alone.

    Args:
        resource: the name of what you are working on, e.g. projects/site/index.html
        ttl: seconds the claim lasts unless you release it first; 0 means the configured default
    """
    seconds = _ttl(ctx, ttl)
    where = _shared(ctx)
    note = ""
    if where is not None:  # every machine's agents: first claim on the remote (the first push wins)
        won, note = shared.claim(
            ctx.root, resource, run=ctx.run_id, agent=ctx.agent, host=me()["host"], ttl=seconds, **where
        )
        if not won:
            return Outcome(False, note)
        if ctx.scope is not None:
            ctx.scope.shared_claims.add(resource)
    v = claims.claim(ctx.root, resource, run=ctx.run_id, agent=ctx.agent, ttl=seconds)
    return Outcome(v.ok, v.message + (f"; {note}" if note and v.ok else ""))


def _shared(ctx: Context) -> dict[str, str] | None:
    """The remote and branch shared claims go to (``sync.shared_claims``), or None."""
    config = ctx.config
    if config is None or not config.sync.shared_claims:
        return None
    branch = config.sync.branch or shared.current_branch(ctx.root)
    return {"remote": config.sync.remote, "branch": branch} if branch else None


@syscall
def release(ctx: Context, resource: str) -> Outcome:
    """Release a claim of yours (claims are also released when your run ends).

    Args:
        resource: the name you claimed
    """
    where = _shared(ctx)
    if where is not None:
        done, note = shared.release(ctx.root, resource, run=ctx.run_id, **where)
        if not done:
            return Outcome(False, note)
        if ctx.scope is not None:
            ctx.scope.shared_claims.discard(resource)
    v = claims.release(ctx.root, resource, run=ctx.run_id)
    return Outcome(v.ok, v.message)


@syscall
def handoff(ctx: Context, agent: str, note: str) -> Outcome:
    """Pass your claims and a note to another agent; its next run receives both.

    Args:
        agent: the agent taking over
        note: what it needs to know to continue
    """
    kernel = ctx.host
    if kernel is not None:
        try:
            kernel.agent(agent)
        except (AgentNotFound, DocumentError) as exc:
            return Outcome(False, f"cannot hand off: {exc}")
    v = claims.handoff(ctx.root, run=ctx.run_id, agent=ctx.agent, to=agent, note=note)
    return Outcome(v.ok, v.message)


@hookimpl
def register_syscalls(register: Any) -> None:
    """This family's syscalls, through the same door as any plugin's."""
    for fn in (delegate, delegate_many, create_agent, claim, release, handoff):
        register(fn)

"""The MCP server (official ``mcp`` SDK): llmos memory, runs and budget as tools and resources.

``build(kernel)`` makes the server; ``run_stdio(kernel)`` is ``llmos mcp`` (what ``claude mcp add``
starts); ``llmos serve`` mounts the same server over streamable HTTP (:mod:`llmos.serve.http`).
Every tool runs its library call in a worker thread, through the gate (:mod:`llmos.serve.gate`), so
the server answers other clients while a run goes on; ``boot`` reports each step as progress.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import anyio
from anyio import from_thread, to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp_types import ToolAnnotations
from pydantic import Field

from . import tools
from .gate import Gate, Refusal

INSTRUCTIONS = (
    "llmos is a file-based agent OS: memories, agents and run traces are Markdown files in a git repository. "
    "Use recall before answering from memory, remember for facts worth keeping, boot to run a goal with an "
    "llmos agent (it returns the result and the trace id), trace_show and log to see what runs did."
)
K = Annotated[int, Field(ge=1, le=50, description="how many results")]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("llmos")
    except PackageNotFoundError:
        return "0"


def build(kernel: Any, via: str = "mcp") -> Any:
    """The MCP server over ``kernel``'s root; its gate is ``server.llmos_gate``."""
    gate = Gate(kernel, via=via)
    server = MCPServer("llmos", instructions=INSTRUCTIONS, version=_version(), log_level="WARNING")
    server.llmos_gate = gate
    read_only = ToolAnnotations(read_only_hint=True, open_world_hint=False)
    writes = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)

    async def call(fn: Any, *args: Any, **kw: Any) -> Any:
        try:
            return await to_thread.run_sync(lambda: fn(gate, *args, **kw))
        except Refusal as exc:
            raise ToolError(str(exc)) from None

    @server.tool(annotations=read_only)
    async def recall(
        query: Annotated[str, Field(description="words to look for, e.g. the question to answer")],
        k: K = 5,
        tiers: Annotated[list[str], Field(description="only these tiers: gamma (runs), beta, alpha, delta")] = [],  # noqa: B006
        agent: Annotated[str, Field(description="only memories written by this agent")] = "",
        project: Annotated[str, Field(description="only memories of this project")] = "",
        as_of: Annotated[str, Field(description="what was true at this date (YYYY-MM-DD)")] = "",
        history: Annotated[bool, Field(description="include superseded memories")] = False,
    ) -> dict[str, Any]:
        """Search llmos memories and past runs (BM25 weighted by tier, confidence, recency, validity).
        `abstain: true` means nothing relevant is known."""
        return await call(tools.recall, query, k, tiers, agent=agent, project=project, as_of=as_of, history=history)

    @server.tool(annotations=writes)
    async def remember(
        text: Annotated[str, Field(min_length=1, description="what to remember, self-contained")],
        title: Annotated[str, Field(description="a short title; default: the first sentence")] = "",
        kind: Literal["fact", "workflow", "lesson", "pattern"] = "fact",
        tags: Annotated[list[str], Field(description="keywords to find it by")] = [],  # noqa: B006
        project: Annotated[str, Field(description="project name, if it concerns projects/NAME only")] = "",
        supersedes: Annotated[list[str], Field(description="ids of memories this one replaces")] = [],  # noqa: B006
        confidence: Annotated[float, Field(ge=0, le=1)] = 0.8,
        valid_from: Annotated[str, Field(description="when it happened or became true (YYYY-MM-DD)")] = "",
        agent: Annotated[str, Field(description="the agent it belongs to")] = "mcp",
    ) -> dict[str, Any]:
        """Save a beta memory (a Markdown file) and commit it to git; returns its id and the commit."""
        fields = dict(title=title or None, kind=kind, tags=tags, project=project or None, supersedes=supersedes)
        return await call(tools.remember, text, agent, confidence=confidence, valid_from=valid_from, **fields)

    @server.tool(annotations=read_only)
    async def brief(agent: Annotated[str, Field(description="agent name; default: the entry agent")] = "") -> str:
        """A cold-start brief of an agent: what it is doing, recent outcomes, open threads, what changed."""
        return await call(tools.brief, agent or None)

    @server.tool(annotations=writes)
    async def boot(
        goal: Annotated[str, Field(min_length=1, description="what the run should achieve")],
        ctx: Context,
        agent: Annotated[str, Field(description="agent to run; default: the entry agent")] = "",
        model: Annotated[str, Field(description="model spec, e.g. anthropic:claude-sonnet-4-6; default: config")] = "",
        max_steps: Annotated[int, Field(ge=0, le=1000, description="cap on model calls; 0: the default")] = 0,
    ) -> dict[str, Any]:
        """Run a goal with an llmos agent, like `llmos boot`: returns the outcome, result and trace id.
        Its trace and the files it wrote are committed to git; each step is reported as progress."""

        def progress(n: int, total: int | None, message: str) -> None:
            from_thread.run(lambda: ctx.report_progress(n, total, message))

        opts = dict(agent=agent or None, model=model or None, max_steps=max_steps or None, progress=progress)
        return await call(tools.boot, goal, **opts)

    @server.tool(annotations=read_only)
    async def trace_show(
        trace_id: Annotated[str, Field(description="a trace id, e.g. 20261122T060130-e44c3c")],
    ) -> dict[str, Any]:
        """One run as a tree (it and every run it delegated to) with steps, tokens and cost."""
        return await call(tools.trace_show, trace_id)

    @server.tool(annotations=read_only)
    async def log(limit: Annotated[int, Field(ge=1, le=500)] = 20) -> dict[str, Any]:
        """Runs from git history, newest first, with their trailers (agent, mode, model, tokens, cost)."""
        return {"runs": await call(tools.log, limit)}

    @server.tool(annotations=read_only)
    async def budget_status(
        agent: Annotated[str, Field(description="also this agent's daily ceiling")] = "",
    ) -> dict[str, Any]:
        """Spend by day, agent and model, and what is left of each budget ceiling (USD)."""
        return await call(tools.budget_status, agent or None)

    @server.tool(annotations=writes)
    async def claim(
        resource: Annotated[str, Field(min_length=1, description="what you work on, e.g. projects/site/index.html")],
        holder: Annotated[str, Field(min_length=1, description="who you are; the same name releases it")],
        ttl: Annotated[float, Field(ge=0, description="seconds it lasts; 0: the configured default")] = 0,
    ) -> dict[str, Any]:
        """Claim a resource so llmos agents and other clients leave it alone (ends with this server too)."""
        return await call(tools.claim, resource, holder, ttl)

    @server.tool(annotations=writes)
    async def release(
        resource: Annotated[str, Field(min_length=1)], holder: Annotated[str, Field(min_length=1)]
    ) -> dict[str, Any]:
        """Release a claim you hold."""
        return await call(tools.release, resource, holder)

    async def resource(fn: Any, *args: Any) -> str:
        try:
            return await to_thread.run_sync(lambda: fn(gate, *args))
        except Refusal as exc:
            raise ResourceError(str(exc)) from None

    @server.resource("llmos://agents", mime_type="application/json")
    async def agents() -> str:
        """Every agent: name, description, model, tools and its URI."""
        return await resource(tools.list_agents)

    for kind, what in (
        ("agents", "an agent"),
        ("souls", "an agent's soul"),
        ("memories", "a memory"),
        ("traces", "a trace"),
    ):
        _template(server, kind, what, resource)
    return server


def _template(server: Any, kind: str, what: str, resource: Any) -> None:
    async def read(ident: str) -> str:
        return await resource(tools.read_resource, kind, ident)

    read.__doc__ = f"The Markdown file of {what} (YAML frontmatter and body), secrets scrubbed."
    server.resource(
        f"llmos://{kind}/{{ident}}", name=kind[:-1] if kind != "memories" else "memory", mime_type="text/markdown"
    )(read)


def run_stdio(kernel: Any) -> None:
    """Serve MCP on stdin/stdout until the client closes it (``llmos mcp``)."""
    server = build(kernel, via="mcp-stdio")
    try:
        anyio.run(server.run_stdio_async)
    finally:
        server.llmos_gate.close()

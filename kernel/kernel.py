"""The Kernel: loads an OS root, runs a goal through an agent, records the trace, commits to git."""

from __future__ import annotations

import string
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from . import agents as agents_mod
from .agents import Agent
from .audit.commit import commit_paths, format_message, open_repo
from .backends import Backend, ModelSpec, Reply, Usage, default_spec, make_backend, parse_spec
from .config import Config, load_config
from .blobs import CallRecorder, ref
from .budget.call import ask
from .budget.gate import Budget
from .compact import compact
from .errors import BudgetExceeded, ConfigError, DocumentError, Halted, LlmosError
from .halt import check_halt
from .scrub import scrub
from .goals import normalize
from .loop import LoopResult
from .live.follow import follower_for, hold
from .team.lineage import Lineage
from .modes.choose import ZERO_TOKEN, choose_mode
from .modes.run import execute, learn
from .modes.slots import step_extras
from .prompts import load_prompt, render
from .root import find_root
from .team.recover import Recovered, recover, run_trailers
from .team.scope import RunScope
from .syscalls import Context, Outcome, SyscallTable
from .modes.tools import register_tools
from .toolbelt.mcpclient import register_mcp_tools
from .traces import (
    Step,
    Tokens,
    TraceMeta,
    TraceWriter,
    iter_trace_files,
    new_trace_id,
    now_iso,
    offload,
    read_trace,
)
from .memory.context import DEFAULT_CONTEXT, NO_WORKING, NOTHING_NEW, render_layers
from .memory.store import memory_problems

EventHandler = Callable[[str, dict[str, Any]], None]


@dataclass
class RunResult:
    trace_id: str
    trace_path: Path
    outcome: str
    agent: str
    model: str
    mode: str
    steps: int
    tokens: dict[str, int]
    cost_usd: float
    result: str | None
    error: str | None
    commit: str | None
    seconds: float
    learned: list[str] = field(default_factory=list)  # tools crystallized or demoted after the run

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["trace_path"] = str(self.trace_path)
        return d


@dataclass
class Run:
    """One run in progress: the loop's :class:`~llmos.loop.Recorder`.

    Every model call passes the budget gate (which also checks the kill switch) first, is recorded
    in the blob store (scrubbed), and every step is persisted to the trace before the loop goes on.
    """

    writer: TraceWriter
    on_event: EventHandler
    budget: Budget
    calls: CallRecorder | None = None
    agent_ceiling: float | None = None
    usage: Usage = field(default_factory=Usage)
    refs: tuple[str | None, str | None] = (None, None)
    follow: Any = None  # a follow.AgentFollower: the newest valid agent version before each model call

    def call_model(self, backend: Backend, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Reply:
        meta = self.writer.meta
        if self.follow is not None:
            tools = self.follow.refresh(messages, tools)
        done = compact(messages, tools, backend, self.writer.blobs, at_call=meta.model_calls + 1)
        if done is not None:
            meta.compactions.append(done)
            self.on_event("compacted", done)
        try:
            reply, cost = ask(
                backend,
                messages,
                tools,
                budget=self.budget,
                agent=meta.agent,
                run_id=meta.id,
                agent_ceiling=self.agent_ceiling,
            )
        except BaseException as exc:  # a failed call the ledger charged is in the trace's cost too
            meta.cost_usd = round(meta.cost_usd + getattr(exc, "charged_usd", 0.0), 8)
            raise
        meta.cost_usd = round(meta.cost_usd + cost, 8)
        self.usage.add(reply.usage)
        meta.tokens = Tokens(**self.usage.as_dict())
        meta.model_calls += 1
        self.refs = self._record(backend, messages, tools, reply)
        return reply

    def _record(
        self, backend: Backend, messages: list[dict[str, Any]], tools: list[dict[str, Any]], reply: Reply
    ) -> tuple[str | None, str | None]:
        if self.calls is None:
            return None, None
        request = scrub({"model": backend.model, "tools": tools, "messages": messages})
        response = scrub(
            {
                "text": reply.text,
                "stop_reason": reply.stop_reason,
                "usage": reply.usage.as_dict(),
                "tool_calls": [{"id": c.id, "name": c.name, "args": c.args} for c in reply.tool_calls],
            }
        )
        req, resp = self.calls.record(request, response)
        return ref(req), (ref(resp) if resp else None)

    def step(self, tool: str | None, args: dict[str, Any], outcome: Outcome, usage: Usage, seconds: float) -> None:
        step = Step(
            n=len(self.writer.meta.steps) + 1,
            tool=tool,
            args=args,
            result=outcome.output,
            ok=outcome.ok,
            tokens=Tokens(**usage.as_dict()),
            seconds=round(seconds, 3),
            request=self.refs[0],
            response=self.refs[1],
            agent_hash=self.follow.take_hash() if self.follow is not None else None,
            **step_extras(
                tool,
                args,
                outcome.output,
                outcome.ok,
                self.writer.meta.slots,
                lambda v: offload(v, self.writer.inline_limit, self.writer.blobs),
                self.writer.meta.template,
            ),
        )
        self.writer.add_step(step)
        self.on_event("step", {"step": step})


# How an error that ends a run is recorded as the trace's outcome.
OUTCOMES: tuple[tuple[type[LlmosError], str], ...] = ((Halted, "halted"), (BudgetExceeded, "budget"))


def outcome_of(exc: LlmosError) -> str:
    return next((name for kind, name in OUTCOMES if isinstance(exc, kind)), "failure")


class Kernel:
    """A loaded OS root. ``Kernel.open()`` finds the root like the CLI does."""

    def __init__(self, root: Path, config: Config | None = None):
        self.root = Path(root).resolve()
        self.config = config or load_config(self.root)
        self.syscalls = SyscallTable.default()
        self.live: Any = None  # a live.LiveRoot while a watcher keeps this kernel current (llmos shell)
        register_tools(self.syscalls, self.root, self.config)
        self.mcp_problems = register_mcp_tools(self.syscalls, self.root, self.config)  # mcp__SERVER__TOOL
        self.recovered = self.recover()

    def recover(self) -> list[Recovered]:
        """Commit what runs killed in this root wrote (:mod:`llmos.team.recover`); one line each on stderr."""
        done = recover(self.root, lambda: Budget(self.root, self.config.budget, alert_stream=sys.stderr))
        for r in done:
            where = f"commit {r.commit[:10]}" if r.commit else "nothing to commit"
            print(f"llmos: recovered run {r.id} (its process died): outcome {r.outcome}, {where}", file=sys.stderr)
        return done

    @classmethod
    def open(cls, root: str | Path | None = None) -> "Kernel":
        return cls(find_root(root))

    # -- documents ---------------------------------------------------------------------------
    def agent(self, name: str) -> Agent:
        if self.live is not None:
            return self.live.registry.agent(name)
        return agents_mod.load_agent(self.root, name, set(self.syscalls.names()))

    def agents(self) -> tuple[list[Agent], list[DocumentError]]:
        """Every agent that loads, and the errors of those that do not."""
        return agents_mod.load_all_agents(self.root, set(self.syscalls.names()))

    def check(self) -> list[DocumentError]:
        """Validate config, agents, souls and traces; return every problem (empty list: all good)."""
        errors = list(self.agents()[1])
        errors += memory_problems(self.root)
        for path in iter_trace_files(self.root):
            try:
                read_trace(path)
            except DocumentError as exc:
                errors.append(exc)
        return errors

    # -- running -----------------------------------------------------------------------------
    def resolve_model(self, flag: str | None, agent: Agent) -> ModelSpec:
        """``--model``, then the agent's ``model:`` (Claude Code's ``inherit`` defers), then config, then default."""
        agent_model = None if agent.model in (None, "inherit") else agent.model
        spec = flag or agent_model or self.config.model or default_spec()
        return parse_spec(spec, self.config.models)

    def system_prompt(self, agent: Agent, working_memory: str = "(none)", whats_new: str = "(nothing new)") -> str:
        """The agent's system prompt (``system/prompts/agent.md``): the stable prefix of every call of a
        run. ``working_memory``/``whats_new`` fill an agent.md written before they moved to context.md."""
        values = dict(
            agent=agent.name,
            description=agent.description,
            soul=agent.soul or "(no soul file)",
            instructions=agent.instructions or "(none)",
            date=datetime.now(timezone.utc).date().isoformat(),
            working_memory=working_memory,
            whats_new=whats_new,
        )
        return render(*self._template("agent"), **values)

    def _template(self, name: str) -> tuple[str, Path]:
        if self.live is not None:  # the last good template, not a half-saved one
            return self.live.registry.prompt(name)
        return load_prompt(self.root, name)

    def prompt_parts(
        self, agent: Agent, working_memory: str = NO_WORKING, whats_new: str = NOTHING_NEW
    ) -> tuple[str, str]:
        """(system prompt, context told with the goal). Layers 1 and 2 go with the goal
        (``system/prompts/context.md``), so the system prompt stays byte for byte the same across the
        calls of a run and across runs of an unchanged agent (a provider's prompt cache reuses it). A
        root whose agent.md still has ``${working_memory}``/``${whats_new}`` keeps them there."""
        template, _ = self._template("agent")
        if {"working_memory", "whats_new"} & set(string.Template(template).get_identifiers()):
            return self.system_prompt(agent, working_memory, whats_new), ""
        system = self.system_prompt(agent)
        try:
            context = render(*self._template("context"), working_memory=working_memory, whats_new=whats_new)
        except ConfigError:
            if (self.root / "system/prompts/context.md").exists():
                raise
            context = render(
                DEFAULT_CONTEXT, "(built-in context.md)", working_memory=working_memory, whats_new=whats_new
            )
        return system, context

    def assemble_context(self, agent: Agent, model: str) -> Any:
        """Layers 0-2 under ``model``'s budget (syncs the memory index first): ``.text`` is the system
        prompt, ``.context`` what is told with the goal."""
        from .memory.context import assemble, render_layers
        from .memory.index import open_index

        index = open_index(self.root)
        index.sync()

        def both(**layers: str) -> str:
            return "\n\n".join(self.prompt_parts(agent, **layers))

        assembled = assemble(self.root, agent, self.config.memory, model, both, index)
        assembled.text, assembled.context = self.prompt_parts(agent, **render_layers(assembled))
        return assembled

    def _backend(self, spec: ModelSpec, agent: Agent) -> Backend:
        """The backend of a run: the agent's ``max_tokens:`` (within the model's limit) if it sets one."""
        backend = make_backend(spec, config=self.config, root=self.root)
        if agent.max_tokens:
            backend.max_output = min(agent.max_tokens, getattr(backend, "output_limit", agent.max_tokens))
        return backend

    def run(
        self,
        goal: str,
        *,
        agent: str | None = None,
        model: str | None = None,
        max_steps: int | None = None,
        on_event: EventHandler | None = None,
        lineage: Lineage | None = None,
        mode: str | None = None,
    ) -> RunResult:
        """Run ``goal`` to an outcome; the trace and the commit are written whatever happens.

        ``mode`` forces an execution mode (``--mode``); ``lineage`` is given by ``delegate`` to a
        child run (see :mod:`llmos.team.lineage`)."""
        on_event = on_event or (lambda kind, data: None)
        ng = normalize(goal)
        open_repo(self.root)
        check_halt(self.root)
        spec_agent = self.agent(agent or self.config.entry_agent)
        spec = self.resolve_model(
            model or (lineage.model if lineage and spec_agent.model in (None, "inherit") else None), spec_agent
        )
        trace_id = new_trace_id()
        budget = (lineage and lineage.budget) or Budget(
            self.root, self.config.budget, alert_stream=sys.stderr, reload=lambda: load_config(self.root).budget
        )
        plan = choose_mode(self, ng, spec_agent, mode, budget=budget, run_id=trace_id)
        backend = plan.backend(lambda: self._backend(spec, spec_agent))
        meta = TraceMeta(
            id=trace_id,
            goal=ng.goal,
            goal_signature=ng.signature,
            template=ng.template,
            slots=ng.slots,
            agent=spec_agent.name,
            agent_hash=spec_agent.hash,
            soul_hash=spec_agent.soul_hash,
            model=backend.model,
            started=now_iso(),
            mode=plan.mode,
            decision=plan.decision,
        )
        context_model = spec.arg if spec.kind == "anthropic" and spec.arg else str(spec)
        scope = RunScope(self, meta, spec_agent, lineage, model=str(spec))

        layers: dict[str, str] = {}

        def build_messages() -> list[dict[str, Any]]:
            assembled = self.assemble_context(spec_agent, context_model)
            meta.context = assembled.info
            layers.update(render_layers(assembled))  # fixed for the run: edits during it are tool results
            return [
                {"role": "system", "content": assembled.text},
                {
                    "role": "user",
                    "content": "\n\n".join(filter(None, [scope.goal_message(ng.goal), assembled.context.strip()])),
                },
            ]

        try:
            scope.begin()
            # a zero-token plan assembles no context unless it falls back to the model
            messages = [] if plan.mode in ZERO_TOKEN else build_messages()
            with scope.blob_store() as blobs:
                writer = TraceWriter(
                    self.root, meta, inline_limit=self.config.traces.inline_limit, scrub=scrub, blobs=blobs
                )
                writer.save()
                ctx = Context(
                    self.root,
                    spec_agent.name,
                    scope.allowed(spec_agent.tools),
                    run_id=meta.id,
                    host=self,
                    budget=budget,
                    scope=scope,
                )
                if scope.registration is not None:
                    ctx.written.listener = scope.registration.wrote
                run = scope.run = Run(
                    writer, scope.watch(on_event), budget, CallRecorder(blobs, agent=spec_agent.name), scope.ceiling()
                )
                run.follow = follower_for(
                    self, spec_agent, ctx, on_event, render=lambda a: self.prompt_parts(a, **layers)[0]
                )
                on_event("start", {"trace": meta, "path": writer.path})
                with hold(self, spec_agent.name):
                    out = self._drive(backend, ctx, messages, run, spec_agent, max_steps, plan, build_messages)
        finally:
            scope.close()
        if lineage is None and self.config.sync.auto:
            self._auto_sync()
        return out

    def _auto_sync(self) -> None:
        """``sync.auto``: share the run's commit through the remote; a failure only warns (the run is
        committed locally, and the next sync takes it)."""
        from .sync import sync

        try:
            print(f"llmos: {sync(self.root, self.config.sync).line()}", file=sys.stderr)
        except LlmosError as exc:
            print(f"llmos: warning: sync after the run failed: {exc}", file=sys.stderr)

    def _drive(
        self,
        backend: Backend,
        ctx: Context,
        messages: list[dict[str, Any]],
        run: Run,
        agent: Agent,
        max_steps: int | None,
        plan: Any,
        build_messages: Callable[[], list[dict[str, Any]]],
    ) -> RunResult:
        started, writer = time.monotonic(), run.writer
        scope: RunScope = ctx.scope
        limit = scope.max_steps(max_steps or agent.max_steps or self.config.max_steps)
        result, failure = LoopResult("aborted", error="interrupted"), None
        try:
            result = execute(
                self, backend, ctx, messages, max_steps=limit, recorder=run, plan=plan, build_messages=build_messages
            )
        except LlmosError as exc:
            result, failure = LoopResult(outcome_of(exc), error=str(exc)), exc
        except Exception as exc:  # a bug: still record what happened, then let it surface
            result = LoopResult("failure", error=f"internal error: {type(exc).__name__}: {exc}")
            raise
        finally:  # KeyboardInterrupt too: the trace says aborted, and is committed
            scope.settle(writer, ctx, result.outcome)
            writer.end(result.outcome, result=result.result, error=result.error)
            sha = self._commit(writer, ctx)
        out = RunResult(
            writer.meta.id,
            writer.path,
            result.outcome,
            agent.name,
            writer.meta.model,
            writer.meta.mode,
            len(writer.meta.steps),
            writer.meta.tokens.model_dump(),
            writer.meta.cost_usd,
            scrub(result.result),  # printed on stdout and in --json: no secret in either
            scrub(result.error),
            sha,
            round(time.monotonic() - started, 3),
            learn(self, writer.meta),
        )
        run.on_event("end", {"result": out})
        if failure is not None:
            failure.run = out  # type: ignore[attr-defined]  (the CLI reports the trace of a failed run)
            raise failure
        return out

    def _commit(self, writer: TraceWriter, ctx: Context) -> str | None:
        m = writer.meta
        trailers = {**run_trailers(m), **ctx.scope.trailers()}
        message = scrub(
            format_message(f"llmos: {m.goal}", trailers, body=f"Outcome: {m.outcome}; {len(m.steps)} steps.")
        )
        return commit_paths(self.root, sorted({writer.rel, *ctx.written}), message)

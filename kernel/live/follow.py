"""Hot reload, part 3: a run in progress moves to the newest valid version of its agent.

Before every model call the run's :class:`AgentFollower` fetches the agent; only if the agent
(instructions, description, tools) or the prompt template changed does it render the system message
again (it is the prefix a provider caches: unchanged, it is never rebuilt). The next model call sees
the new version, and the next trace step records the new ``agent_hash``. What a run
fixed when it started stays fixed: its model, backend, ``max_steps``, budget and soul; its tools can
only narrow (an edit that lists fewer tools takes them away, one that lists more or drops ``tools``
gives nothing: rights are fixed at run start).

Where the new version comes from:

* with a live root (``llmos shell``: a watcher keeps a :class:`~llmos.live.registry.Registry` current) it is
  a dict lookup: :meth:`Registry.current`;
* without one (``llmos boot``) a :class:`FileCheck` stats the few files the agent was built from
  (its file, soul, ``extends`` bases) and re-reads them only when one changed. A one-shot run pays
  microseconds per step instead of starting a watcher over the whole root (which costs more than a
  short run, and scales with the number of folders under memory/ and traces/).

An invalid edit never reaches a run: it keeps its version and the error is reported once per change.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from pathlib import Path
from typing import Any, Callable, Iterator

from ..agents import Agent
from ..errors import AgentNotFound, DocumentError, LlmosError
from .registry import ReloadEvent
from ..syscalls import Context, SyscallTable

EventHandler = Callable[[str, dict[str, Any]], None]
Signature = tuple[tuple[int, int, int] | None, ...]


def signature(paths: tuple[Path, ...]) -> Signature:
    """``(mtime_ns, size, inode)`` of each path, None for a missing one: cheap change detection."""
    out = []
    for p in paths:
        try:
            st = os.stat(p)
            out.append((st.st_mtime_ns, st.st_size, st.st_ino))
        except OSError:
            out.append(None)
    return tuple(out)


class FileCheck:
    """``fetch()`` for a run without a watcher: the agent, re-read only when one of its files changed."""

    def __init__(self, agent: Agent, load: Callable[[], Agent], on_event: EventHandler):
        self.agent, self.load, self.on_event = agent, load, on_event
        self.sig = signature(agent.deps)
        self.reported: str | None = None

    def __call__(self) -> Agent:
        sig = signature(self.agent.deps)
        if sig == self.sig:
            return self.agent
        self.sig = sig
        if sig[0] is None:  # the file was deleted: this run finishes on the version it has
            return self.agent
        try:
            new = self.load()
        except (DocumentError, AgentNotFound) as exc:
            message = "; ".join(exc.lines()) if isinstance(exc, DocumentError) else str(exc)
            if message != self.reported:
                self.reported = message
                self.on_event("reload", {"event": ReloadEvent("invalid", str(self.agent.path), message=message)})
            return self.agent
        self.reported = None
        self.agent, self.sig = new, signature(new.deps)
        return new


class AgentFollower:
    """Keeps one run's system message and tools on the newest valid version of its agent."""

    def __init__(
        self,
        agent: Agent,
        fetch: Callable[[], Agent | None],
        render: Callable[[Agent], str],
        ctx: Context,
        table: SyscallTable,
        on_event: EventHandler,
    ):
        self.agent, self.fetch, self.render = agent, fetch, render
        self.ctx, self.table, self.on_event = ctx, table, on_event
        self.seen = agent  # the newest version fetched
        self.start_tools, self.start_soul = ctx.allowed, (agent.soul, agent.soul_hash)  # the run's rights
        self.tools: list[dict[str, Any]] | None = None
        self.pending_hash: str | None = None
        self.render_error: str | None = None
        self.templates = (Path(ctx.root) / "system" / "prompts" / "agent.md",)
        self.template_sig = signature(self.templates)

    def refresh(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Update ``messages[0]`` (the system message) in place; return the tools for this call."""
        new = self.fetch() or self.seen
        changed = False
        if new is not self.seen and (new.hash, new.soul_hash, new.tools) != (
            self.seen.hash,
            self.seen.soul_hash,
            self.seen.tools,
        ):
            changed = True
            self.seen = new
            soul, soul_hash = self.start_soul
            old, self.agent = self.agent, dataclasses.replace(new, soul=soul, soul_hash=soul_hash)
            self.ctx.allowed = narrowed(self.start_tools, new.tools)
            self.tools = self.table.schemas(self.ctx.allowed)
            if new.hash != old.hash:
                self.pending_hash = new.hash
            self.on_event("agent", {"agent": new, "old_hash": old.hash})
        sig = signature(self.templates)
        if changed or sig != self.template_sig or self.render_error is not None:
            # only then: the system prompt is the cached prefix, rendered once per version
            self.template_sig = sig
            self._render(messages)
        return self.tools if self.tools is not None else tools

    def _render(self, messages: list[dict[str, Any]]) -> None:
        try:
            text = self.render(self.agent)
        except LlmosError as exc:  # a broken prompt template: keep the system message the run has
            if str(exc) != self.render_error:
                self.render_error = str(exc)
                self.on_event("reload", {"event": ReloadEvent("invalid", "system/prompts", message=str(exc))})
            return
        self.render_error = None
        if messages and messages[0].get("role") == "system" and messages[0]["content"] != text:
            messages[0] = {**messages[0], "content": text}

    def take_hash(self) -> str | None:
        """The agent hash to record on the next step (set once after each change)."""
        value, self.pending_hash = self.pending_hash, None
        return value


def narrowed(start: frozenset[str] | None, edited: frozenset[str] | None) -> frozenset[str] | None:
    """The tools of a run after its agent was edited: what the edit lists, within what the run
    started with (an edit narrows a run's rights, never widens them; None is every tool)."""
    if start is None:
        return edited
    return start if edited is None else frozenset(start & edited)


def follower_for(
    kernel: Any, agent: Agent, ctx: Context, on_event: EventHandler, render: Callable[[Agent], str] | None = None
) -> AgentFollower | None:
    """The follower of one run of ``kernel`` (None when ``watch.follow_agent`` is off); ``render``
    rebuilds the system message for a new agent version (default: ``kernel.system_prompt``)."""
    if not kernel.config.watch.follow_agent:
        return None
    live = getattr(kernel, "live", None)
    if live is not None:
        fetch: Callable[[], Agent | None] = lambda: live.registry.current(agent.name)
    else:
        from ..agents import load_agent

        fetch = FileCheck(agent, lambda: load_agent(kernel.root, agent.name, set(kernel.syscalls.names())), on_event)
    return AgentFollower(agent, fetch, render or kernel.system_prompt, ctx, kernel.syscalls, on_event)


@contextlib.contextmanager
def hold(kernel: Any, name: str) -> Iterator[None]:
    """While a run uses agent ``name``: a deleted agent retires only after it (live roots)."""
    live = getattr(kernel, "live", None)
    if live is None:
        yield
        return
    with live.registry.lease(name):
        yield

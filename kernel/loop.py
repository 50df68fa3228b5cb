"""The agent loop: model -> syscalls -> observations, until ``finish`` or ``max_steps``.

The loop knows only the :class:`~llmos.backends.Backend` Protocol, the syscall table, and a
``Recorder`` that persists each step (and gates each model call). Limits are checked in one place.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

from .backends import Backend, Reply, ToolCall, Usage
from .syscalls import Context, Outcome, SyscallTable

NO_TOOL_CALL = "Your reply had no tool call. Act through one of your tools; call finish when the goal is done."


class Recorder(Protocol):
    def call_model(self, backend: Backend, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Reply: ...

    def step(self, tool: str | None, args: dict[str, Any], outcome: Outcome, usage: Usage, seconds: float) -> None: ...


@dataclass
class LoopResult:
    outcome: str  # success | failure
    result: str | None = None
    error: str | None = None


def _assistant(reply: Reply) -> dict[str, Any]:
    calls = [{"id": c.id, "name": c.name, "args": c.args} for c in reply.tool_calls]
    return {"role": "assistant", "content": reply.text, "tool_calls": calls}


def _observation(call: ToolCall, out: Outcome) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call.id, "name": call.name, "content": out.output, "ok": out.ok}


def run_loop(
    backend: Backend,
    table: SyscallTable,
    ctx: Context,
    messages: list[dict[str, Any]],
    *,
    max_steps: int,
    recorder: Recorder,
) -> LoopResult:
    """Run until the agent calls ``finish`` (success) or ``max_steps`` model calls pass (failure)."""
    tools = table.schemas(ctx.allowed)
    for _ in range(max_steps):
        started = time.monotonic()
        reply = recorder.call_model(backend, messages, tools)
        messages.append(_assistant(reply))
        usage = reply.usage
        if not reply.tool_calls:
            messages.append({"role": "user", "content": NO_TOOL_CALL})
            recorder.step(None, {}, Outcome(False, reply.text or "(empty reply)"), usage, time.monotonic() - started)
            continue
        for call in reply.tool_calls:
            out = table.call(ctx, call.name, call.args)
            recorder.step(call.name, call.args, out, usage, time.monotonic() - started)
            usage, started = Usage(), time.monotonic()  # a reply's tokens count once, on its first call
            messages.append(_observation(call, out))
            if out.finished:
                return LoopResult("success", result=out.output)
    return LoopResult("failure", error=f"stopped after {max_steps} model calls without finish (max_steps)")

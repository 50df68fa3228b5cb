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
    outcome: str  # success | failure | refused
    result: str | None = None
    error: str | None = None


def _assistant(reply: Reply) -> dict[str, Any]:
    calls = [{"id": c.id, "name": c.name, "args": c.args} for c in reply.tool_calls]
    message: dict[str, Any] = {"role": "assistant", "content": reply.text, "tool_calls": calls}
    if reply.blocks:
        message["blocks"] = reply.blocks  # text and calls in the order the model wrote them
    return message


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
    """Run until the agent calls ``finish`` (success), refuses (``refused``), or ``max_steps`` model
    calls pass (failure).

    Stop reasons: a reply cut off at ``max_tokens`` is never executed (a half-written tool call is not
    a call): the backend is asked for a larger limit and the call is made again, or the run fails
    saying so. ``refusal`` ends the run with the model's text. ``pause_turn`` is continued: the reply
    stays in the conversation and the model is called again, with no nudge. Every tool call of a reply
    runs, in order, also those after ``finish``: the run ends after the reply."""
    tools = table.schemas(ctx.allowed)
    for _ in range(max_steps):
        started = time.monotonic()
        reply = recorder.call_model(backend, messages, tools)
        usage = reply.usage
        if reply.stop_reason == "max_tokens":
            was = reply.max_tokens or backend.max_output
            grow = getattr(backend, "grow_output", None)
            bigger = grow() if grow is not None and was >= backend.max_output else None
            if bigger is None and was < backend.max_output:
                bigger = backend.max_output  # the budget cut this reply short; the gate decides the next
            note = f"reply cut off at max_tokens={was}; its {len(reply.tool_calls)} tool call(s) not run"
            if bigger is None:
                recorder.step(None, {}, Outcome(False, note), usage, time.monotonic() - started)
                return LoopResult(
                    "failure",
                    error=f"the model's reply was cut off at max_tokens={was}, the most this model allows here "
                    "(raise anthropic.max_tokens / models.<id>.max_output, or ask for smaller steps)",
                )
            recorder.step(None, {}, Outcome(False, f"{note}; calling again with max_tokens={bigger}"), usage, 0.0)
            continue
        if reply.stop_reason == "refusal":
            text = reply.text.strip() or "(no text)"
            recorder.step(None, {}, Outcome(False, f"refused: {text}"), usage, time.monotonic() - started)
            return LoopResult("refused", error=f"the model refused: {text}")
        messages.append(_assistant(reply))
        if reply.stop_reason == "pause_turn":
            recorder.step(None, {}, Outcome(True, "paused turn; continuing it"), usage, time.monotonic() - started)
            continue
        if not reply.tool_calls:
            messages.append({"role": "user", "content": NO_TOOL_CALL})
            recorder.step(None, {}, Outcome(False, reply.text or "(empty reply)"), usage, time.monotonic() - started)
            continue
        finished: Outcome | None = None
        late: list[str] = []
        for call in reply.tool_calls:
            out = table.call(ctx, call.name, call.args)
            recorder.step(call.name, call.args, out, usage, time.monotonic() - started)
            usage, started = Usage(), time.monotonic()  # a reply's tokens count once, on its first call
            messages.append(_observation(call, out))
            if out.finished and finished is None:
                finished = out
            elif finished is not None:
                late.append(f"{call.name}: {'ok' if out.ok else 'failed: ' + out.output[:120]}")
        if finished is not None:
            result = finished.output
            if late:  # the result claims what the reply did: say what ran after finish
                result += f" [after finish, in the same reply: {'; '.join(late)}]"
            return LoopResult("success", result=result)
    return LoopResult("failure", error=f"stopped after {max_steps} model calls without finish (max_steps)")

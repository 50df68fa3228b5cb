"""Zero-token execution: FOLLOWER (replay a proven trace with new slot values) and CRYSTALLIZED
(run a verified tool). Every action goes through the syscall table, like an agent's, and every
step is recorded in the run's trace. An attempt that cannot go on stops and says why, so the
kernel can fall back to the next mode with what was done.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..backends import Usage
from ..errors import LlmosError
from ..syscalls.hooks import Refused
from .slots import check_post, fill_args, resolve_offloaded
from ..syscalls import Context, Outcome, SyscallTable
from ..traces import TraceMeta


@dataclass
class Attempt:
    ok: bool
    result: str | None = None
    error: str | None = None
    done: list[str] = field(default_factory=list)  # "write_file projects/x.md": what already happened


class StepSink:
    """Runs one syscall and records it as a trace step (``recorder.step``), zero tokens."""

    def __init__(self, table: SyscallTable, ctx: Context, recorder: Any):
        self.table, self.ctx, self.recorder = table, ctx, recorder
        self.done: list[str] = []

    def __call__(self, tool: str, args: dict[str, Any]) -> Outcome:
        started = time.monotonic()
        out = self.table.call(self.ctx, tool, args)
        self.recorder.step(tool, args, out, Usage(), time.monotonic() - started)
        if out.ok:
            self.done.append(f"{tool} {args.get('path', '')}".strip())
        return out

    def read(self, path: str) -> str | None:
        """A file's text for postconditions; None if missing or not allowed."""
        try:
            target = self.ctx.path(path)
        except Refused:
            return None
        return target.read_text(encoding="utf-8", errors="replace") if target.is_file() else None


def replay(
    source: TraceMeta, slots: dict[str, str], sink: StepSink, get_blob: Callable[[str], bytes] | None
) -> Attempt:
    """FOLLOWER: the source's successful tool steps, slots filled, each checked after it runs."""
    for step in source.steps:
        if not (step.ok and step.tool):
            continue  # the model's mistakes and musings are not replayed
        derived = [w for c in step.post or [] for w in c.get("unexplained", [])]
        if derived:
            return Attempt(
                False,
                error=f"step {step.n} ({step.tool}) uses {', '.join(derived)} from a slot value "
                "in a way a replay cannot reproduce",
                done=sink.done,
            )
        try:
            args = fill_args(resolve_offloaded(step.args, get_blob), resolve_offloaded(step.slot_args, get_blob), slots)
        except (KeyError, ValueError, LlmosError) as exc:
            return Attempt(False, error=f"step {step.n} ({step.tool}) cannot be filled: {exc}", done=sink.done)
        out = sink(step.tool, args)
        if not out.ok:
            return Attempt(False, error=f"step {step.n} ({step.tool}) failed: {out.output}", done=sink.done)
        problem = check_post(step.post, slots, out.output, sink.read)
        if problem:
            return Attempt(False, error=f"step {step.n} ({step.tool}): {problem}", done=sink.done)
        if out.finished:
            return Attempt(True, result=out.output, done=sink.done)
    return Attempt(False, error=f"trace {source.id} has no finish step to replay", done=sink.done)


def run_tool(
    path: Path,
    slot_names: list[str],
    slots: dict[str, str],
    sink: StepSink,
    *,
    timeout: float = 30.0,
    unsandboxed: bool = False,
) -> Attempt:
    """CRYSTALLIZED: run the (verified) tool in the jail with the goal's slots; each syscall it makes
    comes back here and runs through ``sink`` (the run's table, hooks and trace)."""
    from .jail import run_tool_process

    def dispatch(tool: str, args: dict[str, Any]) -> tuple[bool, str]:
        out = sink(tool, args)
        return out.ok, out.output

    request = {"mode": "run", "tool": str(path), "slots": {name: slots[name] for name in slot_names}}
    done = run_tool_process(
        request, dispatch, readable=[path], root=sink.ctx.root, timeout=timeout, unsandboxed=unsandboxed
    )
    if not done.get("ok"):
        return Attempt(False, error=done.get("error") or "the tool failed", done=sink.done)
    return Attempt(True, result=done["result"], done=sink.done)

"""Zero-token execution: FOLLOWER (replay a script whose every argument is explained, see
:mod:`llmos.modes.script`) and CRYSTALLIZED (run a verified tool). Every action goes through the syscall
table, like an agent's, and every step is recorded in the run's trace. After each write the file must
hold exactly what the step meant to write, and a checked read must return what the source runs read
(slot values filled): a mismatch stops the attempt. An attempt that cannot go on stops and says why, so
the kernel can fall back to the next mode with what was done.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..backends import Usage
from ..syscalls.hooks import Refused
from ..syscalls import Context, Outcome, SyscallTable
from .script import Script


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
        what = f"{tool} {args.get('path', '')}".strip()
        if out.ok and tool == "write_file" and self.read(args["path"]) != args["content"]:
            out = Outcome(False, f"{args['path']} was written but does not hold what this step meant to write")
            what += " (its content is not what was meant)"
        self.recorder.step(tool, args, out, Usage(), time.monotonic() - started)
        if out.ok or what.endswith("meant)"):
            self.done.append(what)
        return out

    def read(self, path: str) -> str | None:
        """A file's text for postconditions; None if missing or not allowed."""
        try:
            target = self.ctx.path(path)
        except Refused:
            return None
        return target.read_text(encoding="utf-8", errors="replace") if target.is_file() else None


def replay(script: Script, sink: StepSink) -> Attempt:
    """FOLLOWER: the script's steps with this goal's arguments, each checked after it runs."""
    for step in script.steps:
        out = sink(step.tool, step.args)
        if not out.ok:
            return Attempt(False, error=f"step {step.n} ({step.tool}) failed: {out.output}", done=sink.done)
        if step.expect is not None and out.output != step.expect:
            return Attempt(
                False,
                error=f"step {step.n} ({step.tool}) read something else than the source runs did",
                done=sink.done,
            )
        if out.finished:
            return Attempt(True, result=out.output, done=sink.done)
    return Attempt(False, error="the script has no finish step", done=sink.done)


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

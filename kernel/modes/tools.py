"""Crystallized tools as syscalls: an agent can call an active tool by name, like ``write_file``.

Each active tool in ``crystallized/`` becomes a syscall whose arguments are the tool's slots
(strings) and whose description is its template. A call re-checks the tool's hash first (an
edited tool is verified again in the sandbox before it runs) and runs it through an
:class:`~llmos.toolapi.Api` bound to the same table and context, so every inner call passes the
same hooks: the calling agent needs the rights the tool's steps use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field, create_model

from ..syscalls import Context, Outcome, Syscall, SyscallTable
from . import toolstate
from .toolstate import ToolState


def _make(table: SyscallTable, root: Path, state: ToolState, config: Any) -> Syscall:
    fields = {s: (str, Field(..., description=f"the {s} value of: {state.template}")) for s in state.slots}
    params = create_model(f"{state.name}_args", __config__=ConfigDict(extra="forbid"), **fields)

    def fn(ctx: Context, **slots: str) -> Outcome:
        from .crystallize import ensure_verified
        from .replay import StepSink, run_tool

        current = toolstate.load_all(root)[0].get(state.name, state)
        current = ensure_verified(root, current, config.crystallize)
        if current.state != "active":
            return Outcome(False, f"tool {state.name} is {current.state}: {current.report}")

        class Quiet:  # inner calls are not trace steps of their own: the tool call is one step
            @staticmethod
            def step(*_: Any) -> None:
                return None

        cfg = config.crystallize
        attempt = run_tool(
            toolstate.paths(root, state.name)[0],
            current.slots,
            slots,
            StepSink(table, ctx, Quiet()),
            timeout=cfg.timeout_s,
            unsandboxed=cfg.unsandboxed,
        )
        if not attempt.ok:
            return Outcome(False, f"{state.name} failed: {attempt.error}")
        return Outcome(True, f"{attempt.result} (steps: {'; '.join(attempt.done)})")

    return Syscall(state.name, fn, f"Crystallized tool: {state.template}", params)


def known_tools(root: Path) -> set[str]:
    """Every name an agent's ``tools`` may list in ``root``: the syscalls and the active crystallized
    tools (what a Kernel's table holds, without building one)."""
    names = set(SyscallTable.default().names())
    return names | {s.name for s in toolstate.load_all(root)[0].values() if s.state == "active"}


def register_tools(table: SyscallTable, root: Path, config: Any) -> None:
    """Add every active crystallized tool of ``root`` to ``table`` (built-in names are never shadowed)."""
    for state in toolstate.load_all(root)[0].values():
        if state.state == "active" and state.name not in table.syscalls:
            table.syscalls[state.name] = _make(table, root, state, config)

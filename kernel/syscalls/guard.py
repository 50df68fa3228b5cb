"""Syscalls an agent may be granted over the guardrails: ``budget_status`` and ``vault_snapshot``.

Agents can ask what is left and seal the current state before a risky step; they can never read,
write or delete the vault or the ledger themselves (those live under the kernel-private .llmos/).
"""

from __future__ import annotations

from typing import Any

import json

from ..plugins import hookimpl
from . import Context, Outcome, syscall


@syscall
def budget_status(ctx: Context) -> Outcome:
    """Report what is left to spend (USD) for this run, this agent today, today, and in total."""
    budget = ctx.budget
    if budget is None:
        return Outcome(False, "no budget service in this run")
    status = budget.status(run_id=ctx.run_id, agent=ctx.agent)
    left = {
        name: {"limit": c["limit"], "spent": round(c["spent"], 6), "remaining": c["remaining"]}
        for name, c in status["ceilings"].items()
    }
    return Outcome(True, json.dumps(left, sort_keys=True))


@syscall
def vault_snapshot(ctx: Context, label: str = "") -> Outcome:
    """Seal the committed state of the OS root into the WORM vault, e.g. before a risky step.

    Args:
        label: a short note saying why the snapshot was taken
    """
    from ..vault import snapshot

    config = ctx.config
    info = snapshot(
        ctx.root, label or f"requested by {ctx.agent} in run {ctx.run_id}", config.vault if config is not None else None
    )
    return Outcome(True, f"sealed snapshot {info.id} ({info.files} files)")


@hookimpl
def register_syscalls(register: Any) -> None:
    """This family's syscalls, through the same door as any plugin's."""
    for fn in (budget_status, vault_snapshot):
        register(fn)

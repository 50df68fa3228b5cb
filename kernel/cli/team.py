"""CLI of many-agent work: ``llmos trace show ID`` (the tree of a run) and ``llmos ps``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from .context import current


def _root() -> Path:
    return current().root()


@click.group()
def trace() -> None:
    """Look at one run's trace."""


@trace.command("show")
@click.argument("trace_id")
@click.option("--json", "as_json", is_flag=True, help="Print the tree as JSON.")
def trace_show(trace_id: str, as_json: bool) -> None:
    """The tree of run TRACE_ID: it and every run it delegated to, with steps, tokens and cost."""
    from ..team.tracetree import load_tree, render_tree

    tree = load_tree(_root(), trace_id)
    if as_json:
        click.echo(json.dumps(tree.as_dict(), indent=2))
        return
    for line in render_tree(tree):
        click.echo(line)
    from ..syscalls.todo import last_task_list

    tasks = last_task_list(tree.meta.steps) if tree.meta is not None else None
    if tasks:  # the run's task list as its last todo_write left it
        click.echo(tasks)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def ps(as_json: bool) -> None:
    """Running runs in this root (pid, agent, goal, step, tokens) and the claims they hold."""
    from ..team.claims import held
    from ..team.runs import running

    current().kernel()  # opening the root commits what killed runs left (llmos.team.recover)
    root = _root()
    runs = running(root)
    claims, handoffs = held(root)
    if as_json:
        click.echo(json.dumps({"runs": [r.__dict__ for r in runs], "claims": claims, "handoffs": handoffs}, indent=2))
        return
    click.echo(f"{'PID':>7}  {'RUN':<22} {'AGENT':<14} {'STEP':>4}  {'TOKENS':>13}  GOAL")
    for r in runs:
        indent = "  " * r.depth
        tokens = f"{r.tokens['input']}/{r.tokens['output']}"
        click.echo(f"{r.pid:>7}  {r.id:<22} {indent + r.agent:<14} {r.step:>4}  {tokens:>13}  {r.goal[:60]}")
    if not runs:
        click.echo("(no runs)")
    now = time.time()
    for c in claims:
        holder = f"run {c['run']}" if c.get("run") else "handed off"
        click.echo(f"claim {c['resource']!r}: {c['agent']} ({holder}), {max(0, c['expires'] - now):.0f}s left")
    for h in handoffs:
        click.echo(f"handoff to {h['to']} from {h['from_agent']}: {h['note'][:80]}")


team_commands = (trace, ps)

"""``llmos traces``, ``llmos crystallize``, ``llmos tools``: what the kernel learned from repetition."""

from __future__ import annotations

import json
import sys

import click

from .context import current


def _kernel():
    return current().kernel()


@click.command()
@click.option("--goal", "-g", default=None, help="Rank traces by how well they match this goal.")
@click.option("-n", "limit", default=20, show_default=True, help="How many traces.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def traces(goal: str | None, limit: int, as_json: bool) -> None:
    """List traces (newest first, or best match for --goal) with uses, successes and confidence."""
    from ..modes.learned import trace_rows

    rows = trace_rows(_kernel(), goal, limit)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        match = f" {r['match']} {r['similarity']:.2f}" if "match" in r else ""
        click.echo(
            f"{r['id']}  {r['mode']:<12} {r['outcome']:<8} uses={r['uses']} ok={r['successes']} "
            f"conf={r['confidence']:.2f}{' demoted' if r['demoted'] else ''}{match}  {r['goal'][:60]}"
        )
    if not rows:
        click.echo("no traces" + (" match that goal" if goal else " yet"))


@click.command("crystallize")
@click.option("--dry-run", is_flag=True, help="Only list the candidates with their stats.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def crystallize_cmd(dry_run: bool, as_json: bool) -> None:
    """Turn templates with enough identical successful runs into verified tools (or list candidates)."""
    from ..modes.learned import candidate_rows, crystallize_now

    kernel = _kernel()
    rows = candidate_rows(kernel) if dry_run else crystallize_now(kernel)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    elif dry_run:
        for r in rows:
            mark = "due" if r["eligible"] else "not yet"
            click.echo(
                f"{mark:<8} {r['name']:<40} runs={r['runs']}/{r['all_runs']}  {r['reason']}\n         {r['template']}"
            )
        if not rows:
            click.echo("no candidates: no template has a successful run yet")
    else:
        for r in rows:
            click.echo(f"{r['state']:<7} {r['name']}: {r['report']}")
        if not rows:
            click.echo("nothing to crystallize (see `llmos crystallize --dry-run`)")
    if not dry_run and any(r["state"] != "active" for r in rows):
        sys.exit(1)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def tools(as_json: bool) -> None:
    """List crystallized tools: state, edited since verification, uses and successes."""
    from ..modes.learned import tool_rows

    rows, errors = tool_rows(_kernel())
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    for r in [] if as_json else rows:
        edited = " (edited: verified again before next use)" if r["edited"] and not r["missing"] else ""
        edited = " (files missing)" if r["missing"] else edited
        click.echo(
            f"{r['name']:<40} {r['state']:<8} uses={r['uses']} ok={r['successes']} "
            f"conf={r['confidence']:.2f}{edited}\n    {r['template']}\n    {r['report']}"
        )
    if not rows and not as_json:
        click.echo("no crystallized tools yet (see `llmos crystallize --dry-run`)")
    for e in errors:
        click.echo(f"invalid: {e}", err=True)
    if errors:
        sys.exit(1)


mode_commands = (traces, crystallize_cmd, tools)

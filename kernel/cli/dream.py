"""``llmos dream [--dry-run] [--agent A]``, ``llmos dream --apply BRANCH``, ``llmos promote --list``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .context import current


def _root() -> Path:
    return current().root()


def _config():
    return current().config()


@click.command()
@click.option("--dry-run", is_flag=True, help="Show what the dream would change; commit nothing.")
@click.option("--agent", default=None, help="Only this agent's runs and working memory.")
@click.option(
    "--apply",
    "apply_branch",
    default=None,
    metavar="BRANCH",
    help="Merge an approved dream branch (llmos/dream/DATE) into the current branch.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def dream(dry_run: bool, agent: str | None, apply_branch: str | None, as_json: bool) -> None:
    """Nightly maintenance: promote proven workflows, keep lessons, consolidate memory."""
    from ..dream import apply_dream, dream as run_dream

    if apply_branch:
        sha = apply_dream(_root(), apply_branch)
        click.echo(f"merged {apply_branch} -> {sha[:10]}")
        return
    progress = None if as_json else (lambda msg: click.echo(f"... {msg}", err=True))
    report = run_dream(_root(), _config(), agent=agent, dry_run=dry_run, progress=progress)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    click.echo(report.text(), nl=False)
    if report.local_commit:
        click.echo(f"committed on the current branch: {report.local_commit[:10]}")
    if report.branch:
        click.echo(f"for review: branch {report.branch} (merge it with `llmos dream --apply {report.branch}`)")


@click.command()
@click.option("--list", "as_list", is_flag=True, required=True, help="List what the traces would promote.")
@click.option("--agent", default=None, help="Only this agent's runs.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def promote(as_list: bool, agent: str | None, as_json: bool) -> None:
    """Promotion candidates: workflows and lessons the traces support, with their evidence."""
    from ..dream import candidates

    rows = [c.row() for c in candidates(_root(), _config().dream, agent)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("nothing to promote yet")
    for r in rows:
        click.echo(
            f"{r['tier']:5} {r['kind']:8} {r['uses']:4} uses {r['success_rate']:.0%} success "
            f"{len(r['agents']) + len(r['projects'])} ctx  {r['template']}"
        )


dream_commands = [dream, promote]

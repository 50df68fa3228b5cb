"""CLI of many machines: ``llmos sync`` (a shared brain through a git remote) and ``llmos fleet run``
(many goals as Ray tasks)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .context import current, echo_err


@click.command()
@click.option("--remote", default=None, help="The git remote (default: sync.remote, origin).")
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
def sync(remote: str | None, as_json: bool) -> None:
    """Fetch, merge and push this root through its git remote: memories, traces and tools from every
    machine. Conflicting memories keep the newer valid_from; any other conflict stops with the files
    named, the root never left mid-merge. Never force-pushes."""
    from ..sync import sync as do_sync

    obj = current()
    config = obj.config().sync
    if remote:
        config = config.model_copy(update={"remote": remote})
    result = do_sync(obj.root(), config)
    if as_json:
        click.echo(json.dumps(result.__dict__, indent=2))
        return
    click.echo(result.line())
    for line in result.resolved:
        click.echo(f"  resolved {line}")


@click.group()
def fleet() -> None:
    """Run many goals at once on a Ray cluster, each worker in its own clone of the root."""


@fleet.command("run")
@click.argument("goals_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--address", default=None, help="A Ray cluster to join, e.g. ray://HOST:10001 (default: start one).")
@click.option(
    "--local",
    "workers",
    type=click.IntRange(1, 256),
    default=2,
    show_default=True,
    help="Workers (Ray actors), each with its own clone of the root.",
)
@click.option("--ceiling", type=float, default=None, help="USD the whole fleet may spend (default: budget.per_day).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def fleet_run(goals_file: Path, address: str | None, workers: int, ceiling: float | None, as_json: bool) -> None:
    """Run every goal of GOALS_FILE (YAML: a list of goals, or of {goal, agent, model}) on Ray workers.

    Each worker clones the root from its sync remote, runs goals with the normal kernel (modes,
    traces, commits) and pushes them; one budget actor holds the fleet's ceiling, so the fleet cannot
    overspend, and `llmos halt` here stops every worker before its next model call. A goal whose
    worker died is retried once on another worker. Needs `pip install -e '.[fleet]'`."""
    from ..fleet import load_goals, run_fleet

    obj = current()
    goals = load_goals(goals_file)
    show = not as_json
    with click.progressbar(length=len(goals), label="goals", file=sys.stderr) if show else _Null() as bar:
        summary = run_fleet(
            obj.root(),
            obj.config(),
            goals,
            address=address,
            workers=workers,
            ceiling=ceiling,
            on_done=lambda r: bar.update(1),
        )
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        for r in summary["results"]:
            click.echo(f"{r['outcome']:<9} {r['mode']:<12} {r['tokens']:>9}  {r['worker']:<4} {r['goal'][:60]}")
        t = summary["totals"]
        click.echo(
            f"{t['goals']} goals in {t['seconds']:.1f}s ({t['goals_per_s']:.2f}/s) on {t['workers']} workers: "
            f"{t['success']} succeeded, {t['tokens']} tokens, ${t['cost_usd']:.4f} of ${t['ceiling_usd']}"
        )
    if summary["totals"]["failed"]:
        echo_err(f"{summary['totals']['failed']} goal(s) did not succeed")
        raise SystemExit(2)


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n: int) -> None:
        pass


fleet_commands = (sync, fleet)

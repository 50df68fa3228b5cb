"""CLI commands of the guardrails: ``budget``, ``halt``, ``resume``, ``vault``.

Each command finds the OS root and config through :func:`llmos.cli.context.current`. Errors are
:class:`LlmosError` and left for the main group to print.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from .context import current
from ..halt import halt as set_halt
from ..halt import halt_reason
from ..halt import resume as lift_halt


def _root() -> Path:
    return current().root()


def _config(name: str) -> Any:
    return getattr(current().config(), name)


def _usd(value: float | None) -> str:
    return "unlimited" if value is None else f"${value:,.4f}"


@click.group(invoke_without_command=True)
@click.option("--run", "run_id", default=None, help="Also show the per-run ceiling of this run.")
@click.option("--agent", default=None, help="Also show the per-agent daily ceiling of this agent.")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.pass_context
def budget(ctx: click.Context, run_id: str | None, agent: str | None, as_json: bool) -> None:
    """Spend by period, agent and model, and what is left of each ceiling."""
    if ctx.invoked_subcommand is not None:
        return
    from ..budget.gate import Budget

    status = Budget(_root(), _config("budget")).status(run_id=run_id, agent=agent)
    if as_json:
        click.echo(json.dumps(status, indent=2))
        return
    click.echo(f"budget (UTC day {status['day']}):")
    for name, c in status["ceilings"].items():
        click.echo(
            f"  {name:<14} {c['scope']:<32} spent {_usd(c['spent'])}  reserved "
            f"{_usd(c['reserved'])}  limit {_usd(c['limit'])}  remaining {_usd(c['remaining'])}"
        )
    for group in ("by_day", "by_agent", "by_model", "by_kind"):
        if status[group]:
            click.echo(f"{group.replace('_', ' ')}:")
        for key, row in sorted(status[group].items()):
            cache = row.get("cached_tokens", 0), row.get("cache_write_tokens", 0)
            cache_text = f"  cache read {cache[0]:>10}  write {cache[1]:>10}" if any(cache) else ""
            click.echo(
                f"  {key:<32} {row['calls']:>6} calls  in {row['input_tokens']:>10}  "
                f"out {row['output_tokens']:>10}{cache_text}  {_usd(row['cost_usd'])}"
            )


@budget.command("verify")
def budget_verify() -> None:
    """Check the ledger's hash chain; exit 1 if it is broken."""
    from ..budget.gate import Budget

    report = Budget(_root(), _config("budget")).verify()
    click.echo(report.summary())
    if not report.ok:
        raise SystemExit(1)


@click.command()
@click.option("--reason", default=None, help="Why; shown to every run that stops.")
def halt(reason: str | None) -> None:
    """Kill switch: stop every model call and syscall in this root until `llmos resume`."""
    path = set_halt(_root(), reason)
    click.echo(f"halted: {halt_reason(_root())} ({path}); `llmos resume` lifts it")


@click.command()
def resume() -> None:
    """Lift the kill switch."""
    click.echo("resumed" if lift_halt(_root()) else "not halted")


@click.group()
def vault() -> None:
    """WORM snapshots of the root: sealed, hash-chained, verifiable."""


def _vault() -> Any:
    from ..vault import Vault

    return Vault(_root(), _config("vault"))


@vault.command("snapshot")
@click.option("--label", default=None, help="A note stored with the snapshot.")
def vault_snapshot(label: str | None) -> None:
    """Seal HEAD, the ledger and the blobs into a new snapshot."""
    info = _vault().snapshot(label)
    click.echo(
        f"sealed {info.id}: {info.files} files, {info.bytes:,} bytes "
        f"({info.archive_bytes:,} compressed), commit {info.commit[:12]}, "
        f"retained until {info.retain_until:%Y-%m-%d}"
    )


@vault.command("list")
def vault_list() -> None:
    """Snapshots, oldest first."""
    snaps = _vault().list()
    if not snaps:
        click.echo("no snapshots")
    for s in snaps:
        click.echo(
            f"{s.id}  #{s.seq:<4} {s.created:%Y-%m-%d %H:%M}  {s.files:>6} files  "
            f"{s.archive_bytes:>12,} B  until {s.retain_until:%Y-%m-%d}  "
            f"{s.commit[:12]}  {s.label or ''}".rstrip()
        )


@vault.command("verify")
@click.argument("ident", required=False)
@click.option("--all", "all_", is_flag=True, help="Verify every snapshot (the default).")
def vault_verify(ident: str | None, all_: bool) -> None:
    """Check every byte of one snapshot (ID) or all; name each changed, missing or added file.

    Also compares the newest snapshot with its anchor in the ledger: a head that is missing,
    replaced or behind the anchor is reported. Exits 1 on any damage.
    """
    if ident and all_:
        raise click.UsageError("give an ID or --all, not both")
    results = _vault().verify(ident)
    for r in results:
        for line in r.lines():
            click.echo(line)
    if not results:
        click.echo("no snapshots")
    if not all(r.ok for r in results):
        raise SystemExit(1)


@vault.command("reanchor")
@click.option("--reason", required=True, help="Why the damage is accepted; kept in the ledger with the anchor.")
def vault_reanchor(reason: str) -> None:
    """Accept damage `verify` reported (a lost or replaced newest snapshot): anchor the current head."""
    head = _vault().reanchor(reason)
    where = "an empty vault" if head.seq is None else f"snapshot #{head.seq} ({head.id})"
    click.echo(f"re-anchored the vault at {where}; the ledger keeps the old anchors")


@vault.command("restore")
@click.argument("ident")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
def vault_restore(ident: str, dest: Path) -> None:
    """Restore snapshot ID into the new or empty directory DEST."""
    info = _vault().restore(ident, dest)
    click.echo(f"restored {info.id} ({info.files} files) into {dest}")


@vault.command("prune")
@click.argument("idents", nargs=-1)
def vault_prune(idents: tuple[str, ...]) -> None:
    """Delete expired snapshots (or the IDs given; refused if any is unexpired)."""
    gone = _vault().prune(list(idents) or None)
    click.echo(f"pruned {len(gone)}: {' '.join(gone)}" if gone else "nothing expired")


guard_commands = [budget, halt, resume, vault]

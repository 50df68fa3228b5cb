"""``llmos schedule``: the jobs of ``schedule:`` with their last and next run; ``run``, ``run-due``
and ``install`` (a systemd user timer or crontab entries, for people who keep no process running)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .context import current


def _jobs() -> list:
    from ..serve.jobs import jobs

    return jobs(current().config())


@click.group("schedule", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def schedule(ctx: click.Context, as_json: bool) -> None:
    """Scheduled jobs (schedule: in system/llmos.yaml) with their last and next run."""
    if ctx.invoked_subcommand is not None:
        return
    from ..serve.schedule import status

    rows = status(current().root(), _jobs())
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no scheduled jobs (add a schedule: section to system/llmos.yaml)")
    for r in rows:
        last = r["last"]
        done = f"{last['started']} {last['outcome']} trace {last['trace'] or '-'}" if last else "never"
        flag = "  (running)" if r["running"] else "  (due)" if r["due"] else ""
        click.echo(f"{r['job']:<24} {r['cron']:<16} last {done}  next {r['next']}{flag}")


@schedule.command("run")
@click.argument("name")
def run(name: str) -> None:
    """Run job NAME now (unless it is running already or the root is halted)."""
    from ..serve.schedule import run_job

    job = next((j for j in _jobs() if j.name == name), None)
    if job is None:
        raise click.UsageError(f"no job {name!r}; jobs: {', '.join(j.name for j in _jobs()) or 'none'}")
    last = run_job(current().kernel(), job)
    if last is None:
        click.echo(f"{name}: not started (halted, or running already)")
        return
    click.echo(f"{name}: {last['outcome']}  trace {last['trace'] or '-'}  commit {(last['commit'] or '-')[:10]}")
    if last["outcome"] != "success":
        sys.exit(2)


@schedule.command("run-due")
def run_due() -> None:
    """Run every job that is due (what the systemd timer and the @reboot crontab line call)."""
    from ..serve.schedule import run_due as do

    for name, last in do(current().kernel()):
        click.echo(f"{name}: {last['outcome'] if last else 'not started (halted, or running already)'}")


@schedule.command("install")
@click.option("--systemd", "kind", flag_value="systemd", help="A systemd user timer (the default where systemd runs).")
@click.option("--crontab", "kind", flag_value="crontab", help="Lines in your crontab (the default elsewhere).")
@click.option(
    "--dir", "folder", type=click.Path(file_okay=False, path_type=Path), default=None, help="systemd: write units here."
)
@click.option("--print", "only_print", is_flag=True, help="Print what would be written; change nothing.")
def install(kind: str | None, folder: Path | None, only_print: bool) -> None:
    """Run the schedule without `llmos serve`: a systemd user timer or crontab entries."""
    from ..serve import install as inst

    root = current().root()
    kind = kind or ("systemd" if inst.has_systemd() else "crontab")
    if kind == "systemd":
        units = inst.systemd_units(root)
        if only_print:
            for name, text in units.items():
                click.echo(f"# {name}\n{text}")
            return
        paths = inst.install_systemd(root, folder)
        click.echo("wrote " + ", ".join(str(p) for p in paths))
        click.echo(f"enable it: systemctl --user daemon-reload && systemctl --user enable --now {paths[1].name}")
        return
    if only_print:
        click.echo(inst.crontab_block(root, _jobs()), nl=False)
        return
    inst.install_crontab(root, _jobs())
    click.echo(f"installed {len(_jobs())} job(s) in your crontab (see `crontab -l`)")


schedule_commands = (schedule,)

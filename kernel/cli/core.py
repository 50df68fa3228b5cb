"""The core commands: ``init``, ``boot``, ``check``, ``agents``, ``log``, ``doctor``."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from ..errors import LlmosError
from .context import Obj, echo_err


@click.command()
@click.argument("directory", type=click.Path(file_okay=False))
def init(directory: str) -> None:
    """Create a new OS root in DIRECTORY: system/, agents/, tier folders, a git repo, one commit."""
    from ..root import init_root

    root = init_root(directory)
    click.echo(f"created llmos root {root}")
    click.echo(f'next: cd {directory} && llmos boot "Write a haiku about git into projects/demo/haiku.md"')


def _print_event(kind: str, data: dict[str, Any]) -> None:
    if kind == "start":
        t = data["trace"]
        echo_err(f"run {t.id}  agent={t.agent}  model={t.model}  mode={t.mode}")
    elif kind == "step":
        s = data["step"]
        first = " ".join(s.result.split())[:90]
        target = s.args.get("path") or ""
        mark = click.style("ok", fg="green") if s.ok else click.style("refused/failed", fg="red")
        echo_err(
            f"  {s.n:>3}  {s.tool or '(no tool call)':<12} {target:<32} {mark}  "
            f"[{s.tokens.input} in/{s.tokens.output} out, {s.seconds:.1f}s]  {first}"
        )
    elif kind == "agent":  # the agent file was edited during the run: the next step uses the new version
        echo_err(f"  (run now uses agent {data['agent'].name} {data['old_hash']} -> {data['agent'].hash})")
    elif kind == "reload":
        echo_err(f"  [reload] {data['event'].line()}")
    elif kind == "compacted":  # a long run: older turns shrunk to stay within the model's window
        echo_err(
            f"  (compacted before call {data['at_call']}: {data['before']} -> {data['after']} input tokens; "
            f"{data['results']} old tool results, {data['turns']} old turns)"
        )


@click.command()
@click.argument("goal")
@click.option("--agent", "-a", default=None, help="Agent to run (default: entry_agent in system/llmos.yaml).")
@click.option(
    "--model",
    "-m",
    default=None,
    help="Model spec: local, local:PATH.gguf, anthropic:MODEL, scripted:PATH.yaml, or an alias.",
)
@click.option("--max-steps", type=click.IntRange(1, 1000), default=None, help="Cap on model calls for this run.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary (trace id, outcome, steps, tokens).")
@click.option(
    "--mode",
    type=click.Choice(["CRYSTALLIZED", "FOLLOWER", "MIXED", "LEARNER"], case_sensitive=False),
    default=None,
    help="Force an execution mode (default: chosen from past traces and tools).",
)
@click.pass_obj
def boot(
    obj: Obj, goal: str, agent: str | None, model: str | None, max_steps: int | None, as_json: bool, mode: str | None
) -> None:
    """Run GOAL with an agent; write its trace and commit what it changed to git."""
    kernel = obj.kernel()
    try:
        res = kernel.run(
            goal,
            agent=agent,
            model=model,
            max_steps=max_steps,
            on_event=None if as_json else _print_event,
            mode=mode.upper() if mode else None,
        )
    except LlmosError as exc:
        run = getattr(exc, "run", None)
        if run is not None:
            echo_err(f"trace: {run.trace_path.relative_to(kernel.root)} (outcome {run.outcome})")
        raise
    if as_json:
        click.echo(json.dumps(res.as_dict(), indent=2))
        return
    rel = res.trace_path.relative_to(kernel.root)
    click.echo(f"{res.outcome}: {res.result or res.error or ''}".strip())
    t = res.tokens
    cache = f" cache {t['cached']}r/{t['cache_write']}w" if t.get("cached") or t.get("cache_write") else ""
    click.echo(
        f"trace {rel}  steps={res.steps}  tokens={t['input']}/{t['output']}{cache}  "
        f"commit={(res.commit or '-')[:10]}  {res.seconds:.1f}s"
    )
    for note in res.learned:
        click.echo(f"learned: {note}")
    if res.outcome != "success":
        sys.exit(2)


@click.command()
@click.option("--strict", is_flag=True, help="Dropped tools and leniently read agent values are errors too.")
@click.pass_obj
def check(obj: Obj, strict: bool) -> None:
    """Validate the whole root (config, agents, souls, traces); exit 1 listing every error. Warnings list
    what llmos does not honour in agent files (dropped tools, ignored fields)."""
    from ..checks import agent_notes, check_root, check_warnings, toolbelt_warnings

    root = obj.root()
    errors = check_root(root, strict=strict)
    kinds = ("ignored",) if strict else ("dropped", "lenient", "ignored")  # strict: the others are errors
    for warning in check_warnings(root) + toolbelt_warnings(root) + agent_notes(root, kinds):
        echo_err(f"warning: {warning}")
    for err in errors:
        for line in err.lines():
            click.echo(line)
    if errors:
        echo_err(f"{sum(len(e.problems) for e in errors)} problem(s) in {len(errors)} file(s)")
        sys.exit(1)
    click.echo(f"ok: {root}")


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def agents(ctx: click.Context, as_json: bool) -> None:
    """List agents with their tools and model (``llmos agents import`` brings in a collection)."""
    if ctx.invoked_subcommand is None:
        _list_agents(ctx.obj, as_json)


def _list_agents(obj: Obj, as_json: bool) -> None:
    kernel = obj.kernel()
    root = kernel.root
    found, errors = kernel.agents()
    rows = [
        {
            "name": a.name,
            "system": a.system,
            "model": a.model or "(default)",
            "tools": sorted(a.tools) if a.tools is not None else "all",
            "description": a.description,
            "path": str(a.path.relative_to(root)),
            "notes": [n.text(str(a.path.relative_to(root))) for n in a.notes],
        }
        for a in found
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    for r in [] if as_json else rows:
        tools = ", ".join(r["tools"]) if isinstance(r["tools"], list) else r["tools"]
        kind = " (system)" if r["system"] else ""
        click.echo(f"{r['name']}{kind}\n    model: {r['model']}  tools: {tools}\n    {r['description']}")
    for r in rows:
        for note in r["notes"]:
            if "accepted and ignored" not in note:  # ignored fields: llmos check lists them
                echo_err(f"warning: {note}")
    for err in errors:
        echo_err(f"invalid: {err}")
    if errors:
        sys.exit(1)


@agents.command("import")
@click.argument("source", type=click.Path(exists=True))
@click.option("--json", "as_json", is_flag=True, help="Print the per-file report as JSON.")
@click.pass_obj
def agents_import(obj: Obj, source: str, as_json: bool) -> None:
    """Copy the agent files of SOURCE (a folder or one .md) into agents/, report per file what loaded,
    which Claude Code tools were mapped and what was dropped, and commit. Exit 1 if a file is invalid."""
    from ..agentimport import import_agents

    report = import_agents(obj.kernel(), source)
    if as_json:
        click.echo(json.dumps({"files": [f.__dict__ for f in report.files], "commit": report.commit}, indent=2))
    for f in [] if as_json else report.files:
        mapped = ", ".join(f"{k}->{v}" for k, v in f.mapped.items())
        click.echo(f"{f.status:<8} {f.name or '?'}  {f.path or f.source}")
        if mapped:
            click.echo(f"    mapped: {mapped}")
        for note in f.notes:
            click.echo(f"    {note}")
    c = report.counts()
    if not as_json:
        where = f"commit {report.commit[:10]}" if report.commit else "nothing committed"
        click.echo(f"{c['loaded']} loaded, {c['invalid']} invalid, {c['skipped']} skipped; {where}")
    if c["invalid"]:
        sys.exit(1)


@click.command()
@click.option("-n", "limit", default=20, show_default=True, help="How many runs.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def log(obj: Obj, limit: int, as_json: bool) -> None:
    """List runs from git history, newest first, with their trailers."""
    from ..audit.log import run_log

    entries = run_log(obj.root(), limit)
    if as_json:
        click.echo(json.dumps([e.__dict__ for e in entries], indent=2))
        return
    for e in entries:
        t = e.trailers
        click.echo(
            f"{e.sha[:10]}  {e.date[:19]}  {t.get('Agent', '?'):<12} {t.get('Mode', '?'):<9} "
            f"tokens={t.get('Tokens', '?'):<11} {e.subject}"
        )


@click.command()
@click.option("--model", "-m", default=None, help="A local model spec to try (default: the root's local settings).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def doctor(obj: Obj, model: str | None, as_json: bool) -> None:
    """Can this machine run the local model? CPU features, llama.cpp's build flags, and a one-token
    generation in the model worker. Exit 1 naming what to fix if not. Works outside an OS root too."""
    from ..doctor import diagnose
    from ..errors import RootError

    try:
        root = obj.root()
    except RootError:
        root = None
    report = diagnose(root, model)
    if as_json:
        click.echo(json.dumps({"ok": report.ok, "problems": report.problems, **report.facts}, indent=2))
    for key, text in [] if as_json else report.lines:
        click.echo(f"{key:<10} {text}")
    for problem in [] if as_json else report.problems:
        echo_err(f"problem: {problem}")
    if not report.ok:
        sys.exit(1)
    if not as_json:
        click.echo("ok: the local model works on this machine")


@click.group("config")
def config_group() -> None:
    """The merged configuration (defaults < system/llmos.yaml < environment)."""


@config_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: key, value, source.")
@click.pass_obj
def config_show(obj: Obj, as_json: bool) -> None:
    """Every setting with its value and where it came from (file:line, environment or default)."""
    from ..config import explain_config

    rows = explain_config(obj.root())
    if as_json:
        click.echo(json.dumps([r.__dict__ for r in rows], indent=2))
        return
    width = max(len(r.key) for r in rows)
    for r in rows:
        click.echo(f"{r.key:<{width}}  {json.dumps(r.value)}  ({r.source})")


core_commands = (init, boot, check, agents, log, doctor, config_group)

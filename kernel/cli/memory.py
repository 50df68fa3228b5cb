"""``llmos recall``, ``llmos remember``, ``llmos memory list|show|history|import|reindex``, ``llmos brief``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .context import current

from ..memory.names import ALL_TIERS, KINDS, TIERS


def _root() -> Path:
    return current().root()


def _config():
    return current().config()


def _warn(lines: list[str]) -> None:
    for line in lines:
        click.echo(f"skipped: {line}", err=True)


@click.command()
@click.argument("query")
@click.option("-k", type=click.IntRange(1, 100), default=None, help="How many results (default: memory.recall.k).")
@click.option("--tier", "tiers", multiple=True, type=click.Choice(ALL_TIERS), help="Only this tier (repeatable).")
@click.option("--agent", default=None, help="Only memories written by this agent.")
@click.option("--project", default=None, help="Only memories of this project.")
@click.option("--tag", "tags", multiple=True, help="Only memories with this tag (repeatable: all must match).")
@click.option("--since", default=None, help="Only memories created on or after this date (YYYY-MM-DD).")
@click.option("--as-of", "as_of", default=None, help="What was true at this date, superseded facts included.")
@click.option("--history", is_flag=True, help="Include superseded memories.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def recall(
    query: str,
    k: int | None,
    tiers: tuple[str, ...],
    agent: str | None,
    project: str | None,
    tags: tuple[str, ...],
    since: str | None,
    as_of: str | None,
    history: bool,
    as_json: bool,
) -> None:
    """Search memories and past runs (BM25, weighted by tier, confidence, recency, validity).

    The index catches up with files added, removed or replaced since the last call (folder mtimes);
    an edit in place that keeps the folder's mtime is seen after `llmos memory reindex`."""
    from ..memory.recall import format_hits, recall as do_recall

    cfg = _config().memory.recall
    try:
        result = do_recall(
            _root(),
            query,
            tiers=tiers,
            agent=agent,
            project=project,
            tags=tags,
            since=since,
            as_of=as_of,
            history=history,
            k=k,
            config=cfg,
            sync="quick",
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
        return
    _warn(result.skipped)
    click.echo(format_hits(result.__class__(result.query, result.hits, result.abstain), cfg.min_match))


@click.command()
@click.argument("text")
@click.option("--title", default=None, help="Short title (default: the first sentence).")
@click.option("--kind", type=click.Choice(KINDS), default="fact", show_default=True)
@click.option("--tag", "tags", multiple=True, help="A keyword (repeatable).")
@click.option("--tier", type=click.Choice(TIERS), default="beta", show_default=True)
@click.option("--agent", default=None, help="Agent the memory belongs to.")
@click.option("--project", default=None, help="Project scope: stored in projects/NAME/memory/.")
@click.option("--supersedes", multiple=True, help="Id of a memory this one replaces (repeatable).")
@click.option("--confidence", type=click.FloatRange(0, 1), default=0.8, show_default=True)
@click.option("--valid-from", "valid_from", default=None, help="When it happened or became true (YYYY-MM-DD).")
def remember(
    text: str,
    title: str | None,
    kind: str,
    tags: tuple[str, ...],
    tier: str,
    agent: str | None,
    project: str | None,
    supersedes: tuple[str, ...],
    confidence: float,
    valid_from: str | None,
) -> None:
    """Write a memory file (superseding others if asked) and commit it to git."""
    from ..memory.recall import parse_when
    from ..memory.store import remember as do_remember

    root = _root()
    try:
        memory, written = do_remember(
            root,
            text,
            title=title,
            kind=kind,
            tags=tags,
            tier=tier,
            agent=agent,
            project=project,
            supersedes=supersedes,
            confidence=confidence,
            valid_from=parse_when(valid_from, "--valid-from"),
            commit=True,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"remembered {memory.id} ({written[0]})")
    for rel in written[1:]:
        click.echo(f"superseded {Path(rel).stem} ({rel})")


@click.group()
def memory() -> None:
    """List, show and trace the history of memory documents."""


@memory.command("list")
@click.option("--tier", type=click.Choice(TIERS), default=None)
@click.option("--project", default=None)
@click.option("--all", "show_all", is_flag=True, help="Include superseded memories.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_cmd(tier: str | None, project: str | None, show_all: bool, as_json: bool) -> None:
    """Memories, newest first; broken files are reported on stderr (file:line) and skipped."""
    from ..memory.model import render_memory
    from ..memory.store import list_memories

    root = _root()
    found, errors = list_memories(root, tier, project)
    found = [m for m in found if show_all or m.meta.valid_to is None]
    if as_json:
        click.echo(json.dumps([{**render_memory(m.meta), "path": m.rel(root)} for m in found], indent=2))
    for m in [] if as_json else found:
        old = f"  (superseded by {m.meta.superseded_by})" if m.meta.superseded_by else ""
        click.echo(f"{m.id:<48} {m.meta.tier:<6} {m.meta.kind:<9} {m.meta.created:%Y-%m-%d}  {m.meta.title}{old}")
    _warn([line for e in errors for line in e.lines()])


@memory.command()
@click.argument("memory_id")
def show(memory_id: str) -> None:
    """Print a memory file."""
    from ..memory.store import find_memory

    click.echo(find_memory(_root(), memory_id).path.read_text(encoding="utf-8"), nl=False)


@memory.command()
@click.argument("memory_id")
def history(memory_id: str) -> None:
    """The supersede chain of a memory, oldest first, with when each was valid."""
    from ..memory.store import history as do_history

    for m in do_history(_root(), memory_id):
        until = f"{m.meta.valid_to:%Y-%m-%d %H:%M}" if m.meta.valid_to else "now"
        mark = "*" if m.id == memory_id else " "
        click.echo(f"{mark} {m.meta.start:%Y-%m-%d %H:%M} .. {until:<16} {m.id}  {m.meta.title}")


@memory.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", default=None, help="The conversation's name (default: the file's stem).")
@click.option("--tier", type=click.Choice(TIERS), default="beta", show_default=True)
@click.option("--project", default=None, help="Project scope: stored in projects/NAME/memory/.")
def import_cmd(file: Path, name: str | None, tier: str, project: str | None) -> None:
    """Store a conversation (JSON lines: speaker, time, text) as memories, one per turn, in one commit."""
    import time

    from ..memory.importer import import_conversation

    started = time.perf_counter()
    try:
        memories = import_conversation(_root(), file, tier=tier, project=project, source=name, commit=True)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if not memories:
        click.echo(f"nothing to import: {file} has no turn with text")
        return
    dates = sorted(m.meta.start for m in memories)
    click.echo(
        f"imported {len(memories)} turns ({dates[0]:%Y-%m-%d}..{dates[-1]:%Y-%m-%d}) "
        f"into {memories[0].rel(_root()).rsplit('/', 1)[0]}/ in {time.perf_counter() - started:.2f}s"
    )


@memory.command()
@click.option("--rebuild", is_flag=True, help="Throw the index away and rebuild it from the files.")
def reindex(rebuild: bool) -> None:
    """Bring the search index (.llmos/index, a cache) up to date with the files."""
    import shutil

    from ..memory.index import open_index

    index = open_index(_root())
    if rebuild:
        index.close()
        shutil.rmtree(index.dir, ignore_errors=True)
    r = index.sync()
    click.echo(
        f"{'rebuilt' if r.rebuilt else 'synced'}: +{r.added} ~{r.updated} -{r.removed} "
        f"={r.unchanged} in {r.seconds:.2f}s"
    )
    _warn([line for e in r.errors for line in e.lines()])


@click.command()
@click.argument("agent", required=False)
@click.option("--distill", is_flag=True, help="Let a model compress it further (through the budget gate).")
@click.option("--model", "-m", default=None, help="Model for --distill (default: local).")
def brief(agent: str | None, distill: bool, model: str | None) -> None:
    """A cold-start brief (<= memory.brief_max_bytes) of AGENT: doing, outcomes, open threads, changes."""
    from ..memory.brief import brief as make_brief, distill as do_distill

    kernel = current().kernel()
    spec = kernel.agent(agent or kernel.config.entry_agent)
    text = make_brief(kernel.root, spec, kernel.config)
    if distill:
        text, info = do_distill(kernel.root, spec.name, text, kernel.config, model)
        click.echo(
            f"distilled by {info['model']}: {info['input']} in / {info['output']} out tokens, "
            f"${info['cost_usd']:.6f}{'' if info['kept'] else ' (not shorter: kept the original)'}",
            err=True,
        )
    sys.stdout.write(text)


memory_commands = (recall, remember, memory, brief)

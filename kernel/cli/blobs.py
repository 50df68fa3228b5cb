"""CLI commands of the blob store: ``llmos blobs stats | check | gc | repack``.

The store is ``<root>/.llmos/blobs`` of the command's OS root (:func:`llmos.cli.context.current`).
Errors are :class:`LlmosError`, left for the main group to print.
"""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Any, Callable, Iterator

import click

from .context import current


def _store() -> Any:
    from ..blobs import BlobStore

    return BlobStore.open(current().root() / ".llmos" / "blobs")


@contextlib.contextmanager
def _bar(label: str, quiet: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A progress callback drawing a bar on stderr (nothing when ``quiet``)."""
    if quiet:
        yield None
        return
    with click.progressbar(length=1000, label=label, file=sys.stderr) as bar:
        last = [0]

        def update(done: int, total: int) -> None:
            pos = int(1000 * done / max(total, 1))
            bar.update(pos - last[0])
            last[0] = pos

        yield update


def _mb(n: int) -> str:
    """Bytes for people: 812 B, 14.3 kB, 2.41 MB, 1.07 GB."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= size:
            return f"{n / size:,.2f} {unit}" if unit != "kB" else f"{n / size:.1f} kB"
    return f"{n} B"


@click.group("blobs")
def blobs() -> None:
    """The content-addressed blob store under .llmos/blobs: usage, integrity, garbage."""


@blobs.command()
@click.option("--json", "as_json", is_flag=True, help="Print every figure as JSON.")
def stats(as_json: bool) -> None:
    """Logical, unique and stored bytes; dedup and compression ratios; per kind and agent."""
    with _store() as store:
        s = store.stats()
    if as_json:
        click.echo(json.dumps(s, indent=2, sort_keys=True))
        return
    click.echo(f"blobs {s['blobs']:,} in {s['packs']} packs, {s['dictionaries']} dictionaries, {s['pinned']} pinned")
    click.echo(
        f"logical {_mb(s['logical_bytes'])}  unique {_mb(s['unique_bytes'])}  "
        f"stored {_mb(s['stored_bytes'])}  on disk {_mb(s['disk_bytes'])}"
    )
    click.echo(
        f"dedup {s['dedup_ratio']}x  compression {s['compression_ratio']}x  "
        f"total reduction {s['total_reduction']}x  "
        f"repacked {s['repacked_share']:.0%} (`llmos blobs repack` does the rest)"
        if s["repacked_share"] < 0.995 and s["blobs"]
        else f"dedup {s['dedup_ratio']}x  compression {s['compression_ratio']}x  "
        f"total reduction {s['total_reduction']}x"
    )
    for title, table in (("kind", s["kinds"]), ("agent", s["agents"])):
        if table:
            click.echo(f"by {title}:")
        for name, row in sorted(table.items()):
            click.echo(
                f"  {name:<20} puts {row.get('puts', 0):>9,}  logical "
                f"{_mb(row.get('logical_bytes', 0)):>12}  new {_mb(row.get('new_bytes', 0)):>12}"
            )


@blobs.command()
@click.option("--read-data", is_flag=True, help="Also decompress and hash every blob.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def check(read_data: bool, as_json: bool) -> None:
    """Verify packs, indexes, manifests and trace references; exit 1 if anything is wrong (also with --json)."""
    with _store() as store, _bar("checking packs", as_json) as progress:
        report = store.check(read_data=read_data, progress=progress)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        click.echo(
            f"checked {report.packs} packs, {report.records:,} records, "
            f"{_mb(report.bytes_checked)}"
            + (f", {_mb(report.data_bytes)} decompressed" if read_data else "")
            + f", {report.manifests:,} manifests, {report.trace_refs:,} trace refs"
        )
        for problem in report.problems:
            click.echo(f"problem: {problem}")
        click.echo("ok" if report.ok else f"{len(report.problems)} problems")
    if not report.ok:
        sys.exit(1)  # not ctx.exit: `llmos` runs click with standalone_mode=False, which drops its code


@blobs.command()
@click.option("--dry-run", is_flag=True, help="Report what would be collected; change nothing.")
@click.option(
    "--grace",
    "grace_seconds",
    type=click.IntRange(0),
    default=None,
    help="Keep blobs written in the last SECONDS (default: one day).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def gc(dry_run: bool, grace_seconds: int | None, as_json: bool) -> None:
    """Delete blobs no trace, manifest, vault snapshot or pin refers to; repack packs."""
    with _store() as store, _bar("collecting", as_json) as progress:
        report = store.gc(dry_run=dry_run, grace_seconds=grace_seconds, progress=progress)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    verb = "would free" if dry_run else "freed"
    click.echo(
        f"{report.live_blobs:,} live blobs from {report.roots:,} roots; "
        f"{report.garbage_blobs:,} garbage records; {verb} {_mb(report.reclaimed_bytes)} "
        f"({report.packs_rewritten} packs rewritten, {report.packs_deleted} deleted, "
        f"{report.packs_in_use} in use skipped)"
    )
    for bid in report.missing_roots:
        click.echo(f"warning: root blob {bid} is missing")


@blobs.command()
@click.option("--level", type=click.IntRange(1, 22), default=19, show_default=True, help="zstd level to recompress at.")
@click.option(
    "--max-mb",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Stop after packs holding about this many MB of blobs (default: all).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def repack(level: int, max_mb: float | None, as_json: bool) -> None:
    """Recompress sealed packs at a high zstd level (blobs are written at level 3).

    Every record is verified first; packs a writer holds are skipped. Safe to interrupt:
    old packs are deleted only after the new ones are synced and indexed."""
    with _store() as store, _bar("repacking", as_json) as progress:
        report = store.repack(level=level, progress=progress, max_bytes=None if max_mb is None else int(max_mb * 1e6))
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    click.echo(
        f"repacked {report.packs_rewritten} packs ({report.records:,} records) in "
        f"{report.seconds:.1f} s: {_mb(report.bytes_before)} -> {_mb(report.bytes_after)}, "
        f"saved {_mb(report.saved_bytes)}; {report.packs_in_use} in use skipped"
        + (f"; {report.packs_left} left for next time" if report.packs_left else "")
    )

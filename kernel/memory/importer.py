"""Conversation import: a chat (JSON lines of ``speaker``, ``time``, ``text``) stored as memories, one
per turn, dated by the turn (``valid_from``), in one commit and one batched index update.

A turn's body is ``Speaker: text``; its title is the body's first sentence (as ``remember`` makes it);
its ``sources`` name the conversation (``conversation:NAME``, NAME the file's stem unless given).
The files are written without an fsync each; their folder is synced once at the end (a crash before
the commit leaves files that a second import of the same file would write again, never a broken one).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from ..scrub import scrub
from .model import Memory, MemoryMeta, folder_for, new_id, now, slug, write_memory
from .recall import parse_when
from .store import _check_args, default_title


def turn_memory(
    root: Path,
    speaker: str,
    text: str,
    when: datetime,
    source: str,
    *,
    tier: str = "beta",
    project: str | None = None,
    mid: str | None = None,
    stamp: datetime | None = None,
    taken: set[str] | None = None,
) -> Memory:
    """The memory of one turn (not written yet); ``taken``: ids already given in this batch."""
    body = scrub(f"{speaker.strip()}: {' '.join(text.split())}")
    title = default_title(body)
    folder = folder_for(Path(root), tier, project)
    mid = mid or new_id(title)
    while (folder / f"{mid}.md").exists() or mid in (taken or ()):
        mid = new_id(title)
    if taken is not None:
        taken.add(mid)
    meta = MemoryMeta(
        id=mid,
        tier=tier,
        title=title,
        project=project,
        created=stamp or when,
        valid_from=when,
        sources=[f"conversation:{source}"],
        confidence=0.8,
    )
    return Memory(meta, body, folder / f"{mid}.md")


def read_turns(path: Path) -> list[tuple[str, str, datetime]]:
    """``(speaker, text, time)`` of every line; ``ValueError`` names the line that is wrong."""
    turns = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            speaker, text, when = row["speaker"], row["text"], row["time"]
            if not (isinstance(speaker, str) and speaker.strip() and isinstance(text, str)):
                raise TypeError("speaker and text must be strings, speaker not empty")
            turns.append((speaker, text, parse_when(when, "time")))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            what = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
            raise ValueError(f'{path}:{n}: {what} (each line: {{"speaker", "time", "text"}})') from None
    return turns


def import_conversation(
    root: Path,
    path: Path,
    *,
    tier: str = "beta",
    project: str | None = None,
    source: str | None = None,
    commit: bool = False,
) -> list[Memory]:
    """Store every turn of ``path`` that has text as a memory; index them in one batch; commit once."""
    root = Path(root)
    turns = [t for t in read_turns(path) if t[1].strip()]
    _check_args(tier, project, "x")
    source = source or slug(Path(path).stem, 30)
    stamp, taken = now(), set()
    memories = [
        turn_memory(root, sp, text, when, source, tier=tier, project=project, stamp=stamp, taken=taken)
        for sp, text, when in turns
    ]
    _write_all(memories)
    written = [m.rel(root) for m in memories]
    if memories:
        from .index import open_index

        open_index(root).add_new(memories)
    if commit and written:
        from ..audit.commit import commit_paths, format_message

        first, last = min(t[2] for t in turns), max(t[2] for t in turns)
        message = format_message(
            f"llmos: import {len(written)} turns of {source}",
            {"Memory-Import": source, "Period": f"{first:%Y-%m-%d}..{last:%Y-%m-%d}"},
        )
        commit_paths(root, written, message)
    return memories


def _write_all(memories: list[Memory]) -> None:
    from ..atomic import fsync_dir

    for m in memories:
        write_memory(m, durable=False)
    for folder in {m.path.parent for m in memories}:
        fsync_dir(folder)

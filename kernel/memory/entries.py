"""What the index holds of one file (its row: fields from the memory or trace format) and the walk
over the folders it covers."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

from .names import memory_folders

OPEN_END = 32503680000  # 3000-01-01: "still valid"
BODY_CHARS = 2000  # text kept per document for snippets (a trace's result and error)


def ts(value: datetime | None) -> int:
    return OPEN_END if value is None else int(value.astimezone(timezone.utc).timestamp())


def _parse_iso(text: str | None) -> datetime | None:
    return None if not text else datetime.fromisoformat(text.replace("Z", "+00:00"))


def entry_for(root: Path, path: Path) -> dict[str, Any]:
    """The index document of one memory or trace file (raises :class:`DocumentError`)."""
    from .model import read_memory, read_memory_quickly  # the formats load only when a file changed
    from ..traces import read_trace

    rel = path.relative_to(root).as_posix()
    if rel.startswith("traces/"):
        t = read_trace(path)
        started = ts(_parse_iso(t.started))
        return dict(
            path=rel,
            id=t.id,
            tier="gamma",
            kind="trace",
            agent=t.agent,
            project="",
            tags=",".join(dict.fromkeys(s.tool for s in t.steps if s.tool)),
            title=t.goal,
            body="\n".join(x for x in (t.result, t.error) if x)[:BODY_CHARS],
            created=started,
            start=started,
            end_=OPEN_END,
            confidence=1.0 if t.outcome == "success" else 0.5,
            superseded_by=None,
            outcome=t.outcome,
        )
    return memory_entry(root, read_memory_quickly(path, root) or read_memory(path, root))


def memory_entry(root: Path, memory: Any) -> dict[str, Any]:
    m = memory.meta
    return dict(
        path=memory.rel(root),
        id=m.id,
        tier=m.tier,
        kind=m.kind,
        agent=m.agent or "",
        project=m.project or "",
        tags=",".join(m.tags),
        title=m.title,
        body=memory.body[:BODY_CHARS],
        created=ts(m.created),
        start=ts(m.start),
        end_=ts(m.valid_to),
        confidence=m.confidence,
        superseded_by=m.superseded_by,
        outcome=None,
    )


def _folders(root: Path) -> list[str]:
    """Every folder that holds indexed files: memory folders, and traces/ with its year/month folders."""
    folders = [str(f) for f in memory_folders(root)]
    traces = root / "traces"
    stack = [str(traces)] if traces.is_dir() else []
    while stack:
        folder = stack.pop()
        folders.append(folder)
        with os.scandir(folder) as entries:
            stack.extend(e.path for e in entries if e.is_dir(follow_symlinks=False) and not e.name.startswith("."))
    return folders


def _stat_folders(root: Path, folders: Iterable[str]) -> Iterator[tuple[str, str, os.stat_result]]:
    """``(rel, path, stat)`` of every ``.md`` file in ``folders``: one ``scandir`` per folder."""
    prefix = len(str(root)) + 1
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            continue
        for e in entries:
            if e.name.endswith(".md") and not e.name.startswith(".") and e.is_file():
                try:
                    st = e.stat()
                except FileNotFoundError:
                    continue
                yield e.path[prefix:].replace(os.sep, "/"), e.path, st


def _stat_some(root: Path, rels: Iterable[Path]) -> Iterator[tuple[str, str, os.stat_result | None]]:
    """The same for named files; ``None`` for one that is gone."""
    for p in rels:
        path = root / p
        try:
            st: os.stat_result | None = path.stat()
        except FileNotFoundError:
            st = None
        yield path.relative_to(root).as_posix(), str(path), st


def _mtime(folder: str) -> int | None:
    try:
        return os.stat(folder).st_mtime_ns
    except FileNotFoundError:
        return None

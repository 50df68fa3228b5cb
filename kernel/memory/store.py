"""Writing and reading memories: remember, supersede (never delete), find, list, history.

Every write is atomic and lands in the index at once; superseding takes ``.llmos/locks/memory.lock``
so two processes updating one memory cannot lose each other's change.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Iterable

from ..atomic import file_lock
from ..errors import DocumentError, MemoryNotFound
from ..scrub import scrub
from .model import (
    TIERS,
    Memory,
    MemoryMeta,
    folder_for,
    iter_memory_files,
    memory_folders,
    new_id,
    now,
    read_memory,
    write_memory,
)

NAME = re.compile(r"^[A-Za-z0-9][\w.-]{0,63}$")
TITLE_CHARS = 80


def default_title(text: str) -> str:
    """The first sentence (or line) of ``text``, shortened."""
    first = text.strip().splitlines()[0] if text.strip() else "memory"
    first = re.split(r"(?<=[.!?])\s", first, maxsplit=1)[0].strip().rstrip(".")
    return first if len(first) <= TITLE_CHARS else first[: TITLE_CHARS - 1].rstrip() + "…"


def find_memory(root: Path, memory_id: str) -> Memory:
    """The memory with ``memory_id`` wherever it lives; :class:`MemoryNotFound` if none."""
    if re.fullmatch(r"[a-z0-9][a-z0-9-]*", memory_id or ""):
        for folder in memory_folders(root):
            path = folder / f"{memory_id}.md"
            if path.is_file():
                return read_memory(path, root)
    raise MemoryNotFound(
        f"no memory with id {memory_id!r}", hint="list them with `llmos memory list` or find one with `llmos recall`"
    )


def _check_args(tier: str, project: str | None, text: str) -> None:
    if tier not in TIERS:
        raise ValueError(f"tier must be one of {', '.join(TIERS)}, not {tier!r}")
    if project is not None and not NAME.match(project):
        raise ValueError(f"bad project name {project!r}: letters, digits, '.', '_', '-'")
    if not text.strip():
        raise ValueError("nothing to remember: the text is empty")


def remember(
    root: Path,
    text: str,
    *,
    title: str | None = None,
    kind: str = "fact",
    tags: Iterable[str] = (),
    tier: str = "beta",
    agent: str | None = None,
    project: str | None = None,
    supersedes: Iterable[str] = (),
    sources: Iterable[str] = (),
    confidence: float = 0.8,
    valid_from: datetime | None = None,
    index: bool = True,
    commit: bool = False,
) -> tuple[Memory, list[str]]:
    """Write a new memory (superseding ``supersedes``); return it and every path written (relative).

    With ``commit`` the files are committed to git at once (what ``llmos remember`` does; in a run,
    the run's audit commit takes them)."""
    root = Path(root)
    _check_args(tier, project, text)
    text = scrub(text.strip())
    title = scrub(" ".join((title or default_title(text)).split()))
    stamp = now()
    folder = folder_for(root, tier, project)
    mid = new_id(title)
    while (folder / f"{mid}.md").exists():
        mid = new_id(title)
    meta = MemoryMeta(
        id=mid,
        tier=tier,
        kind=kind,
        title=title,
        agent=agent,
        project=project,
        tags=[t.strip() for t in tags if t.strip()],
        created=stamp,
        updated=stamp,
        valid_from=valid_from,
        supersedes=list(dict.fromkeys(supersedes)),
        sources=list(sources),
        confidence=confidence,
    )
    memory = Memory(meta, text, folder / f"{mid}.md")
    with file_lock(root / ".llmos" / "locks" / "memory.lock"):
        old = [_claim(root, sid, memory) for sid in meta.supersedes]
        write_memory(memory)
        for o in old:
            write_memory(o)
    written = [memory.rel(root), *(o.rel(root) for o in old)]
    if index:
        from .index import open_index

        open_index(root).sync(Path(p) for p in written)
    if commit:
        from ..audit.commit import commit_paths, format_message

        trailers = {"Memory-Id": mid, **({"Supersedes": ", ".join(meta.supersedes)} if meta.supersedes else {})}
        commit_paths(root, written, format_message(f"llmos: remember {title}", trailers))
    return memory, written


def _claim(root: Path, old_id: str, new: Memory) -> Memory:
    """Mark ``old_id`` as ended where ``new`` begins (caller holds the memory lock)."""
    old = find_memory(root, old_id)
    if old.meta.superseded_by:
        raise ValueError(f"memory {old_id} is already superseded by {old.meta.superseded_by}; supersede that one")
    old.meta.valid_to = new.meta.valid_from or new.meta.created
    old.meta.superseded_by = new.id
    old.meta.updated = new.meta.created
    return old


def list_memories(
    root: Path, tier: str | None = None, project: str | None = None
) -> tuple[list[Memory], list[DocumentError]]:
    """Every readable memory (newest first) and the problems of the files that are not."""
    found, errors = [], []
    for path in iter_memory_files(Path(root)):
        try:
            m = read_memory(path, Path(root))
        except DocumentError as exc:
            errors.append(exc)
            continue
        if (tier is None or m.meta.tier == tier) and (project is None or m.meta.project == project):
            found.append(m)
    found.sort(key=lambda m: m.meta.created, reverse=True)
    return found, errors


def history(root: Path, memory_id: str) -> list[Memory]:
    """The whole supersede chain through ``memory_id``, oldest first."""
    seen: dict[str, Memory] = {}
    todo = [memory_id]
    while todo:
        mid = todo.pop()
        if mid in seen:
            continue
        try:
            m = find_memory(root, mid)
        except MemoryNotFound:
            if mid == memory_id:
                raise
            continue  # a link to a memory that is gone from the files: show what is left
        seen[mid] = m
        todo += m.meta.supersedes + ([m.meta.superseded_by] if m.meta.superseded_by else [])
    depth: dict[str, int] = {}

    def depth_of(mid: str, trail: tuple[str, ...] = ()) -> int:  # how many memories it replaced, in a row
        if mid not in depth:
            parents = [p for p in seen[mid].meta.supersedes if p in seen and p not in trail]
            depth[mid] = 1 + max((depth_of(p, trail + (mid,)) for p in parents), default=-1)
        return depth[mid]

    return sorted(seen.values(), key=lambda m: (depth_of(m.id), m.meta.start, m.meta.created))


def memory_problems(root: Path) -> list[DocumentError]:
    """The errors of every memory file that does not read (for ``llmos check``)."""
    return list_memories(root)[1]

"""Memory documents: one Markdown file per memory, frontmatter per ARCHITECTURE.md.

Where they live: ``memory/{beta,alpha,delta}/ID.md`` and, scoped to a project,
``projects/NAME/memory/ID.md``. Working memory (``memory/working/AGENT.md``) is in
:mod:`.working`; traces (the gamma tier) in :mod:`llmos.traces`.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Iterator, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..docs import Document, dump_frontmatter, read_document, validate
from ..errors import DocumentError

from .names import ALL_TIERS, KINDS, TIERS, memory_folders  # noqa: F401  (re-exported: the format's vocabulary)

ID_PATTERN = r"^[a-z0-9][a-z0-9-]{2,80}$"


def utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def iso(value: datetime | None) -> str | None:
    return None if value is None else utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


class MemoryMeta(BaseModel):
    """Frontmatter of a memory file. ``superseded_by`` is the reverse link of ``supersedes``."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=ID_PATTERN)
    tier: Literal["beta", "alpha", "delta"]
    kind: Literal["fact", "workflow", "lesson", "pattern", "soul"] = "fact"
    title: str = Field(min_length=1, max_length=200)
    agent: str | None = None
    project: str | None = None
    tags: list[str] = Field(default_factory=list)
    created: datetime
    updated: datetime | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    supersedes: list[str] = Field(default_factory=list)
    superseded_by: str | None = None
    sources: list[str] = Field(default_factory=list)
    uses: int = Field(0, ge=0)
    successes: int = Field(0, ge=0)
    confidence: float = Field(0.8, ge=0.0, le=1.0)

    @field_validator("created", "updated", "valid_from", "valid_to", mode="before")
    @classmethod
    def _dates(cls, v: object) -> object:
        if isinstance(v, date) and not isinstance(v, datetime):
            return datetime(v.year, v.month, v.day, tzinfo=timezone.utc)
        return v

    @field_validator("created", "updated", "valid_from", "valid_to")
    @classmethod
    def _utc(cls, v: datetime | None) -> datetime | None:
        return None if v is None else utc(v)

    @field_validator("tags", mode="before")
    @classmethod
    def _split_tags(cls, v: object) -> object:
        return [t.strip() for t in v.split(",") if t.strip()] if isinstance(v, str) else v

    @property
    def start(self) -> datetime:
        return self.valid_from or self.created

    def valid_at(self, when: datetime) -> bool:
        return self.start <= when and (self.valid_to is None or when < self.valid_to)


@dataclass
class Memory:
    meta: MemoryMeta
    body: str
    path: Path  # absolute

    @property
    def id(self) -> str:
        return self.meta.id

    def rel(self, root: Path) -> str:
        return self.path.relative_to(root).as_posix()


def slug(text: str, limit: int = 40) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower())
    out = "-".join(words)[:limit].strip("-")
    return out or "memory"


def new_id(title: str) -> str:
    """Readable and unique: ``deploys-use-port-8080-3fa9c1``."""
    return f"{slug(title)}-{secrets.token_hex(3)}"


def folder_for(root: Path, tier: str, project: str | None) -> Path:
    return root / "projects" / project / "memory" if project else root / "memory" / tier


def iter_memory_files(root: Path) -> Iterator[Path]:
    for folder in memory_folders(root):
        with os.scandir(folder) as entries:
            for e in entries:
                if e.name.endswith(".md") and not e.name.startswith(".") and e.is_file():
                    yield Path(e.path)


def _check_place(doc: Document, meta: MemoryMeta, root: Path | None) -> None:
    problems = []
    if doc.path.name != f"{meta.id}.md":
        problems.append((doc.line_of(["id"]), "id", f"{meta.id!r} does not match the file name {doc.path.name!r}"))
    folder = doc.path.parent
    if root is not None and folder.parent.parent == root / "projects":
        if meta.project not in (None, folder.parent.name):
            problems.append(
                (
                    doc.line_of(["project"]),
                    "project",
                    f"{meta.project!r} but the file is in projects/{folder.parent.name}/memory",
                )
            )
    elif folder.name in TIERS and folder.name != meta.tier:
        problems.append((doc.line_of(["tier"]), "tier", f"{meta.tier!r} but the file is in memory/{folder.name}/"))
    if problems:
        raise DocumentError(str(doc.path), problems)


def read_memory(path: Path, root: Path | None = None) -> Memory:
    """Read and validate one memory file; :class:`DocumentError` names file:line:field."""
    doc = read_document(path)
    meta = validate(doc, MemoryMeta)
    _check_place(doc, meta, root)
    if root is not None and meta.project is None and path.parent.parent.parent == root / "projects":
        meta.project = path.parent.parent.name
    return Memory(meta, doc.body.strip(), path)


def read_memory_quickly(path: Path, root: Path | None = None) -> Memory | None:
    """The same as :func:`read_memory` for a plain, valid file, ~10x faster (libyaml's safe loader,
    no line tracking); ``None`` whenever the file is not plain and valid (anchors, aliases or tags in
    the YAML, over 8 KB of it, any problem at all): :func:`read_memory` then reads it and
    names the problem. The index build reads every file through here first."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
        end = text.find("\n---\n", 3)
        if not text.startswith("---\n") or end < 0 or end > 8192 or any(c in text[:end] for c in "&*!"):
            return None
        data = yaml.load(text[4:end], Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        meta = MemoryMeta.model_validate(data)
    except Exception:  # noqa: BLE001 - anything odd: the careful reader reports it
        return None
    folder = path.parent
    if path.name != f"{meta.id}.md" or (folder.name in TIERS and folder.name != meta.tier):
        return None
    if root is not None and folder.parent.parent == root / "projects":
        if meta.project not in (None, folder.parent.name):
            return None
        meta.project = meta.project or folder.parent.name
    return Memory(meta, text[end + 5 :].strip(), path)


def render_memory(meta: MemoryMeta) -> dict:
    """Frontmatter as written: ISO dates, empty optional fields left out (but the contract order kept)."""
    data = meta.model_dump()
    out = {}
    for key, value in data.items():
        if isinstance(value, datetime):
            value = iso(value)
        if value in (None, []) and key not in ("tags",):
            continue
        out[key] = value
    return out


def write_memory(memory: Memory, durable: bool = True) -> None:
    from ..atomic import atomic_write

    atomic_write(memory.path, dump_frontmatter(render_memory(memory.meta), memory.body), durable=durable)

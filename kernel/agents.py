"""Agent and soul documents: schema, loading, ``extends`` inheritance, content hashes.

Agent files in the Claude Code subagent format (``name``, ``description``, ``tools`` as a list or a
comma string, ``model``) load as they are; Claude Code tool names map onto llmos syscalls.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import blake3
from pydantic import BaseModel, ConfigDict, Field, field_validator

from .docs import Document, read_document, validate
from .errors import AgentNotFound, DocumentError

# Claude Code's tool names, mapped onto llmos syscalls so its subagent files load unchanged.
TOOL_ALIASES = {"Read": "read_file", "Write": "write_file", "Edit": "write_file", "LS": "list_dir", "Glob": "list_dir"}
MODES = ("CRYSTALLIZED", "FOLLOWER", "MIXED", "LEARNER", "ORCHESTRATOR")


class AgentMeta(BaseModel):
    """Frontmatter of ``agents/NAME.md`` and ``system/agents/NAME.md``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)
    description: str = Field(min_length=1)
    tools: list[str] | None = None
    model: str | None = None
    soul: str | None = None
    budget: float | None = Field(None, gt=0, description="per-run ceiling in USD; can only lower the config's")
    mode: Literal[MODES] | None = None  # type: ignore[valid-type]
    extends: str | None = None
    max_steps: int | None = Field(None, ge=1, le=1000)
    max_tokens: int | None = Field(None, ge=16, le=128000, description="first output limit of a model call")
    color: str | None = None  # Claude Code cosmetic field, accepted and ignored

    @field_validator("tools", mode="before")
    @classmethod
    def _split_tools(cls, v: object) -> object:
        if isinstance(v, str):
            return [t.strip() for t in v.split(",") if t.strip()]
        return v


class SoulMeta(BaseModel):
    """Frontmatter of ``agents/NAME.soul.md`` (all optional)."""

    model_config = ConfigDict(extra="forbid")

    agent: str | None = None
    title: str | None = None
    tier: Literal["delta"] | None = None
    kind: Literal["soul"] | None = None
    updated: str | None = None


@dataclass(frozen=True)
class Agent:
    """A loaded, validated agent with its inheritance resolved."""

    name: str
    description: str
    instructions: str
    tools: frozenset[str] | None
    model: str | None
    soul: str
    budget: float | None
    mode: str | None
    max_steps: int | None
    path: Path
    hash: str
    soul_hash: str | None
    system: bool = False
    deps: tuple[Path, ...] = ()  # files this version was built from (own, soul or its default place, bases)
    max_tokens: int | None = None  # the first max_tokens of its model calls (the backend's default if None)


def content_hash(*parts: str) -> str:
    h = blake3.blake3()
    for p in parts:
        h.update(p.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()[:16]


def _check_tools(doc: Document, meta: AgentMeta, known: set[str]) -> list[str] | None:
    if meta.tools is None:
        return None
    tools, problems = [], []
    for t in meta.tools:
        name = TOOL_ALIASES.get(t, t)
        if name not in known:
            problems.append(
                (doc.line_of(["tools"]), "tools", f"unknown tool {t!r} (known: {', '.join(sorted(known))})")
            )
        tools.append(name)
    if problems:
        raise DocumentError(str(doc.path), problems)
    return tools


def parse_agent(path: Path, known_tools: set[str]) -> tuple[AgentMeta, list[str] | None, str]:
    """Read one agent file: its validated frontmatter, its canonical tool list, and its body."""
    doc = read_document(path)
    meta = validate(doc, AgentMeta)
    expected = path.name[:-3]
    if meta.name != expected:
        raise DocumentError(
            str(path),
            [(doc.line_of(["name"]), "name", f"{meta.name!r} does not match the file name (expected {expected!r})")],
        )
    return meta, _check_tools(doc, meta, known_tools), doc.body


def read_soul(path: Path) -> str:
    doc = read_document(path, require_frontmatter=False)
    validate(doc, SoulMeta)
    return doc.body.strip()


def agent_files(root: Path) -> dict[str, tuple[Path, bool]]:
    """``{name: (path, is_system)}`` for every agent file; user agents shadow system agents."""
    found: dict[str, tuple[Path, bool]] = {}
    for folder, is_system in ((root / "system" / "agents", True), (root / "agents", False)):
        if folder.is_dir():
            for p in sorted(folder.glob("*.md")):
                if not p.name.endswith(".soul.md"):
                    found[p.name[:-3]] = (p, is_system)
    return found


class AgentLoader:
    """Loads agents of one root, each file parsed once (``extends`` chains share the cache)."""

    def __init__(
        self,
        root: Path,
        known_tools: set[str],
        *,
        files: dict[str, tuple[Path, bool]] | None = None,
        cache: dict[str, Agent] | None = None,
    ):
        self.root = root
        self.known_tools = known_tools
        self.files = agent_files(root) if files is None else files
        self._cache: dict[str, Agent] = dict(cache or {})  # known good agents to build on (hot reload)

    def load(self, name: str, _seen: tuple[str, ...] = ()) -> Agent:
        if name in self._cache:
            return self._cache[name]
        if name not in self.files:
            names = ", ".join(sorted(self.files)) or "none"
            raise AgentNotFound(
                f"no agent named {name!r} in {self.root}", hint=f"agents here: {names}; create agents/{name}.md"
            )
        if name in _seen:
            raise DocumentError(
                str(self.files[name][0]), [(None, "extends", f"inheritance cycle: {' -> '.join(_seen + (name,))}")]
            )
        agent = self._build(name, _seen)
        self._cache[name] = agent
        return agent

    def _build(self, name: str, seen: tuple[str, ...]) -> Agent:
        path, is_system = self.files[name]
        meta, tools, body = parse_agent(path, self.known_tools)
        base = self.load(meta.extends, seen + (name,)) if meta.extends else None
        soul_text, soul_path = _find_soul(self.root, path, meta)
        if base is not None:
            body = base.instructions + "\n\n" + body.strip()
            tools = tools if tools is not None else (sorted(base.tools) if base.tools is not None else None)
            soul_text = soul_text or base.soul
        return Agent(
            name=meta.name,
            description=meta.description,
            instructions=body.strip(),
            tools=frozenset(tools) if tools is not None else None,
            model=meta.model or (base.model if base else None),
            soul=soul_text,
            budget=meta.budget if meta.budget is not None else (base.budget if base else None),
            mode=meta.mode or (base.mode if base else None),
            max_steps=meta.max_steps or (base.max_steps if base else None),
            max_tokens=meta.max_tokens or (base.max_tokens if base else None),
            path=path,
            hash=content_hash(path.read_text(encoding="utf-8"), base.hash if base else ""),
            soul_hash=content_hash(soul_text) if soul_text else None,
            system=is_system,
            deps=(path, soul_path or path.with_name(path.name[:-3] + ".soul.md"), *(base.deps if base else ())),
        )


def load_agent(root: Path, name: str, known_tools: set[str]) -> Agent:
    """Load agent ``name`` from ``root``, resolving ``extends`` and its soul."""
    return AgentLoader(root, known_tools).load(name)


def _find_soul(root: Path, path: Path, meta: AgentMeta) -> tuple[str, Path | None]:
    if meta.soul:
        soul_path = (root / meta.soul) if "/" in meta.soul else path.with_name(meta.soul)
        real_root, real = os.path.realpath(root), os.path.realpath(soul_path)
        inside = os.path.relpath(real, real_root)
        if os.path.isabs(meta.soul) or inside == os.pardir or inside.startswith(os.pardir + os.sep):
            raise DocumentError(str(path), [(None, "soul", f"soul file {meta.soul!r} is outside the OS root")])
        if inside.split(os.sep)[0].lower() in (".git", ".llmos"):
            raise DocumentError(str(path), [(None, "soul", f"soul file {meta.soul!r} is in a kernel-private folder")])
        if not soul_path.is_file():
            raise DocumentError(str(path), [(None, "soul", f"soul file {meta.soul!r} not found")])
    else:
        soul_path = path.with_name(path.name[:-3] + ".soul.md")
        if not soul_path.is_file():
            return "", None
    return read_soul(soul_path), soul_path


def load_all_agents(root: Path, known_tools: set[str]) -> tuple[list[Agent], list[DocumentError]]:
    """Every agent of ``root`` that loads, and the errors of those that do not."""
    found, errors = [], []
    loader = AgentLoader(root, known_tools)
    for name in loader.files:
        try:
            found.append(loader.load(name))
        except DocumentError as exc:
            errors.append(exc)
    return found, errors

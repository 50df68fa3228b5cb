"""Agent and soul documents: schema, loading, ``extends`` inheritance, content hashes.

Agents are keyed by their ``name``: files live anywhere under ``agents/`` (or ``system/agents/``), so a
collection of Claude Code subagent files loads as it is (:mod:`llmos.compat` maps its tool names and
notes what llmos does not honour). Two files of one folder tree with the same name are an error.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import blake3
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from . import compat
from .compat import Note
from .docs import Document, parse_text, read_document, validate, validation_problems
from .errors import AgentNotFound, DocumentError

MODES = ("CRYSTALLIZED", "FOLLOWER", "MIXED", "LEARNER", "ORCHESTRATOR")
NAME = r"^[a-z0-9]+(?:[._-]+[a-z0-9]+)*[_-]*$"  # Claude Code's lowercase-and-hyphens, plus _ and dots (never "..")


class AgentMeta(BaseModel):
    """Frontmatter of an agent file (``agents/**/*.md``, ``system/agents/**/*.md``): llmos's fields and
    every field of Claude Code's subagent format (those llmos does not act on are accepted and noted)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME, max_length=64)
    description: str = Field(min_length=1)
    tools: list[str] | None = None
    disallowedTools: list[str] | None = Field(None, description="Claude Code: removed from the allowlist")
    model: str | None = None
    soul: str | None = None
    budget: float | None = Field(None, gt=0, description="per-run ceiling in USD; can only lower the config's")
    mode: Literal[MODES] | None = None  # type: ignore[valid-type]
    extends: str | None = None
    max_steps: int | None = Field(None, ge=1, le=1000)
    maxTurns: int | None = Field(None, ge=1, le=1000, description="Claude Code: max_steps when that is not set")
    max_tokens: int | None = Field(None, ge=16, le=128000, description="first output limit of a model call")
    color: str | None = None  # Claude Code cosmetic field, accepted and ignored
    # Claude Code fields llmos accepts and does not act on (compat.IGNORED_FIELDS says why, llmos check lists them)
    permissionMode: Any = None
    skills: Any = None
    hooks: Any = None
    mcpServers: Any = None
    memory: Any = None
    background: Any = None
    effort: Any = None
    isolation: Any = None
    initialPrompt: Any = None

    @field_validator("tools", "disallowedTools", mode="before")
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
    notes: tuple[Note, ...] = ()  # what llmos does differently from Claude Code with this file (llmos check)


def content_hash(*parts: str) -> str:
    h = blake3.blake3()
    for p in parts:
        h.update(p.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()[:16]


STRICT_KINDS = ("dropped", "lenient")  # notes llmos check --strict reports as errors


def read_lenient(path: Path) -> tuple[Document, list[Note]]:
    """The document; a frontmatter that is bad YAML only because of unquoted ``: `` is read leniently."""
    try:
        return read_document(path), []
    except DocumentError as exc:
        if not any(m.startswith("bad YAML") for _, _, m in exc.problems):
            raise
        text, fixed = compat.lenient_frontmatter(path.read_text(encoding="utf-8"))
        if not fixed:
            raise
        try:
            doc = parse_text(text, path)
        except DocumentError:
            raise exc from None
    notes = []
    for line in fixed:
        key = text.split("\n")[line - 1].partition(":")[0]
        why = (
            "the value holds ': ' (or ' #'), which strict YAML rejects; read as text as Claude Code does. "
            f'Fix: quote it ({key}: "...")'
        )
        notes.append(Note(line, key, why, "lenient"))
    return doc, notes


def _split_fields(doc: Document) -> tuple[dict[str, Any], list[tuple[int | None, str | None, str]], list[Note]]:
    """Known fields (a Claude Code field llmos does not act on gets a note); an unknown field is an
    error, with a hint when it looks like a known one."""
    fields = list(AgentMeta.model_fields)
    known, problems, notes = {}, [], []
    for key, value in doc.meta.items():
        line = doc.key_lines.get(str(key))
        if key in AgentMeta.model_fields:
            known[key] = value
            if key in compat.IGNORED_FIELDS:
                notes.append(Note(line, key, f"accepted and ignored: {compat.IGNORED_FIELDS[key]}", "ignored"))
            continue
        hint = compat.field_hint(str(key), fields)
        why = f"did you mean {hint}?" if hint else "neither llmos nor Claude Code has it (see docs/DESIGN.md)"
        problems.append((line, str(key), f"unknown field: {why}"))
    return known, problems, notes


def _map_tools(doc: Document, entries: Any, known: set[str]) -> tuple[list[str] | None, list[Note]]:
    if entries is None:
        return None, []
    if isinstance(entries, str):
        entries = [t.strip() for t in entries.split(",") if t.strip()]
    if not isinstance(entries, list):
        return None, []
    tools, notes = [], []
    line = doc.line_of(["tools"])
    for entry in entries:
        granted, why = compat.map_tool(str(entry), known)
        tools += [t for t in granted if t not in tools]
        if why:
            notes.append(Note(line, "tools", why, "dropped"))
    return tools, notes


def read_agent(
    path: Path, known_tools: set[str], *, strict: bool = False
) -> tuple[AgentMeta, list[str] | None, str, list[Note]]:
    """Read one agent file: validated frontmatter, canonical tool list, body, and notes. Every problem
    of the file is in one :class:`DocumentError` (with ``strict``, dropped tools and lenient reads too)."""
    doc, notes = read_lenient(path)
    known, problems, more = _split_fields(doc)
    notes += more
    meta = None
    try:
        meta = AgentMeta.model_validate(known)
    except ValidationError as exc:
        problems += validation_problems(doc, exc)
    tools, tool_notes = _map_tools(doc, known.get("tools"), known_tools)
    notes += tool_notes
    if meta is not None and meta.disallowedTools:
        denied, _ = _map_tools(doc, meta.disallowedTools, known_tools)
        tools = [t for t in (tools if tools is not None else sorted(known_tools)) if t not in denied]
    if strict:
        problems += [(n.line, n.field, n.message) for n in notes if n.kind in STRICT_KINDS]
    if problems or meta is None:
        raise DocumentError(str(path), sorted(problems, key=lambda p: p[0] or 0))
    return meta, tools, doc.body, notes


def parse_agent(path: Path, known_tools: set[str]) -> tuple[AgentMeta, list[str] | None, str]:
    """Read one agent file strictly (a tool it cannot have is an error): what ``create_agent`` uses."""
    meta, tools, body, _ = read_agent(path, known_tools, strict=True)
    return meta, tools, body


def read_soul(path: Path) -> str:
    doc = read_document(path, require_frontmatter=False)
    validate(doc, SoulMeta)
    return doc.body.strip()


_NAME_LINE = re.compile(r"^name:[ \t]*(.*?)[ \t]*$", re.MULTILINE)
_NAMES: dict[Path, tuple[int, int, str | None]] = {}  # path -> (mtime_ns, size, name): a cache of name_of


def name_of(path: Path, *, top: bool = True) -> str | None:
    """The ``name:`` of an agent file, read without parsing its YAML (fast, lenient); the file name for a
    file with no name (so its error is reported under it). None: not an agent file (a file with no
    frontmatter below the top folder, e.g. a collection's README)."""
    try:
        st = path.stat()
    except OSError:
        return None
    hit = _NAMES.get(path)
    if hit and hit[:2] == (st.st_mtime_ns, st.st_size):
        return hit[2] if hit[2] is not None or not top else path.name[:-3]
    try:
        text = path.read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n")
    except OSError:
        return None
    name = None
    if text.startswith("---\n"):
        end = text.find("\n---", 3)  # an unclosed frontmatter (a half-written file) is read as its file name
        m = _NAME_LINE.search(text, 4, end) if end > 0 else None
        value = m.group(1).strip("'\"") if m else ""
        name = value if re.match(NAME, value) else path.name[:-3]
    _NAMES[path] = (st.st_mtime_ns, st.st_size, name)
    return name if name is not None or not top else path.name[:-3]


def scan_agents(root: Path) -> tuple[dict[str, tuple[Path, bool]], dict[str, list[Path]]]:
    """``({name: (path, is_system)}, {name: [paths]})``: every agent file under ``system/agents/`` and
    ``agents/`` (any depth; user agents shadow system agents), and the names two files of one tree share."""
    found: dict[str, tuple[Path, bool]] = {}
    dupes: dict[str, list[Path]] = {}
    for folder, is_system in ((root / "system" / "agents", True), (root / "agents", False)):
        tier: dict[str, Path] = {}
        for p in sorted(folder.rglob("*.md")) if folder.is_dir() else ():
            rel = p.relative_to(folder).parts
            if p.name.endswith(".soul.md") or any(part.startswith(".") for part in rel):
                continue
            name = name_of(p, top=len(rel) == 1)
            if name is None:
                continue
            if name in tier:
                dupes.setdefault(name, [tier[name]]).append(p)
            else:
                tier[name] = p
                if not is_system:  # a user agent shadows a system one (and that one's duplicates)
                    dupes.pop(name, None)
        found.update({n: (p, is_system) for n, p in tier.items()})
    return found, dupes


def agent_files(root: Path) -> dict[str, tuple[Path, bool]]:
    """``{name: (path, is_system)}`` for every agent file; user agents shadow system agents."""
    return scan_agents(root)[0]


def locate(root: Path, name: str) -> tuple[Path, bool] | None:
    """Where agent ``name`` lives now (user agents shadow system agents), or None."""
    return agent_files(root).get(name)


class AgentLoader:
    """Loads agents of one root, each file parsed once (``extends`` chains share the cache)."""

    def __init__(
        self,
        root: Path,
        known_tools: set[str],
        *,
        files: dict[str, tuple[Path, bool]] | None = None,
        cache: dict[str, Agent] | None = None,
        strict: bool = False,
    ):
        self.root = root
        self.known_tools = known_tools
        self.strict = strict  # dropped tools and lenient reads are errors (llmos check --strict)
        self.duplicates: dict[str, list[Path]] = {}
        if files is None:
            files, self.duplicates = scan_agents(root)
        self.files = files
        self._cache: dict[str, Agent] = dict(cache or {})  # known good agents to build on (hot reload)

    def load(self, name: str, _seen: tuple[str, ...] = ()) -> Agent:
        if name in self._cache:
            return self._cache[name]
        if name not in self.files:
            names = ", ".join(sorted(self.files)) or "none"
            raise AgentNotFound(
                f"no agent named {name!r} in {self.root}", hint=f"agents here: {names}; create agents/{name}.md"
            )
        if name in self.duplicates:
            paths = [p.relative_to(self.root).as_posix() for p in self.duplicates[name]]
            why = f"agent name {name!r} is used by {' and '.join(paths)}: names must be unique; rename one"
            raise DocumentError(str(self.duplicates[name][-1]), [(None, "name", why)])
        if name in _seen:
            raise DocumentError(
                str(self.files[name][0]), [(None, "extends", f"inheritance cycle: {' -> '.join(_seen + (name,))}")]
            )
        agent = self._build(name, _seen)
        self._cache[name] = agent
        return agent

    def _build(self, name: str, seen: tuple[str, ...]) -> Agent:
        path, is_system = self.files[name]
        meta, tools, body, notes = read_agent(path, self.known_tools, strict=self.strict)
        if meta.name != name:
            raise DocumentError(str(path), [(None, "name", f"read as {name!r} but its name is {meta.name!r}")])
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
            model=compat.model_spec(meta.model) or (base.model if base else None),
            soul=soul_text,
            budget=meta.budget if meta.budget is not None else (base.budget if base else None),
            mode=meta.mode or (base.mode if base else None),
            max_steps=meta.max_steps or meta.maxTurns or (base.max_steps if base else None),
            max_tokens=meta.max_tokens or (base.max_tokens if base else None),
            path=path,
            hash=content_hash(path.read_text(encoding="utf-8"), base.hash if base else ""),
            soul_hash=content_hash(soul_text) if soul_text else None,
            system=is_system,
            deps=(path, soul_path or path.with_name(path.name[:-3] + ".soul.md"), *(base.deps if base else ())),
            notes=tuple(notes),
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


def load_all_agents(
    root: Path, known_tools: set[str], *, strict: bool = False
) -> tuple[list[Agent], list[DocumentError]]:
    """Every agent of ``root`` that loads, and the errors of those that do not."""
    found, errors = [], []
    loader = AgentLoader(root, known_tools, strict=strict)
    for name in loader.files:
        try:
            found.append(loader.load(name))
        except (DocumentError, AgentNotFound) as exc:
            if isinstance(exc, AgentNotFound):  # ``extends`` names an agent that is not there
                exc = DocumentError(str(loader.files[name][0]), [(None, "extends", str(exc))])
            errors.append(exc)
    return found, errors

"""``llmos agents import DIR|FILE``: copy a collection of agent files (Claude Code's format) into
``agents/``, report per file what loaded, what was mapped and what was dropped, and commit.

Files keep their place in the collection under ``agents/<DIR name>/`` (a collection's plugin folders
may repeat a file name; agents are keyed by ``name:``). Markdown files without frontmatter (READMEs)
are not copied; a file whose name is already an agent's is skipped, never overwritten.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .agents import AgentLoader, name_of
from .audit.commit import commit_paths, format_message
from .compat import TOOL_MAP
from .errors import AgentNotFound, DocumentError, LlmosError


@dataclass
class FileReport:
    """What happened to one file of the collection."""

    source: str
    path: str | None = None  # where it was copied, relative to the root
    name: str | None = None
    status: str = "loaded"  # loaded | invalid | skipped
    mapped: dict[str, str] = field(default_factory=dict)  # Claude Code tool -> syscall
    notes: list[str] = field(default_factory=list)  # dropped tools, lenient reads, ignored fields, errors


@dataclass
class ImportReport:
    files: list[FileReport]
    commit: str | None

    def counts(self) -> dict[str, int]:
        out = {"loaded": 0, "invalid": 0, "skipped": 0}
        for f in self.files:
            out[f.status] += 1
        return out


def _candidates(source: Path) -> list[tuple[Path, Path]]:
    """``(file, path relative to the destination)`` of every agent file in ``source``."""
    if source.is_file():
        return [(source, Path(source.name))]
    if not source.is_dir():
        raise LlmosError(f"{source} is neither a file nor a folder", hint="give a folder of agent files or one .md")
    found = []
    for p in sorted(source.rglob("*.md")):
        rel = p.relative_to(source)
        if any(part.startswith(".") for part in rel.parts) or p.name.endswith(".soul.md"):
            continue
        if p.read_bytes()[:4].replace(b"\r", b"") in (b"---\n", b"---"):
            found.append((p, Path(source.name) / rel))
    return found


def import_agents(kernel: Any, source: str | Path) -> ImportReport:
    """Copy the agent files of ``source`` into ``kernel.root/agents``, load each, commit the ones copied."""
    root, source = kernel.root, Path(source).resolve()
    existing = set(AgentLoader(root, set()).files)
    reports, copied = [], []
    for src, rel in _candidates(source):
        report = FileReport(str(src))
        reports.append(report)
        dest = root / "agents" / rel
        report.name = name_of(src)
        if dest.exists() or report.name in existing:
            report.status = "skipped"
            report.notes.append(f"an agent named {report.name!r} or the file agents/{rel} already exists")
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
        report.path = (Path("agents") / rel).as_posix()
        copied.append(report)
        existing.add(report.name)
    _load(kernel, copied)
    paths = [r.path for r in copied if r.path]
    commit = None
    if paths:
        c = ImportReport(reports, None).counts()
        subject = f"llmos: import {len(paths)} agent file(s) from {source.name}"
        body = f"{c['loaded']} loaded, {c['invalid']} invalid, {c['skipped']} skipped."
        commit = commit_paths(root, paths, format_message(subject, {"Agents-Imported": str(len(paths))}, body))
    return ImportReport(reports, commit)


def _load(kernel: Any, copied: list[FileReport]) -> None:
    known = set(kernel.syscalls.names())
    loader = AgentLoader(kernel.root, known)
    for report in copied:
        try:
            agent = loader.load(report.name)
        except (DocumentError, AgentNotFound) as exc:
            report.status = "invalid"
            report.notes += exc.lines() if isinstance(exc, DocumentError) else [str(exc)]
            continue
        report.notes += [n.text(report.path) for n in agent.notes]
        listed = _listed_tools(kernel.root / report.path)
        report.mapped = {t: TOOL_MAP[t] for t in listed if t in TOOL_MAP and TOOL_MAP[t] in (agent.tools or known)}


def _listed_tools(path: Path) -> list[str]:
    from .agents import read_lenient

    try:
        tools = read_lenient(path)[0].meta.get("tools")
    except DocumentError:
        return []
    if isinstance(tools, str):
        return [t.strip() for t in tools.split(",")]
    return [str(t) for t in tools] if isinstance(tools, list) else []

"""On-demand agents: a run writes a new agent file for work no existing agent fits.

The file is validated exactly like any agent (frontmatter schema, known tools) before it is
written, so an invalid one never lands; it goes into the run's commit (a person sees it in the
diff), and it is usable at once (``delegate`` loads agents from disk) and by every later run.
A new agent never gets more than its creator: its tools must be a subset of the creator's.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from ..agents import agent_files, parse_agent
from ..atomic import atomic_write
from ..backends import parse_spec
from ..docs import dump_frontmatter
from ..errors import DocumentError, ModelSpecError
from ..syscalls.hooks import ALWAYS_ALLOWED, Refused
from ..procs import temp_prefix
from ..scrub import scrub


def agent_text(name: str, description: str, instructions: str, tools: list[str] | None, model: str | None) -> str:
    """The Markdown of a new agent file."""
    meta: dict[str, object] = {"name": name, "description": description}
    if tools is not None:
        meta["tools"] = list(tools)
    if model:
        meta["model"] = model
    return dump_frontmatter(meta, instructions.strip() + "\n")


def check_grant(tools: list[str] | None, creator: frozenset[str] | None) -> None:
    """Refuse tools the creating agent does not have itself."""
    if creator is None:
        return
    if tools is None:
        raise Refused(
            "list the new agent's tools: it may have only tools you have "
            f"({', '.join(sorted(creator | ALWAYS_ALLOWED))})"
        )
    extra = sorted(set(tools) - creator - ALWAYS_ALLOWED)
    if extra:
        raise Refused(f"a new agent cannot have tools you do not have: {', '.join(extra)}")


def create(
    root: Path,
    known_tools: set[str],
    creator: frozenset[str] | None,
    *,
    name: str,
    description: str,
    instructions: str,
    tools: list[str] | None,
    model: str | None,
) -> str:
    """Validate and write ``agents/NAME.md``; return its path relative to the root.

    Raises :class:`Refused` (an existing name, tools beyond the creator's, a bad model spec) or
    :class:`DocumentError` (the file would not validate; nothing is written).
    """
    if name in agent_files(root):
        raise Refused(f"an agent named {name!r} already exists; delegate to it, or pick another name")
    if model:
        try:
            parse_spec(model)
        except ModelSpecError as exc:
            raise Refused(f"model: {exc}") from None
    rel = f"agents/{name}.md"
    text = scrub(agent_text(name, description, instructions, tools, model))
    with tempfile.TemporaryDirectory(prefix=temp_prefix("agent")) as tmp:
        draft = Path(tmp) / f"{name}.md"
        draft.write_text(text, encoding="utf-8")
        try:
            _, canonical, _ = parse_agent(draft, known_tools)
        except DocumentError as exc:
            raise DocumentError(rel, exc.problems) from None
    if not instructions.strip():
        raise DocumentError(rel, [(None, "instructions", "an agent needs instructions (its Markdown body)")])
    check_grant(canonical, creator)
    atomic_write(root / rel, text)
    return rel

"""Working memory (Layer 1): ``memory/working/AGENT.md``, curated by the agent, capped in bytes."""
from __future__ import annotations

import re
from pathlib import Path

from ..atomic import atomic_write
from ..docs import dump_frontmatter, read_document
from ..errors import DocumentError, WorkingMemoryTooLarge
from ..scrub import scrub
from .model import iso, now

AGENT = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def working_path(root: Path, agent: str) -> Path:
    if not AGENT.match(agent or ""):
        raise ValueError(f"bad agent name {agent!r}")
    return Path(root) / "memory" / "working" / f"{agent}.md"


def read_working(root: Path, agent: str) -> str:
    """The body of the agent's working memory ('' when it has none)."""
    path = working_path(root, agent)
    if not path.is_file():
        return ""
    try:
        return read_document(path, require_frontmatter=False).body.strip()
    except DocumentError:
        return path.read_text(encoding="utf-8", errors="replace").strip()


def write_working(root: Path, agent: str, content: str, cap: int) -> str:
    """Replace the agent's working memory; refuse (with both sizes) anything over ``cap`` bytes."""
    content = scrub(content.strip())
    size = len(content.encode("utf-8"))
    if size > cap:
        raise WorkingMemoryTooLarge(
            f"working memory of {agent} would be {size} bytes; the cap is {cap} bytes",
            size=size, cap=cap, hint=f"cut {size - cap} bytes: keep what the next run needs, recall the rest")
    path = working_path(root, agent)
    atomic_write(path, dump_frontmatter({"agent": agent, "tier": "working", "updated": iso(now())}, content))
    return path.relative_to(root).as_posix()

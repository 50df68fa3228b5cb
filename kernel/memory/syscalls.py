"""Memory syscalls: ``remember``, ``recall`` and ``rewrite_working_memory``.

Agents write beta memories only (alpha and delta are reached by promotion, reviewed in a PR). Every
file a call writes is added to the run's audit commit (``ctx.written``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from ..plugins import hookimpl
from ..errors import LlmosError
from ..syscalls import Context, Outcome, syscall
from .config import MemoryConfig
from .model import memory_folders


def _config(ctx: Context) -> MemoryConfig:
    config = ctx.config
    return getattr(config, "memory", None) or MemoryConfig()


def _memory_paths(ctx: Context) -> list[Path]:
    """Files this run wrote that the index covers (the kernel synced everything else at start)."""
    folders = {f.relative_to(ctx.root).as_posix() + "/" for f in memory_folders(ctx.root)}
    return [Path(p) for p in sorted(ctx.written) if p.startswith("traces/") or any(p.startswith(f) for f in folders)]


@syscall
def remember(
    ctx: Context,
    text: str,
    title: str = "",
    kind: Literal["fact", "workflow", "lesson", "pattern"] = "fact",
    tags: list[str] = [],  # noqa: B006 (copied by pydantic)
    project: str = "",
    supersedes: list[str] = [],  # noqa: B006
    confidence: float = 0.8,
    valid_from: str = "",
) -> Outcome:
    """Save a memory for later runs (of any agent) to recall. To update something already remembered,
    pass the old memory's id in supersedes: the old one is kept as history, not deleted.

    Args:
        text: what to remember, self-contained (a later reader has no other context)
        title: a short title; default: the first sentence of text
        kind: fact, workflow (how to do something), lesson (what went wrong or right) or pattern
        tags: a few keywords to find it by
        project: project name when the memory only concerns projects/NAME
        supersedes: ids of memories this one replaces (e.g. a fact that changed)
        confidence: 0..1, how sure you are
        valid_from: when what it says happened or became true (YYYY-MM-DD or an ISO time); default: now
    """
    from .recall import parse_when
    from .store import remember as store_remember

    if not 0.0 <= confidence <= 1.0:
        return Outcome(False, "confidence must be between 0 and 1")
    try:
        when = parse_when(valid_from, "valid_from")
    except ValueError as exc:
        return Outcome(False, str(exc))
    try:
        memory, written = store_remember(
            ctx.root,
            text,
            title=title or None,
            kind=kind,
            tags=tags,
            agent=ctx.agent,
            project=project or None,
            supersedes=supersedes,
            sources=[ctx.run_id] if ctx.run_id else [],
            confidence=confidence,
            valid_from=when,
        )
    except LlmosError as exc:
        return Outcome(False, str(exc))
    ctx.written.update(written)
    extra = f"; superseded {', '.join(supersedes)}" if supersedes else ""
    return Outcome(True, f"remembered {memory.id} ({written[0]}){extra}")


@syscall
def recall(
    ctx: Context,
    query: str,
    tiers: list[str] = [],  # noqa: B006
    agent: str = "",
    project: str = "",
    tags: list[str] = [],  # noqa: B006
    since: str = "",
    as_of: str = "",
    history: bool = False,
    k: int = 5,
) -> Outcome:  # noqa: B006
    """Search long-term memory (memories and past runs) for what is relevant to a question.

    Args:
        query: words to look for, e.g. the question you need answered
        tiers: only these tiers: gamma (past runs), beta, alpha, delta; empty = all
        agent: only memories written by this agent
        project: only memories of this project
        tags: only memories with all these tags
        since: only memories created on or after this date (YYYY-MM-DD)
        as_of: what was true at this date (YYYY-MM-DD), including facts replaced since
        history: include superseded (replaced) memories
        k: how many results, 1 to 20
    """
    from .recall import format_hits, recall as do_recall

    cfg = _config(ctx).recall
    result = do_recall(
        ctx.root,
        query,
        tiers=tiers,
        agent=agent or None,
        project=project or None,
        tags=tags,
        since=since or None,
        as_of=as_of or None,
        history=history,
        k=max(1, min(k, 20)),
        config=cfg,
        sync=_memory_paths(ctx) or False,
    )
    return Outcome(True, format_hits(result, cfg.min_match))


@syscall
def rewrite_working_memory(ctx: Context, content: str) -> Outcome:
    """Replace your working memory (memory/working/YOU.md), the notes you see at the start of every run.
    Keep it short and current: what you are doing, open threads, what to check next time.

    Args:
        content: the complete new working memory (Markdown); it must fit the size cap
    """
    from .working import write_working

    cap = _config(ctx).working_cap_bytes
    try:
        rel = write_working(ctx.root, ctx.agent, content, cap)
    except LlmosError as exc:
        return Outcome(False, f"refused: {exc}")
    ctx.written.add(rel)
    return Outcome(True, f"working memory saved ({len(content.strip().encode('utf-8'))} of {cap} bytes)")


@hookimpl
def register_syscalls(register: Any) -> None:
    """This family's syscalls, through the same door as any plugin's."""
    for fn in (remember, recall, rewrite_working_memory):
        register(fn)

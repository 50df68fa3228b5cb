"""Consolidation: near-duplicates merged, contradicted facts superseded (history kept), working
memory pruned under its cap (what is pruned is archived into memory by topic), old trace bodies
compacted into the blob store. Conservative: a doubtful pair is left alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import blake3

from ..atomic import atomic_write
from ..memory.model import Memory, MemoryMeta, folder_for, now, slug, write_memory
from ..memory.working import read_working, write_working
from ..modes.traceindex import read_frontmatter
from ..traces import iter_trace_files
from .config import DreamConfig

_WORD = re.compile(r"[a-z0-9]+")
PREFIX = 3  # words two facts must share at the start to be about the same thing
MAX_DIFFERENT = 2  # a contradiction changes at most this many words (the value), in place
ARCHIVED = "The rest of this trace's body is in the blob store"


@dataclass
class Change:
    what: str  # merged | superseded | pruned | archived | compacted
    paths: list[str]
    detail: str


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _order(m: Memory) -> tuple:
    return (m.meta.start, m.meta.created, m.id)


def relation(old: Memory, new: Memory, cfg: DreamConfig) -> str | None:
    """``duplicate``, ``contradiction`` or None for two current memories of one bucket."""
    a, b = _words(old.body), _words(new.body)
    sa, sb = set(a), set(b)
    if sa and len(sa & sb) / len(sa | sb) >= cfg.duplicate_similarity:
        return "duplicate"
    if old.meta.kind != "fact" or sorted(old.meta.tags) != sorted(new.meta.tags) or len(a) != len(b):
        return None
    diff = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
    if 0 < len(diff) <= MAX_DIFFERENT and min(diff) >= PREFIX and len(a) >= PREFIX + 1:
        return "contradiction"
    return None


def _supersede(root: Path, old: Memory, new: Memory, why: str) -> Change:
    old.meta.superseded_by, old.meta.valid_to = new.id, new.meta.start
    old.meta.updated = max(old.meta.updated or old.meta.created, new.meta.created)
    new.meta.supersedes = list(dict.fromkeys([*new.meta.supersedes, old.id]))
    if why == "duplicate":
        new.meta.sources = list(dict.fromkeys([*new.meta.sources, *old.meta.sources]))
    write_memory(old)
    write_memory(new)
    verb = "merged" if why == "duplicate" else "superseded"
    return Change(
        verb,
        [old.rel(root), new.rel(root)],
        f"{old.id} {'duplicates' if why == 'duplicate' else 'is contradicted by'} newer {new.id}",
    )


def merge_and_supersede(root: Path, memories: list[Memory], cfg: DreamConfig) -> list[Change]:
    """Within each (tier, project, kind, first words) bucket, the older of a near-duplicate or
    contradicting pair is superseded by the newer one."""
    buckets: dict[tuple, list[Memory]] = {}
    for m in memories:
        if m.meta.superseded_by or m.meta.kind in ("workflow", "soul"):
            continue
        key = (m.meta.tier, m.meta.project, m.meta.kind, tuple(_words(m.body)[:PREFIX]))
        buckets.setdefault(key, []).append(m)
    changes = []
    for group in buckets.values():
        group.sort(key=_order)
        for i, old in enumerate(group):
            for new in group[i + 1 :]:
                why = relation(old, new, cfg)
                if why:
                    changes.append(_supersede(root, old, new, why))
                    break
    return changes


def _blocks(text: str) -> list[tuple[str, str]]:
    """(topic, block) for each paragraph; a Markdown heading names the topic of what follows."""
    topic, out = "notes", []
    for block in re.split(r"\n\s*\n", text.strip()):
        first = block.strip().splitlines()[0] if block.strip() else ""
        if first.startswith("#"):
            topic = first.lstrip("#").strip() or topic
        if block.strip():
            out.append((topic, block.strip()))
    return out


def prune_working(root: Path, agent: str, cap: int, cfg: DreamConfig) -> list[Change]:
    """Cut ``agent``'s working memory back to ``working_target`` of its cap (when above the high-water
    mark), oldest paragraphs first; the cut text becomes beta memories, one per topic."""
    text = read_working(root, agent)
    if len(text.encode("utf-8")) <= cap * cfg.working_high_water:
        return []
    note = f"(Older notes are archived in memory, tagged working-archive and {agent}: recall them by topic.)"
    blocks, target = [b for b in _blocks(text) if b[1] != note], int(cap * cfg.working_target) - len(note.encode()) - 2
    kept: list[tuple[str, str]] = []
    size = 0
    for topic, block in reversed(blocks):
        if size + len(block.encode("utf-8")) + 2 > target:
            break
        kept.insert(0, (topic, block))
        size += len(block.encode("utf-8")) + 2
    pruned = blocks[: len(blocks) - len(kept)]
    by_topic: dict[str, list[str]] = {}
    for topic, block in pruned:
        by_topic.setdefault(topic, []).append(block)
    changes, ids = [], []
    stamp = now()
    for topic, parts in by_topic.items():
        body = "\n\n".join(parts)
        mid = f"working-{slug(agent, 20)}-{slug(topic, 30)}-{blake3.blake3(body.encode()).hexdigest()[:6]}"
        meta = MemoryMeta(
            id=mid,
            tier="beta",
            kind="fact",
            title=f"{agent} working memory: {topic}"[:200],
            agent=agent,
            tags=["working-archive", agent],
            created=stamp,
            updated=stamp,
        )
        memory = Memory(meta, body, folder_for(root, "beta", None) / f"{mid}.md")
        write_memory(memory)
        ids.append(mid)
        changes.append(
            Change(
                "archived", [memory.rel(root)], f'{len(body)} bytes of {agent}\'s working memory on "{topic}" -> {mid}'
            )
        )
    rest = "\n\n".join(b for _, b in kept)
    new_text = f"{note}\n\n{rest}".strip()
    rel = write_working(root, agent, new_text, cap)
    changes.append(
        Change(
            "pruned",
            [rel],
            f"{agent}'s working memory {len(text.encode())} -> {len(new_text.encode())} bytes (cap {cap})",
        )
    )
    return changes


def compact_traces(
    root: Path, blobs, retention_days: int, today: datetime | None = None, agent: str | None = None
) -> list[Change]:
    """Trace bodies older than the retention window go to ``blobs``; the file keeps its frontmatter
    and the body becomes one line naming the blob."""
    cutoff = ((today or datetime.now(timezone.utc)) - timedelta(days=retention_days)).isoformat()
    changes = []
    for path in iter_trace_files(root):
        data = read_frontmatter(path)
        if not data or not data.get("ended") or str(data.get("started", "9")) >= cutoff:
            continue
        if agent and data.get("agent") != agent:
            continue
        text = path.read_text(encoding="utf-8")
        end = text.find("\n---\n", 3)
        if end < 0:
            continue
        head, body = text[: end + 5], text[end + 5 :]
        if body.lstrip().startswith(f"# {data['goal']}\n\n{ARCHIVED}") or ARCHIVED in body[:400]:
            continue
        bid = blobs.put(body, "trace_body", agent=data.get("agent"))
        atomic_write(path, f"{head}# {data['goal']}\n\n{ARCHIVED}: blob:{bid}\n")
        changes.append(
            Change(
                "compacted",
                [path.relative_to(root).as_posix()],
                f"trace {data['id']} body ({len(body)} chars) -> blob:{bid}",
            )
        )
    if changes:
        blobs.flush()
    return changes

"""Souls that evolve through review: a workflow proven at the delta level is proposed for the souls
of the agents that ran it, as one section of ``agents/NAME.soul.md`` the dream maintains.

Only existing soul files are changed, only on the dream branch, and the section is rebuilt from the
evidence each time (the same evidence gives the same text, so a pending proposal is not repeated).
"""

from __future__ import annotations

from pathlib import Path

from ..atomic import atomic_write
from .consolidate import Change
from .distill import memory_id
from .evidence import Candidate

HEADING = "## Learned from experience"
NOTE = "<!-- proposed by `llmos dream` from delta-level workflows; review it like any change -->"


def _section(rows: list[Candidate]) -> str:
    lines = [HEADING, "", NOTE, ""]
    for c in sorted(rows, key=lambda c: c.group.template):
        g = c.group
        lines.append(
            f'- When asked to "{g.template}", follow memory `{memory_id(c)}` ({g.uses} runs, {g.rate:.0%} success).'
        )
    return "\n".join(lines) + "\n"


def propose(root: Path, cands: list[Candidate], agent: str | None = None) -> list[Change]:
    """Rewrite the learned section of each soul whose agent ran a delta-level workflow."""
    per_agent: dict[str, list[Candidate]] = {}
    for c in cands:
        if c.kind == "workflow" and c.tier == "delta":
            for name in c.group.agents:
                if agent in (None, name):
                    per_agent.setdefault(name, []).append(c)
    changes = []
    for name, rows in sorted(per_agent.items()):
        path = root / "agents" / f"{name}.soul.md"
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        keep = text.split(f"\n{HEADING}\n", 1)[0].rstrip("\n")
        new = f"{keep}\n\n{_section(rows)}"
        if new != text:
            atomic_write(path, new)
            changes.append(
                Change(
                    "soul",
                    [path.relative_to(root).as_posix()],
                    f'{name}\'s soul: {len(rows)} proven workflows in "{HEADING[3:]}"',
                )
            )
    return changes

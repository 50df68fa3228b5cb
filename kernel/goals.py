"""Goal normalization: a goal becomes a template plus slots, and a signature of the template.

``Write a haiku about git into projects/demo/haiku.md`` ->
template ``write a haiku about git into {path1}``, slots ``{"path1": "projects/demo/haiku.md"}``.
Quoted strings, URLs, paths, dates and numbers are abstracted, so goals that differ only in those
values share a signature.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import blake3

from .errors import GoalError

MAX_GOAL_CHARS = 20_000

# Order matters: earlier patterns claim their text first.
_PATTERNS = [
    ("text", re.compile(r'"([^"\n]{1,500})"|\'([^\'\n]{1,500})\'|`([^`\n]{1,500})`')),
    ("url", re.compile(r"\bhttps?://[^\s\"'<>]+")),
    ("path", re.compile(r"(?<![\w{])(?:\.{0,2}/)?(?:[\w.-]+/)+[\w.-]*\w|(?<![\w{])[\w-]+\.[A-Za-z]\w{0,7}\b")),
    ("date", re.compile(r"\b\d{4}-\d{2}-\d{2}\b")),
    ("num", re.compile(r"(?<![\w{])-?\d+(?:\.\d+)?\b")),
]


@dataclass(frozen=True)
class NormalGoal:
    goal: str
    template: str
    slots: dict[str, str]
    signature: str


def check_goal(goal: str) -> str:
    """Return the goal stripped, or raise :class:`GoalError` for an empty or oversized one."""
    text = (goal or "").strip()
    if not text:
        raise GoalError(
            "the goal is empty", hint='say what to do: llmos boot "Write a haiku into projects/demo/haiku.md"'
        )
    if len(text) > MAX_GOAL_CHARS:
        raise GoalError(
            f"the goal is {len(text)} characters long (limit {MAX_GOAL_CHARS})",
            hint="put the details in a file and refer to it in the goal",
        )
    return text


def normalize(goal: str) -> NormalGoal:
    """Abstract the variable parts of ``goal`` into named slots."""
    text = check_goal(goal)
    slots: dict[str, str] = {}
    counts: dict[str, int] = {}

    def sub(kind: str, m: re.Match[str]) -> str:
        value = next((g for g in m.groups() if g is not None), None) if m.groups() else None
        counts[kind] = counts.get(kind, 0) + 1
        name = f"{kind}{counts[kind]}"
        slots[name] = value if value is not None else m.group(0)
        return "{" + name + "}"

    template = text
    for kind, pattern in _PATTERNS:
        template = pattern.sub(lambda m, k=kind: sub(k, m), template)
    template = " ".join(template.lower().split()).rstrip(".!")
    return NormalGoal(text, template, slots, blake3.blake3(template.encode("utf-8")).hexdigest()[:32])

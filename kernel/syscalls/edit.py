"""``edit_file``: exact-string replacement in a text file (Claude Code's ``Edit`` and ``MultiEdit``).

Each edit's ``old_string`` must occur exactly once (or ``replace_all``); several edits apply in order to
the same text and are written at once, or not at all. The write goes through ``write_file`` (confinement,
control paths, size limit, scrubbing, recovery bookkeeping).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..plugins import hookimpl
from . import Context, Outcome, syscall
from .files import write_file


class EditOp(BaseModel):
    """One replacement of an ``edits`` list."""

    model_config = ConfigDict(extra="forbid")
    old_string: str = Field(description="the exact text to replace")
    new_string: str = Field(description="the text to put in its place")
    replace_all: bool = Field(False, description="replace every occurrence, not exactly one")


def apply_edits(text: str, edits: list[EditOp]) -> tuple[str | None, str]:
    """The edited text and a summary, or None and why the edit cannot be made (nothing is changed)."""
    counts = []
    for n, e in enumerate(edits, 1):
        which = f"edit {n}: " if len(edits) > 1 else ""
        if e.old_string == e.new_string:
            return None, f"{which}old_string and new_string are the same: nothing to change"
        if not e.old_string:
            return None, f"{which}old_string is empty: give the exact text to replace (write_file writes a new file)"
        found = text.count(e.old_string)
        if found == 0:
            hint = " (it differs only in whitespace)" if _squash(e.old_string) in _squash(text) else ""
            return None, f"{which}old_string not found{hint}; read the file and copy the text exactly"
        if found > 1 and not e.replace_all:
            return None, (
                f"{which}old_string occurs {found} times; add surrounding lines to make it unique, or set replace_all"
            )
        text = text.replace(e.old_string, e.new_string)
        counts.append(found)
    return text, f"{sum(counts)} replacement(s)"


def _squash(s: str) -> str:
    return " ".join(s.split())


@syscall
def edit_file(
    ctx: Context,
    path: str,
    old_string: str = "",
    new_string: str = "",
    replace_all: bool = False,
    edits: list[EditOp] | None = None,
) -> Outcome:
    """Replace exact text in a file inside the OS root: one edit, or several applied in order, all or none.

    Args:
        path: file path relative to the OS root, e.g. projects/demo/app.py
        old_string: the exact text to replace; it must occur once unless replace_all
        new_string: the text to put in its place
        replace_all: replace every occurrence of old_string
        edits: several replacements applied in order to the same file (instead of old_string/new_string)
    """
    ops = [EditOp(**e) if isinstance(e, dict) else e for e in edits or []]
    if old_string or new_string:
        ops.insert(0, EditOp(old_string=old_string, new_string=new_string, replace_all=replace_all))
    if not ops:
        return Outcome(False, "nothing to edit: give old_string and new_string, or edits")
    target = ctx.path(path)
    if not target.is_file():
        return Outcome(False, f"no such file: {path} (write_file creates one)")
    text = target.read_text(encoding="utf-8")
    new, summary = apply_edits(text, ops)
    if new is None:
        return Outcome(False, f"{path}: {summary}; the file is unchanged")
    written = write_file(ctx, path, new)
    if not written.ok:
        return written
    return Outcome(True, f"edited {path}: {summary}")


@hookimpl
def register_syscalls(register: Any) -> None:
    """This family's syscalls, through the same door as any plugin's."""
    register(edit_file)

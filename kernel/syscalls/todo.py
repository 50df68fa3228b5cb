"""``todo_write`` (Claude Code's ``TodoWrite`` and ``Task*`` list tools): the run's task list.

Each call replaces the list; the call and the rendered list are a step of the trace, so the trace
holds every version and ``llmos trace show`` prints the last one.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..plugins import hookimpl
from . import Context, Outcome, syscall

MARKS = {"pending": "[ ]", "in_progress": "[~]", "completed": "[x]"}


class Todo(BaseModel):
    """One task of the list."""

    model_config = ConfigDict(extra="ignore")  # Claude Code's activeForm, id, priority are accepted
    content: str = Field(min_length=1, description="what is to be done")
    status: Literal["pending", "in_progress", "completed"] = Field("pending", description="where it stands")


def render(todos: list[Todo]) -> str:
    done = sum(t.status == "completed" for t in todos)
    lines = [f"{MARKS[t.status]} {t.content}" for t in todos]
    return f"tasks ({done}/{len(todos)} done):\n" + "\n".join(lines) if todos else "tasks: (none)"


@syscall
def todo_write(ctx: Context, todos: list[Todo]) -> Outcome:
    """Replace this run's task list: plan multi-step work, mark one task in_progress, mark tasks completed.

    Args:
        todos: the whole list, in order; each has content and status (pending, in_progress or completed)
    """
    items = [t if isinstance(t, Todo) else Todo(**t) for t in todos]
    if sum(t.status == "in_progress" for t in items) > 1:
        return Outcome(False, "more than one task is in_progress; work on one at a time")
    return Outcome(True, render(items))


def last_task_list(steps: list[Any]) -> str | None:
    """The run's task list as its last successful ``todo_write`` step left it (for ``llmos trace show``)."""
    for step in reversed(steps):
        if step.tool == "todo_write" and step.ok:
            return step.result
    return None


@hookimpl
def register_syscalls(register: Any) -> None:
    """This family's syscalls, through the same door as any plugin's."""
    register(todo_write)

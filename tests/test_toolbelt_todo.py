"""todo_write (TodoWrite/Task*): the run's task list, in the trace and shown by llmos trace show;
Task/Agent grant delegate."""

from pathlib import Path

from llmos.kernel import Kernel
from helpers import run_llmos

AGENT = "---\nname: planner\ndescription: plans\ntools: TodoWrite, TaskUpdate, Task, Agent, Read\n---\nPlan.\n"


def test_task_tools_map_to_todo_write_and_delegate(root: Path):
    (root / "agents" / "planner.md").write_text(AGENT)
    agent = Kernel(root).agent("planner")
    assert agent.tools == frozenset({"todo_write", "delegate", "read_file"}) and agent.notes == ()


def test_the_task_list_is_kept_in_the_trace_and_shown(root: Path, script):
    (root / "agents" / "planner.md").write_text(AGENT)
    todos = [
        {"content": "read the notes", "status": "completed", "activeForm": "Reading the notes"},
        {"content": "write the summary", "status": "in_progress"},
        {"content": "check it"},
    ]
    model = script(
        {"tool_calls": [{"name": "todo_write", "args": {"todos": todos[:1]}}]},
        {"tool_calls": [{"name": "todo_write", "args": {"todos": todos}}]},
        {"tool_calls": [{"name": "todo_write", "args": {"todos": [{**t, "status": "in_progress"} for t in todos]}}]},
        {"tool_calls": [{"name": "finish", "args": {"result": "ok"}}]},
    )
    res = Kernel(root).run("summarise", model=model, agent="planner")
    assert res.outcome == "success"
    shown = run_llmos("trace", "show", res.trace_id, root=root)
    assert shown.returncode == 0, shown.stderr
    expected = "tasks (1/3 done):\n[x] read the notes\n[~] write the summary\n[ ] check it"
    assert expected in shown.stdout  # the last good list; the third call (three in progress) was refused

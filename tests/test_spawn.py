"""On-demand agents: an orchestrator writes a new agent, delegates to it at once, and it stays."""

from __future__ import annotations

from pathlib import Path

from llmos.kernel import Kernel
from llmos.traces import read_trace, trace_path
from helpers import git


def call(name: str, **args) -> dict:
    """One scripted reply calling ``name`` (create_agent has its own ``name`` argument)."""
    return {"tool_calls": [{"name": name, "args": args}]}


def create(**args) -> dict:
    return {"tool_calls": [{"name": "create_agent", "args": args}]}


def test_create_agent_then_delegate_to_it_and_reuse_it_later(root: Path, script):
    child = script(call("finish", result="summarized"))
    parent = script(
        create(
            name="summarizer",
            description="Summarizes a file.",
            instructions="Read the file and summarize it in three lines.",
            tools=["read_file", "finish"],
            model=child,
        ),
        call("delegate", agent="summarizer", goal="summarize README"),
        call("finish", result="done"),
    )
    res = Kernel(root).run("summarize things", agent="orchestrator", model=parent)
    t = read_trace(res.trace_path)
    assert t.steps[0].ok and "created agent 'summarizer'" in t.steps[0].result
    assert t.steps[1].ok and read_trace(trace_path(root, t.children[0])).agent == "summarizer"
    # the new file is in the run's commit, for a person to see in the diff
    files = git(root, "show", "--name-only", "--format=", res.commit).split()
    assert "agents/summarizer.md" in files and git(root, "status", "--porcelain") == ""
    made = Kernel(root).agent("summarizer")
    assert made.tools == frozenset({"read_file", "finish"}) and "three lines" in made.instructions
    later = Kernel(root).run("summarize again", agent="summarizer", model=script(call("finish", result="ok")))
    assert later.outcome == "success"


def test_invalid_agents_are_refused_with_the_validation_error(root: Path, script):
    bad = [
        ({"name": "Bad Name", "description": "x", "instructions": "y", "tools": ["finish"]}, "name"),
        ({"name": "ok-one", "description": "", "instructions": "y", "tools": ["finish"]}, "description"),
        ({"name": "ok-two", "description": "x", "instructions": "y", "tools": ["teleport"]}, "unknown tool 'teleport'"),
        ({"name": "ok-three", "description": "x", "instructions": " ", "tools": ["finish"]}, "instructions"),
        (
            {"name": "ok-four", "description": "x", "instructions": "y", "tools": ["vault_snapshot"]},
            "cannot have tools you do not have: vault_snapshot",
        ),
        ({"name": "ok-five", "description": "x", "instructions": "y"}, "list the new agent's tools"),
        (
            {"name": "ok-six", "description": "x", "instructions": "y", "tools": ["finish"], "model": "gpt:4"},
            "unknown model spec",
        ),
        ({"name": "assistant", "description": "x", "instructions": "y", "tools": ["finish"]}, "already exists"),
    ]
    model = script(*[create(**args) for args, _ in bad], call("finish", result="gave up"))
    res = Kernel(root).run("make agents", agent="orchestrator", model=model)
    steps = read_trace(res.trace_path).steps
    for step, (args, expected) in zip(steps, bad):
        assert not step.ok and expected in step.result, (args, step.result)
    assert sorted(p.name for p in (root / "agents").iterdir()) == ["assistant.md", "assistant.soul.md", "reviewer.md"]
    assert "agents/Bad Name.md" in steps[0].result  # the error names the file it would have been

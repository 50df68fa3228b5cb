"""Context assembly in real runs: layers in the prompt, the budget, trimming, the trace, the commit."""

from pathlib import Path

import yaml

from llmos.memory.context import budget_for
from llmos.kernel import Kernel
from llmos.memory.config import MemoryConfig
from llmos.memory.store import remember
from llmos.memory.working import write_working
from llmos.traces import read_trace
from helpers import call, git

FINISH = call("finish", result="ok")


def seen(assembled) -> str:
    """All the model is told before its goal: the system prompt and the context given with the goal."""
    return assembled.text + assembled.context


def set_budget(root: Path, tokens: int) -> None:
    cfg = yaml.safe_load((root / "system/llmos.yaml").read_text())
    cfg["memory"]["context"]["budgets"] = {"default": tokens}
    (root / "system/llmos.yaml").write_text(yaml.safe_dump(cfg))


def test_budget_per_model_by_glob():
    cfg = MemoryConfig()
    assert budget_for("local:gemma.gguf", cfg) == 1500 and budget_for("claude-sonnet-4-6", cfg) == 6000
    assert budget_for("scripted", cfg) == 3000


def test_first_and_second_run_see_working_memory_and_whats_new(root: Path, script):
    write_working(root, "assistant", "- deploying demo\n- next: check the logs", cap=4096)
    kernel = Kernel(root)
    agent = kernel.agent("assistant")
    first = kernel.assemble_context(agent, "scripted")
    assert "- deploying demo" in seen(first) and "This is your first run." in seen(first)
    assert "I am careful and plain-spoken" in seen(first)  # L0 soul
    res = kernel.run("Say hi", model=script(FINISH))
    t = read_trace(res.trace_path)
    assert t.context is not None and t.context.tokens > 0 and t.context.budget == 3000 and t.context.dropped == []
    assert set(t.context.layers) == {"L0", "L1", "L2"} and t.context.layers["L1"] > 0
    remember(root, "Ops moved the demo to port 9090")
    (root / "agents/assistant.md").write_text((root / "agents/assistant.md").read_text() + "\nBe brief.\n")
    second = Kernel(root).assemble_context(Kernel(root).agent("assistant"), "scripted")
    assert "Your last run" in seen(second) and "Say hi" in seen(second)
    assert "Your agent file (instructions) changed" in seen(second)
    assert "1 new memory since" in seen(second) and "Ops moved the demo to port 9090" in seen(second)
    assert "Ops moved" not in seen(first)


def test_context_size_is_flat_as_the_archive_grows(root: Path):
    kernel = Kernel(root)
    agent = kernel.agent("assistant")
    for n in range(5):
        remember(root, f"Distractor memory {n} about project number {n} and its many details", index=False)
    small = kernel.assemble_context(agent, "scripted").info.tokens
    for n in range(5, 200):
        remember(root, f"Distractor memory {n} about project number {n} and its many details", index=False)
    big = kernel.assemble_context(agent, "scripted").info.tokens
    assert abs(big - small) <= 0.1 * small


def test_trimming_keeps_soul_and_instructions_and_says_what_it_dropped(root: Path, script):
    notes = "\n".join(f"- note {n}: something the agent wrote down about task {n}" for n in range(40))
    write_working(root, "assistant", notes, cap=4096)
    for n in range(3):
        remember(root, f"fact {n}")
    set_budget(root, 450)
    res = Kernel(root).run("Say hi", model=script(FINISH))
    info = read_trace(res.trace_path).context
    assert info.tokens <= 450 and info.dropped
    assert any(d.startswith("L2:") for d in info.dropped) or any(d.startswith("L1:") for d in info.dropped)
    assert any("working-memory lines" in d for d in info.dropped)
    text = seen(Kernel(root).assemble_context(Kernel(root).agent("assistant"), "scripted"))
    assert "I am careful and plain-spoken" in text and "Work toward the goal" in text and "- note 0:" in text
    assert "- note 39:" not in text  # the end of the notes went first
    set_budget(root, 50)  # smaller than the soul and instructions: they stay whole anyway
    tiny = Kernel(root).assemble_context(Kernel(root).agent("assistant"), "scripted")
    assert "I am careful and plain-spoken" in seen(tiny) and "Work toward the goal" in seen(tiny)
    assert any("instructions and soul are never trimmed" in d for d in tiny.info.dropped)


def test_memories_written_by_a_run_are_in_its_commit(root: Path, script):
    model = script(
        call("remember", text="The build needs make 4.3", tags=["build"]),
        call("rewrite_working_memory", content="- build: needs make 4.3"),
        call("recall", query="what does the build need?"),
        FINISH,
    )
    res = Kernel(root).run("Remember the build tool", model=model)
    t = read_trace(res.trace_path)
    assert [s.ok for s in t.steps] == [True, True, True, True]
    assert "the-build-needs-make-4-3-" in t.steps[2].result and "match 1.00" in t.steps[2].result
    files = git(root, "show", "--name-only", "--format=", "HEAD").split()
    assert "memory/working/assistant.md" in files and any(f.startswith("memory/beta/the-build-needs") for f in files)
    assert git(root, "status", "--porcelain") == ""
    mem = [f for f in files if f.startswith("memory/beta/")][0]
    assert f"- {t.id}" in (root / mem).read_text()  # sources: the run that wrote it


def test_working_memory_over_cap_is_an_observation(root: Path, script):
    model = script(call("rewrite_working_memory", content="x" * 5000), FINISH)
    res = Kernel(root).run("Write too much", model=model)
    step = read_trace(res.trace_path).steps[0]
    assert not step.ok and "5000 bytes" in step.result and "4096 bytes" in step.result
    assert not (root / "memory/working/assistant.md").exists()

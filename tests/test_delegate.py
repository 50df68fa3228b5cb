"""Delegation (ORCHESTRATOR mode): child runs, the trace tree, budget shares, cycles, depth, crashes."""

from __future__ import annotations

import threading
from pathlib import Path


from llmos.audit.log import parse_trailers
from llmos.kernel import Kernel
from llmos.traces import read_trace, trace_path
from llmos.team.tracetree import load_tree, render_tree
from helpers import call, git, run_llmos


def agent(root: Path, name: str, model: str | None, tools: str = "[write_file, finish]", extra: str = "") -> None:
    """Write agents/NAME.md using ``model`` (a scripted spec)."""
    lines = ["---", f"name: {name}", f"description: test agent {name}", f"tools: {tools}"]
    if model:
        lines.append(f"model: {model}")
    (root / "agents" / f"{name}.md").write_text("\n".join(lines + [extra, "---", "Do it."]) + "\n")
    git(root, "add", f"agents/{name}.md")
    git(root, "commit", "-qm", f"test agent {name}")


def writer(script, n: int, delay: float = 0.0):
    return script(
        {**call("write_file", path=f"projects/demo/part{n}.md", content=f"part {n}"), "delay": delay},
        call("finish", result=f"wrote part {n}"),
    )


def children_of(trace_id: str, root: Path) -> list:
    return [read_trace(trace_path(root, c)) for c in read_trace(trace_path(root, trace_id)).children]


def test_three_parallel_children_complete_with_a_correct_trace_tree(root: Path, script):
    for n in (1, 2, 3):
        agent(root, f"w{n}", writer(script, n, delay=0.2))
    tasks = [{"agent": f"w{n}", "goal": f"write part {n} into projects/demo/part{n}.md"} for n in (1, 2, 3)]
    parent = script(call("delegate_many", tasks=tasks), call("finish", result="all parts written"))
    res = Kernel(root).run("write the three parts", agent="orchestrator", model=parent)
    assert res.outcome == "success" and res.mode == "ORCHESTRATOR"
    top = read_trace(res.trace_path)
    assert len(top.children) == 3 and top.steps[0].ok and "3 of 3 children succeeded" in top.steps[0].result
    kids = children_of(top.id, root)
    assert sorted(k.agent for k in kids) == ["w1", "w2", "w3"]
    assert all(k.parent == top.id and k.outcome == "success" for k in kids)
    assert max(k.started for k in kids) < min(k.ended for k in kids)  # they ran at the same time
    for n in (1, 2, 3):
        assert (root / f"projects/demo/part{n}.md").read_text() == f"part {n}"
    # every child committed on its own, and the parent's commit lists its children
    trailers = parse_trailers(git(root, "log", "-1", "--format=%B"))
    assert trailers["Trace-Id"] == top.id and sorted(trailers["Children"].split()) == sorted(top.children)
    subjects = git(root, "log", "--format=%s").splitlines()
    assert sum(s.startswith("llmos: write part") for s in subjects) == 3
    assert git(root, "status", "--porcelain") == ""
    # the tree, with tokens and cost per node
    tree = load_tree(root, top.id)
    assert [c.meta.agent for c in tree.children] == [read_trace(trace_path(root, c)).agent for c in top.children]
    assert tree.total_tokens()[0] == top.tokens.input + sum(k.tokens.input for k in kids)
    text = "\n".join(render_tree(tree))
    assert top.id in text and all(k.id in text for k in kids) and "tokens" in text and "$" in text


def test_trace_show_cli_renders_the_tree(root: Path, script):
    agent(root, "w1", writer(script, 1))
    parent = script(call("delegate", agent="w1", goal="write part 1"), call("finish", result="done"))
    res = Kernel(root).run("one child", agent="orchestrator", model=parent)
    out = run_llmos("trace", "show", res.trace_id, root=root)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    child = read_trace(res.trace_path).children[0]
    assert res.trace_id in lines[0] and "orchestrator" in lines[0]
    assert any(child in line and "w1" in line and "└──" in line for line in lines)
    missing = run_llmos("trace", "show", "20990101T000000-abcdef", root=root)
    assert missing.returncode == 1 and "no trace" in missing.stderr


def test_delegate_to_an_unknown_agent_is_an_observation(root: Path, script):
    parent = script(call("delegate", agent="nobody", goal="x"), call("finish", result="gave up"))
    res = Kernel(root).run("delegate badly", agent="orchestrator", model=parent)
    step = read_trace(res.trace_path).steps[0]
    assert res.outcome == "success" and not step.ok and "no agent named 'nobody'" in step.result
    assert read_trace(res.trace_path).children == []


def test_a_cycle_is_refused_and_the_parent_ends_cleanly(root: Path, script):
    # orchestrator -> a -> b -> a: the second delegation to a is refused inside b
    b = script(call("delegate", agent="a", goal="back to a"), call("finish", result="b done"))
    agent(root, "b", b, tools="[delegate, finish]")
    a = script(call("delegate", agent="b", goal="go to b"), call("finish", result="a done"))
    agent(root, "a", a, tools="[delegate, finish]")
    parent = script(call("delegate", agent="a", goal="start"), call("finish", result="top done"))
    res = Kernel(root).run("cycle", agent="orchestrator", model=parent)
    assert res.outcome == "success"
    a_trace = children_of(res.trace_id, root)[0]
    b_trace = children_of(a_trace.id, root)[0]
    assert b_trace.steps[0].ok is False
    assert "delegation cycle refused: orchestrator -> a -> b -> a" in b_trace.steps[0].result
    assert b_trace.children == [] and b_trace.outcome == "success"


def test_depth_limit(root: Path, script):
    cfg = root / "system/llmos.yaml"
    cfg.write_text(cfg.read_text().replace("max_depth: 3", "max_depth: 1"))
    b = script(call("finish", result="b done"))
    agent(root, "b", b)
    a = script(call("delegate", agent="b", goal="deeper"), call("finish", result="a done"))
    agent(root, "a", a, tools="[delegate, finish]")
    parent = script(call("delegate", agent="a", goal="start"), call("finish", result="top done"))
    res = Kernel(root).run("deep", agent="orchestrator", model=parent)
    a_trace = children_of(res.trace_id, root)[0]
    assert a_trace.outcome == "success" and "depth limit" in a_trace.steps[0].result
    assert a_trace.children == []


PRICED = {"model": "claude-haiku-4-5"}  # scripted replies billed at Haiku prices ($1 / $5 per M tokens)


def test_budget_shares_are_enforced(root: Path, script):
    cfg = root / "system/llmos.yaml"
    cfg.write_text(cfg.read_text().replace("per_run: 2.00", "per_run: 0.05"))
    # the child may spend half of what the parent has left of 0.05; each of its replies writes ~1,500
    # tokens (~$0.0075), so after a few calls not even a 1,024-token reply fits what is left of its share
    hungry = script(
        *[call("write_file", path=f"projects/x{i}.md", content="word " * 1500) for i in range(10)],
        call("finish", result="never"),
        **PRICED,
    )
    agent(root, "hungry", hungry)
    parent = script(call("delegate", agent="hungry", goal="spend"), call("finish", result="parent done"), **PRICED)
    res = Kernel(root).run("share", agent="orchestrator", model=parent)
    top = read_trace(res.trace_path)
    child = children_of(top.id, root)[0]
    first = top.steps[0].tokens
    share = (0.05 - (first.input * 1.0 + first.output * 5.0) / 1e6) * 0.5
    assert child.outcome == "budget" and f"of ${share:.4f}" in child.error and 1 < len(child.steps) < 10
    assert child.cost_usd <= share
    assert top.steps[0].ok is False and "budget" in top.steps[0].result and child.id in top.steps[0].result
    assert res.outcome == "success"  # the parent went on and finished


def test_no_budget_left_refuses_delegation(root: Path, script):
    cfg = root / "system/llmos.yaml"
    cfg.write_text(cfg.read_text().replace("per_run: 2.00", "per_run: 0.0"))
    agent(root, "w1", writer(script, 1))
    parent = script(call("delegate", agent="w1", goal="x"), call("finish", result="done"))  # free model
    res = Kernel(root).run("broke", agent="orchestrator", model=parent)
    step = read_trace(res.trace_path).steps[0]
    assert not step.ok and "nothing to give a child" in step.result


def test_a_crashed_child_is_reported_and_its_trace_written(root: Path, script):
    # the child's script runs out of replies (a backend failure) and another child's syscall crashes
    agent(root, "short", script(call("write_file", path="projects/s.md", content="s")))
    agent(root, "boom", script(call("explode"), call("finish", result="never")), tools="[explode, finish]")
    agent(root, "fine", writer(script, 1))
    kernel = Kernel(root)
    from llmos.syscalls import make_syscall

    def explode(ctx) -> None:
        """Crash on purpose (a syscall with a bug)."""
        raise RuntimeError("bug in a tool")

    kernel.syscalls.syscalls["explode"] = make_syscall(explode)
    tasks = [{"agent": "short", "goal": "a"}, {"agent": "boom", "goal": "b"}, {"agent": "fine", "goal": "c"}]
    parent = script(call("delegate_many", tasks=tasks), call("finish", result="reported"))
    res = kernel.run("crashy children", agent="orchestrator", model=parent)
    assert res.outcome == "success"
    top = read_trace(res.trace_path)
    obs = top.steps[0].result
    assert top.steps[0].ok is False and "1 of 3 children succeeded" in obs
    assert "scripted replies exhausted" in obs and "crashed: RuntimeError: bug in a tool" in obs
    kids = {k.agent: k for k in children_of(top.id, root)}
    assert kids["short"].outcome == "failure" and kids["boom"].outcome == "failure"
    assert kids["boom"].error == "internal error: RuntimeError: bug in a tool"  # a bug, named in the trace
    assert kids["fine"].outcome == "success"
    assert git(root, "status", "--porcelain") == ""


def test_child_inherits_the_parents_model_when_its_agent_names_none(root: Path, script):
    agent(root, "plain", None, tools="[delegate, finish]")
    # parent and child share one script file: the child replays it from the start, so it tries to
    # delegate to itself (refused: a cycle) and then finishes
    model = script(call("delegate", agent="plain", goal="child goal"), call("finish", result="done"))
    res = Kernel(root).run("inherit", agent="orchestrator", model=model)
    child = children_of(res.trace_id, root)[0]
    assert child.model == "scripted" and child.outcome == "success"
    assert "delegation cycle refused: orchestrator -> plain -> plain" in child.steps[0].result


def test_concurrent_top_level_runs_in_one_process_are_safe(root: Path, script):
    models = [writer(script, n, delay=0.05) for n in range(8)]
    results, errors = [], []

    def go(n: int) -> None:
        try:
            results.append(Kernel(root).run(f"write part {n}", model=models[n]))
        except Exception as exc:  # pragma: no cover - the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(n,)) for n in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not errors and len(results) == 8 and all(r.outcome == "success" for r in results)
    assert len({r.commit for r in results}) == 8
    subjects = git(root, "log", "--format=%s").splitlines()
    assert len([s for s in subjects if s.startswith("llmos: write part")]) == 8  # none lost
    # the family became a tool as the runs ended together: made once, not once per run
    assert len([s for s in subjects if s.startswith("llmos: crystallize")]) <= 1
    assert git(root, "status", "--porcelain") == ""
    from llmos.blobs import BlobStore
    from llmos.budget.gate import Budget
    from llmos.config import load_config

    with BlobStore.open(root / ".llmos/blobs") as store:
        assert store.check(read_data=True).ok
    assert Budget(root, load_config(root).budget).verify().ok


def test_the_entry_agent_is_configured_not_guessed(root: Path, script):
    agent(root, "w1", writer(script, 1))
    cfg = root / "system/llmos.yaml"
    cfg.write_text(cfg.read_text().replace("entry_agent: assistant", "entry_agent: orchestrator"))
    events = []
    res = Kernel(root).run(
        "a short goal",
        model=script(call("delegate", agent="w1", goal="write part 1"), call("finish", result="done")),
        on_event=lambda kind, data: events.append((kind, data.get("trace"))),
    )
    assert res.agent == "orchestrator" and res.mode == "ORCHESTRATOR"
    starts = [t.agent for kind, t in events if kind == "start"]
    assert starts == ["orchestrator", "w1"]  # the child's start is reported to the parent's listener

"""Execution modes end to end: matching, FOLLOWER replay, MIXED guidance, forced modes, statistics,
and the bad inputs (files gone, slots that try to leave the root)."""

import json
from pathlib import Path

import pytest

from llmos.audit.log import parse_trailers
from llmos.blobs import BlobStore, load_request
from llmos.errors import ScriptError
from llmos.kernel import Kernel
from llmos.modes.learned import trace_rows
from llmos.modes.slots import abstract, fill, fill_args, slot_args
from llmos.modes.traceindex import TraceIndex
from llmos.traces import read_trace
from helpers import call, git

TEMPLATE_FILE = "projects/shared/style.md"
NEVER = call("write_file", path="projects/WRONG.md", content="the model was called")


def poem_goal(n: int, path: str | None = None) -> tuple[str, str]:
    path = path or f"projects/p{n}/poem.md"
    return f'Write a poem about "cat {n}" into {path}', path


def poem_replies(n: int, path: str | None = None) -> list[dict]:
    """What the model does for one poem: read the shared style, write the poem, finish."""
    path = path or f"projects/p{n}/poem.md"
    return [
        call("read_file", path=TEMPLATE_FILE),
        call("write_file", path=path, content=f"# cat {n}\n\nA poem about cat {n}.\n"),
        call("finish", result=f"wrote {path}"),
    ]


@pytest.fixture()
def styled(root: Path) -> Path:
    (root / TEMPLATE_FILE).parent.mkdir(parents=True)
    (root / TEMPLATE_FILE).write_text("Short lines.\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "style")
    return root


def no_auto_crystallize(root: Path) -> None:
    cfg = root / "system/llmos.yaml"
    cfg.write_text(cfg.read_text().replace("  auto: true", "  auto: false"))


def run_poem(root: Path, script, n: int, *replies, **kw):
    goal, _ = poem_goal(n, kw.pop("path", None))
    return Kernel(root).run(goal, model=script(*(replies or poem_replies(n))), **kw)


def test_slot_templates_round_trip():
    slots = {"path1": "projects/a/x.md", "text1": "cat {1}", "num1": "3"}
    t = abstract("cat {1} lives in projects/a/x.md; 3 lives, not 33", slots)
    assert t == "{text1} lives in {path1}; {num1} lives, not 33"
    assert fill(t, {"path1": "p/b.md", "text1": "dog", "num1": "9"}) == "dog lives in p/b.md; 9 lives, not 33"
    assert fill("{{literal}} {text1}", {"text1": "x"}) == "{literal} x"
    assert slot_args({"path": "projects/a/x.md", "offset": 3, "other": "none"}, slots) == {
        "path": "{path1}",
        "offset": "{num1}",
    }
    assert fill_args({"path": "projects/a/x.md", "offset": 3}, {"offset": "{num1}"}, {"num1": "7"})["offset"] == 7
    with pytest.raises(KeyError):
        fill("{path2}", slots)


def test_second_run_is_a_zero_token_replay_with_new_values(styled: Path, script):
    first = run_poem(styled, script, 1)
    t1 = read_trace(first.trace_path)
    assert first.mode == "LEARNER" and t1.decision["reason"] == "no earlier run matches this goal"
    write = t1.steps[1]
    assert write.slot_args == {"path": "{path1}", "content": "# {text1}\n\nA poem about {text1}.\n"}
    assert {"file_exists": "{path1}"} in write.post and "result_hash" in t1.steps[0].post[1]

    second = run_poem(styled, script, 2, NEVER)  # the model would write WRONG.md if it were called
    assert second.mode == "FOLLOWER" and second.outcome == "success" and second.tokens["input"] == 0
    assert (styled / "projects/p2/poem.md").read_text() == "# cat 2\n\nA poem about cat 2.\n"
    assert not (styled / "projects/WRONG.md").exists() and second.result == "wrote projects/p2/poem.md"
    t2 = read_trace(second.trace_path)
    d = t2.decision
    assert d["source"] == t1.id and d["mode"] == "FOLLOWER" and d["thresholds"]["follower"] == 0.92
    assert d["candidates"][0]["trace"] == t1.id and d["candidates"][0]["match"] == "exact"
    assert d["candidates"][0]["confidence"] == pytest.approx((1 + 2 * 0.95) / 3, abs=1e-4)
    assert "proven" in d["reason"] and t2.model == "none" and t2.model_calls == 0
    trailers = parse_trailers(git(styled, "log", "-1", "--format=%B"))
    assert trailers["Mode"] == "FOLLOWER" and trailers["Tokens"] == "0/0" and trailers["Trace-Id"] == t2.id
    assert sorted(git(styled, "show", "--name-only", "--format=", "HEAD").split()) == sorted(
        ["projects/p2/poem.md", second.trace_path.relative_to(styled).as_posix()]
    )


def test_statistics_move_and_a_file_gone_falls_back_to_mixed(styled: Path, script):
    no_auto_crystallize(styled)
    first = run_poem(styled, script, 1)
    run_poem(styled, script, 2, NEVER)
    row = next(r for r in trace_rows(Kernel(styled)) if r["id"] == first.trace_id)
    assert (row["uses"], row["successes"], row["demoted"]) == (2, 2, False)
    assert row["confidence"] == pytest.approx((2 + 1.9) / 4, abs=1e-4)
    # the shared file the trace read is gone: replay stops at that step, the model takes over (MIXED)
    (styled / TEMPLATE_FILE).unlink()
    fallback = [call("write_file", path="projects/p3/poem.md", content="# cat 3\n"), call("finish", result="ok")]
    third = run_poem(styled, script, 3, *fallback)
    t3 = read_trace(third.trace_path)
    assert third.mode == "MIXED" and third.outcome == "success" and third.tokens["input"] > 0
    assert t3.decision["fallbacks"][0]["mode"] == "FOLLOWER" and "no such file" in t3.decision["fallbacks"][0]["error"]
    assert t3.steps[0].tool == "read_file" and not t3.steps[0].ok  # what was done before falling back
    with BlobStore.open(styled / ".llmos" / "blobs") as store:
        request = load_request(store, t3.steps[1].request.removeprefix("blob:"))
    guidance = [m["content"] for m in request["messages"] if m["role"] == "system"][1]
    assert "A similar goal was done before" in guidance and "write_file" in guidance
    assert "read_file projects/shared/style.md" not in guidance.split("Already done")[1]  # it failed
    assert request["messages"][2] == {"role": "user", "content": poem_goal(3)[0]}  # the goal stays the goal
    row = next(r for r in trace_rows(Kernel(styled)) if r["id"] == first.trace_id)
    assert (row["uses"], row["successes"]) == (3, 2) and row["confidence"] < 0.92
    # the run that coped without the file is now the proven way: the next goal replays it
    fourth = run_poem(styled, script, 4, NEVER)
    assert fourth.mode == "FOLLOWER" and read_trace(fourth.trace_path).decision["source"] == t3.id


def test_repeated_failure_demotes_a_trace(styled: Path, script):
    no_auto_crystallize(styled)
    first = run_poem(styled, script, 1)
    for n in range(2, 6):
        assert run_poem(styled, script, n, NEVER).mode == "FOLLOWER"
    (styled / TEMPLATE_FILE).unlink()
    for n, mode in ((6, "MIXED"), (7, "MIXED")):  # the model fails too (its script runs out)
        with pytest.raises(ScriptError) as info:
            run_poem(styled, script, n, call("list_dir", path="."))
        t = read_trace(info.value.run.trace_path)
        assert t.mode == mode and t.outcome == "failure" and t.decision["source"] == first.trace_id
    row = next(r for r in trace_rows(Kernel(styled)) if r["id"] == first.trace_id)
    assert (row["uses"], row["successes"], row["demoted"]) == (7, 5, True) and row["confidence"] >= 0.75
    eighth = run_poem(styled, script, 8, call("finish", result="done by hand"))
    assert eighth.mode == "LEARNER" and read_trace(eighth.trace_path).decision["candidates"][0]["demoted"]


def test_forced_modes(styled: Path, script):
    run_poem(styled, script, 1)
    forced = run_poem(styled, script, 2, mode="LEARNER")
    t = read_trace(forced.trace_path)
    assert forced.mode == "LEARNER" and forced.tokens["input"] > 0 and "forced" in t.decision["reason"]
    agent = styled / "agents" / "assistant.md"
    agent.write_text(agent.read_text().replace("name: assistant\n", "name: assistant\nmode: LEARNER\n"))
    by_agent = run_poem(styled, script, 3)
    assert by_agent.mode == "LEARNER" and read_trace(by_agent.trace_path).decision["forced"] == "LEARNER"
    mixed = run_poem(styled, script, 4, mode="MIXED")
    assert mixed.mode == "MIXED" and read_trace(mixed.trace_path).decision["source"]


def test_lexically_similar_goal_is_guided_not_replayed(styled: Path, script):
    run_poem(styled, script, 1)
    goal = 'Write a short poem about "dog" into projects/d/poem.md'
    res = Kernel(styled).run(
        goal, model=script(call("write_file", path="projects/d/poem.md", content="dog"), call("finish", result="ok"))
    )
    d = read_trace(res.trace_path).decision
    assert res.mode == "MIXED" and d["candidates"][0]["match"] == "lexical"
    assert 0.5 <= d["candidates"][0]["similarity"] < 1 and d["source"] == d["candidates"][0]["trace"]
    unrelated = Kernel(styled).run("List the agents folder", model=script(call("finish", result="ok")))
    assert unrelated.mode == "LEARNER"


def test_slots_cannot_escape_the_root(styled: Path, script):
    run_poem(styled, script, 1)
    shell = "$(touch /tmp/llmos-pwned); rm -rf ~ #"
    res = Kernel(styled).run(f'Write a poem about "{shell}" into projects/p9/poem.md', model=script(NEVER))
    assert res.mode == "FOLLOWER" and not Path("/tmp/llmos-pwned").exists()
    assert (styled / "projects/p9/poem.md").read_text() == f"# {shell}\n\nA poem about {shell}.\n"
    for path, why in (("../escape/poem.md", "outside the OS root"), (".git/hooks/poem.md", None)):
        with pytest.raises(ScriptError) as info:  # the replay is refused; the model then fails too
            run_poem(styled, script, 2, call("list_dir", path="."), path=path)
        t = read_trace(info.value.run.trace_path)
        assert t.slots["path1"] == path and t.mode == "MIXED"
        if why:  # the replay's write was refused
            assert t.decision["fallbacks"][0]["mode"] == "FOLLOWER" and why in t.decision["fallbacks"][0]["error"]
        else:  # that failure cost the trace its FOLLOWER confidence: straight to MIXED
            assert t.decision["fallbacks"] == [] and t.decision["candidates"][0]["confidence"] < 0.92
    assert not (styled.parent / "escape").exists() and not (styled / ".git/hooks/poem.md").exists()


def test_index_is_a_cache_rebuilt_from_the_files(styled: Path, script):
    first = run_poem(styled, script, 1)
    cache = styled / ".llmos" / "cache" / "traces.json"
    TraceIndex.for_root(styled).save_cache()
    cache.write_text("{not json")
    TraceIndex._open.clear()  # a new process
    index = TraceIndex.for_root(styled)
    assert [e.id for e in index.entries.values()] == [first.trace_id]
    first.trace_path.unlink()  # a person deletes the trace: it is forgotten, the next run learns anew
    assert run_poem(styled, script, 2).mode == "LEARNER"


def test_traces_are_not_matched_across_agents(styled: Path, script):
    run_poem(styled, script, 1)
    (styled / "agents" / "other.md").write_text("---\nname: other\ndescription: another agent\n---\nWork.\n")
    res = run_poem(styled, script, 2, agent="other")
    assert res.mode != "FOLLOWER" and json.dumps(read_trace(res.trace_path).decision)


def test_part_of_a_slot_used_on_its_own_is_never_replayed(root: Path, script):
    """'A protocol named after ada' for the slot "ada protocol": a replay would write 'ada' again."""

    def define(name: str, *replies):
        goal = f'Define the term "{name} protocol" in projects/g/{name}.md'
        return Kernel(root).run(
            goal,
            model=script(
                *replies
                or (
                    call(
                        "write_file",
                        path=f"projects/g/{name}.md",
                        content=f"# {name} protocol\n\nNamed after {name}.\n",
                    ),
                    call("finish", result="defined"),
                )
            ),
        )

    first = define("ada")
    assert read_trace(first.trace_path).steps[0].post[0] == {"unexplained": ["ada"]}
    second = define("grace")
    assert second.mode == "MIXED" and second.tokens["input"] > 0  # guided, not replayed
    assert (root / "projects/g/grace.md").read_text() == "# grace protocol\n\nNamed after grace.\n"

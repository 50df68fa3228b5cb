"""Execution modes end to end: matching, FOLLOWER replay, MIXED guidance, forced modes, statistics,
and the bad inputs (files gone, slots that try to leave the root). A replay needs two runs with
different slot values (``modes.min_sources``); the rules themselves are in tests/test_replay_*.py."""

import json
from pathlib import Path

import pytest

from llmos.audit.log import parse_trailers
from llmos.blobs import BlobStore, load_request
from llmos.errors import ScriptError
from llmos.kernel import Kernel
from llmos.modes.learned import trace_rows
from llmos.modes.slots import abstract, fill, slot_args
from llmos.modes.traceindex import TraceIndex
from llmos.traces import read_trace
from helpers import call, git

TEMPLATE_FILE = "projects/shared/style.md"
NEVER = call("write_file", path="projects/WRONG.md", content="the model was called")
FINISH = call("finish", result="ok")


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
    with pytest.raises(KeyError):
        fill("{path2}", slots)


def test_third_run_is_a_zero_token_replay_with_new_values(styled: Path, script):
    no_auto_crystallize(styled)
    first = run_poem(styled, script, 1)
    t1 = read_trace(first.trace_path)
    assert first.mode == "LEARNER" and t1.decision["reason"] == "no earlier run matches this goal"
    write = t1.steps[1]
    assert write.slot_args == {"path": "{path1}", "content": "# {text1}\n\nA poem about {text1}.\n"}
    second = run_poem(styled, script, 2)  # one run is not evidence enough: the model, guided by it
    t2 = read_trace(second.trace_path)
    assert second.mode == "MIXED" and second.tokens["input"] > 0 and t2.decision["source"] == t1.id
    assert t2.decision["replay"]["reason"].startswith("1 successful run(s) of this template")

    third = run_poem(styled, script, 3, NEVER)  # the model would write WRONG.md if it were called
    assert third.mode == "FOLLOWER" and third.outcome == "success" and third.tokens["input"] == 0
    assert (styled / "projects/p3/poem.md").read_text() == "# cat 3\n\nA poem about cat 3.\n"
    assert not (styled / "projects/WRONG.md").exists() and third.result == "wrote projects/p3/poem.md"
    t3 = read_trace(third.trace_path)
    d = t3.decision
    assert d["source"] == t2.id and d["mode"] == "FOLLOWER" and d["thresholds"]["follower"] == 0.92
    replay = d["replay"]
    assert (
        replay["sources"] == [t2.id, t1.id] and replay["explained"] and (replay["uses"], replay["successes"]) == (2, 2)
    )
    assert replay["confidence"] == pytest.approx((2 + 0.25 * 0.5) / 2.25, abs=1e-4)
    assert replay["steps"][1] == {
        "n": 2,
        "tool": "write_file",
        "args": {"path": {"from": "{path1}"}, "content": {"from": "# {text1}\n\nA poem about {text1}.\n"}},
    }
    assert replay["steps"][0]["args"] == {"path": {"constant": 2}}
    assert "explain every argument" in d["reason"] and t3.model == "none" and t3.model_calls == 0
    trailers = parse_trailers(git(styled, "log", "-1", "--format=%B"))
    assert trailers["Mode"] == "FOLLOWER" and trailers["Tokens"] == "0/0" and trailers["Trace-Id"] == t3.id
    assert sorted(git(styled, "show", "--name-only", "--format=", "HEAD").split()) == sorted(
        ["projects/p3/poem.md", third.trace_path.relative_to(styled).as_posix()]
    )


def test_a_changed_file_stops_the_replay_and_the_new_way_is_learned(styled: Path, script):
    no_auto_crystallize(styled)
    first = run_poem(styled, script, 1)
    run_poem(styled, script, 2)
    run_poem(styled, script, 3, NEVER)
    row = next(r for r in trace_rows(Kernel(styled)) if r["id"] == first.trace_id)
    assert (row["uses"], row["successes"], row["demoted"]) == (2, 2, False)  # its run and the run it guided
    # the shared file the runs read is gone: replay stops at that step, the model takes over (MIXED)
    (styled / TEMPLATE_FILE).unlink()
    fallback = [call("write_file", path="projects/p4/poem.md", content="# cat 4\n"), call("finish", result="ok")]
    fourth = run_poem(styled, script, 4, *fallback)
    t4 = read_trace(fourth.trace_path)
    assert fourth.mode == "MIXED" and fourth.outcome == "success" and fourth.tokens["input"] > 0
    assert t4.decision["fallbacks"][0]["mode"] == "FOLLOWER" and "no such file" in t4.decision["fallbacks"][0]["error"]
    assert t4.steps[0].tool == "read_file" and not t4.steps[0].ok  # what was done before falling back
    with BlobStore.open(styled / ".llmos" / "blobs") as store:
        request = load_request(store, t4.steps[1].request.removeprefix("blob:"))
    texts = [str(m["content"]) for m in request["messages"]]
    guidance = next(t for t in texts if "A similar goal was done before" in t)
    assert "write_file" in guidance and "read_file projects/shared/style.md" not in guidance.split("Already done")[1]
    assert any(t.startswith(poem_goal(4)[0]) for t in texts)  # the goal stays the goal
    # the failed replay cost the old way its confidence: the next run is the model's again
    fifth = run_poem(styled, script, 5, call("write_file", path="projects/p5/poem.md", content="# cat 5\n"), FINISH)
    d5 = read_trace(fifth.trace_path).decision
    assert fifth.mode == "MIXED" and d5["fallbacks"] == [] and d5["replay"]["reason"].startswith("confidence 0.7")
    # two runs that coped without the file are now the proven way: the next goal replays them
    sixth = run_poem(styled, script, 6, NEVER)
    assert sixth.mode == "FOLLOWER" and read_trace(sixth.trace_path).decision["replay"]["sources"][1] == t4.id
    assert (styled / "projects/p6/poem.md").read_text() == "# cat 6\n"


def test_repeated_failed_replays_demote_the_way(styled: Path, script):
    no_auto_crystallize(styled)
    for n in (1, 2):
        run_poem(styled, script, n)
    assert run_poem(styled, script, 3, NEVER).mode == "FOLLOWER"
    (styled / TEMPLATE_FILE).unlink()
    for n in (4, 5):  # forced: confidence is not asked, the evidence rules still are; the model fails too
        with pytest.raises(ScriptError) as info:
            run_poem(styled, script, n, call("list_dir", path="."), mode="FOLLOWER")
        t = read_trace(info.value.run.trace_path)
        assert t.mode == "MIXED" and t.outcome == "failure" and t.decision["fallbacks"][0]["mode"] == "FOLLOWER"
    sixth = run_poem(styled, script, 6, call("finish", result="done by hand"), mode="FOLLOWER")
    replay = read_trace(sixth.trace_path).decision["replay"]
    assert sixth.mode != "FOLLOWER" and replay["demoted"] and replay["reason"] == "its last 2 replays failed"
    assert (replay["uses"], replay["successes"]) == (5, 3)


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
    no_auto_crystallize(styled)
    run_poem(styled, script, 1)
    run_poem(styled, script, 2)
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
        else:  # that failure cost the replay its confidence: straight to MIXED
            assert t.decision["fallbacks"] == [] and t.decision["replay"]["confidence"] < 0.92
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
        content = f"# {name} protocol\n\nNamed after {name}.\n"
        default = (call("write_file", path=f"projects/g/{name}.md", content=content), FINISH)
        return Kernel(root).run(goal, model=script(*(replies or default)))

    first = define("ada")
    assert read_trace(first.trace_path).steps[0].post[0] == {"unexplained": ["ada"]}
    define("grace")
    third = define("alan")
    assert third.mode == "MIXED" and third.tokens["input"] > 0  # guided, not replayed
    assert (root / "projects/g/alan.md").read_text() == "# alan protocol\n\nNamed after alan.\n"
    replay = read_trace(third.trace_path).decision["replay"]
    assert not replay["explained"] and "step 1 (write_file) argument.content is not made from" in replay["reason"]

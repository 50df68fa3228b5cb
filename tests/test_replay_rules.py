"""The rules a zero-token run keeps: evidence before trust, only explained arguments, postconditions."""

from pathlib import Path

import pytest

from llmos.config import load_config
from llmos.kernel import Kernel
from llmos.modes.config import ModesConfig
from llmos.modes.traceindex import confidence
from llmos.traces import read_trace
from helpers import call

NEVER = call("write_file", path="projects/WRONG.md", content="the model was called")
STYLE = "projects/shared/style.md"


def haiku(root: Path, script, topic: str, *replies, style: str = STYLE, path: str = ""):
    path = path or f"projects/poems/{topic}.md"
    replies = replies or (
        call("read_file", path=style),
        call("write_file", path=path, content=f"{topic}\nshort lines\n"),
        call("finish", result=f"wrote {path}"),
    )
    return Kernel(root).run(f'Write a haiku about "{topic}" into {path} following {style}', model=script(*replies))


@pytest.fixture()
def styled(root: Path) -> Path:
    (root / STYLE).parent.mkdir(parents=True)
    (root / STYLE).write_text("Short lines.\n")
    (root / "projects/shared/other.md").write_text("Long lines.\n")
    cfg = root / "system/llmos.yaml"
    cfg.write_text(cfg.read_text().replace("  auto: true", "  auto: false"))
    return root


def replay_of(res) -> dict:
    return read_trace(res.trace_path).decision["replay"]


def test_one_success_is_never_enough(styled: Path):
    m = load_config(styled).modes  # the template's settings, as `llmos init` writes them
    assert (m.prior, m.prior_weight) == (ModesConfig().prior, ModesConfig().prior_weight)
    assert confidence(1, 1, m.prior, m.prior_weight) < m.follower <= confidence(2, 2, m.prior, m.prior_weight)
    assert confidence(2, 3, m.prior, m.prior_weight) < m.mixed  # one failure in three: not even a guide
    with pytest.raises(ValueError):
        ModesConfig(min_sources=1)


def test_evidence_is_counted_in_runs_with_different_slot_values(styled: Path, script):
    cfg = styled / "system/llmos.yaml"
    cfg.write_text(cfg.read_text().replace("min_sources: 2", "min_sources: 3"))
    haiku(styled, script, "autumn")
    haiku(styled, script, "autumn", path="projects/poems/autumn2.md")  # no new topic: adds no evidence of it
    third = haiku(styled, script, "winter")
    assert third.tokens["input"] > 0 and replay_of(third)["reason"].startswith("2 successful run(s)")
    fourth = haiku(styled, script, "spring", NEVER)
    assert fourth.mode == "FOLLOWER" and len(replay_of(fourth)["sources"]) == 3


def test_a_slot_the_sources_never_varied_is_not_replayed_with_a_new_value(styled: Path, script):
    haiku(styled, script, "autumn")
    haiku(styled, script, "winter")
    other = (
        call("read_file", path="projects/shared/other.md"),
        call("write_file", path="projects/poems/rain.md", content="rain\nlong lines\n"),
        call("finish", result="wrote projects/poems/rain.md"),
    )
    res = haiku(styled, script, "rain", *other, style="projects/shared/other.md")
    assert res.mode == "MIXED" and (styled / "projects/poems/rain.md").read_text() == "rain\nlong lines\n"
    assert replay_of(res)["reason"] == (
        "slot path2 was 'projects/shared/style.md' in every source run, so nothing shows what depends on it"
    )


def test_a_replay_never_writes_a_file_a_source_run_wrote(styled: Path, script):
    first = haiku(styled, script, "autumn")
    haiku(styled, script, "winter")
    again = haiku(styled, script, "autumn")  # the same goal again: the model does it, not a replay
    assert again.tokens["input"] > 0
    assert replay_of(again)["reason"] == (
        f"step 2 (write_file) would write projects/poems/autumn.md, which source run {first.trace_id} wrote"
    )


def test_a_read_that_differs_from_the_sources_stops_the_replay(styled: Path, script):
    haiku(styled, script, "autumn")
    haiku(styled, script, "winter")
    (styled / STYLE).write_text("Rhyme, please.\n")
    res = haiku(styled, script, "spring")
    d = read_trace(res.trace_path).decision
    assert (
        res.mode == "MIXED"
        and d["fallbacks"][0]["error"] == "step 1 (read_file) read something else than the source runs did"
    )


def test_a_write_that_does_not_hold_what_was_meant_stops_the_replay(styled: Path, script):
    haiku(styled, script, "autumn", path="projects/poems/p1.md")  # a path the topic is not part of
    haiku(styled, script, "winter", path="projects/poems/p2.md")
    secret = "AKIA" + "ABCDEFGHIJKLMNOP"  # the scrubber rewrites it on its way to disk
    model = (call("write_file", path="projects/poems/key.md", content="k\n"), call("finish", result="ok"))
    res = haiku(styled, script, secret, *model, path="projects/poems/key.md")
    t = read_trace(res.trace_path)
    assert res.mode == "MIXED" and "does not hold what this step meant to write" in t.decision["fallbacks"][0]["error"]
    assert [s.ok for s in t.steps[:2]] == [True, False]


def test_steps_whose_effects_a_replay_cannot_check_are_left_to_the_model():
    from llmos.modes.explain import Unexplained
    from llmos.modes.script import build
    from llmos.traces import Step, TraceMeta

    def run(n: int, tool: str) -> TraceMeta:
        steps = [
            Step(n=1, tool=tool, args={"command": f"touch projects/f{n}"}, ok=True),
            Step(n=2, tool="finish", args={"result": "done"}, ok=True),
        ]
        goal = f"Touch projects/f{n}"
        meta = dict(id=f"t{n}", goal=goal, goal_signature="s", agent="a", agent_hash="h", model="m", started="x")
        return TraceMeta(**meta, slots={"path1": f"projects/f{n}"}, steps=steps)

    assert build([run(1, "shout"), run(2, "shout")], {"path1": "projects/f3"}).steps[0].args == {
        "command": "touch projects/f3"
    }
    for tool in ("bash", "web_fetch", "mcp__git__status"):
        with pytest.raises(Unexplained, match=rf"step 1 \({tool}\) acts where a replay cannot check"):
            build([run(1, tool), run(2, tool)], {"path1": "projects/f3"})

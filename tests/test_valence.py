"""Valence: each rule's effect on the state and on the next run's decisions, all in the trace."""

from __future__ import annotations

from pathlib import Path

import yaml

from llmos.kernel import Kernel
from llmos.traces import read_trace
from llmos.team.valence import RULES, ValenceConfig, ValenceState, advise, apply, mode_preference, rules_for
from helpers import call, git

FINISH = call("finish", result="done")


def enable(root: Path, **settings) -> None:
    cfg = root / "system/llmos.yaml"
    text = cfg.read_text().replace("  enabled: false          # true", "  enabled: true           # true")
    for key, value in settings.items():
        text = text.replace(f"  {key}: ", f"  {key}: {value}  # was: ", 1)
    cfg.write_text(text)


def set_state(root: Path, **values: float) -> None:
    (root / "memory/valence.yaml").write_text(yaml.safe_dump({"format": "llmos-valence/1", **values}))


def state(root: Path) -> dict:
    return yaml.safe_load((root / "memory/valence.yaml").read_text())


def kinds(trace) -> dict:
    return {(i["kind"], i["effect"].get("prefer")): i for i in trace.valence["influences"]}


def test_rules_deltas_and_decay():
    cfg = ValenceConfig(enabled=True)
    s = ValenceState(confidence=0.5, recent=["sig"])
    hits = rules_for(cfg, s, outcome="failure", refused=5, cost_usd=1.0, signature="sig")
    assert [h.rule for h in hits] == ["failure", "repetition", "high_cost", "refused", "refused", "refused"]
    after = apply(s, hits, cfg)
    assert after.confidence == round(0.5 * 0.9 + RULES["failure"]["confidence"], 4)
    assert after.safety == round(3 * RULES["refused"]["safety"], 4)
    assert after.energy == round(RULES["failure"]["energy"] + RULES["high_cost"]["energy"], 4)
    assert apply(ValenceState(safety=-0.95), hits, cfg).safety == -1.0  # clipped


def test_off_by_default_writes_nothing(root: Path, script):
    res = Kernel(root).run("hello", model=script(FINISH))
    assert read_trace(res.trace_path).valence is None and not (root / "memory/valence.yaml").exists()


def test_refused_syscalls_lower_safety_and_the_next_run_gets_a_strict_policy(root: Path, script):
    enable(root)
    bad = script(call("write_file", path="../out.txt", content="x"), call("read_file", path=".git/config"), FINISH)
    res = Kernel(root).run("poke around", model=bad)
    t = read_trace(res.trace_path)
    assert [r["rule"] for r in t.valence["update"]["rules"]].count("refused") == 2
    assert t.valence["update"]["after"]["safety"] == -0.4 and state(root)["safety"] == -0.4
    files = git(root, "show", "--name-only", "--format=", "HEAD").split()
    assert "memory/valence.yaml" in files  # the change is in the run's commit, for a person to review
    # next run: write_file is denied, and the trace says why, with the state that caused it
    res2 = Kernel(root).run("write a file", model=script(call("write_file", path="projects/a.md", content="a"), FINISH))
    t2 = read_trace(res2.trace_path)
    strict = kinds(t2)[("strict_policy", None)]
    assert strict["applied"] and "write_file" in strict["effect"]["deny"] and strict["state"]["safety"] == -0.4
    assert strict["because"] == "safety -0.40 <= -0.30" and t2.valence["state"]["safety"] == -0.4
    assert not t2.steps[0].ok and "may not use 'write_file'" in t2.steps[0].result
    assert not (root / "projects/a.md").exists()


def test_failures_lower_confidence_and_ask_for_follower(root: Path, script):
    enable(root)
    set_state(root, confidence=-0.1)
    res = Kernel(root).run("fail", model=script(call("list_dir", path=".")), max_steps=1)
    assert res.outcome == "failure" and state(root)["confidence"] == round(-0.09 - 0.25, 4)
    t2 = read_trace(Kernel(root).run("next", model=script(FINISH)).trace_path)
    prefer = kinds(t2)[("prefer_mode", "FOLLOWER")]
    assert prefer["because"].startswith("confidence -0.34") and prefer["applied"] is False  # advice
    assert mode_preference(advise(ValenceState(**t2.valence["state"]), ValenceConfig())) == "FOLLOWER"


def test_success_raises_confidence_and_lifts_the_caution(root: Path, script):
    enable(root)
    set_state(root, confidence=-0.35)
    first = read_trace(Kernel(root).run("do it", model=script(FINISH)).trace_path)
    assert ("prefer_mode", "FOLLOWER") in kinds(first)
    assert state(root)["confidence"] == round(-0.35 * 0.9 + 0.15, 4)
    second = read_trace(Kernel(root).run("do it again", model=script(FINISH)).trace_path)
    assert ("prefer_mode", "FOLLOWER") not in kinds(second)


def test_repetition_lowers_curiosity_and_novelty_raises_it(root: Path, script):
    enable(root)
    set_state(root, curiosity=-0.2)
    Kernel(root).run("the same goal", model=script(FINISH))  # new: novelty +0.1
    assert state(root)["curiosity"] == round(-0.2 * 0.9 + 0.1, 4)
    Kernel(root).run("the same goal", model=script(FINISH))  # repeated: -0.15
    Kernel(root).run("the same goal", model=script(FINISH))
    assert state(root)["curiosity"] <= -0.3
    t = read_trace(Kernel(root).run("the same goal", model=script(FINISH)).trace_path)
    assert kinds(t)[("prefer_mode", "FOLLOWER")]["because"].startswith("curiosity")
    set_state(root, curiosity=0.25)
    Kernel(root).run("something new entirely", model=script(FINISH))
    t2 = read_trace(Kernel(root).run("and another new thing", model=script(FINISH)).trace_path)
    assert kinds(t2)[("prefer_mode", "LEARNER")]["effect"]["over"] == "FOLLOWER"


def test_high_cost_lowers_energy_and_the_next_run_gets_fewer_steps(root: Path, script):
    enable(root, high_cost_usd="0.0001")
    set_state(root, energy=-0.1)  # -0.1 * 0.9 - 0.3 (high cost) + 0.05 (success) = -0.34
    priced = script(FINISH, model="claude-haiku-4-5")
    t = read_trace(Kernel(root).run("expensive", model=priced).trace_path)
    assert "high_cost" in [r["rule"] for r in t.valence["update"]["rules"]]
    assert state(root)["energy"] <= -0.3
    loop = script(*[call("list_dir", path=".") for _ in range(8)])
    res = Kernel(root).run("busy work", model=loop)
    t2 = read_trace(res.trace_path)
    steps = kinds(t2)[("max_steps", None)]
    assert steps["applied"] and steps["effect"]["max_steps"] == 4 and steps["effect"]["was"] == 8
    assert res.outcome == "failure" and len(t2.steps) == 4 and "after 4 model calls" in res.error


def test_a_bad_valence_file_is_reported_and_never_overwritten(root: Path, script):
    enable(root)
    (root / "memory/valence.yaml").write_text("format: llmos-valence/1\nsafety: 7\n")
    res = Kernel(root).run("hello", model=script(FINISH))
    t = read_trace(res.trace_path)
    assert res.outcome == "success" and "safety" in t.valence["error"] and "valence.yaml" in t.valence["error"]
    assert (root / "memory/valence.yaml").read_text() == "format: llmos-valence/1\nsafety: 7\n"


def test_config_rejects_unknown_rules(root: Path):
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        ValenceConfig(rules={"bored": {"energy": -0.1}})
    with pytest.raises(ValidationError):
        ValenceConfig(rules={"success": {"mood": 0.1}})

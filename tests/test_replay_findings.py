"""Issue 18's findings, each as a person saw it: a zero-token run must never do the wrong thing."""

import json
from pathlib import Path

from llmos.kernel import Kernel
from llmos.modes.learned import crystallize_now
from llmos.traces import new_trace_id, read_trace, trace_path
from helpers import call, run_llmos

NEVER = call("write_file", path="projects/WRONG.md", content="the model was called")


def write_stub(root: Path, script, stem: str):
    """The model reads the file name and writes it as the content: nothing in the goal's slots says so."""
    goal = f"Write {stem}.md under projects/two"
    replies = (call("write_file", path=f"projects/two/{stem}.md", content=stem), call("finish", result=f"wrote {stem}"))
    return Kernel(root).run(goal, model=script(*replies))


def test_finding1_content_the_model_derived_from_a_file_name_is_not_replayed(root: Path, script):
    write_stub(root, script, "x")
    second = write_stub(root, script, "y")
    assert second.tokens["input"] > 0 and (root / "projects/two/y.md").read_text() == "y"
    write_stub(root, script, "z")  # two and three sources: "x", "y", "z" are explained by no slot
    fourth = write_stub(root, script, "w")
    assert fourth.tokens["input"] > 0 and (root / "projects/two/w.md").read_text() == "w"
    replay = read_trace(fourth.trace_path).decision["replay"]
    assert not replay["explained"] and "content" in replay["reason"]


def room_note(root: Path, script, n: int, *replies):
    replies = replies or (
        call("write_file", path=f"projects/room{n}/note.txt", content=f"Note for room {n}\n"),
        call("finish", result="done"),
    )
    return Kernel(root).run(f"Write the note for room {n}", model=script(*replies))


def test_finding2_a_one_digit_slot_never_leaves_a_path_pointing_at_another_room(root: Path, script):
    cfg = root / "system/llmos.yaml"
    cfg.write_text(cfg.read_text().replace("  auto: true", "  auto: false"))  # FOLLOWER, not a tool
    room_note(root, script, 3)
    second = room_note(root, script, 4)  # one prior run: not evidence enough to replay
    assert second.tokens["input"] > 0 and (root / "projects/room3/note.txt").read_text() == "Note for room 3\n"
    room_note(root, script, 6)
    fifth = room_note(root, script, 5, NEVER)  # three sources: room{num1} is found by position
    assert fifth.mode == "FOLLOWER" and fifth.tokens["input"] == 0
    assert (root / "projects/room5/note.txt").read_text() == "Note for room 5\n"
    for n in (3, 4, 6):
        assert (root / f"projects/room{n}/note.txt").read_text() == f"Note for room {n}\n"
    steps = read_trace(fifth.trace_path).decision["replay"]["steps"]
    assert steps[0]["args"]["path"] == {"from": "projects/room{num1}/note.txt"}


def forge(root: Path, real: Path, old: str, new: str) -> Path:
    """A trace written by hand, as a copy of a real one with other values, claiming success."""
    tid = new_trace_id()
    text = real.read_text().replace(read_trace(real).id, tid).replace(old, new)
    path = trace_path(root, tid)
    path.write_text(text)
    return path


def save_note(root: Path, script, word: str, *replies, **kw):
    path = f"projects/{word}/note.md"
    replies = replies or (call("write_file", path=path, content=f"{word}: milk\n"), call("finish", result="saved"))
    return Kernel(root).run(f'Save a note "{word}" into {path}', model=script(*replies), **kw)


def test_finding3_a_hand_written_trace_claiming_success_is_never_evidence(root: Path, script):
    cfg = root / "system/llmos.yaml"
    cfg.write_text(cfg.read_text().replace("min_runs: 3", "min_runs: 2").replace("  auto: true", "  auto: false"))
    first = save_note(root, script, "alpha")
    forged = forge(root, first.trace_path, "alpha", "beta")
    assert read_trace(forged).outcome == "success"
    assert crystallize_now(Kernel(root)) == []  # one real run: no tool, whatever the forged file says
    third = save_note(root, script, "gamma")
    assert third.tokens["input"] > 0  # not replayed with the forged file as its second source
    decision = read_trace(third.trace_path).decision
    assert "differs" in json.dumps(decision["untrusted"]) or "never committed" in json.dumps(decision["untrusted"])
    check = run_llmos("check", root=root)
    assert f"{forged.relative_to(root).as_posix()}: ignored by replay and crystallization" in check.stderr

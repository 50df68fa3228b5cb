"""Time: a memory carries the time it is about (valid_from), recall answers "as of" a date, and a
conversation is imported as dated memories in one commit with one index update."""

import json
from datetime import datetime, timezone
from pathlib import Path

from helpers import call, git, run_llmos
from llmos.kernel import Kernel
from llmos.memory.importer import import_conversation
from llmos.memory.recall import format_hits, recall
from llmos.memory.store import find_memory, remember

MARCH = datetime(2024, 3, 14, tzinfo=timezone.utc)


def test_remember_takes_the_time_a_fact_is_about(root: Path):
    m, _ = remember(root, "Dad's hip replacement is at St. Mary's", valid_from=MARCH)
    assert find_memory(root, m.id).meta.valid_from == MARCH
    hit = recall(root, "When is Dad's hip surgery at St. Mary's?").hits[0]
    assert hit.id == m.id and hit.date.startswith("2024-03-14")
    assert "2024-03-14" in format_hits(recall(root, "hip replacement"), 0.3)
    assert recall(root, "hip replacement", as_of="2024-03-01").hits == []  # not yet true then
    assert [h.id for h in recall(root, "hip replacement", as_of="2024-04-01").hits] == [m.id]


def test_the_remember_syscall_takes_valid_from_and_refuses_a_bad_one(root: Path, script):
    model = script(
        call("remember", text="Lena flies to Berlin for the conference", valid_from="2024-02-22"),
        call("remember", text="Something", valid_from="next week"),
        call("finish", result="ok"),
    )
    res = Kernel(root).run("note the trip", model=model)
    assert res.outcome == "success"
    hits = recall(root, "Lena Berlin conference").hits
    assert len(hits) == 1 and hits[0].date.startswith("2024-02-22")
    assert recall(root, "Something").hits == []  # the bad date was the model's mistake: refused, run went on


def chat(tmp_path: Path, lines: list) -> Path:
    path = tmp_path / "maya-and-jonas.jsonl"
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return path


TURNS = [
    {"speaker": "Maya", "time": "2024-01-20T18:00:00Z", "text": "We adopted a beagle puppy called Biscuit!"},
    {"speaker": "Jonas", "time": "2024-01-20T18:02:00Z", "text": "Wow, Maya, way to go!"},
    {"speaker": "Jonas", "time": "2024-02-03T19:00:00Z", "text": "Starting at my uncle's bakery in May."},
    {"speaker": "Maya", "time": "2024-02-03T19:01:00Z", "text": "   "},
]


def test_import_stores_dated_turns_in_one_commit(root: Path, tmp_path: Path):
    before = git(root, "rev-list", "--count", "HEAD")
    memories = import_conversation(root, chat(tmp_path, TURNS), commit=True)
    assert len(memories) == 3  # the empty turn is left out
    assert int(git(root, "rev-list", "--count", "HEAD")) == int(before) + 1
    msg = git(root, "log", "-1", "--format=%B")
    assert "import 3 turns of maya-and-jonas" in msg and "Period: 2024-01-20..2024-02-03" in msg
    assert git(root, "status", "--porcelain") == ""
    hit = recall(root, "What did Maya name her beagle?", sync=False).hits[0]
    assert hit.snippet.startswith("Maya: We adopted") and hit.date.startswith("2024-01-20")
    m = find_memory(root, hit.id)
    assert m.meta.sources == ["conversation:maya-and-jonas"] and m.meta.valid_from.day == 20
    assert [h.id for h in recall(root, "bakery", as_of="2024-01-31", sync=False).hits] == []


def test_import_through_the_cli_and_its_bad_input(root: Path, tmp_path: Path):
    r = run_llmos("memory", "import", str(chat(tmp_path, TURNS)), "--name", "friends", root=root)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("imported 3 turns (2024-01-20..2024-02-03) into memory/beta/")
    r = run_llmos("recall", "beagle puppy", "--json", root=root)
    assert json.loads(r.stdout)["hits"][0]["date"].startswith("2024-01-20")
    bad = chat(tmp_path, [TURNS[0], '{"speaker": "Maya", "text": "no time"}'])
    r = run_llmos("memory", "import", str(bad), root=root)
    assert r.returncode == 2 and "maya-and-jonas.jsonl:2: missing 'time'" in r.stderr
    bad.write_text('{"speaker": "Maya", "time": "yesterday", "text": "x"}\n')
    r = run_llmos("memory", "import", str(bad), root=root)
    assert r.returncode == 2 and ":1: time: 'yesterday' is not a date" in r.stderr
    r = run_llmos("remember", "Jonas hurt his knee at football", "--valid-from", "2024-09-01", root=root)
    assert r.returncode == 0 and "2024-09-01" in run_llmos("recall", "knee football", root=root).stdout
    r = run_llmos("remember", "x", "--valid-from", "soon", root=root)
    assert r.returncode == 2 and "not a date" in r.stderr

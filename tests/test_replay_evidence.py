"""Traces as evidence: only a trace that is what its run committed is read by replay and crystallization."""

from pathlib import Path

import pytest

from llmos.kernel import Kernel
from llmos.modes.evidence import Evidence, ignored_traces
from llmos.traces import new_trace_id, read_trace, trace_path
from helpers import call, git


def run(root: Path, script, word: str):
    path = f"projects/{word}/note.md"
    replies = (call("write_file", path=path, content=f"{word}\n"), call("finish", result="saved"))
    return Kernel(root).run(f'Save a note "{word}" into {path}', model=script(*replies))


def verdict(root: Path, res) -> str | None:
    return Evidence.for_root(root).verdict(res.trace_path.relative_to(root).as_posix(), res.trace_id)


@pytest.fixture()
def first(root: Path, script):
    res = run(root, script, "alpha")
    assert verdict(root, res) is None
    return res


def test_an_edit_of_the_data_or_of_the_body_is_seen_at_once(root: Path, first):
    text = first.trace_path.read_text()
    first.trace_path.write_text(text.replace("alpha\\n", "omega\\n", 1))
    assert "differs from what its run committed" in verdict(root, first)
    first.trace_path.write_text(text + "\n<!-- a note -->\n")
    assert "the body of" in verdict(root, first)
    first.trace_path.write_text(text.replace("alpha\\n", "omega\\n", 1))
    git(root, "commit", "-qam", "an innocent-looking edit")  # committed later: still not its run's record
    assert "differs from what its run committed" in verdict(root, first)


def test_a_body_a_dream_archived_keeps_the_trace_evidence(root: Path, first):
    text = first.trace_path.read_text()
    head = text[: text.index("\n---\n", 3) + 5]
    body = f"# {read_trace(first.trace_path).goal}\n\nThe rest of this trace's body is in the blob store: blob:ab12\n"
    first.trace_path.write_text(head + body)
    assert verdict(root, first) is None


def test_copies_moves_and_second_claims_are_not_evidence(root: Path, script, first):
    copy = trace_path(root, new_trace_id())
    copy.write_text(first.trace_path.read_text())  # the same file under another name: its id is not its name
    assert "is not where run" in Evidence.for_root(root).verdict(copy.relative_to(root).as_posix(), first.trace_id)
    tid = new_trace_id()
    forged = trace_path(root, tid)
    forged.write_text(first.trace_path.read_text().replace(first.trace_id, tid))
    assert "never committed by its run" in Evidence.for_root(root).verdict(forged.relative_to(root).as_posix(), tid)
    git(root, "commit", "-q", "--allow-empty", "-m", f"llmos: again\n\nTrace-Id: {first.trace_id}")
    assert "more than one commit claims" in verdict(root, first)
    lines = ignored_traces(root)
    assert any(line.startswith(f"{first.trace_path.relative_to(root).as_posix()}: ignored") for line in lines)


def test_the_cache_is_rebuilt_from_git(root: Path, script, first):
    second = run(root, script, "beta")
    cache = root / ".llmos" / "cache" / "evidence.json"
    Evidence.for_root(root).save()
    cache.write_text("{not json")
    Evidence._open.clear()  # a new process
    assert verdict(root, first) is None and verdict(root, second) is None
    cache.unlink()
    Evidence._open.clear()
    second.trace_path.write_text(second.trace_path.read_text().replace("beta", "gamma"))
    assert verdict(root, first) is None and "differs" in verdict(root, second)

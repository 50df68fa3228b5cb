"""Memory documents, supersede, recall ranking and the index cache: real files, real whoosh, real git."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from llmos.errors import MemoryNotFound, WorkingMemoryTooLarge
from llmos.memory.index import open_index
from llmos.memory.model import read_memory
from llmos.memory.recall import recall
from llmos.memory.store import find_memory, history, list_memories, remember
from llmos.memory.working import read_working, write_working
from helpers import git

BROKEN = "---\nid: broken-one\ntier: [beta\ntitle: x\n---\nKorlan broken\n"


def ids(result):
    return [h.id for h in result.hits]


def test_remember_writes_a_readable_memory_file(root: Path):
    m, written = remember(
        root, "The demo project deploys to port 8080. Ask ops first.", tags=["deploy", "ops"], agent="assistant"
    )
    assert written == [f"memory/beta/{m.id}.md"] and m.id.startswith("the-demo-project-deploys-to-port-8080-")
    text = (root / written[0]).read_text()
    assert text.startswith("---\nid: ") and "tier: beta" in text and "kind: fact" in text
    back = read_memory(root / written[0], root)
    assert back.meta.title == "The demo project deploys to port 8080" and back.meta.tags == ["deploy", "ops"]
    assert back.meta.agent == "assistant" and back.meta.valid_to is None and back.body.endswith("Ask ops first.")


def test_project_memory_lives_in_the_project(root: Path):
    m, written = remember(root, "Use tabs in this project", project="demo")
    assert written == [f"projects/demo/memory/{m.id}.md"]
    assert [h.project for h in recall(root, "tabs project").hits] == ["demo"]
    assert recall(root, "tabs", project="other").hits == []
    with pytest.raises(ValueError, match="bad project name"):
        remember(root, "x", project="../etc")


def test_supersede_keeps_the_old_one_as_history(root: Path):
    old, _ = remember(root, "Korlan lives in Oporto.")
    remember(root, "Korlan works at Zentra as a welder.")
    new, written = remember(root, "Korlan lives in Lisbon now.", supersedes=[old.id])
    assert sorted(written) == sorted([f"memory/beta/{new.id}.md", f"memory/beta/{old.id}.md"])
    o = find_memory(root, old.id).meta
    assert o.valid_to == new.meta.created and o.superseded_by == new.id and new.meta.supersedes == [old.id]
    current = recall(root, "Where does Korlan live?")
    assert current.hits[0].id == new.id and old.id not in ids(current) and not current.abstain
    full = recall(root, "Where does Korlan live?", history=True)
    assert ids(full).index(new.id) < ids(full).index(old.id)
    assert [m.id for m in history(root, old.id)] == [old.id, new.id] == [m.id for m in history(root, new.id)]
    with pytest.raises(ValueError, match="already superseded"):
        remember(root, "Korlan lives in Porto", supersedes=[old.id])
    with pytest.raises(MemoryNotFound):
        remember(root, "x", supersedes=["no-such-memory"])


def test_as_of_answers_what_was_true_then(root: Path):
    from datetime import datetime, timezone

    jan = datetime(2024, 1, 1, tzinfo=timezone.utc)
    old, _ = remember(root, "The team lead is Mibet.", valid_from=jan)
    new, _ = remember(
        root, "The team lead is Orsa.", supersedes=[old.id], valid_from=datetime(2025, 6, 1, tzinfo=timezone.utc)
    )
    assert recall(root, "team lead", as_of="2024-12-31").hits[0].id == old.id
    assert ids(recall(root, "team lead", as_of="2025-07-01")) == [new.id]
    with pytest.raises(ValueError, match="not a date"):
        recall(root, "team lead", as_of="last tuesday")


def test_ranking_weights_tier_and_confidence(root: Path):
    low, _ = remember(root, "Backups run nightly at 02:00", confidence=0.1)
    high, _ = remember(root, "Backups run nightly at 03:00", tier="delta", confidence=1.0)
    hits = recall(root, "when do backups run nightly").hits
    assert [h.id for h in hits] == [high.id, low.id] and hits[0].score > hits[1].score


def test_question_about_something_unknown_abstains(root: Path):
    for n in range(5):
        remember(root, f"Cat number {n} is named Tom{n} and likes fish.")
    assert recall(root, "What is the name of my hamster?").abstain
    assert not recall(root, "name of cat Tom3").abstain


@pytest.mark.parametrize(
    "query",
    [
        '"unclosed',
        "title:x AND (",
        "*",
        "a OR NOT b",
        "tags:[a TO",
        "x^2~ {}",
        "\\",
        "",
        "   ",
        "'; DROP TABLE memory; --",
        "é ü 中文 🙂",
    ],
)
def test_search_syntax_is_plain_text(root: Path, query: str):
    remember(root, "Plain memory about title and tags")
    result = recall(root, query)  # must not raise
    assert isinstance(result.hits, list)


def test_broken_memory_is_reported_with_its_line_and_skipped(root: Path, script):
    good, _ = remember(root, "Korlan keeps the keys")
    (root / "memory/beta/broken-one.md").write_text(BROKEN)
    (root / "memory/beta/typo-one.md").write_text(
        "---\nid: typo-one\ntier: beta\ntitle: T\ncreated: 2024-01-01\nconfidense: 0.9\n---\nKorlan typo\n"
    )
    result = recall(root, "Korlan keys")
    assert ids(result) == [good.id]
    assert any("memory/beta/broken-one.md:3: bad YAML" in s for s in result.skipped)
    assert any("memory/beta/typo-one.md:6: confidense: unknown field" in s for s in result.skipped)
    problems = [line for e in list_memories(root)[1] for line in e.lines()]
    assert len(problems) == 2 and any(":6: confidense: unknown field" in p for p in problems)
    from helpers import call
    from llmos.kernel import Kernel

    res = Kernel(root).run(
        "recall keys", model=script(call("recall", query="Korlan keys"), call("finish", result="ok"))
    )
    assert res.outcome == "success"
    assert any(":6: confidense" in e for e in (line for err in Kernel(root).check() for line in err.lines()))


def test_a_file_that_breaks_keeps_its_last_good_version_searchable(root: Path):
    m, written = remember(root, "Zorblat is the deploy password hint")
    path = root / written[0]
    path.write_text(path.read_text().replace("tier: beta", "tier: [beta"))
    result = recall(root, "Zorblat hint")
    assert ids(result) == [m.id] and result.skipped and written[0] in result.skipped[0]


def test_index_is_a_cache_that_follows_the_files(root: Path):
    a, wa = remember(root, "Quillon uses port 7000")
    b, wb = remember(root, "Vastra uses port 7100")
    shutil.rmtree(root / ".llmos" / "index")  # deleting .llmos loses nothing
    open_index(root).close()
    assert ids(recall(root, "Quillon port"))[0] == a.id
    # a hand edit in place (same file, new content) is found by the scan
    p = root / wa[0]
    p.write_text(p.read_text().replace("Quillon uses port 7000", "Quillon uses port 7555 Brennik"))
    assert ids(recall(root, "Brennik")) == [a.id]
    # a file arriving like `git pull` writes it, and one removed
    (root / "memory/alpha").mkdir(exist_ok=True)
    (root / "memory/alpha/pulled-fact-aaaaaa.md").write_text(
        "---\nid: pulled-fact-aaaaaa\ntier: alpha\ntitle: Pulled\ncreated: 2025-01-01T00:00:00Z\n---\nGrommet rule\n"
    )
    (root / wb[0]).unlink()
    assert ids(recall(root, "Grommet")) == ["pulled-fact-aaaaaa"]
    assert recall(root, "Vastra").hits == []


def test_corrupt_index_is_rebuilt(root: Path):
    m, _ = remember(root, "Pellinor owns the billing service")
    index = open_index(root)
    index.close()
    for f in (root / ".llmos/index").iterdir():  # the database and its write-ahead log
        f.write_bytes(b"garbage" * 100)
    report = index.sync()
    assert report.rebuilt
    assert ids(recall(root, "Pellinor billing")) == [m.id]


def test_working_memory_cap_refuses_with_both_sizes(root: Path):
    write_working(root, "assistant", "- short note", cap=256)
    with pytest.raises(WorkingMemoryTooLarge) as err:
        write_working(root, "assistant", "x" * 300, cap=256)
    assert "300 bytes" in str(err.value) and "256 bytes" in str(err.value) and err.value.size == 300
    assert read_working(root, "assistant") == "- short note"


REMEMBER = """
import sys
from pathlib import Path
from llmos.memory.store import remember
for n in range(int(sys.argv[3])):
    remember(Path(sys.argv[1]), f"{sys.argv[2]} fact number {n}", commit=True)
"""


def test_two_processes_remembering_at_once_both_land(root: Path, tmp_path: Path):
    script = tmp_path / "rem.py"
    script.write_text(REMEMBER)
    procs = [subprocess.Popen([sys.executable, str(script), str(root), who, "3"]) for who in ("Alphonse", "Brunhild")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    found, errors = list_memories(root)
    assert len(found) == 6 and not errors
    for who in ("Alphonse", "Brunhild"):
        assert sum(who in h.title for h in recall(root, f"{who} fact", k=10).hits) == 3
    assert git(root, "log", "--oneline").count("llmos: remember") == 6 and git(root, "status", "--porcelain") == ""


def test_threads_sharing_one_index_never_see_a_closed_reader(root: Path):
    """Parallel runs in one process share the index: a sync must not close a searcher in use."""
    import threading

    for n in range(20):
        remember(root, f"fact number {n} about the harbour crane {n}", title=f"crane {n}", commit=False)
    open_index(root).sync()
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            index = open_index(root)
            for i in range(25):
                if n % 2:
                    remember(root, f"thread {n} note {i} on the quay", title=f"quay {n}-{i}", commit=False)
                    index.sync()
                else:
                    for _ in range(5):
                        assert index.search(["harbour", "crane"], limit=5)
                        assert index.idf("crane") > 0
        except BaseException as exc:  # the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert errors == []


def test_the_quick_reader_agrees_with_the_careful_one_or_declines(root: Path):
    from llmos.memory.model import read_memory_quickly

    old, _ = remember(root, "Korlan lives in Oporto.", tags=["city", "people"])
    new, written = remember(root, "Korlan lives in Lisbon now.\n\nSecond paragraph.", supersedes=[old.id])
    for m in (find_memory(root, old.id), find_memory(root, new.id), remember(root, "x", project="demo")[0]):
        quick = read_memory_quickly(m.path, root)
        assert quick is not None and quick.meta == m.meta and quick.body == m.body
    path = root / written[0]
    text = path.read_text()
    path.write_text(text.replace("\n", "\r\n"))
    assert read_memory_quickly(path, root).meta == read_memory(path, root).meta  # CRLF: the same reading
    for odd in (
        text.replace("tier: beta", "tier: &t beta"),
        BROKEN,
        text.replace("tier: beta", "tier: alpha"),
        text.replace("confidence: 0.8", "confidense: 0.8"),
    ):
        path.write_text(odd)
        assert read_memory_quickly(path, root) is None

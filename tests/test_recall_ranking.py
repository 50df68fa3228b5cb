"""Ranking: the first sentence is not counted twice, the top k is exact, filters are exact, the CLI's
cheap staleness check sees what the kernel and git write."""

import os
import time
from pathlib import Path

from llmos.memory.index import open_index
from llmos.memory.recall import recall
from llmos.memory.store import remember


def ids(result):
    return [h.id for h in result.hits]


def terms_of(root: Path, memory_id: str) -> list[str]:
    db = open_index(root).db()
    row = db.execute("SELECT f.terms FROM fts f JOIN docs d ON d.rowid = f.rowid WHERE d.id = ?", (memory_id,))
    return row.fetchone()[0].split()


def test_a_title_made_from_the_first_sentence_is_counted_once(root: Path):
    opener, _ = remember(root, "Wow, Caroline, way to go!")
    evidence, _ = remember(root, "Caroline: I went to a support group for trans people yesterday, so powerful.")
    named, _ = remember(root, "The crane on pier four is rented until May.", title="Harbour equipment")
    assert terms_of(root, opener.id).count("carolin") == 1
    assert "harbour" in terms_of(root, named.id)  # a title with words of its own is searchable
    assert ids(recall(root, "What did Caroline do at the support group?"))[0] == evidence.id
    assert ids(recall(root, "harbour equipment")) == [named.id]


def test_the_top_k_is_the_head_of_every_longer_list(root: Path):
    for n in range(60):  # many ties on the common word, a few rare words
        extra = " quokka" if n % 17 == 0 else ""
        remember(root, f"Note {n}: the harbour crane moved{extra} " + "cargo " * (n % 5), index=False)
    open_index(root).sync()
    full = ids(recall(root, "harbour crane quokka", k=20))
    assert len(full) == 20
    for k in range(1, 20):
        assert ids(recall(root, "harbour crane quokka", k=k, sync=False)) == full[:k]


def test_filters_are_exact_however_many_others_match(root: Path):
    for n in range(50):
        remember(root, f"Harbour log {n}: harbour harbour crane", index=False)
    weak, _ = remember(root, "A long note that mentions the harbour once among many other words here", tier="alpha")
    open_index(root).sync()
    assert ids(recall(root, "harbour crane", tiers=["alpha"])) == [weak.id]
    assert weak.id not in ids(recall(root, "harbour crane", k=5))


def test_quick_sync_sees_files_added_removed_and_replaced(root: Path):
    index = open_index(root)
    a, wa = remember(root, "Zeppelin hangar opens at six")
    assert index.quick_sync().changed == 0  # nothing moved since remember indexed it
    pulled = root / "memory/beta/pulled-fact-bbbbbb.md"
    pulled.write_text(
        "---\nid: pulled-fact-bbbbbb\ntier: beta\ntitle: Pulled\ncreated: 2025-01-01\n---\nZeppelin mast\n"
    )
    assert index.quick_sync().added == 1
    assert ids(recall(root, "zeppelin mast", sync="quick"))[0] == "pulled-fact-bbbbbb"
    tmp = root / "memory/beta/.swap"
    tmp.write_text((root / wa[0]).read_text().replace("hangar", "workshop"))
    os.replace(tmp, root / wa[0])  # replaced as an editor or git does
    assert ids(recall(root, "zeppelin workshop", sync="quick"))[0] == a.id
    pulled.unlink()
    assert "pulled-fact-bbbbbb" not in ids(recall(root, "zeppelin mast", sync="quick"))


def test_recall_at_ten_thousand_memories_is_fast(root: Path):
    """A smoke bound (the figures are bench/recall.py's): scoring is done by SQLite, not per document in Python."""
    index = open_index(root)
    docs = [
        dict(
            path=f"memory/beta/m{n}.md",
            id=f"m{n:05d}",
            tier="beta",
            kind="fact",
            agent="",
            project="",
            tags="",
            title=f"note {n}",
            body=f"Person{n % 500} said the harbour {n % 7} crane {n % 13}",
            created=1700000000 + n,
            start=1700000000 + n,
            end_=32503680000,
            confidence=0.8,
        )
        for n in range(10_000)
    ]
    index.sync()
    index.db().execute("BEGIN")
    for d in docs:
        index._put(d)
    index.db().execute("COMMIT")
    index._writes += 1
    recall(root, "warm up", sync=False)
    started = time.perf_counter()
    for n in range(20):
        assert recall(root, f"What did Person{n} say about the harbour crane?", sync=False).hits
    assert (time.perf_counter() - started) / 20 < 0.25  # loose: the machine is shared; 2-6 ms when idle


def test_a_sync_of_named_files_sees_one_that_is_gone(root: Path):
    a, wa = remember(root, "Zeppelin hangar opens at six")
    (root / wa[0]).unlink()
    report = open_index(root).sync([Path(wa[0])])
    assert report.removed == 1 and recall(root, "zeppelin hangar", sync=False).hits == []

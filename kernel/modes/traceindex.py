"""An in-memory index over trace frontmatter: exact signature, lexical top-k, and reuse statistics.

Files are the truth. Each trace is append-only and names what it reused (``decision.source`` for a
trace, ``decision.tool`` for a crystallized tool) and how that went (``outcome``), so the uses,
successes and confidence of every trace and tool are *counted from the traces*; no second copy of
them can drift. This index is a cache of that count: kept in memory per process, refreshed by
directory mtimes (a new or rewritten trace changes its folder's mtime), saved to
``.llmos/cache/traces.json`` so the next process does not re-read 10,000 files, and rebuilt from
the files whenever that cache is missing or damaged.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import blake3
import yaml

from ..atomic import atomic_write
from ..docs import load_yaml

CACHE_VERSION = 3
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_WORD = re.compile(r"\w+")
_CANDIDATE_POOL = 300  # lexical: stop gathering candidates from rarer words once this many are found


@dataclass
class Entry:
    """What matching and statistics need from one trace."""

    id: str
    rel: str
    goal: str
    template: str
    signature: str
    agent: str
    mode: str
    outcome: str
    ended: bool
    source: str | None = None  # trace this run replayed or was guided by
    tool: str | None = None  # crystallized tool this run used
    failed: list[str] = field(default_factory=list)  # tools/traces whose use failed and fell back
    replayed: bool = False  # this run replayed a trace (FOLLOWER), or tried to and fell back
    shape: str = ""  # hash of the successful tool steps' tools and argument names
    assignment: str = ""  # hash of the goal's slot values
    replayable: int = 0  # number of successful tool steps
    tokens: int = 0
    mtime: int = 0
    started: str = ""


@dataclass
class Stats:
    uses: int = 0
    successes: int = 0
    confidence: float = 0.0
    demoted: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "uses": self.uses,
            "successes": self.successes,
            "confidence": round(self.confidence, 4),
            "demoted": self.demoted,
        }


def confidence(successes: int, uses: int, prior: float, weight: float) -> float:
    """Successes over uses, smoothed towards ``prior`` by ``weight`` imaginary runs."""
    return (successes + weight * prior) / (uses + weight) if uses + weight > 0 else 0.0


def _hash(value: Any) -> str:
    raw = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return blake3.blake3(raw.encode("utf-8")).hexdigest()[:24]


def shape_of(steps: list[dict[str, Any]]) -> tuple[str, int]:
    """Hash of the successful tool steps' tool names and argument names, and how many there are: runs of
    one template with one shape can be compared argument by argument (see :mod:`llmos.modes.script`)."""
    shape = [[s["tool"], sorted(s.get("args") or {})] for s in steps if s.get("ok") and s.get("tool")]
    return _hash(shape), len(shape)


def read_frontmatter(path: Path) -> dict[str, Any] | None:
    """The YAML frontmatter of a trace file, or None when it is not one."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if not text.startswith("---"):
        return None
    end = text.find("\n---", 3)
    head = text[3 : end if end > 0 else None]
    try:
        # llmos writes no anchors or aliases; a file that may hold some (a hand-made alias bomb) takes
        # the bounded loader, which refuses one before it expands
        data = load_yaml(head) if ("&" in head or "*" in head) else yaml.load(head, Loader=_Loader)
    except yaml.YAMLError:
        return None
    return data if isinstance(data, dict) and data.get("format") == "llmos-trace/1" else None


def entry_of(data: dict[str, Any], rel: str, mtime: int = 0) -> Entry | None:
    try:
        decision = data.get("decision") or {}
        fallbacks = decision.get("fallbacks") or []
        shape, replayable = shape_of(data.get("steps") or [])
        tokens = data.get("tokens") or {}
        return Entry(
            id=str(data["id"]),
            rel=rel,
            goal=str(data["goal"]),
            template=str(data.get("template") or ""),
            signature=str(data["goal_signature"]),
            agent=str(data["agent"]),
            mode=str(data.get("mode") or "LEARNER"),
            outcome=str(data.get("outcome") or "aborted"),
            ended=bool(data.get("ended")),
            source=decision.get("source"),
            tool=decision.get("tool"),
            failed=[str(f.get("tool") or f.get("source")) for f in fallbacks],
            replayed=data.get("mode") == "FOLLOWER" or any(f.get("mode") == "FOLLOWER" for f in fallbacks),
            shape=shape,
            assignment=_hash(data.get("slots") or {}),
            replayable=replayable,
            tokens=int(tokens.get("input", 0)) + int(tokens.get("output", 0)),
            mtime=mtime,
            started=str(data.get("started") or ""),
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        return None  # not a valid trace: `llmos check` reports it; matching ignores it


class TraceIndex:
    """Traces of one root, grouped for matching; see the module docstring."""

    _open: dict[Path, "TraceIndex"] = {}

    def __init__(self, root: Path):
        self.root = Path(root)
        self.base = self.root / "traces"
        self.cache_path = self.root / ".llmos" / "cache" / "traces.json"
        self.entries: dict[str, Entry] = {}  # rel path -> entry
        self.dirs: dict[str, list[Any]] = {}  # rel dir -> [mtime_ns, subdirs, files]
        self.dirty = 0
        self._derived: dict[str, Any] | None = None
        self.stamps: dict[str, tuple[int, int]] = {}  # unfinished traces: (mtime_ns, size) when last read

    @classmethod
    def for_root(cls, root: Path) -> "TraceIndex":
        """The process-wide index of ``root``, brought up to date."""
        key = Path(root).resolve()
        index = cls._open.get(key)
        if index is None:
            index = cls._open[key] = cls(key)
            index.load_cache()
        index.refresh()
        return index

    # -- keeping up with the files ----------------------------------------------------------
    def load_cache(self) -> None:
        try:
            data = json.loads(self.cache_path.read_text(encoding="utf-8"))
            if data.get("version") != CACHE_VERSION:
                return
            self.entries = {rel: Entry(**e) for rel, e in data["entries"].items()}
            self.dirs = data["dirs"]
        except (OSError, ValueError, TypeError, KeyError):
            self.entries, self.dirs = {}, {}  # missing or damaged: rebuilt from the files

    def save_cache(self) -> None:
        data = {
            "version": CACHE_VERSION,
            "dirs": self.dirs,
            "entries": {rel: asdict(e) for rel, e in self.entries.items()},
        }
        atomic_write(self.cache_path, json.dumps(data, separators=(",", ":")))
        self.dirty = 0

    def refresh(self) -> None:
        """Read traces that are new or changed since the last look; forget deleted ones."""
        seen_dirs: set[str] = set()
        if self.base.is_dir():
            self._scan("", seen_dirs)
        for rel in [d for d in self.dirs if d not in seen_dirs]:
            for name in self.dirs.pop(rel)[2]:
                self._forget(f"traces/{rel}/{name}".replace("//", "/"))
        if self.dirty >= 20:  # a cold start: save the work for the next process
            self.save_cache()

    def _scan(self, rel: str, seen: set[str]) -> None:
        seen.add(rel)
        folder = self.base / rel if rel else self.base
        try:
            mtime = folder.stat().st_mtime_ns
        except OSError:
            return
        cached = self.dirs.get(rel)
        if cached is None or cached[0] != mtime:
            subdirs, files = [], []
            with os.scandir(folder) as it:
                for e in it:
                    if e.is_dir() and not e.name.startswith("."):
                        subdirs.append(e.name)
                    elif e.name.endswith(".md") and not e.name.startswith("."):
                        files.append(e.name)
            self._sync_files(rel, cached[2] if cached else [], files, changed=True)
            cached = self.dirs[rel] = [mtime, sorted(subdirs), sorted(files)]
        for sub in cached[1]:
            self._scan(f"{rel}/{sub}" if rel else sub, seen)

    def _sync_files(self, rel: str, old: list[str], new: list[str], *, changed: bool) -> None:
        """A folder changed: forget removed files, read new ones and re-read unfinished ones."""
        prefix = f"traces/{rel}/" if rel else "traces/"
        for name in set(old) - set(new):
            self._forget(prefix + name)
        for name in new:
            e = self.entries.get(prefix + name)
            if e is None or (not e.ended and changed and self._moved(prefix + name)):
                self._read(prefix + name)

    def _moved(self, rel: str) -> bool:
        """Whether a trace still being written changed since it was last read (a stat, not a parse:
        many runs going at once rewrite their traces after every step, each changing the folder)."""
        try:
            st = os.stat(self.root / rel)
        except OSError:
            return True
        stamp = (st.st_mtime_ns, st.st_size)
        if self.stamps.get(rel) == stamp:
            return False
        self.stamps[rel] = stamp
        return True

    def _read(self, rel: str) -> None:
        path = self.root / rel
        data = read_frontmatter(path)
        entry = entry_of(data, rel, 0) if data else None
        if entry is None:
            self._forget(rel)
            return
        replaced = self.entries.get(rel)
        self.entries[rel] = entry
        self.dirty += 1
        if replaced is not None:
            self._derived = None
        elif self._derived is not None:
            self._add_view(entry)

    def _forget(self, rel: str) -> None:
        if self.entries.pop(rel, None) is not None:
            self._derived = None

    def add(self, data: dict[str, Any], rel: str) -> None:
        """Index a trace this process just wrote (its folder rescan then only re-lists names)."""
        entry = entry_of(data, rel)
        if entry is not None:
            replaced = self.entries.get(rel)
            self.entries[rel] = entry
            if replaced is not None:
                self._derived = None
            elif self._derived is not None:
                self._add_view(entry)

    # -- derived views ----------------------------------------------------------------------
    def _views(self) -> dict[str, Any]:
        if self._derived is None:
            self._derived = {
                "by_sig": {},
                "reuses": {},
                "tools": {},
                "templates": {},
                "postings": {},
                "by_id": {},
                "idf": None,
            }
            for e in self.entries.values():
                self._add_view(e)
        return self._derived

    def _add_view(self, e: Entry) -> None:
        """Fold one new entry into the derived views (a new template invalidates the word weights)."""
        v = self._derived
        assert v is not None
        v["by_sig"].setdefault(e.signature, []).append(e)
        v["by_id"][e.id] = e
        if e.signature not in v["templates"]:
            words = v["templates"][e.signature] = frozenset(_WORD.findall(e.template.lower()))
            for w in words:
                v["postings"].setdefault(w, set()).add(e.signature)
            v["idf"] = None
        if e.ended and e.source:
            v["reuses"].setdefault(e.source, []).append(
                (e.started, e.id, e.outcome == "success" and e.source not in e.failed)
            )
        if e.ended and e.tool:
            v["tools"].setdefault(e.tool, []).append(
                (e.started, e.id, e.outcome == "success" and e.tool not in e.failed)
            )

    def _weights(self) -> dict[str, Any]:
        v = self._views()
        if v["idf"] is None:
            n = max(len(v["templates"]), 1)
            v["idf"] = {w: math.log(1 + n / len(sigs)) for w, sigs in v["postings"].items()}
            v["norms"] = {sig: math.sqrt(sum(v["idf"][w] ** 2 for w in words)) for sig, words in v["templates"].items()}
        return v

    def get(self, trace_id: str) -> Entry | None:
        return self._views()["by_id"].get(trace_id)

    def exact(self, signature: str) -> list[Entry]:
        """Every indexed trace of this template."""
        return list(self._views()["by_sig"].get(signature, []))

    def similar(self, template: str, k: int) -> list[tuple[str, float]]:
        """Top ``k`` other templates by idf-weighted cosine over their words: ``[(signature, score)]``."""
        v = self._weights()
        postings, n = v["postings"], max(len(v["templates"]), 1)
        query = frozenset(_WORD.findall(template.lower()))
        idf = {w: v["idf"][w] for w in query if w in postings}
        unseen = math.log(1 + n) ** 2 * sum(1 for w in query if w not in postings)  # words no template has
        pool: set[str] = set()
        for w in sorted(idf, key=idf.get, reverse=True):
            pool |= postings[w]
            if len(pool) >= _CANDIDATE_POOL:
                break
        qnorm = math.sqrt(sum(x * x for x in idf.values()) + unseen) or 1.0
        scored = []
        for sig in pool:
            words = v["templates"][sig]
            dot = sum(idf[w] ** 2 for w in words & query if w in idf)
            dnorm = v["norms"][sig]
            scored.append((sig, dot / (qnorm * dnorm) if dnorm else 0.0))
        scored.sort(key=lambda x: (-x[1], x[0]))
        return scored[:k]

    def _stats(self, own: list[tuple[str, str, bool]], prior: float, weight: float, demote_after: int) -> Stats:
        uses, ok = len(own), sum(1 for *_, good in own if good)
        tail = [good for *_, good in sorted(own)][-demote_after:]
        demoted = len(tail) == demote_after and not any(tail)
        return Stats(uses, ok, confidence(ok, uses, prior, weight), demoted)

    def stats(self, entry: Entry, prior: float = 0.95, weight: float = 2.0, demote_after: int = 2) -> Stats:
        """A trace's own run plus every later run that reused it."""
        own = [(entry.started, entry.id, entry.outcome == "success")] + self._views()["reuses"].get(entry.id, [])
        return self._stats(own, prior, weight, demote_after)

    def tool_stats(
        self, name: str, since: str = "", prior: float = 0.95, weight: float = 2.0, demote_after: int = 2
    ) -> Stats:
        """Runs that used crystallized tool ``name`` since ``since`` (ISO time of its last verification)."""
        own = [u for u in self._views()["tools"].get(name, []) if u[0] >= since]
        return self._stats(own, prior, weight, demote_after)

"""The full-text index of memories and traces: a whoosh index under ``.llmos/index/``, a disposable cache.

Files are the truth. A manifest (``manifest.json``) remembers the mtime, size and blake3 of every
indexed file; :meth:`MemoryIndex.sync` stats every memory and trace file and re-reads only those whose
mtime or size moved and whose hash really changed, so edits by the kernel, by hand or by ``git pull``
are all picked up. A missing, outdated or unreadable index is rebuilt from the files. A file whose
frontmatter breaks is reported and skipped; the last good version of it stays searchable.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import blake3
from whoosh import fields, index as windex
from whoosh.analysis import StemmingAnalyzer
from whoosh.query import And, AndMaybe, NumericRange, Or, Query, Term

from ..atomic import atomic_write, file_lock
from ..errors import DocumentError
from .names import memory_folders

VERSION = 2
OPEN_END = 32503680000  # 3000-01-01: "still valid"
RARE_MIN, RARE_SHARE = 200, 0.01  # a term in at most max(200, 1% of documents) is rare (see search)
BODY_CHARS = 2000  # text of a trace indexed per document
_WORD = re.compile(r"[^\w]+", re.UNICODE)
# Question words carry no information about which memory answers: leave them out of queries and index.
QUESTION_WORDS = frozenset(
    "what where who whom whose which why how does do did was were has had i my me our "
    "about there any anything know known tell".split()
)


def analyzer() -> Any:
    from whoosh.analysis import STOP_WORDS

    return StemmingAnalyzer(stoplist=STOP_WORDS | QUESTION_WORDS)


def _schema() -> fields.Schema:
    text = analyzer()
    num = dict(numtype=int, bits=64, stored=True)  # signed: whoosh's unsigned 64-bit ranges match everything
    return fields.Schema(
        path=fields.ID(stored=True, unique=True),
        id=fields.ID(stored=True),
        tier=fields.ID(stored=True),
        kind=fields.ID(stored=True),
        agent=fields.ID(stored=True),
        project=fields.ID(stored=True),
        current=fields.ID(stored=True),
        tags=fields.KEYWORD(stored=True, commas=True, lowercase=True, scorable=True),
        title=fields.TEXT(stored=True, analyzer=text, field_boost=2.0),
        body=fields.TEXT(stored=True, analyzer=text),
        created=fields.NUMERIC(sortable=True, **num),
        start=fields.NUMERIC(**num),
        end=fields.NUMERIC(**num),
        confidence=fields.STORED,
        superseded_by=fields.STORED,
        outcome=fields.STORED,
    )


def ts(value: datetime | None) -> int:
    return OPEN_END if value is None else int(value.astimezone(timezone.utc).timestamp())


def _parse_iso(text: str | None) -> datetime | None:
    return None if not text else datetime.fromisoformat(text.replace("Z", "+00:00"))


def entry_for(root: Path, path: Path) -> dict[str, Any]:
    """The index document of one memory or trace file (raises :class:`DocumentError`)."""
    from .model import read_memory  # the formats load only when a file changed
    from ..traces import read_trace

    rel = path.relative_to(root).as_posix()
    if rel.startswith("traces/"):
        t = read_trace(path)
        text = "\n".join(x for x in (t.result, t.error) if x)[:BODY_CHARS]
        started = _parse_iso(t.started)
        return dict(
            path=rel,
            id=t.id,
            tier="gamma",
            kind="trace",
            agent=t.agent,
            project="",
            current="yes",
            tags=",".join(s.tool for s in t.steps if s.tool),
            title=t.goal,
            body=text,
            created=ts(started),
            start=ts(started),
            end=OPEN_END,
            confidence=1.0 if t.outcome == "success" else 0.5,
            superseded_by=None,
            outcome=t.outcome,
        )
    memory = read_memory(path, root)
    m = memory.meta
    current = m.valid_to is None or m.valid_to > datetime.now(timezone.utc)
    return dict(
        path=rel,
        id=m.id,
        tier=m.tier,
        kind=m.kind,
        agent=m.agent or "",
        project=m.project or "",
        current="yes" if current else "no",
        tags=",".join(m.tags),
        title=m.title,
        body=memory.body,
        created=ts(m.created),
        start=ts(m.start),
        end=ts(m.valid_to),
        confidence=m.confidence,
        superseded_by=m.superseded_by,
        outcome=None,
    )


def _stat_all(root: Path) -> Iterator[tuple[str, str, os.stat_result]]:
    """``(rel, path, stat)`` of every indexed file: one ``scandir`` per folder and one stat per file,
    no path objects for the files that did not change (a sync of 10,000 unchanged files is a walk)."""
    prefix = len(str(root)) + 1
    folders = [str(f) for f in memory_folders(root)]
    traces = root / "traces"
    stack = [str(traces)] if traces.is_dir() else []
    while stack:  # trace folders nest by year and month
        folder = stack.pop()
        folders.append(folder)
        with os.scandir(folder) as entries:
            stack.extend(e.path for e in entries if e.is_dir(follow_symlinks=False) and not e.name.startswith("."))
    for folder in folders:
        with os.scandir(folder) as entries:
            for e in entries:
                if e.name.endswith(".md") and not e.name.startswith(".") and e.is_file():
                    try:
                        st = e.stat()
                    except FileNotFoundError:
                        continue
                    yield e.path[prefix:].replace(os.sep, "/"), e.path, st


def _stat_some(root: Path, rels: Iterable[Path]) -> Iterator[tuple[str, str, os.stat_result | None]]:
    """The same for named files; ``None`` for one that is gone."""
    for p in rels:
        path = root / p
        try:
            st: os.stat_result | None = path.stat()
        except FileNotFoundError:
            st = None
        yield path.relative_to(root).as_posix(), str(path), st


def query_terms(text: str) -> list[str]:
    """The analysed terms of a free-text query. Search syntax (quotes, ``field:``, ``*``, ``AND``...)
    has no meaning here: every character that is not part of a word is a separator."""
    seen: dict[str, None] = {}
    for tok in _QUERY_ANALYZER(_WORD.sub(" ", text), mode="query"):
        seen.setdefault(tok.text, None)
    return list(seen)


_QUERY_ANALYZER = analyzer()


@dataclass
class SyncReport:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    restamped: int = 0  # unchanged content under a new mtime or size: the manifest is updated
    rebuilt: bool = False
    errors: list[DocumentError] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def changed(self) -> int:
        return self.added + self.updated + self.removed


def _serialized(method: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``method`` under the index's in-process lock: one instance is shared by every thread of a
    process (parallel runs), and a sync closes the searcher another thread may be using."""

    @functools.wraps(method)
    def locked(self: "MemoryIndex", *args: Any, **kwargs: Any) -> Any:
        with self._mutex:
            return method(self, *args, **kwargs)

    return locked


class MemoryIndex:
    """One root's index. Writers hold ``.llmos/locks/index.lock`` (across processes) and every use
    holds the instance's lock (across threads); readers in other processes never block."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.dir = self.root / ".llmos" / "index"
        self.manifest_path = self.dir / "manifest.json"
        self.lock_path = self.root / ".llmos" / "locks" / "index.lock"
        self._ix: Any = None
        self._searcher: Any = None
        self._problems: tuple[int, list[str]] = (-1, [])
        self._mutex = threading.RLock()

    # -- opening -------------------------------------------------------------------------------
    def _load_manifest(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and data.get("version") == VERSION else None

    def _usable(self, manifest: dict[str, Any] | None) -> bool:
        if manifest is None:
            return False
        try:
            ix = windex.open_dir(str(self.dir))
            with ix.searcher() as s:
                s.doc_count()
            ix.close()
            return True
        except Exception:  # any damage at all: the index is only a cache, rebuild it
            return False

    def _reset(self) -> None:
        """Throw the cache away and start an empty one (caller holds the lock)."""
        self.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True, exist_ok=True)
        windex.create_in(str(self.dir), _schema()).close()
        self._save_manifest({})

    def _save_manifest(self, files: dict[str, list[Any]]) -> None:
        atomic_write(self.manifest_path, json.dumps({"version": VERSION, "files": files}), durable=False)

    def problems(self) -> list[str]:
        """``file:line: problem`` of every file the index skipped because it does not parse."""
        try:
            stamp = self.manifest_path.stat().st_mtime_ns
        except FileNotFoundError:
            return []
        if self._problems[0] != stamp:  # the manifest is big on a big archive: read it once per change
            files = (self._load_manifest() or {}).get("files", {})
            self._problems = (stamp, sorted(entry[3] for entry in files.values() if entry[3]))
        return self._problems[1]

    def ix(self) -> Any:
        if self._ix is None:
            self._ix = windex.open_dir(str(self.dir))
        return self._ix

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
        if self._ix is not None:
            self._ix.close()
        self._ix = self._searcher = None

    # -- keeping up with the files ---------------------------------------------------------------
    @_serialized
    def sync(self, paths: Iterable[Path] | None = None) -> SyncReport:
        """Bring the index up to date with the files (all of them, or only ``paths``)."""
        started = time.perf_counter()
        with file_lock(self.lock_path, timeout=300):
            report = SyncReport()
            manifest = self._load_manifest()
            if not self._usable(manifest):
                self._reset()
                report.rebuilt, paths, manifest = True, None, None
            manifest = manifest or {"files": {}}
            files: dict[str, list[Any]] = manifest["files"]
            todo, gone = self._changes(files, paths, report)
            if todo or gone:
                self._apply(files, todo, gone, report)
            if report.rebuilt or todo or gone or report.restamped:  # an unchanged index is not rewritten
                self._save_manifest(files)
        report.seconds = time.perf_counter() - started
        return report

    def _changes(
        self, files: dict[str, list[Any]], paths: Iterable[Path] | None, report: SyncReport
    ) -> tuple[list[tuple[str, Path, list[Any]]], list[str]]:
        """Files whose content changed: stat first, hash only when mtime or size moved."""
        todo, seen = [], set()
        candidates = _stat_all(self.root) if paths is None else _stat_some(self.root, paths)
        for rel, name, st in candidates:
            seen.add(rel)
            if st is None:
                continue
            old = files.get(rel)
            if old and old[0] == st.st_mtime_ns and old[1] == st.st_size:
                report.unchanged += 1
                continue
            path = Path(name)
            digest = blake3.blake3(path.read_bytes()).hexdigest()[:32]
            if old and old[2] == digest:
                files[rel] = [st.st_mtime_ns, st.st_size, digest, old[3]]
                report.unchanged += 1
                report.restamped += 1
                continue
            todo.append((rel, path, [st.st_mtime_ns, st.st_size, digest, None]))
        if paths is None:
            gone = [rel for rel in files if rel not in seen]
        else:
            gone = [rel for rel in seen if rel in files and not (self.root / rel).exists()]
        report.removed = len(gone)
        return todo, gone

    def _apply(
        self, files: dict[str, list[Any]], todo: list[tuple[str, Path, list[Any]]], gone: list[str], report: SyncReport
    ) -> None:
        writer = self.ix().writer(limitmb=128)
        try:
            for rel in gone:
                writer.delete_by_term("path", rel)
                files.pop(rel, None)
            for rel, path, entry in todo:
                try:
                    doc = entry_for(self.root, path)
                except DocumentError as exc:  # keep the last good version; report the file
                    report.errors.append(exc)
                    entry[3] = str(exc).replace(f"{self.root}/", "")
                    files[rel] = entry
                    continue
                if rel in files or not report.rebuilt:
                    writer.update_document(**doc)
                else:
                    writer.add_document(**doc)
                report.updated += rel in files
                report.added += rel not in files
                files[rel] = entry
        except BaseException:
            writer.cancel()
            raise
        writer.commit()
        self.close()

    # -- searching --------------------------------------------------------------------------------
    def searcher(self) -> Any:
        if self._searcher is not None and not self._searcher.up_to_date():
            self.close()  # another process committed: reopen (whoosh's refresh() fails on empty segments)
        if self._searcher is None:
            self._searcher = self.ix().searcher()
        return self._searcher

    @_serialized
    def search(
        self, terms: list[str], *, filter: Query | None = None, mask: Query | None = None, limit: int = 50
    ) -> list[tuple[float, dict[str, Any]]]:
        """BM25F over title (x2), body and tags; ``(score, stored fields)``, best first.

        Pruning: when the query has rare terms, a document must contain one of them to be a candidate;
        its common terms only add to the score. Scoring every document that merely says "live" or
        "work" is what makes a pure-Python index slow; such a document cannot match the query well."""
        if not terms:
            return []
        s = self.searcher()
        fields_ = ("title", "body", "tags")
        rare_limit = max(RARE_MIN, int(s.doc_count() * RARE_SHARE))
        rare = [t for t in terms if sum(s.doc_frequency(f, t) for f in fields_) <= rare_limit]
        common = [t for t in terms if t not in rare]
        query: Query = Or([Term(f, t) for t in (rare or common) for f in fields_])
        if rare and common:
            query = AndMaybe(query, Or([Term(f, t) for t in common for f in fields_]))
        hits = s.search(query, limit=limit, filter=filter, mask=mask)
        return [(hit.score, dict(hit.fields())) for hit in hits]

    @_serialized
    def latest(self, filter: Query, limit: int = 1) -> list[dict[str, Any]]:
        """The newest documents matching ``filter`` (by ``created``)."""
        from whoosh.query import Every

        hits = self.searcher().search(Every(), filter=filter, sortedby="created", reverse=True, limit=limit)
        return [dict(hit.fields()) for hit in hits]

    @_serialized
    def count(self, filter: Query) -> int:
        from whoosh.query import Every

        return len(self.searcher().search(Every(), filter=filter, limit=None))

    @_serialized
    def idf(self, term: str) -> float:
        s = self.searcher()
        if s.doc_count_all() == 0:
            return 1.0  # whoosh's idf takes log(0) on an empty index
        return max(s.idf("title", term), s.idf("body", term))


def any_of(fieldname: str, values: Iterable[str]) -> Query:
    return Or([Term(fieldname, v) for v in values])


def between(fieldname: str, start: int | None, end: int | None) -> Query:
    return NumericRange(fieldname, start, end)


def all_of(queries: list[Query]) -> Query | None:
    queries = [q for q in queries if q is not None]
    return None if not queries else queries[0] if len(queries) == 1 else And(queries)


_OPEN: dict[Path, MemoryIndex] = {}
_OPEN_LOCK = threading.Lock()


def open_index(root: Path) -> MemoryIndex:
    """The process-wide :class:`MemoryIndex` of ``root`` (kept open: searchers are reused)."""
    key = Path(root).resolve()
    with _OPEN_LOCK:
        if key not in _OPEN:
            _OPEN[key] = MemoryIndex(key)
        return _OPEN[key]

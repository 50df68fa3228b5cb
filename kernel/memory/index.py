"""The full-text index of memories and traces: SQLite FTS5 in ``.llmos/index/index.sqlite``, a cache.

Files are the truth. The ``docs`` table remembers the mtime, size and blake3 of every indexed file
beside its fields; :meth:`MemoryIndex.sync` stats the files and re-reads only those whose mtime or size
moved and whose hash really changed, so edits by the kernel, by hand or by ``git pull`` are all picked
up. A one-file update touches that file's rows only (one transaction). :meth:`MemoryIndex.quick_sync`
(what the CLI runs) first compares the folders' mtimes with the last sync's and scans only a folder
that changed: files added, removed or renamed over (every kernel write, ``git``, most editors). A
missing, outdated or unreadable index is rebuilt from the files. A file whose frontmatter breaks is
reported and skipped; the last good version of it stays searchable.

Text is analysed in Python (words, lower case, stop words and question words out, Porter stems) and
the FTS5 table holds the analysed terms: BM25 (k1 1.2, b 0.75) over one field, the body, plus the
title or tags only where they add words the body lacks (a title made from the first sentence is not
counted twice). Why not whoosh: on 10k memories a query took 10.6 ms, 0.65 ms with FTS5; the build
of 100k, 109 s against 8.7 s (``bench/recall.py`` prints both engines' figures).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import shutil
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import blake3

from ..atomic import file_lock
from ..errors import DocumentError
from .analysis import embed_text, indexed_text, query_terms, terms_of  # noqa: F401  (re-exported)
from .entries import (  # noqa: F401  (re-exported)
    BODY_CHARS,
    OPEN_END,
    _folders,
    _mtime,
    _stat_folders,
    _stat_some,
    entry_for,
    memory_entry,
    ts,
)

VERSION = 5
COLUMNS = (  # what ranking reads first; the long text last (a row's tail may sit in overflow pages)
    "tier confidence start end_ created path id kind agent project tags superseded_by outcome "
    "mtime_ns size digest problem vkey title body"
).split()
# FTS5's idf is log((N - n + 0.5) / (n + 0.5)): zero (clamped to 1e-6) for a word in half the documents
# or more, so on a small archive every score was 0. PAD empty documents keep it positive; they never match.
PAD = 10


@dataclass
class SyncReport:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    restamped: int = 0  # unchanged content under a new mtime or size: the stamp is updated
    rebuilt: bool = False
    errors: list[DocumentError] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def changed(self) -> int:
        return self.added + self.updated + self.removed


@dataclass
class Cond:
    """A condition on indexed documents (``any_of``, ``between``, ``all_of`` build them)."""

    sql: str
    params: tuple = ()


def any_of(fieldname: str, values: Iterable[str]) -> Cond:
    values = list(values)
    if fieldname == "tags":
        return Cond(
            "(" + " OR ".join(["(',' || lower(d.tags) || ',') LIKE ?"] * len(values)) + ")",
            tuple(f"%,{v.lower()},%" for v in values),
        )
    if fieldname == "current":
        now = int(time.time())
        return Cond("d.end_ > ?" if values == ["yes"] else "d.end_ <= ?", (now,))
    return Cond(f"d.{_column(fieldname)} IN ({','.join('?' * len(values))})", tuple(values))


def between(fieldname: str, start: int | None, end: int | None) -> Cond:
    """``start <= field <= end`` (either end open)."""
    col = _column(fieldname)
    parts = [(f"d.{col} >= ?", start), (f"d.{col} <= ?", end)]
    kept = [(sql, v) for sql, v in parts if v is not None]
    return Cond(" AND ".join(sql for sql, _ in kept) or "1", tuple(v for _, v in kept))


def all_of(conds: list[Cond | None]) -> Cond | None:
    conds = [c for c in conds if c is not None]
    if not conds:
        return None
    return Cond(" AND ".join(f"({c.sql})" for c in conds), tuple(p for c in conds for p in c.params))


def _column(name: str) -> str:
    name = {"end": "end_"}.get(name, name)
    if name not in COLUMNS:
        raise ValueError(f"not an indexed field: {name!r}")
    return name


def _serialized(method: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``method`` under the index's in-process lock: one instance (one connection) is shared by
    every thread of a process (parallel runs)."""

    @functools.wraps(method)
    def locked(self: "MemoryIndex", *args: Any, **kwargs: Any) -> Any:
        with self._mutex:
            return method(self, *args, **kwargs)

    return locked


SCHEMA = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE docs (rowid INTEGER PRIMARY KEY, tier TEXT, confidence REAL, start INTEGER, end_ INTEGER,
    created INTEGER, path TEXT UNIQUE NOT NULL, id TEXT, kind TEXT, agent TEXT, project TEXT, tags TEXT,
    superseded_by TEXT, outcome TEXT, mtime_ns INTEGER, size INTEGER, digest TEXT, problem TEXT, vkey TEXT,
    title TEXT, body TEXT);
CREATE TABLE vectors (model TEXT, key TEXT, v BLOB, PRIMARY KEY (model, key));
CREATE INDEX docs_created ON docs(created);
CREATE INDEX docs_problem ON docs(problem) WHERE problem IS NOT NULL;
CREATE TABLE folders (path TEXT PRIMARY KEY, mtime_ns INTEGER);
CREATE VIRTUAL TABLE fts USING fts5(terms, tokenize='unicode61 remove_diacritics 0', detail=full);
CREATE VIRTUAL TABLE vocab USING fts5vocab(fts, 'row');
INSERT INTO meta VALUES ('version', '{VERSION}');
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {PAD})
INSERT INTO fts (rowid, terms) SELECT -i, '' FROM n;
"""


class MemoryIndex:
    """One root's index. Writers hold ``.llmos/locks/index.lock`` (across processes) and every use
    holds the instance's lock (across threads); readers in other processes never block (WAL)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.dir = self.root / ".llmos" / "index"
        self.db_path = self.dir / "index.sqlite"
        self.lock_path = self.root / ".llmos" / "locks" / "index.lock"
        self._db: sqlite3.Connection | None = None
        self._mutex = threading.RLock()
        self._writes = 0  # own commits (data_version counts only other connections')
        self._n: tuple[Any, int] = (None, 0)
        self._columns: tuple[Any, Any] = (None, None)

    # -- opening -------------------------------------------------------------------------------
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = sqlite3.connect(self.db_path, check_same_thread=False, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=OFF")  # a cache: a crash costs a rebuild, not data
            try:
                self._db.execute("SELECT pow(0.5, 1)")
            except sqlite3.OperationalError:  # an SQLite built without its math functions
                self._db.create_function("pow", 2, math.pow, deterministic=True)
        return self._db

    def _usable(self) -> bool:
        if not self.db_path.is_file():
            return False
        try:
            row = self.db().execute("SELECT value FROM meta WHERE key='version'").fetchone()
            self.db().execute("SELECT count(*) FROM fts WHERE fts MATCH 'x'").fetchone()
            return row is not None and row[0] == str(VERSION)
        except sqlite3.DatabaseError:  # any damage at all: the index is only a cache, rebuild it
            return False

    def _reset(self) -> None:
        """Throw the cache away (an older whoosh index too) and start an empty one."""
        self.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.db().executescript(SCHEMA)

    def close(self) -> None:
        self._n = (None, 0)
        if self._db is not None:
            self._db.close()
        self._db = None

    def problems(self) -> list[str]:
        """``file:line: problem`` of every file the index skipped because it does not parse."""
        if not self.db_path.is_file():
            return []
        with self._mutex:
            try:
                rows = self.db().execute("SELECT problem FROM docs WHERE problem IS NOT NULL ORDER BY problem")
                return [r[0] for r in rows]
            except sqlite3.DatabaseError:
                return []

    # -- keeping up with the files ---------------------------------------------------------------
    @_serialized
    def sync(self, paths: Iterable[Path] | None = None) -> SyncReport:
        """Bring the index up to date with the files (all of them, or only ``paths``)."""
        return self._sync(paths, None)

    @_serialized
    def quick_sync(self) -> SyncReport:
        """The cheap staleness check: scan only the folders whose mtime moved since the last sync."""
        started = time.perf_counter()
        if self._usable():
            folders = _folders(self.root)
            known = dict(self.db().execute("SELECT path, mtime_ns FROM folders"))
            moved = [f for f in folders if known.get(f) != _mtime(f)]
            if not moved and set(known) == set(folders):
                return SyncReport(seconds=time.perf_counter() - started)
            if set(known) <= set(folders):  # nothing vanished: scan just what moved
                return self._sync(None, moved)
        return self._sync(None, None)

    def _sync(self, paths: Iterable[Path] | None, folders: list[str] | None) -> SyncReport:
        started = time.perf_counter()
        with file_lock(self.lock_path, timeout=300):
            report = SyncReport()
            if not self._usable():
                self._reset()
                report.rebuilt, paths, folders = True, None, None
            db = self.db()
            full = paths is None and folders is None
            scan = _folders(self.root) if full else folders
            stamps = {f: _mtime(f) for f in scan} if scan is not None else {}  # before the scan: no race
            with self._transaction(db):
                todo, gone = self._changes(paths, scan, full, report)
                self._apply(todo, gone, report)
                if scan is not None:
                    if full:
                        db.execute("DELETE FROM folders")
                    db.executemany("INSERT OR REPLACE INTO folders VALUES (?, ?)", stamps.items())
        report.seconds = time.perf_counter() - started
        return report

    @contextlib.contextmanager
    def _transaction(self, db: Any) -> Iterator[None]:
        """One write transaction (the caller holds the index lock): committed, or rolled back on any error."""
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
            db.execute("COMMIT")
            self._writes += 1
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _changes(
        self, paths: Iterable[Path] | None, scan: list[str] | None, full: bool, report: SyncReport
    ) -> tuple[list[tuple[str, Path, list[Any]]], list[str]]:
        """Files whose content changed: stat first, hash only when mtime or size moved."""
        db = self.db()
        if scan is not None:
            candidates: list[tuple[str, str, os.stat_result | None]] = list(_stat_folders(self.root, scan))
            rows = db.execute("SELECT path, mtime_ns, size, digest FROM docs")
            if full:
                old = {r[0]: r[1:] for r in rows}
            else:  # only the folders that moved: the files of the others are as they were
                dirs = {Path(f).relative_to(self.root).as_posix() for f in scan}
                old = {r[0]: r[1:] for r in rows if r[0].rpartition("/")[0] in dirs}
        else:
            candidates = list(_stat_some(self.root, paths or []))
            old = {}
            for rel, _, _ in candidates:
                row = db.execute("SELECT mtime_ns, size, digest FROM docs WHERE path=?", (rel,)).fetchone()
                if row:
                    old[rel] = row
        todo, seen = [], set()
        for rel, name, st in candidates:
            seen.add(rel)
            if st is None:
                continue
            was = old.get(rel)
            if was and was[0] == st.st_mtime_ns and was[1] == st.st_size:
                report.unchanged += 1
                continue
            digest = blake3.blake3(Path(name).read_bytes()).hexdigest()[:32]
            if was and was[2] == digest:
                db.execute("UPDATE docs SET mtime_ns=?, size=? WHERE path=?", (st.st_mtime_ns, st.st_size, rel))
                report.unchanged += 1
                report.restamped += 1
                continue
            todo.append((rel, Path(name), [st.st_mtime_ns, st.st_size, digest]))
        missing = {rel for rel, _, st in candidates if st is None}  # named files that are gone
        gone = [rel for rel in old if rel not in seen or rel in missing]
        report.removed = len(gone)
        return todo, gone

    def _apply(self, todo: list[tuple[str, Path, list[Any]]], gone: list[str], report: SyncReport) -> None:
        db = self.db()
        for rel in gone:
            self._delete(rel)
        for rel, path, (mtime_ns, size, digest) in todo:
            exists = db.execute("SELECT 1 FROM docs WHERE path=?", (rel,)).fetchone() is not None
            try:
                doc = entry_for(self.root, path)
            except DocumentError as exc:  # keep the last good version; report the file
                report.errors.append(exc)
                problem = str(exc).replace(f"{self.root}/", "")
                if exists:
                    db.execute(
                        "UPDATE docs SET mtime_ns=?, size=?, digest=?, problem=? WHERE path=?",
                        (mtime_ns, size, digest, problem, rel),
                    )
                else:
                    db.execute(
                        "INSERT INTO docs (path, mtime_ns, size, digest, problem) VALUES (?, ?, ?, ?, ?)",
                        (rel, mtime_ns, size, digest, problem),
                    )
                continue
            self._put({**doc, "mtime_ns": mtime_ns, "size": size, "digest": digest, "problem": None})
            report.updated += exists
            report.added += not exists

    def _delete(self, rel: str) -> None:
        db = self.db()
        row = db.execute("SELECT rowid FROM docs WHERE path=?", (rel,)).fetchone()
        if row:
            db.execute("DELETE FROM fts WHERE rowid=?", row)
            db.execute("DELETE FROM docs WHERE rowid=?", row)

    def _put(self, doc: dict[str, Any]) -> None:
        """Insert or replace one document (the caller holds a transaction)."""
        self._delete(doc["path"])
        if doc.get("title") is not None:  # the content hash its embedding is cached under
            doc = {
                **doc,
                "vkey": blake3.blake3(embed_text(doc["title"], doc.get("body") or "").encode()).hexdigest()[:32],
            }
        cur = self.db().execute(
            f"INSERT INTO docs ({','.join(COLUMNS)}) VALUES ({','.join('?' * len(COLUMNS))})",
            [doc.get(c) for c in COLUMNS],
        )
        if doc.get("title") is not None:
            text = indexed_text(doc["title"], doc.get("body") or "", doc.get("tags") or "")
            self.db().execute("INSERT INTO fts (rowid, terms) VALUES (?, ?)", (cur.lastrowid, text))

    @_serialized
    def add_new(self, memories: list[Any]) -> SyncReport:
        """Index memories just written (import): from the objects in hand, one transaction, no re-parse."""
        started = time.perf_counter()
        report = SyncReport()
        if not self._usable():  # a new or damaged index: the full build reads these files too
            return self._sync(None, None)
        with file_lock(self.lock_path, timeout=300):
            db = self.db()
            with self._transaction(db):
                for m in memories:
                    raw = m.path.read_bytes()
                    st = m.path.stat()
                    doc = memory_entry(self.root, m)
                    self._put(
                        {
                            **doc,
                            "mtime_ns": st.st_mtime_ns,
                            "size": st.st_size,
                            "digest": blake3.blake3(raw).hexdigest()[:32],
                            "problem": None,
                        }
                    )
                    report.added += 1
        report.seconds = time.perf_counter() - started
        return report

    # -- searching --------------------------------------------------------------------------------
    @_serialized
    def matches(self, terms: list[str], where: Cond | None = None) -> tuple[Any, Any]:
        """Every document matching any of ``terms`` (and ``where``): numpy arrays of rowids and BM25
        scores (higher is better), unsorted. FTS5 alone scores them when there is no ``where``."""
        import numpy as np

        if not terms:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        match = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
        if where is None:
            rows = self.db().execute("SELECT rowid, -bm25(fts) FROM fts WHERE fts MATCH ?", (match,)).fetchall()
        else:
            rows = (
                self.db()
                .execute(
                    f"SELECT fts.rowid, -bm25(fts) FROM fts JOIN docs d ON d.rowid = fts.rowid "
                    f"WHERE fts MATCH ? AND ({where.sql})",
                    (match, *where.params),
                )
                .fetchall()
            )
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        arr = np.array(rows, dtype=np.float64)
        return arr[:, 0].astype(np.int64), arr[:, 1]

    @_serialized
    def columns(self) -> dict[str, Any]:
        """What ranking weighs, as numpy arrays indexed by rowid (cached until the index changes):
        ``tier`` (codes into ``tiers``), ``confidence``, ``start``, ``end``."""
        import numpy as np

        key = (self.db().execute("PRAGMA data_version").fetchone()[0], self._writes)
        if self._columns[0] != key:
            rows = self.db().execute("SELECT rowid, tier, confidence, start, end_ FROM docs WHERE tier IS NOT NULL")
            rows = rows.fetchall()
            size = 1 + max((r[0] for r in rows), default=0)
            tiers = sorted({r[1] for r in rows})
            code = {t: i for i, t in enumerate(tiers)}
            cols = {
                "tiers": tiers,
                "tier": np.zeros(size, dtype=np.int64),
                "confidence": np.zeros(size),
                "start": np.zeros(size),
                "end": np.zeros(size),
            }
            if rows:
                ids = np.array([r[0] for r in rows], dtype=np.int64)
                cols["tier"][ids] = [code[r[1]] for r in rows]
                cols["confidence"][ids] = [r[2] or 0.0 for r in rows]
                cols["start"][ids] = [r[3] for r in rows]
                cols["end"][ids] = [r[4] for r in rows]
            self._columns = (key, cols)
        return self._columns[1]

    @_serialized
    def docs(self, rowids: list[int]) -> list[dict[str, Any]]:
        """The stored fields (and indexed ``terms``) of these documents, in this order."""
        if not rowids:
            return []
        marks = ",".join("?" * len(rowids))
        rows = self.db().execute(
            f"SELECT d.rowid, fts.terms, {', '.join('d.' + c for c in COLUMNS)} FROM docs d "
            f"JOIN fts ON fts.rowid = d.rowid WHERE d.rowid IN ({marks})",
            rowids,
        )
        found = {r[0]: _public(dict(zip(COLUMNS, r[2:]), terms=r[1])) for r in rows}
        return [found[r] for r in rowids if r in found]

    @_serialized
    def search(self, terms: list[str], *, filter: Cond | None = None, limit: int = 50) -> list[tuple[float, dict]]:
        """Plain BM25: ``(score, fields)`` of the ``limit`` best documents, exact."""
        rids, scores = self.matches(terms, filter)
        order = scores.argsort()[::-1][:limit]
        return list(zip(scores[order].tolist(), self.docs(rids[order].tolist())))

    @_serialized
    def latest(self, filter: Cond | None, limit: int = 1) -> list[dict[str, Any]]:
        """The newest documents matching ``filter`` (by ``created``)."""
        where = f"WHERE {filter.sql} AND d.title IS NOT NULL" if filter else "WHERE d.title IS NOT NULL"
        rows = self.db().execute(
            f"SELECT {', '.join('d.' + c for c in COLUMNS)} FROM docs d {where} ORDER BY d.created DESC LIMIT ?",
            (*(filter.params if filter else ()), limit),
        )
        return [_public(dict(zip(COLUMNS, r))) for r in rows]

    @_serialized
    def count(self, filter: Cond | None) -> int:
        where = f"WHERE {filter.sql} AND d.title IS NOT NULL" if filter else "WHERE d.title IS NOT NULL"
        return self.db().execute(f"SELECT count(*) FROM docs d {where}", filter.params if filter else ()).fetchone()[0]

    @_serialized
    def idf(self, term: str) -> float:
        """FTS5's idf of ``term`` (what its bm25() uses)."""
        return self.idfs([term])[term]

    @_serialized
    def idfs(self, terms: list[str]) -> dict[str, float]:
        n = self._count()
        marks = ",".join("?" * len(terms))
        df = dict(self.db().execute(f"SELECT term, doc FROM vocab WHERE term IN ({marks})", terms)) if terms else {}
        return {t: max(1e-6, math.log((n - df.get(t, 0) + 0.5) / (df.get(t, 0) + 0.5))) for t in terms}

    def _count(self) -> int:
        """Documents in the FTS table (pads included), cached until any connection writes."""
        version = self.db().execute("PRAGMA data_version").fetchone()[0]
        if self._n[0] != (version, self._writes):
            self._n = ((version, self._writes), self.db().execute("SELECT count(*) FROM fts").fetchone()[0])
        return self._n[1]

    @_serialized
    def terms(self, path: str) -> set[str]:
        """The indexed terms of one document."""
        row = (
            self.db()
            .execute("SELECT f.terms FROM fts f JOIN docs d ON d.rowid=f.rowid WHERE d.path=?", (path,))
            .fetchone()
        )
        return set(row[0].split()) if row else set()

    @_serialized
    def doc_count(self) -> int:
        return self.db().execute("SELECT count(*) FROM fts").fetchone()[0] - PAD


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    """A document as callers saw it before (``end``, ``current``)."""
    doc["end"] = doc["end_"]
    doc["current"] = "yes" if doc["end_"] > time.time() else "no"
    return doc


_OPEN: dict[Path, MemoryIndex] = {}
_OPEN_LOCK = threading.Lock()


def open_index(root: Path) -> MemoryIndex:
    """The process-wide :class:`MemoryIndex` of ``root`` (kept open: the connection is reused)."""
    key = Path(root).resolve()
    with _OPEN_LOCK:
        if key not in _OPEN:
            _OPEN[key] = MemoryIndex(key)
        return _OPEN[key]

"""The embeddings of indexed documents: a cache in the index's ``vectors`` table, keyed by the model
and the content hash of the text embedded (``docs.vkey``), so an unchanged text is never embedded
twice, an edit re-embeds one document, and deleting the index loses nothing but time.

Missing vectors are computed at the first dense search after a change, in batches, and the whole
matrix is kept in memory (one process-wide copy per index, reloaded when the index changes): search is
one matrix-vector product, brute force (``bench/recall.py`` times it at 100k).
"""

from __future__ import annotations

from typing import Any

BATCH = 512


def _missing(db: Any, model: str) -> list[tuple[str, str, str]]:
    return db.execute(
        "SELECT DISTINCT d.vkey, d.title, d.body FROM docs d WHERE d.vkey IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM vectors v WHERE v.model = ? AND v.key = d.vkey)",
        (model,),
    ).fetchall()


def fill(index: Any, embedder: Any) -> int:
    """Embed every document that has no vector for ``embedder`` yet; how many were embedded."""
    from .analysis import embed_text

    db = index.db()
    todo = _missing(db, embedder.name)
    for i in range(0, len(todo), BATCH):
        chunk = todo[i : i + BATCH]
        vecs = embedder.embed([embed_text(t or "", b or "") for _, t, b in chunk])
        rows = [(embedder.name, key, vecs[j].astype("float32").tobytes()) for j, (key, _, _) in enumerate(chunk)]
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany("INSERT OR IGNORE INTO vectors VALUES (?, ?, ?)", rows)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return len(todo)


def matrix(index: Any, embedder: Any) -> tuple[Any, Any]:
    """``(rowids, vectors)`` of every indexed document (numpy; one row each, unit length)."""
    import numpy as np

    with index._mutex:
        key = (index.db().execute("PRAGMA data_version").fetchone()[0], index._writes, embedder.name)
        cached = index.__dict__.get("_matrix")
        if cached is not None and cached[0] == key:
            return cached[1]
        if fill(index, embedder):
            index._writes += 1
        rows = (
            index.db()
            .execute(
                "SELECT d.rowid, v.v FROM docs d JOIN vectors v ON v.model = ? AND v.key = d.vkey", (embedder.name,)
            )
            .fetchall()
        )
        rids = np.array([r[0] for r in rows], dtype=np.int64)
        mat = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), embedder.dim)
        key = (index.db().execute("PRAGMA data_version").fetchone()[0], index._writes, embedder.name)
        index._matrix = (key, (rids, mat))
        return rids, mat

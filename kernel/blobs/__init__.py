"""Content-addressed blob store (blake3 + zstd, packs, dedup, manifests, GC, check).

    from llmos.blobs import BlobStore
    with BlobStore.open(root / ".llmos" / "blobs") as store:
        sid = store.put(system_prompt, "prompt", agent="writer")
        mid = store.put_manifest(None, [sid, store.put(msg, "message")])
        store.expand(mid)            # -> [sid, <message id>]
        store.get_json(...), store.check(read_data=True), store.gc(dry_run=True)

Traces point at blobs with the string ``ref(id)`` == ``"blob:<id>"``; gc treats every such
string under ``<root>/traces`` as a root.

Layer: stores. May import the ground floor only. One import cycle is kept on purpose: ``store``
(the facade people use) calls ``check``, ``gc``, ``repack`` and ``dicts`` lazily, and those name
``BlobStore`` in their signatures under ``TYPE_CHECKING`` only, so no module runs another's
half-initialised body (tests/test_layers.py allows exactly this cycle).
"""

from .check import CheckReport, Problem
from .codec import blob_id, canonical, check_id, find_refs, ref
from .gc import GcReport
from .manifest import Manifest
from .recorder import CallRecorder, load_request
from .store import BlobStore

__all__ = [
    "BlobStore",
    "CheckReport",
    "GcReport",
    "Manifest",
    "Problem",
    "CallRecorder",
    "blob_id",
    "canonical",
    "check_id",
    "find_refs",
    "load_request",
    "ref",
]

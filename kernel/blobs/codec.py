"""Canonical bytes, blob ids, and zstd compression (with optional trained dictionaries).

A blob id is the blake3 hash of the canonical bytes, keyed by the blob's type tag
(bytes, text, json, manifest, dict): the tag is mixed in as a blake3 key rather than a prefix,
which separates the types without copying large payloads. Canonical JSON is sorted keys,
no spaces, utf-8 (not ASCII-escaped), NaN rejected.
"""

from __future__ import annotations

import json
import re

import blake3
import zstandard

from ..errors import BlobError
from .record import BYTES, DICT, JSON, MANIFEST, TEXT, TYPE_NAMES

ID_RE = re.compile(r"^[0-9a-f]{64}$")
REF_RE = re.compile(rb"blob:([0-9a-f]{64})")
LEVEL = 3
KEYS = {t: blake3.blake3(f"llmos-blob/1 {name}".encode()).digest() for t, name in TYPE_NAMES.items()}
# one keyed hasher per type, copied for each blob: cheaper than keying a new one every time
HASHERS = {t: blake3.blake3(key=k) for t, k in KEYS.items()}
_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def canonical(data: bytes | bytearray | memoryview | str | dict | list) -> tuple[int, bytes]:
    """Return ``(type, canonical bytes)`` for a value given to ``put``."""
    if isinstance(data, bytes):
        return BYTES, data
    if isinstance(data, str):
        return TEXT, data.encode("utf-8")
    if isinstance(data, (dict, list)):
        return JSON, canonical_json(data)
    if isinstance(data, (bytearray, memoryview)):
        return BYTES, bytes(data)
    raise TypeError(f"cannot store {type(data).__name__}: use bytes, str, dict or list")


def canonical_json(obj: dict | list) -> bytes:
    """Canonical JSON bytes: sorted keys, no spaces, utf-8."""
    try:
        return _dumps(obj).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise BlobError(f"value is not canonical JSON: {exc}") from exc


def blob_id(btype: int, raw: bytes) -> str:
    """The hex id of canonical bytes ``raw`` of type ``btype``."""
    return HASHERS[btype].copy().update(raw).digest().hex()


def check_id(bid: str) -> str:
    """Return ``bid`` without an optional ``blob:`` prefix; raise BlobError if malformed."""
    if isinstance(bid, str) and bid.startswith("blob:"):
        bid = bid[5:]
    if not isinstance(bid, str) or not ID_RE.match(bid):
        raise BlobError(f"not a blob id: {bid!r}", hint="ids are 64 lowercase hex characters")
    return bid


def ref(bid: str) -> str:
    """The string form traces use to point at a blob: ``blob:<id>``."""
    return "blob:" + check_id(bid)


def find_refs(text: bytes) -> set[str]:
    """Every blob id mentioned as ``blob:<id>`` in ``text``."""
    return {m.decode("ascii") for m in REF_RE.findall(text)}


class Codec:
    """Compressors and decompressors, one per dictionary (0 = no dictionary)."""

    def __init__(self, level: int = LEVEL):
        self.level = level
        self._cctx: dict[int, zstandard.ZstdCompressor] = {}
        self._dctx: dict[int, zstandard.ZstdDecompressor] = {}
        self._dicts: dict[int, zstandard.ZstdCompressionDict] = {}
        self.add_dictionary(0, None)

    def add_dictionary(self, dict_id: int, data: bytes | None) -> None:
        """Make dictionary ``dict_id`` (raw bytes ``data``) usable."""
        zd = zstandard.ZstdCompressionDict(data) if data is not None else None
        if zd is not None:
            zd.precompute_compress(level=self.level)  # digest once, not on every compress
        kw = {"dict_data": zd} if zd is not None else {}
        self._cctx[dict_id] = zstandard.ZstdCompressor(
            level=self.level, write_checksum=False, write_content_size=False, write_dict_id=False, **kw
        )
        self._dctx[dict_id] = zstandard.ZstdDecompressor(**kw)

    def new_compressor(self) -> zstandard.ZstdCompressor:
        """A compressor of its own (no dictionary) for another thread: zstd contexts are
        not safe to share between threads."""
        return zstandard.ZstdCompressor(
            level=self.level, write_checksum=False, write_content_size=False, write_dict_id=False
        )

    def has_dictionary(self, dict_id: int) -> bool:
        return dict_id in self._dctx

    def compress(self, raw: bytes, dict_id: int = 0) -> bytes:
        return self._cctx[dict_id].compress(raw)

    def decompressor(self, dict_id: int = 0) -> zstandard.ZstdDecompressor:
        """The decompressor for dictionary ``dict_id`` (for batch decompression)."""
        return self._dctx[dict_id]

    def decompress(self, payload: bytes, ulen: int, dict_id: int = 0) -> bytes:
        """Decompress a frame whose canonical length is ``ulen`` (raise zstd errors as is)."""
        if ulen == 0:
            return b""
        return self._dctx[dict_id].decompress(payload, max_output_size=ulen)


def train(samples: list[bytes], size: int) -> tuple[int, bytes]:
    """Train a zstd dictionary of about ``size`` bytes; return ``(dict_id, bytes)``."""
    zd = zstandard.train_dictionary(size, samples, level=LEVEL)
    return zd.dict_id(), zd.as_bytes()


__all__ = [
    "BYTES",
    "TEXT",
    "JSON",
    "MANIFEST",
    "DICT",
    "Codec",
    "blob_id",
    "canonical",
    "canonical_json",
    "check_id",
    "find_refs",
    "ref",
    "train",
]

"""Manifests: a conversation or request as a chain of blobs.

A manifest names its parent manifest (or none) and lists only the refs added since the
parent, so storing every request of a growing conversation costs space linear in its length.
Refs may point at any blob, including other manifests.

Encoding (format 2, written): ``b"LMF2"``, one byte 1/0 (has a parent), the parent's
32-byte id if any, then 32 bytes per ref: ~100 bytes for a typical request instead of
~240 as JSON with hex ids (which compresses to about the binary size, but counts as
unique bytes and costs zstd time). Format 1, canonical JSON ``{"format":
"llmos-manifest/1", "parent": id|null, "refs": [ids]}``, is still read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..errors import BlobError
from .codec import canonical_json, check_id

FORMAT = "llmos-manifest/1"
MAGIC = b"LMF2"


@dataclass(frozen=True)
class Manifest:
    """One link of a chain: ``parent`` manifest id (or None) and the refs it adds."""

    parent: str | None
    refs: list[str]


def encode(parent: str | None, refs: list[str]) -> bytes:
    """Canonical bytes of a manifest, format 2 (ids are validated)."""
    ids = ([check_id(parent)] if parent else []) + [check_id(r) for r in refs]
    return MAGIC + (b"\1" if parent else b"\0") + bytes.fromhex("".join(ids))


def encode_json(parent: str | None, refs: list[str]) -> bytes:
    """Canonical bytes of a manifest in format 1 (JSON), as older stores hold them."""
    body = {"format": FORMAT, "parent": check_id(parent) if parent else None, "refs": [check_id(r) for r in refs]}
    return canonical_json(body)


def decode(raw: bytes, bid: str = "?") -> Manifest:
    """Parse manifest bytes; raise BlobError if they are not a manifest."""
    import json

    if raw[:4] == MAGIC:
        return _decode_binary(raw, bid)
    try:
        body = json.loads(raw)
        if body.get("format") != FORMAT:
            raise ValueError(f"format {body.get('format')!r}")
        return Manifest(body["parent"], list(body["refs"]))
    except (ValueError, KeyError, AttributeError, TypeError) as exc:
        raise BlobError(f"blob {bid} is not a manifest: {exc}") from exc


def _decode_binary(raw: bytes, bid: str) -> Manifest:
    if len(raw) < 5 or raw[4] not in (0, 1) or (len(raw) - 5) % 32:
        raise BlobError(f"blob {bid} is not a manifest: bad length or parent flag")
    ids = [raw[i : i + 32].hex() for i in range(5, len(raw), 32)]
    if raw[4] == 1:
        if not ids:
            raise BlobError(f"blob {bid} is not a manifest: parent flag without a parent")
        return Manifest(ids[0], ids[1:])
    return Manifest(None, ids)


def expand(load: Callable[[str], Manifest], head: str) -> list[str]:
    """Every ref of the chain ending at ``head``, oldest first."""
    chunks: list[list[str]] = []
    seen: set[str] = set()
    node: str | None = head
    while node is not None:
        if node in seen:
            raise BlobError(f"manifest chain loops at {node}")
        seen.add(node)
        manifest = load(node)
        chunks.append(manifest.refs)
        node = manifest.parent
    return [r for chunk in reversed(chunks) for r in chunk]

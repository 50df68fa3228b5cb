"""Manifests: a conversation or request as a chain of blobs.

A manifest names its parent manifest (or none) and lists only the refs added since the
parent, so storing every request of a growing conversation costs space linear in its length.
Refs may point at any blob, including other manifests.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..errors import BlobError
from .codec import canonical_json, check_id

FORMAT = "llmos-manifest/1"


@dataclass(frozen=True)
class Manifest:
    """One link of a chain: ``parent`` manifest id (or None) and the refs it adds."""

    parent: str | None
    refs: list[str]


def encode(parent: str | None, refs: list[str]) -> bytes:
    """Canonical bytes of a manifest (ids are validated)."""
    body = {"format": FORMAT, "parent": check_id(parent) if parent else None,
            "refs": [check_id(r) for r in refs]}
    return canonical_json(body)


def decode(raw: bytes, bid: str = "?") -> Manifest:
    """Parse manifest bytes; raise BlobError if they are not a manifest."""
    import json

    try:
        body = json.loads(raw)
        if body.get("format") != FORMAT:
            raise ValueError(f"format {body.get('format')!r}")
        return Manifest(body["parent"], list(body["refs"]))
    except (ValueError, KeyError, AttributeError, TypeError) as exc:
        raise BlobError(f"blob {bid} is not a manifest: {exc}") from exc


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

"""The vault's head, anchored outside the vault: ``vault-head`` entries in the spend ledger.

Every manifest chains to the one before it (``prev``), so the chain proves what came before the head
but nothing proves the head itself: a deleted or replaced newest manifest leaves a chain that still
verifies. After each snapshot the vault therefore appends ::

    {"type": "vault-head", "vault_seq": N, "vault_hash": H, "vault_id": ID}

to the root's hash-chained ledger (``.llmos/ledger.jsonl``, through its append-under-lock API; the
ledger's own ``seq``, ``hash`` and ``prev`` chain its lines, hence the ``vault_`` prefix). Anchoring
the head anchors the whole chain through ``prev``. The budget ignores entries of this type. The
snapshot holds the ledger as it was before its own anchor was appended.

A snapshot cut short between its manifest and its anchor leaves a head one past the anchor: that is
not damage (the next snapshot anchors its successor). A ``reason`` marks an anchor a person set with
``llmos vault reanchor`` to accept a loss ``verify`` reported; ``vault_seq`` is then ``None`` when
the vault was empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..budget.ledger import Ledger
from ..errors import VaultError

ENTRY_TYPE = "vault-head"


@dataclass(frozen=True)
class Anchor:
    """One ``vault-head`` ledger entry: the vault's head (seq, manifest hash, id) when it was written."""

    seq: int | None
    hash: str | None
    id: str | None
    reason: str | None = None

    @classmethod
    def from_entry(cls, e: dict[str, Any]) -> "Anchor":
        return cls(e.get("vault_seq"), e.get("vault_hash"), e.get("vault_id"), e.get("reason"))


def read_anchors(root: Path) -> list[Anchor]:
    """The vault anchors in the ledger of ``root``, oldest first. Raises :class:`LedgerBroken`."""
    return [Anchor.from_entry(e) for e in Ledger(root).entries() if e.get("type") == ENTRY_TYPE]


def record(root: Path, anchor: Anchor) -> None:
    """Append ``anchor`` to the ledger of ``root`` (durably, under the ledger lock)."""
    entry: dict[str, Any] = {
        "type": ENTRY_TYPE,
        "vault_seq": anchor.seq,
        "vault_hash": anchor.hash,
        "vault_id": anchor.id,
    }
    if anchor.reason is not None:
        entry["reason"] = anchor.reason
    ledger = Ledger(root)
    with ledger.locked():
        ledger.append(entry)


def problems(anchors: list[Anchor], links: dict[int, str], objects: dict[str, set[str]]) -> list[str]:
    """Where the vault disagrees with its anchors; empty when it agrees or was never anchored.

    ``links``: sequence number -> manifest hash of every sealed or pruned (tombstoned) snapshot.
    ``objects``: snapshot id -> the kinds of its objects in the store (``archive``, ``files``,
    ``manifest``, ``tombstone``).
    """
    if not anchors:
        return []
    head, out, seqs = anchors[-1], [], {a.id: a.seq for a in anchors}
    for ident in orphans(anchors, objects):
        what = "head manifest missing: " if ident == head.id else ""
        out.append(
            f"{what}the manifest of snapshot #{seqs[ident]} ({ident}) is gone but its archive or file "
            "list is still in the vault (the ledger anchored it)"
        )
    if head.seq is None:
        return out
    if head.seq in links:
        if links[head.seq] != head.hash:
            out.append(
                f"head replaced: snapshot #{head.seq} hashes to {links[head.seq][:16]}, but the ledger "
                f"anchored {str(head.hash)[:16]} ({head.id})"
            )
        return out
    kinds, newest = objects.get(head.id or "", set()), max(links, default=None)
    anchored = f"snapshot #{head.seq} ({head.id}), which the ledger anchored as the vault's head,"
    if "manifest" in kinds:
        out.append(f"the manifest of {anchored} is unreadable")
    elif _orphaned(kinds):
        pass  # reported above as "head manifest missing"
    elif newest is None or newest < head.seq:
        now = "the vault is empty" if newest is None else f"the vault's newest is #{newest}"
        out.append(f"anchor ahead of the vault: {anchored} is gone and {now}: snapshots were deleted")
    else:
        out.append(f"{anchored} is gone")
    return out


def orphans(anchors: list[Anchor], objects: dict[str, set[str]]) -> list[str]:
    """Ids of anchored snapshots whose archive or file list is in the vault without their manifest."""
    return [i for i in dict.fromkeys(a.id for a in anchors if a.id) if _orphaned(objects.get(i, set()))]


def accept(
    anchors: list[Anchor], links: dict[int, str], objects: dict[str, set[str]], ids: dict[int, str], reason: str
) -> Anchor:
    """The anchor that accepts the vault as it is now (``ids``: sequence number -> snapshot id).

    Raises :class:`VaultError` when there is nothing to accept, or while an anchored snapshot's archive
    is still in the vault without its manifest: sealed data is never dropped here, a person moves it.
    """
    if not reason.strip():
        raise VaultError("give the reason the loss is accepted (--reason)")
    if not problems(anchors, links, objects):
        raise VaultError("the vault agrees with its anchor: nothing to accept")
    lost = orphans(anchors, objects)
    if lost:
        raise VaultError(
            f"the archive of snapshot {lost[0]} is still in the vault without its manifest",
            hint=f"put the manifest back, or move {lost[0]}.* out of the vault (keep it if in doubt), then retry",
        )
    seq = max(links, default=None)
    return Anchor(seq, None if seq is None else links[seq], None if seq is None else ids.get(seq), reason)


def _orphaned(kinds: set[str]) -> bool:
    """Archive or file list present, but neither a manifest nor a tombstone."""
    return bool(kinds & {"archive", "files"}) and not kinds & {"manifest", "tombstone"}

"""WORM vault: sealed, hash-chained snapshots of an OS root.

Layer: stores (may import the ground floor and the budget ledger it seals).

Library API (the CLI in :mod:`llmos.cli.guard` is a thin client of it)::

    info = snapshot(root, label="before migration", config=cfg)   # -> SnapshotInfo
    list_snapshots(root, cfg); verify(root, "all" | ID, cfg); restore(root, ID, dest, cfg)
    prune(root, cfg)            # only expired ones; naming an unexpired one raises VaultError
    snapshot_due(root, cfg)     # for `llmos dream`
    reanchor(root, "manifest lost with disk X", cfg)  # accept damage `verify` reported

The newest snapshot's hash is anchored in the root's ledger (:mod:`.anchor`): ``verify`` reports a
head that was deleted or replaced, and ``snapshot`` refuses to run until the vault agrees with it.

``cfg`` is a :class:`VaultConfig` (the ``vault:`` key of system/llmos.yaml); ``None`` = defaults.
"""

from __future__ import annotations

from datetime import datetime
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import VaultConfig

if TYPE_CHECKING:
    from .anchor import Anchor
    from .records import SnapshotInfo, VerifyResult
    from .snapshots import Vault

# Loaded on first use: every command reads the ``vault:`` config section, few touch a vault.
_LAZY = {
    "Vault": "snapshots",
    "SnapshotInfo": "records",
    "VerifyResult": "records",
    "Anchor": "anchor",
    "VaultStore": "store",
    "LocalStore": "store",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "VaultConfig",
    "Vault",
    "SnapshotInfo",
    "VerifyResult",
    "Anchor",
    "VaultStore",
    "LocalStore",
    "snapshot",
    "list_snapshots",
    "verify",
    "restore",
    "prune",
    "snapshot_due",
    "reanchor",
]


def snapshot(root: Path, label: str | None = None, config: VaultConfig | None = None) -> SnapshotInfo:
    """Seal the committed state of ``root`` (plus ledger and blobs) as a new snapshot."""
    from .snapshots import Vault

    return Vault(root, config).snapshot(label)


def list_snapshots(root: Path, config: VaultConfig | None = None) -> list[SnapshotInfo]:
    """Sealed snapshots of ``root``, oldest first."""
    from .snapshots import Vault

    return Vault(root, config).list()


def verify(root: Path, ident: str | None = None, config: VaultConfig | None = None) -> list[VerifyResult]:
    """Verify snapshot ``ident`` (unique id prefix), or every snapshot when ``None``/``"all"``."""
    from .snapshots import Vault

    return Vault(root, config).verify(None if ident in (None, "all") else ident)


def restore(root: Path, ident: str, dest: Path, config: VaultConfig | None = None) -> SnapshotInfo:
    """Restore snapshot ``ident`` byte-identically into the new or empty directory ``dest``."""
    from .snapshots import Vault

    return Vault(root, config).restore(ident, dest)


def prune(
    root: Path, config: VaultConfig | None = None, ids: list[str] | None = None, now: datetime | None = None
) -> list[str]:
    """Delete expired snapshots (never the ``keep_hot`` newest); raise if a named one is unexpired."""
    from .snapshots import Vault

    return Vault(root, config).prune(ids, now)


def snapshot_due(root: Path, config: VaultConfig | None = None) -> bool:
    """True when ``interval_days`` have passed since the newest snapshot (or there is none)."""
    from .snapshots import Vault

    return Vault(root, config).due()


def reanchor(root: Path, reason: str, config: VaultConfig | None = None) -> Anchor:
    """Accept damage ``verify`` reported: anchor the vault's current head, with ``reason``, in the ledger."""
    from .snapshots import Vault

    return Vault(root, config).reanchor(reason)

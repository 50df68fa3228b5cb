"""The ``vault:`` section of system/llmos.yaml."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class VaultConfig(BaseModel):
    """Where snapshots live and how long each one is kept.

    ``path``: the vault directory (default ``<root>/.llmos/vault``; relative paths are relative to
    the root; put it on another disk with an absolute path). ``retention_days``: a snapshot cannot be
    deleted before this many days after it was sealed. ``keep_hot``: the newest N snapshots are never
    pruned, even when expired. ``interval_days``: ``llmos dream`` takes a snapshot when the newest is
    older than this (``None`` or 0: never). ``compression_level``: zstd level (1-22).
    """

    model_config = ConfigDict(extra="forbid")
    path: Path | None = None
    retention_days: float = Field(default=90.0, ge=0)
    keep_hot: int = Field(default=3, ge=0)
    interval_days: float | None = Field(default=7.0, ge=0)
    compression_level: int = Field(default=3, ge=1, le=22)

    def directory(self, root: Path) -> Path:
        """The vault directory for the OS root ``root``."""
        if self.path is None:
            return Path(root) / ".llmos" / "vault"
        return self.path if self.path.is_absolute() else Path(root) / self.path

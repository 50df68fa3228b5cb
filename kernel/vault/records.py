"""What the vault reports: a listed snapshot and the verdict of a verify (plain data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any


@dataclass
class SnapshotInfo:
    """One listed snapshot (from its manifest header)."""

    id: str
    seq: int
    label: str | None
    created: datetime
    retain_until: datetime
    commit: str
    files: int
    bytes: int
    archive_bytes: int
    hash: str
    prev: str | None

    @classmethod
    def from_header(cls, h: dict[str, Any]) -> "SnapshotInfo":
        return cls(
            h["id"],
            h["seq"],
            h.get("label"),
            datetime.fromisoformat(h["created"]),
            datetime.fromisoformat(h["retain_until"]),
            h["commit"],
            h["files"],
            h["bytes"],
            h["archive"]["size"],
            h["hash"],
            h["prev"],
        )

    def expired(self, now: datetime | None = None) -> bool:
        return (now or datetime.now(timezone.utc)) >= self.retain_until


@dataclass
class VerifyResult:
    """What :meth:`Vault.verify` found for one snapshot; ``ok`` when nothing at all differs."""

    id: str
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.changed or self.missing or self.added or self.problems)

    def lines(self) -> list[str]:
        if self.ok:
            return [f"{self.id}: ok"]
        return (
            [f"{self.id}: {p}" for p in self.problems]
            + [f"{self.id}: changed: {p}" for p in self.changed]
            + [f"{self.id}: missing: {p}" for p in self.missing]
            + [f"{self.id}: added: {p}" for p in self.added]
        )

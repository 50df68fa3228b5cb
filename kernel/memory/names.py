"""The memory format's vocabulary and folders, importable without pydantic (the CLI's choices and
the index's walk use them)."""
from __future__ import annotations

from pathlib import Path

TIERS = ("beta", "alpha", "delta")  # promoted tiers, one folder each
ALL_TIERS = ("gamma", *TIERS, "working")  # gamma = traces, working = Layer 1
KINDS = ("fact", "workflow", "lesson", "pattern", "soul")


def memory_folders(root: Path) -> list[Path]:
    """Every folder that can hold memory documents (tier folders, then project memory folders)."""
    folders = [root / "memory" / t for t in TIERS]
    projects = root / "projects"
    if projects.is_dir():
        folders += sorted(p / "memory" for p in projects.iterdir() if (p / "memory").is_dir())
    return [f for f in folders if f.is_dir()]

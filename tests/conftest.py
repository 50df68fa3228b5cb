"""Shared fixtures: every test works in a fresh OS root made by `llmos init`, never in the checkout."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from llmos.root import init_root


@pytest.fixture()
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh OS root (template, git repo, first commit); LLMOS_ROOT points at it."""
    r = init_root(tmp_path / "os")
    monkeypatch.setenv("LLMOS_ROOT", str(r))
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("LLMOS_MODEL", raising=False)
    return r


@pytest.fixture()
def script(tmp_path: Path):
    """Write a scripted-backend file from a list of replies; return its model spec."""
    counter = iter(range(1000))

    def make(*replies: dict, **top) -> str:
        path = tmp_path / f"script{next(counter)}.yaml"
        path.write_text(yaml.safe_dump({"replies": list(replies), **top}), encoding="utf-8")
        return f"scripted:{path}"

    return make

"""Shared fixtures: every test works in a fresh OS root made by `llmos init`, never in the checkout."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from llmos.root import init_root


def _give_tests_a_git_identity() -> None:
    """Some tests act as a person running `git commit`, which git refuses without an identity. On a
    machine with none configured, the tests get one through the environment (the kernel's own
    fallback identity is tested separately, with these variables removed)."""
    configured = all(
        subprocess.run(["git", "config", key], capture_output=True).returncode == 0
        for key in ("user.name", "user.email")
    )
    if not configured:
        for role in ("AUTHOR", "COMMITTER"):
            os.environ.setdefault(f"GIT_{role}_NAME", "llmos tests")
            os.environ.setdefault(f"GIT_{role}_EMAIL", "tests@llmos.invalid")


_give_tests_a_git_identity()


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

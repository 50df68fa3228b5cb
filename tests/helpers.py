"""Helpers shared by the tests (fixtures are in conftest.py)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def call(name: str, **args) -> dict:
    """One scripted reply that makes a single tool call."""
    return {"tool_calls": [{"name": name, "args": args}]}


def run_llmos(*args: str, root: Path | None = None, env: dict | None = None, timeout: float = 120,
              **kw) -> subprocess.CompletedProcess:
    """Run the real `llmos` console entry point in a subprocess."""
    full_env = {**os.environ, **(env or {})}
    if root is not None:
        full_env["LLMOS_ROOT"] = str(root)
    return subprocess.run([sys.executable, "-m", "llmos", *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout, **kw)


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout

"""Helpers shared by the tests (fixtures are in conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def call(name: str, **args) -> dict:
    """One scripted reply that makes a single tool call."""
    return {"tool_calls": [{"name": name, "args": args}]}


def run_llmos(
    *args: str, root: Path | None = None, env: dict | None = None, input: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    """Run the `llmos` console entry point (``llmos.cli.main``) in this process, with its own stdin,
    stdout, stderr and environment, as a person's shell would: exit code, one-line errors and all."""
    from click.testing import CliRunner

    from llmos.cli import main

    overrides = dict(env or {})
    if root is not None:
        overrides["LLMOS_ROOT"] = str(root)
    before = Path.cwd()
    with CliRunner().isolation(input=input, env=overrides) as (out, err, _):
        if cwd is not None:
            os.chdir(cwd)
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            os.chdir(before)
            sys.stdout.flush()
            sys.stderr.flush()
        stdout, stderr = out.getvalue().decode(), err.getvalue().decode()
    return subprocess.CompletedProcess(["llmos", *args], code, stdout, stderr)


def run_llmos_process(
    *args: str, root: Path | None = None, env: dict | None = None, timeout: float = 120, **kw
) -> subprocess.CompletedProcess:
    """Run the real `llmos` console entry point in a subprocess (the end-to-end tests)."""
    full_env = {**os.environ, **(env or {})}
    if root is not None:
        full_env["LLMOS_ROOT"] = str(root)
    return subprocess.run(
        [sys.executable, "-m", "llmos", *args], capture_output=True, text=True, env=full_env, timeout=timeout, **kw
    )


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout

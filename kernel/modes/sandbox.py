"""Verify a crystallized tool in a sandbox: a copy of the root, a subprocess, a timeout, limits.

The tool and its tests are checked statically first (syntax, import allowlist, forbidden names:
:func:`llmos.toolapi.check_source`), so a bad file is reported without running anything. Then
``python -m llmos.modes.sandbox_run`` runs every ``test_*`` function of ``test_NAME.py`` against a copy
of the root (without .git, .llmos and traces/), with reduced builtins, only the syscall API, no
inherited secrets in its environment, CPU/file-size/memory limits and a wall-clock timeout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..toolapi import ToolRejected, check_source
from .toolstate import paths

SKIP_AT_TOP = {".git", ".llmos", "traces"}
ENV_KEPT = ("PATH", "PYTHONPATH", "LANG", "LC_ALL", "SYSTEMROOT", "TMPDIR")


@dataclass
class Report:
    ok: bool
    text: str
    seconds: float


def static_check(root: Path, name: str) -> None:
    """Raise :class:`ToolRejected` if the tool or its tests are missing or fail the static check."""
    for p in paths(root, name)[:2]:
        if not p.is_file():
            raise ToolRejected(f"{p}: missing")
        check_source(p.read_text(encoding="utf-8"), str(p.relative_to(root)))


def copy_root(root: Path, dest: Path) -> Path:
    """Copy the root's files (not .git, .llmos, traces/) to ``dest``; symlinks stay links."""

    def ignore(folder: str, names: list[str]) -> set[str]:
        return SKIP_AT_TOP & set(names) if Path(folder) == root else set()

    shutil.copytree(root, dest, symlinks=True, ignore=ignore)
    return dest


def _limits(cpu_seconds: int) -> None:  # runs in the child before exec
    import resource

    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 20, 64 << 20))
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def verify(root: Path, name: str, agent: str, timeout: float = 30.0) -> Report:
    """Run the tool's tests in a sandbox; the report says what passed or what failed, and where."""
    started = time.monotonic()
    try:
        static_check(root, name)
    except ToolRejected as exc:
        return Report(False, f"rejected before running: {exc}", round(time.monotonic() - started, 3))
    with tempfile.TemporaryDirectory(prefix="llmos-sandbox-") as tmp:
        copy = copy_root(Path(root), Path(tmp) / "os")
        env = {k: os.environ[k] for k in ENV_KEPT if k in os.environ}
        env.update(HOME=str(copy), LLMOS_ROOT=str(copy), PYTHONDONTWRITEBYTECODE="1")
        cmd = [sys.executable, "-m", "llmos.modes.sandbox_run", str(copy), name, agent]
        try:
            proc = subprocess.run(
                cmd,
                cwd=copy,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
                preexec_fn=lambda: _limits(int(timeout) + 1),
            )
        except subprocess.TimeoutExpired:
            return Report(False, f"tests timed out after {timeout:g}s", round(time.monotonic() - started, 3))
    return _report(proc, round(time.monotonic() - started, 3))


def _report(proc: subprocess.CompletedProcess, seconds: float) -> Report:
    lines = proc.stdout.strip().splitlines()
    try:
        data = json.loads(lines[-1])
    except (IndexError, ValueError):
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return Report(False, f"sandbox exited {proc.returncode}: {' | '.join(tail) or 'no output'}", seconds)
    if data.get("error"):
        return Report(False, data["error"], seconds)
    failed = data.get("failed", [])
    if failed or not data.get("passed"):
        detail = "; ".join(f"{f['test']}: {f['error']}" for f in failed[:3]) or "no test_* function ran"
        return Report(
            False, f"{len(failed)} of {len(failed) + len(data.get('passed', []))} tests failed: {detail}", seconds
        )
    return Report(True, f"{len(data['passed'])} tests passed in the sandbox ({seconds:.2f}s)", seconds)

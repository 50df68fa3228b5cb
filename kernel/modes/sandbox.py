"""Verify a crystallized tool in a sandbox: a copy of the root, a subprocess, a timeout, limits.

The tool and its tests are checked statically first (syntax, import allowlist, forbidden names:
:func:`llmos.toolapi.check_source`), a lint that reports a bad file without running anything; it is
not the boundary. Then :mod:`llmos.modes.tool_runner` runs every ``test_*`` function of
``test_NAME.py`` in the jail (:mod:`llmos.modes.jail`: bubblewrap, no network, no host files, no
environment, rlimits, a timeout); each syscall a test makes comes back to the kernel and runs against
a copy of the root (without .git, .llmos and traces/).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..procs import temp_prefix
from ..toolapi import ToolRejected, check_source
from .toolstate import paths

SKIP_AT_TOP = {".git", ".llmos", "traces"}


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


def verify(root: Path, name: str, agent: str, timeout: float = 30.0, *, unsandboxed: bool = False) -> Report:
    """Run the tool's tests in the jail; the report says what passed or what failed, and where."""
    from ..syscalls import Context, SyscallTable
    from .jail import SandboxUnavailable, run_tool_process

    started = time.monotonic()
    try:
        static_check(root, name)
    except ToolRejected as exc:
        return Report(False, f"rejected before running: {exc}", round(time.monotonic() - started, 3))
    table = SyscallTable.default()
    with tempfile.TemporaryDirectory(prefix=temp_prefix("sandbox")) as tmp:
        copy = copy_root(Path(root), Path(tmp) / "os")
        tool, tests, _ = paths(copy, name)
        ctx = [Context(copy, agent, run_id=f"verify-{name}")]

        def dispatch(tool_name: str, args: dict) -> tuple[bool, str]:
            if tool_name == "__test__":  # each test starts with a fresh context over the copy
                ctx[0] = Context(copy, agent, run_id=f"verify-{name}")
                return True, ""
            out = table.call(ctx[0], tool_name, args)
            return out.ok, out.output

        request = {"mode": "verify", "tool": str(tool), "tests": str(tests), "tests_name": f"crystallized/{tests.name}"}
        try:
            done = run_tool_process(
                request, dispatch, readable=[tool, tests], root=Path(root), timeout=timeout, unsandboxed=unsandboxed
            )
        except SandboxUnavailable as exc:
            return Report(False, f"not verified: {exc}", round(time.monotonic() - started, 3))
    return _report(done, round(time.monotonic() - started, 3))


def _report(data: dict, seconds: float) -> Report:
    if data.get("error"):
        return Report(False, data["error"], seconds)
    failed = data.get("failed", [])
    if failed or not data.get("passed"):
        detail = "; ".join(f"{f['test']}: {f['error']}" for f in failed[:3]) or "no test_* function ran"
        return Report(
            False, f"{len(failed)} of {len(failed) + len(data.get('passed', []))} tests failed: {detail}", seconds
        )
    return Report(True, f"{len(data['passed'])} tests passed in the sandbox ({seconds:.2f}s)", seconds)

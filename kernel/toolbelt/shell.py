"""``bash`` (Claude Code's ``Bash``): one command line in the sandbox of :mod:`llmos.modes.jail`.

The OS root is mounted read-only with ``projects/`` writable (a project's ``memory/`` stays read-only),
``.git`` and ``.llmos`` hidden behind empty folders, a private /tmp, no network unless
``shell.network_agents`` names the agent, rlimits and a timeout. ``llmos halt`` kills the command (the
kill switch is polled every 0.2 s). Output beyond ``shell.inline_chars`` is stored whole as a blob, and
files the command wrote are named in the run's ``written`` set, so the run's commit takes them.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from ..modes.jail import ENV, SandboxUnavailable, bwrap_path, command, start
from ..plugins import hookimpl
from ..syscalls import Context, Outcome, syscall
from ..syscalls.hooks import Refused, control_path
from .config import ShellConfig

HIDDEN = (".git", ".llmos")  # kernel-private folders of the root, masked by empty ones in the sandbox
SCRIPT = 'cd -- "$0" && exec /bin/bash -c "$1"'


def settings(ctx: Context) -> ShellConfig:
    config = ctx.config
    return getattr(config, "shell", None) or ShellConfig()


def sandboxed_argv(root: Path, cwd: Path, line: str, *, network: bool, unsandboxed: bool) -> list[str]:
    """The command line as bubblewrap runs it (or, when allowed without bwrap, as it is)."""
    argv = ["/bin/bash", "-c", SCRIPT, str(cwd), line]
    projects = root / "projects"
    writable = [projects] if projects.is_dir() and not projects.is_symlink() else []
    frozen = [(str(m), str(m)) for m in sorted(projects.glob("*/memory")) if m.is_dir()] if writable else []
    out = command(argv, readable=[root], writable=writable, network=network, unsandboxed=unsandboxed, mounts=frozen)
    if out is argv:
        return argv
    at = out.index("--chdir")
    masks = [x for h in HIDDEN if (root / h).is_dir() for x in ("--tmpfs", str(root / h))]
    return out[:at] + masks + out[at:]


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """``{path: (mtime_ns, size)}`` of the files under ``folder`` (what a command may have changed)."""
    found = {}
    for dirpath, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d.lower() != ".git"]
        for f in files:
            p = os.path.join(dirpath, f)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            found[p] = (st.st_mtime_ns, st.st_size)
    return found


def run(argv: list[str], root: Path, timeout: float, env: dict[str, str] | None) -> tuple[int | None, bytes, bytes]:
    """Run ``argv``, polling the kill switch; ``(exit code or None on timeout, stdout, stderr)``."""
    from ..halt import check_halt

    proc = start(argv, env, timeout, stdin=subprocess.DEVNULL)
    out, err, deadline = bytearray(), bytearray(), time.monotonic() + timeout
    streams = {proc.stdout.fileno(): out, proc.stderr.fileno(): err}
    try:
        while streams:
            check_halt(root)
            if time.monotonic() > deadline:
                return None, bytes(out), bytes(err)
            for fd in select.select(list(streams), [], [], 0.2)[0]:
                chunk = os.read(fd, 1 << 16)
                if chunk:
                    streams[fd] += chunk
                else:
                    del streams[fd]
        return proc.wait(), bytes(out), bytes(err)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def _shown(name: str, data: bytes, limit: int, root: Path) -> str:
    text = data.decode("utf-8", "replace")
    if len(text) <= limit:
        return text
    from ..blobs import BlobStore
    from ..scrub import scrub

    with BlobStore.open(root / ".llmos" / "blobs") as store:
        bid = store.put(scrub(text), "tool_io")
    head, tail = text[: limit // 2], text[-limit // 2 :]
    return f"{head}\n[... {len(text) - len(head) - len(tail)} characters of {name} cut; all of it: blob:{bid}]\n{tail}"


@syscall
def bash(ctx: Context, command: str, cwd: str = ".", timeout_s: float = 0) -> Outcome:
    """Run a bash command line in the sandbox: the OS root read-only except projects/, no network, a private /tmp.

    Args:
        command: the command line, e.g. cd projects/demo && python -m pytest -q
        cwd: folder to start in, relative to the OS root (the root or a folder under projects/)
        timeout_s: wall-clock limit in seconds (0: the configured default)
    """
    cfg = settings(ctx)
    root, start = ctx.path("."), ctx.path(cwd or ".")
    if not start.is_dir():
        return Outcome(False, f"no such folder: {cwd}")
    timeout = min(timeout_s or cfg.timeout_s, cfg.max_timeout_s)
    network = ctx.agent in cfg.network_agents
    try:
        argv = sandboxed_argv(root, start, command, network=network, unsandboxed=cfg.unsandboxed)
    except SandboxUnavailable as exc:
        raise Refused(f"{exc} ({exc.hint})") from None
    env = None if bwrap_path() is not None else {**ENV, "HOME": "/tmp"}
    projects = root / "projects"
    before = snapshot(projects) if projects.is_dir() else {}
    code, out, err = run(argv, root, timeout, env)
    _note_written(ctx, root, before, snapshot(projects) if projects.is_dir() else {})
    parts = [_shown("stdout", out, cfg.inline_chars, root).rstrip("\n")]
    if err:
        parts.append("[stderr]\n" + _shown("stderr", err, cfg.inline_chars, root))
    body = "\n".join(p for p in parts if p).rstrip() or "(no output)"
    if code is None:
        return Outcome(False, f"timed out after {timeout:g} s (the command was killed)\n{body}")
    return Outcome(code == 0, f"exit {code}\n{body}")


def _note_written(ctx: Context, root: Path, before: dict, after: dict) -> None:
    """Name every file the command created, changed or deleted, so the run's commit takes it."""
    for path in sorted(set(before) | set(after)):
        if before.get(path) != after.get(path):
            rel = os.path.relpath(path, root)
            if not control_path(rel):
                ctx.written.add(rel)


@hookimpl
def register_syscalls(register: Any) -> None:
    """This family's syscalls, through the same door as any plugin's."""
    register(bash)

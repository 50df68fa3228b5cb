"""The one sandbox for code an agent's work causes to run (crystallized tools; later the shell tool).

A separate process under bubblewrap (``bwrap``): new user, pid, ipc, uts, cgroup and network
namespaces (no network), nothing of the host file system but the system libraries, the Python
installation and llmos itself, all read-only, plus what the call names (read-only or writable); a
private /tmp; an environment of PATH, LANG and HOME=/tmp only; rlimits on CPU, memory, file size and
processes; a wall-clock timeout; and the process dies with the kernel. ``llmos halt`` kills it (the
caller polls the kill switch while it waits).

Without bwrap nothing runs unless ``crystallize.unsandboxed: true`` (then the same child runs as a
plain process with the same environment and limits, and ``llmos check`` warns).
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

from ..errors import LlmosError

INSTALL = (
    "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap), "
    "or accept the risk with crystallize.unsandboxed: true in system/llmos.yaml"
)
SYSTEM_DIRS = (
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/etc/alternatives",
    "/etc/ld.so.cache",
    "/etc/ssl/certs",
    "/etc/localtime",
)
ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp", "PYTHONDONTWRITEBYTECODE": "1"}


class SandboxUnavailable(LlmosError):
    """bubblewrap is missing (or cannot start here) and the config does not allow running without it."""


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


PACKAGE_MOUNT = "/opt/llmos-jail"  # where llmos itself is bound in the jail, for a -S interpreter
# The tool runner's interpreter starts with -I -S (no site-packages, no .pth files: ~10 ms, not ~70 ms)
# and finds llmos at PACKAGE_MOUNT; the runner and toolapi use the standard library only.
RUNNER = f"import sys; sys.path.insert(0, {PACKAGE_MOUNT!r}); from llmos.modes.tool_runner import main; main()"


def package_dir() -> str:
    return str(Path(__file__).resolve().parents[1])  # llmos itself, installed or an editable checkout


def python_dirs() -> list[str]:
    """What the child's interpreter needs to read: the installation and every import path in use
    (site-packages, an editable checkout of llmos), and nothing else of the host."""
    dirs = {sys.base_prefix, sys.prefix, package_dir()}
    dirs.update(p for p in sys.path if p and os.path.isdir(p) and not p.startswith(os.getcwd()))
    return sorted(d for d in dirs if os.path.isdir(d))


def command(
    argv: list[str],
    *,
    readable: list[Path] = (),
    writable: list[Path] = (),
    network: bool = False,
    unsandboxed: bool = False,
    mounts: list[tuple[str, str]] = (),
) -> list[str]:
    """``argv`` wrapped in bubblewrap (or, if allowed, as it is); raise :class:`SandboxUnavailable`."""
    bwrap = bwrap_path()
    if bwrap is None:
        if unsandboxed:
            return argv
        raise SandboxUnavailable(
            "code an agent causes to run needs a sandbox, and bubblewrap (bwrap) is not installed", hint=INSTALL
        )
    out = [
        bwrap,
        "--die-with-parent",
        "--new-session",
        "--unshare-user",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--clearenv",
    ]
    if not network:
        out.append("--unshare-net")
    for key, value in ENV.items():
        out += ["--setenv", key, value]
    out += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]  # first: what follows may lie under /tmp
    for d in SYSTEM_DIRS:
        out += ["--ro-bind-try", d, d]
    for d in python_dirs():
        out += ["--ro-bind", d, d]
    for p in readable:
        out += ["--ro-bind", str(p), str(p)]
    for p in writable:
        out += ["--bind", str(p), str(p)]
    for source, target in mounts:  # read-only, at another path
        out += ["--ro-bind", source, target]
    return out + ["--chdir", "/tmp", "--"] + argv


def start(argv: list[str], env: dict[str, str] | None, timeout: float, *, stdin: int) -> subprocess.Popen:
    """Start a jailed (or, where allowed, unsandboxed) command: its own session (a kill reaches the
    whole group), cwd /tmp, and the resource limits of :func:`limits` with a CPU bound past ``timeout``."""
    return subprocess.Popen(
        argv,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd="/tmp",
        preexec_fn=lambda: limits(int(timeout) + 1),
        start_new_session=True,
    )


def limits(cpu_seconds: int, memory_bytes: int = 2 << 30, file_bytes: int = 64 << 20, processes: int = 256) -> None:
    """rlimits for the child (a ``preexec_fn``): CPU, address space, file size, processes."""
    import resource

    for what, value in (
        (resource.RLIMIT_CPU, cpu_seconds),
        (resource.RLIMIT_AS, memory_bytes),
        (resource.RLIMIT_FSIZE, file_bytes),
        (resource.RLIMIT_NPROC, processes),
    ):
        try:
            resource.setrlimit(what, (value, value))
        except (ValueError, OSError):
            pass


def run_tool_process(
    request: dict[str, Any],
    dispatch: Callable[[str, dict[str, Any]], tuple[bool, str]],
    *,
    readable: list[Path],
    root: Path,
    timeout: float,
    unsandboxed: bool = False,
) -> dict[str, Any]:
    """Run :mod:`llmos.modes.tool_runner` in the jail with ``request``; serve its syscalls with
    ``dispatch`` (which may raise an :class:`LlmosError` such as ``Halted``: the child is killed and the
    error goes on). Returns its ``done`` object, or ``{"ok": False, "error": ...}`` when it timed out,
    was killed or died. The kill switch of ``root`` is checked every 0.2 s while waiting."""
    from ..halt import check_halt

    if bwrap_path() is not None:
        mount = (package_dir(), f"{PACKAGE_MOUNT}/llmos")
        python = os.path.realpath(sys.executable)  # the base interpreter: a -S run needs no virtualenv
        argv = command([python, "-I", "-S", "-c", RUNNER], readable=readable, mounts=[mount])
        env = None
    else:
        argv = command([sys.executable, "-P", "-m", "llmos.modes.tool_runner"], unsandboxed=unsandboxed)
        env = dict(ENV)
    proc = start(argv, env, timeout, stdin=subprocess.PIPE)
    deadline, buffer = time.monotonic() + timeout, b""
    try:
        _send(proc, request)
        while True:
            check_halt(root)
            if time.monotonic() > deadline:
                return {"ok": False, "error": f"timed out after {timeout:g} s: the tool process was stopped"}
            if not select.select([proc.stdout], [], [], 0.2)[0]:
                continue
            chunk = os.read(proc.stdout.fileno(), 1 << 16)
            if not chunk:
                proc.wait(timeout=5)
                tail = (proc.stderr.read() or b"").decode("utf-8", "replace").strip().splitlines()[-1:]
                return {"ok": False, "error": f"the tool process exited ({proc.returncode}) {' '.join(tail)}".strip()}
            buffer += chunk
            while b"\n" in buffer:
                line, _, buffer = buffer.partition(b"\n")
                message = json.loads(line)
                if "done" in message:
                    return message["done"]
                ok, output = dispatch(message["call"], message.get("args") or {})
                _send(proc, {"ok": ok, "output": output})
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            stream.close()


def _send(proc: subprocess.Popen, message: dict[str, Any]) -> None:
    try:
        proc.stdin.write((json.dumps(message) + "\n").encode("utf-8"))
        proc.stdin.flush()
    except (BrokenPipeError, OSError):
        pass  # the child is gone: the read loop reports how it ended

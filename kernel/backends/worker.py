"""The kernel's side of the local model's worker process (:mod:`.llama_worker`).

One worker per model and settings, started on first use, reused by every call and run in this
process, stopped at exit. Whatever happens to it, a native crash, a hang past ``local.timeout_s`` or
an out-of-memory kill, the kernel survives and raises a :class:`~llmos.errors.ModelWorkerError`
whose one line says what happened and what to do; the run then ends with outcome ``failure``.

llama.cpp's extra buffer types (AMX tiles, repacked weights) are the part of it most tied to the
CPU: ``local.extra_buffers: auto`` leaves them off where the CPU lists AMX but the OS does not grant
it, and after a worker crash with them on, restarts the worker once without them, retries the call
and remembers that for this machine in ``~/.cache/llmos/local-safe.json``.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from ..atomic import atomic_write
from ..errors import ModelWorkerError
from . import cpu

DOCTOR = "run `llmos doctor` to see this CPU's features and llama.cpp's build flags"
REBUILD = (
    'rebuild it for any CPU: pip cache remove llama_cpp_python; CMAKE_ARGS="-DGGML_NATIVE=OFF" '
    "pip install --force-reinstall --no-deps llama-cpp-python"
)
CRASHES = {
    signal.SIGSEGV: "a segmentation fault",
    signal.SIGBUS: "a bus error",
    signal.SIGFPE: "a floating-point fault",
    signal.SIGABRT: "an abort",
    signal.SIGILL: "an illegal instruction",
}


def cache_dir() -> Path:
    return Path(os.environ.get("LLMOS_CACHE", Path.home() / ".cache" / "llmos"))


@dataclass(frozen=True)
class WorkerSpec:
    path: str
    n_ctx: int
    threads: int | None
    extra_buffers: bool
    timeout_s: float
    load_timeout_s: float = 180.0


class WorkerDied(Exception):
    """The worker is gone (or was stopped after a hang); ``crash`` is True for a native crash."""

    def __init__(self, message: str, *, crash: bool, hint: str = DOCTOR):
        super().__init__(message)
        self.message, self.crash, self.hint = message, crash, hint


class LlamaWorker:
    """One worker process and its pipes. Not thread-safe: :class:`LocalModel` serializes calls."""

    def __init__(self, spec: WorkerSpec):
        self.spec = spec
        self.stderr = tempfile.TemporaryFile()
        self.buffer = b""
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-P", "-m", "llmos.backends.llama_worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self.stderr,
                env={**os.environ, "PYTHONFAULTHANDLER": "1"},
                start_new_session=True,
            )
        except OSError as exc:
            raise ModelWorkerError(f"the local model worker cannot start: {exc}", hint=DOCTOR) from None
        try:
            self.info = self.request(
                "load",
                spec.load_timeout_s,
                path=spec.path,
                n_ctx=spec.n_ctx,
                threads=spec.threads,
                extra_buffers=spec.extra_buffers,
            )
        except ModelWorkerError:
            self.stop()
            raise

    @property
    def pid(self) -> int:
        return self.proc.pid

    def request(self, op: str, timeout: float, **fields: Any) -> dict[str, Any]:
        """Send one request, wait for its reply; a refusal is a ModelWorkerError, a death WorkerDied."""
        try:
            self.proc.stdin.write((json.dumps({"op": op, **fields}) + "\n").encode("utf-8"))
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._died(op) from None
        reply = json.loads(self._read_line(op, timeout))
        if not reply.get("ok"):
            raise ModelWorkerError(reply.get("error") or "the model worker refused the request", hint=reply.get("hint"))
        return reply

    def _read_line(self, op: str, timeout: float) -> bytes:
        deadline, fd = time.monotonic() + timeout, self.proc.stdout.fileno()
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop()
                raise WorkerDied(
                    f"the local model did not answer {op!r} within {timeout:g} s; its worker was stopped",
                    crash=False,
                    hint="raise local.timeout_s in system/llmos.yaml, or use a smaller model or a shorter max_tokens",
                )
            if select.select([fd], [], [], min(left, 1.0))[0]:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    raise self._died(op)
                self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line

    def _died(self, op: str) -> WorkerDied:
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.stop()
            code = self.proc.returncode
        last = self._last_stderr_line()
        if code is not None and code < 0:
            sig = signal.Signals(-code)
            if sig == signal.SIGKILL:
                return WorkerDied(
                    f"the local model worker was killed (SIGKILL) during {op!r}; the usual cause is "
                    "running out of memory",
                    crash=False,
                    hint="free memory, lower local.n_ctx, or use a smaller model",
                )
            what = CRASHES.get(sig, sig.name)
            hint = REBUILD if sig == signal.SIGILL else DOCTOR
            return WorkerDied(
                f"the local model crashed in llama.cpp ({sig.name}: {what}) during {op!r}; the kernel is unharmed",
                crash=True,
                hint=hint,
            )
        detail = f": {last}" if last else ""
        return WorkerDied(f"the local model worker exited with status {code} during {op!r}{detail}", crash=False)

    def _last_stderr_line(self) -> str:
        self.stderr.seek(0, os.SEEK_END)
        size = self.stderr.tell()
        self.stderr.seek(max(0, size - 4096))
        lines = [ln.strip() for ln in self.stderr.read().decode("utf-8", "replace").splitlines() if ln.strip()]
        return lines[-1][:300] if lines else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()


def _machine_key() -> str:
    info = cpu.cpu_info()
    try:
        version = metadata.version("llama-cpp-python")
    except metadata.PackageNotFoundError:
        version = "?"
    return f"{info.machine}|{info.model}|llama-cpp-python {version}"


def _safe_file() -> Path:
    return cache_dir() / "local-safe.json"


def known_unsafe() -> bool:
    """Whether a worker crashed here before with extra buffers on."""
    try:
        return bool(json.loads(_safe_file().read_text()).get(_machine_key()))
    except (OSError, ValueError, AttributeError):
        return False


def remember_unsafe(reason: str) -> None:
    path = _safe_file()
    try:
        seen = json.loads(path.read_text()) if path.is_file() else {}
    except ValueError:
        seen = {}
    seen[_machine_key()] = reason
    atomic_write(path, json.dumps(seen, indent=2) + "\n", durable=False)


def extra_buffers(setting: str) -> bool:
    """``on``/``off`` as said; ``auto``: on unless AMX is listed but not granted, or a crash was seen."""
    if setting in ("on", "off"):
        return setting == "on"
    info = cpu.cpu_info()
    if info.lists_amx and cpu.amx_granted() is not True:
        return False
    return not known_unsafe()


class LocalModel:
    """A model served by a worker: serialized calls, one restart without extra buffers after a crash."""

    def __init__(self, spec: WorkerSpec, setting: str = "auto"):
        self.spec, self.setting = spec, setting
        self.lock = threading.Lock()
        self.worker: LlamaWorker | None = None
        self.note: str | None = None  # what the crash policy did, for doctor and the log

    def _worker(self) -> LlamaWorker:
        if self.worker is None or self.worker.proc.poll() is not None:
            self.worker = LlamaWorker(self.spec)
        return self.worker

    def call(self, op: str, **fields: Any) -> dict[str, Any]:
        with self.lock:
            try:
                return self._call(op, fields)
            except WorkerDied as first:
                self.worker = None
                if not (first.crash and self.spec.extra_buffers and self.setting == "auto"):
                    raise ModelWorkerError(first.message, hint=first.hint) from None
                remember_unsafe(first.message)
                self.spec = WorkerSpec(**{**self.spec.__dict__, "extra_buffers": False})
                self.note = "restarted without llama.cpp's extra buffer types after a crash"
                print(f"llmos: {first.message}; retrying without extra buffer types (AMX/repack)", file=sys.stderr)
                try:
                    return self._call(op, fields)
                except WorkerDied as second:
                    self.worker = None
                    raise ModelWorkerError(second.message, hint=second.hint) from None

    def _call(self, op: str, fields: dict[str, Any]) -> dict[str, Any]:
        worker = self._worker()
        return worker.request(op, self.spec.timeout_s, **fields)

    @property
    def pid(self) -> int | None:
        return self.worker.pid if self.worker is not None and self.worker.proc.poll() is None else None

    def stop(self) -> None:
        with self.lock:
            if self.worker is not None:
                self.worker.stop()
                self.worker = None


_MODELS: dict[tuple[Any, ...], LocalModel] = {}
_MODELS_LOCK = threading.Lock()


def local_model(path: Path, n_ctx: int, threads: int | None, setting: str, timeout_s: float) -> LocalModel:
    """The process's worker-backed model for these settings (started on first call)."""
    key = (str(path), n_ctx, threads, setting, timeout_s)
    with _MODELS_LOCK:
        if not _MODELS:
            atexit.register(stop_all)
        if key not in _MODELS:
            spec = WorkerSpec(str(path), n_ctx, threads, extra_buffers(setting), timeout_s)
            _MODELS[key] = LocalModel(spec, setting)
        return _MODELS[key]


def stop_all() -> None:
    with _MODELS_LOCK:
        while _MODELS:
            _MODELS.popitem()[1].stop()


def probe_info(timeout_s: float = 60.0) -> dict[str, Any]:
    """llama-cpp-python's version and llama.cpp's build features, from a short-lived worker (no model)."""
    proc = subprocess.run(
        [sys.executable, "-P", "-m", "llmos.backends.llama_worker"],
        input=json.dumps({"op": "info"}) + "\n",
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    if proc.returncode != 0 or not proc.stdout.strip():
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"ok": False, "error": f"worker exited with status {proc.returncode}: {tail}"}
    return json.loads(proc.stdout.splitlines()[0])

"""``llmos doctor``: can this machine run the local model? CPU features, the llama.cpp build, and a
one-token generation in the model worker, each as a line a person can act on."""

from __future__ import annotations

import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import BackendError


@dataclass
class Report:
    lines: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    def add(self, key: str, text: str, **facts: Any) -> None:
        self.lines.append((key, text))
        self.facts.update(facts)

    @property
    def ok(self) -> bool:
        return not self.problems


def _cpu(report: Report) -> Any:
    from .backends import cpu

    info = cpu.cpu_info()
    granted = cpu.amx_granted()
    amx = (
        "not listed"
        if not info.lists_amx
        else {
            True: "listed and granted by the OS",
            False: "listed but NOT granted by the OS",
            None: "listed (OS grant unknown)",
        }[granted]
    )
    report.add(
        "cpu",
        f"{info.model} ({info.machine}); {' '.join(info.notable) or 'no notable flags'}; AMX {amx}",
        cpu={"model": info.model, "machine": info.machine, "flags": info.notable, "amx": amx},
    )
    return info


def _build(report: Report, info: Any) -> None:
    from .backends import cpu
    from .backends.worker import probe_info

    try:
        probe = probe_info()
    except Exception as exc:  # a hung or unstartable worker is what doctor is for  # noqa: BLE001
        probe = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    if not probe.get("ok"):
        report.problems.append(f"llama-cpp-python does not load: {probe.get('error')} ({probe.get('hint') or ''})")
        report.add("llama.cpp", "cannot be loaded", llama_cpp=probe)
        return
    features = cpu.build_features(probe["system_info"])
    missing = cpu.missing_for_build(features, info)
    report.add(
        "llama.cpp",
        f"llama-cpp-python {probe['version']}; built with {' '.join(sorted(features)) or '?'}",
        llama_cpp={"version": probe["version"], "features": sorted(features), "missing": missing},
    )
    if missing:
        report.problems.append(
            f"llama.cpp was built for another CPU: this one lacks {', '.join(missing)} "
            '(rebuild: pip cache remove llama_cpp_python; CMAKE_ARGS="-DGGML_NATIVE=OFF" '
            "pip install --force-reinstall --no-deps llama-cpp-python)"
        )


def _generate(report: Report, backend: Any) -> None:
    started = time.monotonic()
    try:
        n = backend.llm.call("tokenize", text="Hello")["n"]
        out = backend.llm.call(
            "complete", prompt="Hello", grammar=None, max_tokens=1, temperature=0.0, seed=0, repeat_penalty=1.0
        )
    except BackendError as exc:
        report.problems.append(str(exc))
        report.add("generate", "FAILED")
        return
    seconds = time.monotonic() - started
    report.add(
        "generate",
        f"{out['completion_tokens']} token after a {n}-token prompt in {seconds:.2f} s: ok",
        generate={"seconds": round(seconds, 3), "tokens": out["completion_tokens"]},
    )


def diagnose(root: Path | None = None, model: str | None = None) -> Report:
    """Run every check; never raise for what it finds (it is listed in ``problems``)."""
    from .backends.local import LocalBackend
    from .config import Config, load_config

    report = Report()
    report.add("python", f"{sys.version.split()[0]} on {platform.system()} {platform.machine()}")
    info = _cpu(report)
    _build(report, info)
    config = load_config(root) if root is not None else Config()
    arg = model.partition(":")[2] or None if model else None
    started = time.monotonic()
    try:
        backend = LocalBackend(arg, config=config, root=root)
        backend.llm.call("tokenize", text="")  # starts the worker and loads the model
    except BackendError as exc:
        report.problems.append(str(exc))
        report.add("model", "FAILED")
        return report
    gguf = backend.gguf
    report.add(
        "model",
        f"{gguf.path} ({gguf.size / 2**20:.0f} MiB, GGUF v{gguf.version}, {gguf.tensors} tensors, "
        f"{gguf.architecture or '?'})",
        model=str(gguf.path),
    )
    spec = backend.llm.spec
    report.add(
        "worker",
        f"pid {backend.llm.pid}, loaded in {time.monotonic() - started:.2f} s; extra buffer types "
        f"(AMX/repack) {'on' if spec.extra_buffers else 'off'} (local.extra_buffers: {backend.llm.setting})",
        extra_buffers=spec.extra_buffers,
    )
    _generate(report, backend)
    if backend.llm.note:
        report.add("note", backend.llm.note)
    return report

"""llmos: a file-based, Markdown agent operating system interpreted by an LLM.

The kernel is a library; ``llmos.cli`` is a thin client over it. What a library user needs::

    from llmos import Kernel
    result = Kernel.open("~/myos").run("Write a haiku into projects/demo/haiku.md", model="scripted:r.yaml")
    result.outcome, result.trace_path, result.commit

    from llmos import hookimpl, syscall, Context, Outcome   # a plugin (see llmos.plugins)

Names load on first use, so ``import llmos`` stays cheap for the CLI.
"""

from __future__ import annotations

# Imported by every module of the package, and in every tool's jail: it imports nothing at all.

__version__ = "0.1.0"

_EXPORTS = {
    "Kernel": "llmos.kernel",
    "RunResult": "llmos.kernel",
    "Backend": "llmos.backends",
    "Reply": "llmos.backends",
    "ToolCall": "llmos.backends",
    "Usage": "llmos.backends",
    "syscall": "llmos.syscalls",
    "Context": "llmos.syscalls",
    "Outcome": "llmos.syscalls",
    "hookimpl": "llmos.plugins",
    "LlmosError": "llmos.errors",
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> object:
    if name in _EXPORTS:
        from importlib import import_module

        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'llmos' has no attribute {name!r}")

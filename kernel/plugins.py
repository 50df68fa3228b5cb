"""The one door: syscalls, syscall hooks, backends and CLI commands all register through it.

A plugin is a module with functions marked ``@hookimpl`` named after the hooks below. Built-ins are
plugins like any other, listed in :data:`BUILTIN`; a third-party package adds its module to the
``llmos`` entry-point group (``[project.entry-points.llmos] NAME = "package.module"``)::

    from llmos import hookimpl

    @hookimpl
    def register_syscalls(register):
        register(shout)                      # a typed, documented function; see llmos.syscalls

    @hookimpl
    def register_backends(register):
        register("echo", "mypkg.echo:EchoBackend")   # a class or "module:attr", imported on use

    @hookimpl
    def register_commands(cli):
        cli.add_command(my_click_command)

Built-in modules are imported only when a hook they implement is first called, so ``llmos --help``
does not import the syscall families. This module imports no other llmos module: it is the ground
floor every layer may call (it imports only ``atomic`` and ``errors``, its neighbours there).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from importlib import import_module
from pathlib import Path
from typing import Any

import pluggy

from .atomic import atomic_write

hookspec = pluggy.HookspecMarker("llmos")
hookimpl = pluggy.HookimplMarker("llmos")

# Built-in plugins, by the hook they implement (a module may appear under several).
BUILTIN: dict[str, tuple[str, ...]] = {
    "register_syscalls": (
        "llmos.syscalls.files",
        "llmos.syscalls.guard",
        "llmos.syscalls.edit",
        "llmos.syscalls.search",
        "llmos.syscalls.todo",
        "llmos.toolbelt.shell",
        "llmos.toolbelt.web",
        "llmos.memory.syscalls",
        "llmos.team.syscalls",
    ),
    "register_hooks": ("llmos.syscalls.hooks",),
    "register_backends": ("llmos.backends.builtin",),
    "register_commands": ("llmos.cli.builtin",),
}
ENTRY_POINTS = "llmos"


class Specs:
    """The hooks a plugin may implement."""

    @hookspec
    def register_syscalls(self, register: Any) -> None:
        """Call ``register(fn, name=None)`` for each syscall function."""

    @hookspec
    def register_hooks(self, register: Any) -> None:
        """Call ``register(hook)`` for each check every syscall passes (``hook(ctx, name, args)``)."""

    @hookspec
    def register_backends(self, register: Any) -> None:
        """Call ``register(kind, factory)``: ``factory(arg, config=..., root=...)`` or ``"module:attr"``."""

    @hookspec
    def register_commands(self, cli: Any) -> None:
        """Add click commands or groups to ``cli``."""


_LOCK = threading.RLock()
_STATE: dict[str, Any] = {}


def manager() -> pluggy.PluginManager:
    """The process's plugin manager, with the installed third-party plugins loaded."""
    with _LOCK:
        if "pm" not in _STATE:
            pm = pluggy.PluginManager("llmos")
            pm.add_hookspecs(Specs)
            for name, value in installed():
                module, _, attr = value.partition(":")
                try:
                    plugin = import_module(module)
                    pm.register(getattr(plugin, attr) if attr else plugin, name)
                except (ImportError, AttributeError, ValueError) as exc:
                    from .errors import PluginError

                    raise PluginError(
                        f"the llmos plugin {name!r} ({value}) cannot be loaded: {type(exc).__name__}: {exc}",
                        hint="reinstall or uninstall the package that provides it",
                    ) from None
            _STATE["pm"], _STATE["loaded"] = pm, set()
        return _STATE["pm"]


def _path_key() -> list[list[Any]]:
    """What the installed set depends on: every import folder and its mtime (pip adds and removes
    ``*.dist-info`` folders there, which moves it)."""
    key = []
    for folder in sys.path:
        try:
            key.append([folder, os.stat(folder or ".").st_mtime_ns])
        except OSError:
            key.append([folder, None])
    return key


def installed() -> list[tuple[str, str]]:
    """``(name, "module[:attr]")`` of every ``llmos`` entry point installed. Scanning every
    distribution costs ~50 ms with a hundred packages, so the list is cached in
    ``~/.cache/llmos/entry-points.json`` (``$LLMOS_CACHE``) under the import folders' mtimes."""
    cache = Path(os.environ.get("LLMOS_CACHE", Path.home() / ".cache" / "llmos")) / "entry-points.json"
    key = _path_key()
    try:
        data = json.loads(cache.read_text())
        if data.get("key") == key:
            return [tuple(ep) for ep in data["entry_points"]]
    except (OSError, ValueError, AttributeError, TypeError):
        pass
    from importlib.metadata import entry_points

    found = sorted({(ep.name, ep.value) for ep in entry_points(group=ENTRY_POINTS)})
    try:
        atomic_write(cache, json.dumps({"key": key, "entry_points": found}), durable=False)
    except OSError:
        pass  # a read-only home: scan every time
    return found


def call(hook: str, **kwargs: Any) -> list[Any]:
    """Call ``hook`` on every plugin that implements it, importing the built-ins for it first.
    Built-ins run first, then third-party plugins in the order they were installed."""
    pm = manager()
    with _LOCK:
        for name in BUILTIN.get(hook, ()):
            if name not in _STATE["loaded"]:
                pm.register(import_module(name), name)
                _STATE["loaded"].add(name)
    return getattr(pm.hook, hook)(**kwargs)

"""What a crystallized tool may use: the syscall API (:class:`Api`) and an allowlist of imports.

A tool file is checked before it is ever run: it must parse, import only from :data:`ALLOWED_IMPORTS`,
and avoid the names and attributes that reach past the API (``open``, ``eval``, ``__class__``...).
It is then executed with a reduced set of builtins, so the check is not the only wall. Every action
goes through :class:`Api`, i.e. through the syscall table and its hooks (kill switch, allowlist,
path confinement), so a tool can do nothing an agent could not.
"""

from __future__ import annotations

import ast
import builtins

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs a tool's jail ~20 ms

if TYPE_CHECKING:  # this module runs in every tool's jail: it imports nothing it does not use
    from pathlib import Path
    from typing import Any, Callable

ALLOWED_IMPORTS = frozenset({"llmos.toolapi", "re", "json", "math", "datetime", "textwrap", "string"})
FORBIDDEN_NAMES = frozenset(
    {
        "open",
        "exec",
        "eval",
        "compile",
        "__import__",
        "globals",
        "locals",
        "vars",
        "getattr",
        "setattr",
        "delattr",
        "breakpoint",
        "input",
        "help",
        "exit",
        "quit",
        "memoryview",
        "type",
        "object",
        "super",
        "classmethod",
        "staticmethod",
        "property",
    }
)
FORBIDDEN_ATTRS = frozenset({"format", "format_map", "mro", "gi_frame", "f_globals", "f_back", "tb_frame"})
SAFE_BUILTINS = (
    "len",
    "str",
    "int",
    "float",
    "bool",
    "dict",
    "list",
    "tuple",
    "set",
    "frozenset",
    "range",
    "enumerate",
    "zip",
    "min",
    "max",
    "sum",
    "sorted",
    "reversed",
    "any",
    "all",
    "abs",
    "round",
    "isinstance",
    "repr",
    "map",
    "filter",
    "print",
    "Exception",
    "ValueError",
    "KeyError",
    "TypeError",
    "AssertionError",
    "IndexError",
    "RuntimeError",
    "None",
    "True",
    "False",
)


class ToolRejected(Exception):
    """A tool or test file that fails the static check; the message says where and why."""


class StepFailed(Exception):
    """A syscall made by a tool did not succeed; the tool stops there."""


class Api:
    """The syscall API handed to a tool: ``api.call("write_file", path=..., content=...)``.

    ``dispatch(name, args) -> (ok, output)`` runs one syscall; ``calls`` records every call made.
    """

    def __init__(self, dispatch: Callable[[str, dict[str, Any]], tuple[bool, str]]):
        self.dispatch = dispatch
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.result: str | None = None

    def call(self, tool: str, **args: Any) -> str:
        """Run syscall ``tool``; return its output, or raise :class:`StepFailed` if it failed."""
        self.calls.append((tool, dict(args)))
        ok, output = self.dispatch(tool, dict(args))
        if not ok:
            raise StepFailed(f"{tool} failed: {output}")
        return output

    def finish(self, result: str) -> str:
        """End the goal with ``result`` (the ``finish`` syscall)."""
        self.result = self.call("finish", result=result)
        return self.result

    def read(self, path: str) -> str:
        """The text of a file in the root (through ``read_file``), for tests and checks."""
        return self.call("read_file", path=path)


def check_source(source: str, filename: str) -> ast.Module:
    """Parse ``source`` and enforce the import allowlist and forbidden names; raise :class:`ToolRejected`."""
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as exc:
        raise ToolRejected(f"{filename}:{exc.lineno}: syntax error: {exc.msg}") from None
    for node in ast.walk(tree):
        where = f"{filename}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            bad = [a.name for a in node.names if a.name not in ALLOWED_IMPORTS]
        elif isinstance(node, ast.ImportFrom):
            bad = [] if node.level == 0 and node.module in ALLOWED_IMPORTS else [node.module or "."]
        else:
            bad = []
        if bad:
            raise ToolRejected(f"{where}: forbidden import {bad[0]!r} (allowed: {', '.join(sorted(ALLOWED_IMPORTS))})")
        if isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            raise ToolRejected(f"{where}: forbidden name {node.id!r}: a tool acts only through the syscall API")
        if isinstance(node, ast.Attribute) and (node.attr.startswith("_") or node.attr in FORBIDDEN_ATTRS):
            raise ToolRejected(f"{where}: forbidden attribute {node.attr!r}")
        if isinstance(node, (ast.ClassDef, ast.Global, ast.Nonlocal, ast.AsyncFunctionDef, ast.Await)):
            raise ToolRejected(f"{where}: {type(node).__name__} is not allowed in a tool")
    return tree


def _guarded_import(name: str, globals_: Any = None, locals_: Any = None, fromlist: Any = (), level: int = 0):
    if level != 0 or name not in ALLOWED_IMPORTS:
        raise ImportError(f"import of {name!r} is not allowed in a crystallized tool")
    return __import__(name, globals_, locals_, fromlist, level)


def safe_namespace(**extra: Any) -> dict[str, Any]:
    """Globals for tool code: reduced builtins, imports only from the allowlist."""
    allowed = {n: getattr(builtins, n) for n in SAFE_BUILTINS if hasattr(builtins, n)}
    allowed["__import__"] = _guarded_import
    return {"__builtins__": allowed, "__name__": "llmos_tool", **extra}


def load_source(source: str, filename: str, **extra: Any) -> dict[str, Any]:
    """Check, compile and execute tool (or test) source; return its namespace."""
    tree = check_source(source, filename)
    namespace = safe_namespace(**extra)
    try:
        exec(compile(tree, filename, "exec"), namespace)  # noqa: S102  (checked and sandboxed above)
    except Exception as exc:  # an error at import time: the file is unusable, say why
        raise ToolRejected(f"{filename}: fails to load: {type(exc).__name__}: {exc}") from None
    return namespace


def load_tool(path: Path) -> Callable[..., Any]:
    """The ``run`` function of a crystallized tool file, checked and loaded."""
    with open(path, encoding="utf-8") as fh:
        ns = load_source(fh.read(), str(path))
    fn = ns.get("run")
    if not callable(fn):
        raise ToolRejected(f"{path}: defines no run(api, ...) function")
    return fn

"""The syscall table: the only way an agent acts.

A syscall is a typed, documented Python function whose first parameter is the :class:`Context`.
Its JSON schema (what the model sees) is derived from the signature and the docstring's ``Args:``
section; an undocumented syscall is rejected when it is registered. Built-ins and extensions use
the same door: a plugin's ``register_syscalls`` hook (:mod:`llmos.plugins`).

Every call goes through :meth:`SyscallTable.call`, which runs the hooks (kill switch, policy,
...) first. A refused or failing call returns a :class:`Outcome` with ``ok=False``: the model sees
it as an observation and the run goes on.

``hooks`` (the checks every call passes: kill switch, allowlist, path confinement), ``files``
(read_file, write_file, list_dir, finish), ``guard`` (budget_status, vault_snapshot).
:class:`Host` is the kernel as the layers below it see it.

Layer: calls. May import the stores, formats and ground floor; families of other packages
(memory, team) register their syscalls through the plugin door, so this package imports none.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from .. import plugins

if TYPE_CHECKING:
    from ..agents import Agent
from ..errors import PluginError
from . import hooks
from .hooks import Refused


class Host(Protocol):
    """The kernel, as the layers below it see it: modes, the team scope and delegation are handed
    it, never import :mod:`llmos.kernel` (so the run path has no import cycle)."""

    root: Path
    # llmos.config.Config. Typed Any here: the assembled config sits above the packages whose
    # sections it holds, so naming it would point this protocol upward.
    config: Any
    syscalls: SyscallTable

    def agent(self, name: str) -> Agent: ...

    def run(self, goal: str, **options: Any) -> Any: ...


class Written(set):
    """The paths a run wrote or is about to write. Syscalls add a path *before* writing it, and
    ``listener`` (the run's registry entry) hears each new one first, so a run killed mid-write still
    names the file for recovery (:mod:`llmos.team.recover`)."""

    def __init__(self, *paths: str, listener: Callable[[str], None] | None = None):
        super().__init__(paths)
        self.listener = listener

    def add(self, rel: str) -> None:
        if rel not in self:
            if self.listener is not None:
                self.listener(rel)
            super().add(rel)


@dataclass
class Context:
    """What a syscall may touch: the root, the calling agent, and what this run has written."""

    root: Path
    agent: str
    allowed: frozenset[str] | None = None  # None: every syscall
    run_id: str = ""
    written: Written = field(default_factory=Written)
    host: Host | None = None  # the kernel running the call: root, config, syscalls, agent(), run()
    budget: Any = None  # the run's budget gate (llmos.budget.gate.Budget), for budget_status
    scope: Any = None  # the run's team scope (llmos.team.scope.RunScope), for delegation and claims

    @property
    def config(self) -> Any:
        """The kernel's config (``llmos.config.Config``), or None outside a kernel run."""
        return self.host.config if self.host is not None else None

    def path(self, rel: str, *, for_write: bool = False) -> Path:
        """Resolve ``rel`` inside the root, refusing escapes (see :func:`hooks.confine`)."""
        return hooks.confine(self.root, rel, for_write=for_write)


@dataclass
class Outcome:
    ok: bool
    output: str
    finished: bool = False


class Hook(Protocol):
    def __call__(self, ctx: Context, name: str, args: dict[str, Any]) -> None: ...


@dataclass
class Syscall:
    name: str
    fn: Callable[..., Any]
    description: str
    params: type[BaseModel]

    def schema(self) -> dict[str, Any]:
        """The tool definition the model sees: name, description, JSON schema of the arguments."""
        js = self.params.model_json_schema()
        js.pop("title", None)
        for prop in js.get("properties", {}).values():
            prop.pop("title", None)
        return {"name": self.name, "description": self.description, "input_schema": js}


_ARG = re.compile(r"^\s{2,}(\w+)(?:\s*\([^)]*\))?:\s*(.+)$")


def _parse_doc(fn: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    doc = inspect.getdoc(fn) or ""
    summary = doc.partition("\n\n")[0]
    args: dict[str, str] = {}
    in_args = False
    for line in doc.splitlines():
        if line.strip() == "Args:":
            in_args = True
            continue
        m = _ARG.match("  " + line) if in_args else None
        if m:
            args[m.group(1)] = m.group(2).strip()
    return " ".join(summary.split()), args


def make_syscall(fn: Callable[..., Any], name: str | None = None) -> Syscall:
    """Build a :class:`Syscall` from a function; raise ``TypeError`` if it is not fully documented."""
    name = name or fn.__name__
    summary, arg_docs = _parse_doc(fn)
    if not summary:
        raise TypeError(f"syscall {name!r} has no docstring: the model needs a description")
    hints = inspect.get_annotations(fn, eval_str=True)
    fields: dict[str, Any] = {}
    for pname, param in list(inspect.signature(fn).parameters.items())[1:]:
        if pname not in hints:
            raise TypeError(f"syscall {name!r}: parameter {pname!r} has no type annotation")
        if pname not in arg_docs:
            raise TypeError(f"syscall {name!r}: parameter {pname!r} is not described under 'Args:'")
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[pname] = (hints[pname], Field(default, description=arg_docs[pname]))
    params = create_model(f"{name}_args", __config__=ConfigDict(extra="forbid"), **fields)
    return Syscall(name, fn, summary, params)


def syscall(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Check now, at import, that ``fn`` is a typed and documented syscall, and keep the result on it.
    A plugin's ``register_syscalls`` hook registers it (see :mod:`llmos.plugins`)."""
    fn.__llmos_syscall__ = make_syscall(fn)  # type: ignore[attr-defined]
    return fn


def _format_validation(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "arguments"
        msg = "unknown argument" if err["type"] == "extra_forbidden" else err["msg"]
        parts.append(f"{where}: {msg}")
    return "; ".join(parts)


class SyscallTable:
    """The registered syscalls plus the hook chain every call passes through."""

    def __init__(self, syscalls: dict[str, Syscall], hook_chain: list[Hook] | None = None):
        self.syscalls = dict(syscalls)
        self.hooks: list[Hook] = list(hook_chain if hook_chain is not None else hooks.default_chain())

    @classmethod
    def default(cls) -> "SyscallTable":
        """Every syscall and hook registered through the plugin door: built-ins and installed plugins."""
        found: dict[str, Syscall] = {}

        def register(fn: Callable[..., Any], name: str | None = None) -> None:
            made = getattr(fn, "__llmos_syscall__", None)
            sc = made if made is not None and name in (None, made.name) else make_syscall(fn, name)
            if sc.name in found and found[sc.name].fn is not fn:
                raise PluginError(
                    f"two plugins register a syscall named {sc.name!r}",
                    hint="uninstall one of them, or register it under another name",
                )
            found[sc.name] = sc

        plugins.call("register_syscalls", register=register)
        chain: list[Hook] = []
        plugins.call("register_hooks", register=chain.append)
        return cls(found, chain)

    def names(self) -> list[str]:
        return sorted(self.syscalls)

    def schemas(self, allowed: frozenset[str] | None) -> list[dict[str, Any]]:
        return [s.schema() for n, s in sorted(self.syscalls.items()) if allowed is None or n in allowed]

    def call(self, ctx: Context, name: str, args: Any) -> Outcome:
        """Run syscall ``name`` for ``ctx``; every refusal or failure is an observation, not a crash."""
        if not isinstance(args, dict):
            return Outcome(False, f"arguments of {name} must be a JSON object, got {type(args).__name__}")
        sc = self.syscalls.get(name)
        if sc is None:  # nothing would run, so say what the model can use instead
            return Outcome(False, f"unknown tool {name!r}; available: {', '.join(self.allowed_names(ctx))}")
        for hook in self.hooks:
            try:
                hook(ctx, name, args)
            except Refused as exc:
                return Outcome(False, f"refused: {exc}")
        try:
            parsed = sc.params.model_validate(args)
        except ValidationError as exc:
            return Outcome(False, f"bad arguments for {name}: {_format_validation(exc)}")
        try:
            result = sc.fn(ctx, **parsed.model_dump())
        except Refused as exc:
            return Outcome(False, f"refused: {exc}")
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            return Outcome(False, f"{name} failed: {exc}")
        if isinstance(result, Outcome):
            return result
        return Outcome(True, "" if result is None else str(result))

    def allowed_names(self, ctx: Context) -> list[str]:
        return [n for n in self.names() if ctx.allowed is None or n in ctx.allowed]

"""The gate every MCP call and scheduled job passes: the same checks as a syscall.

Before a tool runs: the kill switch, then the kernel's syscall hook chain (the built-in kill switch
and allowlist, and any plugin's hooks) for the tool's name and arguments. What comes back is scrubbed
of secrets. Files a call writes are committed like the CLI's, with a ``Via:`` trailer naming the
client. A refusal is a :class:`Refusal` with one line a person or a model can act on.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

from ..audit.commit import commit_paths, format_message
from ..budget.gate import Budget
from ..errors import LlmosError
from ..halt import check_halt
from ..scrub import scrub
from ..syscalls import Context
from ..syscalls.hooks import Refused
from ..team import claims
from ..team.runs import Registration
from ..traces import now_iso


class Refusal(Exception):
    """A call the gate (or the library under it) refused; ``str()`` is the one line to show."""


class Gate:
    """The checks and the commit of one server process over one kernel (see the module doc)."""

    def __init__(self, kernel: Any, via: str = "mcp"):
        self.kernel = kernel
        self.root: Path = kernel.root
        self.via = via
        self.budget = Budget(self.root, kernel.config.budget)
        self._holders: dict[str, Registration] = {}
        self._lock = threading.Lock()

    def check(self, tool: str, args: dict[str, Any], agent: str = "mcp") -> None:
        """Kill switch, then every syscall hook, for ``tool`` called with ``args``."""
        try:
            check_halt(self.root)
            ctx = Context(self.root, agent=agent, host=self.kernel, budget=self.budget)
            for hook in self.kernel.syscalls.hooks:
                hook(ctx, tool, args)
        except Refused as exc:
            raise Refusal(scrub(f"refused: {exc}")) from None
        except LlmosError as exc:
            raise Refusal(scrub(str(exc))) from None

    def call(self, tool: str, args: dict[str, Any], fn: Any, agent: str = "mcp") -> Any:
        """Check, run ``fn()``, scrub what it returns; library errors become a :class:`Refusal`."""
        self.check(tool, args, agent)
        try:
            return scrub(fn())
        except (LlmosError, ValueError, Refused, Refusal) as exc:
            raise Refusal(scrub(str(exc))) from None

    def commit(self, paths: list[str], subject: str, trailers: dict[str, str]) -> str | None:
        """Commit exactly ``paths`` (as the CLI would), with ``Via:`` added to ``trailers``."""
        return commit_paths(self.root, paths, format_message(subject, {**trailers, "Via": self.via}))

    # -- claims: an MCP client holds them under a name it chooses --------------------------------
    def holder(self, name: str) -> str:
        """The run id claims of holder ``name`` are kept under: a registry entry of this process, so
        the claims end when the process does (``llmos ps`` lists it)."""
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "client"
        with self._lock:
            reg = self._holders.get(slug)
            if reg is None:
                import os

                run_id = f"mcp-{os.getpid()}-{slug}"
                reg = Registration.start(
                    self.root,
                    id=run_id,
                    agent=name,
                    goal=f"MCP client {name!r} holding claims ({self.via})",
                    parent=None,
                    depth=0,
                    mode="MCP",
                    started=now_iso(),
                )
                self._holders[slug] = reg
            return reg.entry.id

    def close(self) -> None:
        """Release every claim this process's clients hold and drop their registry entries."""
        with self._lock:
            for reg in self._holders.values():
                claims.release_run(self.root, reg.entry.id)
                reg.remove()
            self._holders.clear()

"""``llmos shell``: a long-running session in one root, kept current by a watcher.

Each line is a goal, run exactly as ``llmos boot`` runs it (:meth:`Kernel.run`), or a command:
``:agents``, ``:reload``, ``:budget``, ``:trace [ID]``, ``:help``, ``:quit``. Reload events (an agent
changed, an edit is invalid, an agent retired...) are printed as they happen, between the steps of a
run too. Lines are kept in ``.llmos/shell_history`` (shared by every shell of the root, appended under
a lock) and offered again by readline in the next session. Works with piped input::

    printf 'Write hello into projects/demo/hello.txt\\n:quit\\n' | llmos shell --model scripted:demo.yaml
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, TextIO

from ..scrub import scrub
from ..atomic import file_lock
from ..errors import LlmosError
from .root import LiveRoot
from .registry import ReloadEvent
from ..traces import iter_trace_files, read_trace, trace_path

HISTORY = ".llmos/shell_history"
HISTORY_LIMIT = 1000
PROMPT = "llmos> "
HELP = """commands:
  :agents       agents in service (name, version hash), retiring agents, invalid files
  :reload       re-read every agent, prompt and the config now
  :budget       spend and what is left of each ceiling
  :trace [ID]   a trace's steps (default: the last run of this shell; ID may be a prefix)
  :help         this list
  :quit         leave (end of input too)
anything else is a goal, run like `llmos boot "GOAL"`"""


class History:
    """Lines typed in the shells of one root, oldest first, capped at ``limit``."""

    def __init__(self, root: Path, limit: int = HISTORY_LIMIT):
        self.path = Path(root) / HISTORY
        self.limit = limit

    def load(self) -> list[str]:
        try:
            lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return []
        return [ln for ln in lines if ln.strip()][-self.limit :]

    def append(self, line: str) -> None:
        line = scrub(" ".join(line.split()))
        if not line:
            return
        with file_lock(self.path.with_name("shell_history.lock"), timeout=5):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
            if self.path.stat().st_size > self.limit * 400:  # trim now and then, not on every line
                keep = self.load()
                self.path.write_text("".join(f"{ln}\n" for ln in keep), encoding="utf-8")


def read_lines(stream: TextIO, history: History | None) -> Iterator[str]:
    """Lines from ``stream``: with readline and a prompt on a terminal, plain lines from a pipe."""
    if not stream.isatty():
        for line in stream:
            yield line.rstrip("\n")
        return
    try:
        import readline

        for line in history.load() if history else []:
            readline.add_history(line)
    except ImportError:
        pass
    while True:
        try:
            yield input(PROMPT)
        except KeyboardInterrupt:  # Ctrl-C at the prompt drops the line, as in a shell
            print()
        except EOFError:
            return


class Shell:
    """One session: ``Shell(live, out=print).loop(lines)``."""

    def __init__(
        self,
        live: LiveRoot,
        *,
        out: Callable[[str], None],
        agent: str | None = None,
        model: str | None = None,
        max_steps: int | None = None,
        history: History | None = None,
    ):
        self.live, self.kernel = live, live.kernel
        self._out, self._lock = out, threading.Lock()
        self.agent, self.model, self.max_steps = agent, model, max_steps
        self.history = history
        self.last_trace: str | None = None
        self.commands: dict[str, Callable[[str], None]] = {
            ":agents": self.cmd_agents,
            ":reload": self.cmd_reload,
            ":budget": self.cmd_budget,
            ":trace": self.cmd_trace,
            ":help": lambda arg: self.out(HELP),
        }
        live.listen(self.on_reload)

    def out(self, text: str) -> None:
        with self._lock:  # the watcher thread prints too
            self._out(text)

    def on_reload(self, event: ReloadEvent) -> None:
        self.out(f"[reload] {event.line()}")

    def greet(self) -> None:
        reg = self.live.registry
        self.out(
            f"llmos shell in {self.kernel.root}: {len(reg.agents())} agents, watching for edits (:help for commands)"
        )
        for _rel, message in sorted(reg.errors().items()):
            self.out(f"[reload] invalid: {message}")

    def loop(self, lines: Iterable[str]) -> None:
        """Handle ``lines`` until ``:quit`` or their end."""
        for line in lines:
            if not self.handle(line):
                break

    def handle(self, line: str) -> bool:
        """One line; False means quit."""
        line = line.strip()
        if not line or line.startswith("#"):
            return True
        if self.history is not None:
            self.history.append(line)
        word, _, arg = line.partition(" ")
        if word in (":quit", ":q", ":exit"):
            return False
        if word.startswith(":"):
            command = self.commands.get(word)
            if command is None:
                self.out(f"unknown command {word}; :help lists them")
            else:
                self._guard(command, arg.strip())
            return True
        self._guard(self.run_goal, line)
        return True

    def _guard(self, fn: Callable[[str], None], arg: str) -> None:
        try:
            fn(arg)
        except LlmosError as exc:
            run = getattr(exc, "run", None)
            if run is not None:
                self.last_trace = run.trace_id
            self.out(f"error: {exc}")
        except KeyboardInterrupt:
            self.out("interrupted (the run is recorded as aborted)")

    # -- goals ----------------------------------------------------------------------------------
    def run_goal(self, goal: str) -> None:
        res = self.kernel.run(
            goal, agent=self.agent, model=self.model, max_steps=self.max_steps, on_event=self.on_event
        )
        self.last_trace = res.trace_id
        rel = res.trace_path.relative_to(self.kernel.root)
        self.out(f"{res.outcome}: {res.result or res.error or ''}".strip())
        self.out(
            f"trace {rel}  steps={res.steps}  tokens={res.tokens['input']}/{res.tokens['output']}  "
            f"commit={(res.commit or '-')[:10]}  {res.seconds:.1f}s"
        )

    def on_event(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "start":
            t = data["trace"]
            self.out(f"run {t.id}  agent={t.agent}  model={t.model}")
        elif kind == "step":
            s = data["step"]
            mark = "ok" if s.ok else "refused/failed"
            version = f"  [agent {s.agent_hash}]" if s.agent_hash else ""
            self.out(f"  {s.n:>3}  {s.tool or '(no tool call)':<12} {mark}{version}  {' '.join(s.result.split())[:80]}")
        elif kind == "agent":
            self.out(f"  (run now uses agent {data['agent'].name} {data['old_hash']} -> {data['agent'].hash})")
        elif kind == "reload":
            self.on_reload(data["event"])

    # -- commands -------------------------------------------------------------------------------
    def cmd_agents(self, arg: str) -> None:
        reg = self.live.registry
        for a in reg.agents():
            tools = ", ".join(sorted(a.tools)) if a.tools is not None else "all"
            kind = " (system)" if a.system else ""
            self.out(f"{a.name}{kind}  {a.hash}  model: {a.model or '(default)'}  tools: {tools}")
        for name in sorted(reg.retiring()):
            self.out(f"{name}  retiring (file deleted; a run still uses it)")
        for _rel, message in sorted(reg.errors().items()):
            self.out(f"invalid: {message}")

    def cmd_reload(self, arg: str) -> None:
        events = self.live.reload()
        self.out(
            f"reloaded: {len(self.live.registry.agents())} agents, {len(events)} change(s), "
            f"{len(self.live.registry.errors())} invalid file(s)"
        )

    def cmd_budget(self, arg: str) -> None:
        from ..budget.gate import Budget

        status = Budget(self.kernel.root, self.kernel.config.budget).status()
        self.out(f"budget (UTC day {status['day']}):")
        for name, c in status["ceilings"].items():
            limit = "unlimited" if c["limit"] is None else f"${c['limit']:.4f}"
            left = "unlimited" if c["remaining"] is None else f"${c['remaining']:.4f}"
            self.out(f"  {name:<14} spent ${c['spent']:.4f}  limit {limit}  remaining {left}")

    def cmd_trace(self, arg: str) -> None:
        path = self.find_trace(arg or self.last_trace or "")
        t = read_trace(path)
        self.out(
            f"{t.id}  {t.outcome}  agent={t.agent} {t.agent_hash}  model={t.model}  "
            f"tokens={t.tokens.input}/{t.tokens.output}  {path.relative_to(self.kernel.root)}"
        )
        self.out(f"  goal: {t.goal}")
        for s in t.steps:
            version = f"  [agent {s.agent_hash}]" if s.agent_hash else ""
            self.out(
                f"  {s.n:>3}  {s.tool or '(no tool call)':<12} {'ok' if s.ok else 'failed'}{version}  "
                f"{' '.join(s.result.split())[:80]}"
            )

    def find_trace(self, ident: str) -> Path:
        """The trace whose id is ``ident`` or starts with it (the newest such)."""
        if not ident:
            raise LlmosError("no trace yet in this shell", hint="give an id: :trace 20260101T120000-abc123")
        if not re.fullmatch(r"[0-9A-Za-z_-]+", ident):
            raise LlmosError(f"{ident!r} is not a trace id", hint="ids look like 20260101T120000-abc123")
        exact = trace_path(self.kernel.root, ident) if len(ident) > 8 else None
        if exact is not None and exact.is_file():
            return exact
        found = sorted(p for p in iter_trace_files(self.kernel.root) if p.stem.startswith(ident))
        if not found:
            raise LlmosError(
                f"no trace {ident!r} in {self.kernel.root / 'traces'}",
                hint="`llmos log` lists runs with their Trace-Id",
            )
        return found[-1]

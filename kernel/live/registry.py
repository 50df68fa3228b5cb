"""Hot reload, part 2: the last good version of every agent, soul, prompt and the config of a root.

:meth:`Registry.refresh` takes paths that may have changed (from :class:`~llmos.live.watch.Watcher`) and
re-reads only what they touch: the agents whose file, soul or ``extends`` base is among them, a prompt,
the config. A new version replaces the old one only if it is valid, in one dict assignment (a reader
sees the old or the new version, never a mix). An invalid file keeps the last good version in service
and is reported (``file:line: ...``) once, and again only when its error changes. Deleting an agent's
file retires it: new runs cannot start it, runs holding a :meth:`lease` finish on their version, and
the agent is gone when the last of them ends.

Everything the registry does is told to listeners as :class:`ReloadEvent` s; ``agent`` events carry
the old and new hash, so trace matching can stop replaying traces made by an older version
(:func:`trace_is_current`).
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from ..agents import Agent, AgentLoader, agent_files, locate, name_of
from ..config import CONFIG_PATH, Config, load_config
from ..docs import read_document
from ..errors import AgentNotFound, ConfigError, DocumentError
from ..prompts import check_template

AGENT_DIRS = ("system/agents/", "agents/")
PROMPT_DIR = "system/prompts/"
Listener = Callable[["ReloadEvent"], None]


@dataclass(frozen=True)
class ReloadEvent:
    """One thing the registry did. ``kind``: ``added`` | ``changed`` | ``invalid`` | ``fixed`` |
    ``retiring`` | ``retired`` | ``config`` | ``prompt`` | ``error`` (a subscriber failed)."""

    kind: str
    path: str  # root-relative file
    name: str = ""  # the agent or prompt
    old_hash: str | None = None
    new_hash: str | None = None
    message: str = ""  # ``invalid``: the errors, ``file:line: field: message``; else a note

    def line(self) -> str:
        """One line for a person."""
        if self.kind == "invalid":
            return f"invalid: {self.message} (keeping the last good version)"
        what = f"agent {self.name}" if self.name and self.kind not in ("config", "prompt") else self.path
        hashes = f" {self.old_hash or '-'} -> {self.new_hash}" if self.new_hash else ""
        note = f" ({self.message})" if self.message else ""
        return f"{self.kind}: {what}{hashes}{note}"


def trace_is_current(trace: Any, agent: Agent) -> bool:
    """Was ``trace`` (a :class:`~llmos.traces.TraceMeta`) made by this version of ``agent``?

    The version a run ended on is the last ``agent_hash`` its steps record, else the trace's own.
    """
    last = next((s.agent_hash for s in reversed(trace.steps) if s.agent_hash), trace.agent_hash)
    return trace.agent == agent.name and last == agent.hash


class Registry:
    """Last good versions of one root's agents, prompts and config (thread-safe)."""

    def __init__(self, root: Path, known_tools: set[str], config: Config | None = None):
        self.root = Path(root).resolve()
        self.known_tools = known_tools
        self.config = config or load_config(self.root)
        self._lock = threading.RLock()
        self._agents: dict[str, Agent] = {}
        self._broken: dict[str, DocumentError] = {}  # agents with no good version yet
        self._files: dict[str, tuple[Path, bool]] = {}
        self._dependents: dict[Path, set[str]] = {}  # file -> agents built from it (reverse of deps)
        self._prompts: dict[str, tuple[str, Path]] = {}
        self._errors: dict[str, str] = {}  # rel path -> the error last reported
        self._leases: Counter[str] = Counter()
        self._retiring: set[str] = set()
        self._listeners: list[Listener] = []
        self.reloads = 0  # agent versions put in service after the first load

    # -- listeners ----------------------------------------------------------------------------
    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` for every :class:`ReloadEvent`; returns a function that stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def emit(self, events: list[ReloadEvent]) -> list[ReloadEvent]:
        for event in events:
            for listener in list(self._listeners):
                listener(event)
        return events

    # -- reading ------------------------------------------------------------------------------
    def agent(self, name: str) -> Agent:
        """The version a new run of ``name`` starts with."""
        with self._lock:
            if name in self._retiring:
                raise AgentNotFound(
                    f"agent {name!r} was deleted and is retiring", hint=f"restore agents/{name}.md to keep it"
                )
            if name in self._agents:
                return self._agents[name]
            if name in self._broken:
                raise self._broken[name]
        names = ", ".join(sorted(self._agents)) or "none"
        raise AgentNotFound(
            f"no agent named {name!r} in {self.root}", hint=f"agents here: {names}; create agents/{name}.md"
        )

    def current(self, name: str) -> Agent | None:
        """The newest good version of ``name`` for a run already using it (retiring agents too)."""
        return self._agents.get(name)

    def agents(self) -> list[Agent]:
        with self._lock:
            return [a for n, a in sorted(self._agents.items()) if n not in self._retiring]

    def errors(self) -> dict[str, str]:
        """``{rel path: error}`` of every file now invalid (its last good version still serves)."""
        return dict(self._errors)

    def retiring(self) -> set[str]:
        return set(self._retiring)

    def prompt(self, name: str) -> tuple[str, Path]:
        """The last good template of ``system/prompts/NAME.md``."""
        if name not in self._prompts:
            with self._lock:
                events = self._load_prompt(name)
            self.emit(events)
        if name not in self._prompts:
            raise ConfigError(
                f"prompt template {PROMPT_DIR}{name}.md is missing or invalid",
                hint="fix it; `llmos check` names the line",
            )
        return self._prompts[name]

    @contextlib.contextmanager
    def lease(self, name: str) -> Iterator[None]:
        """Hold ``name`` for a run that already has its version: a deleted agent retires only when
        every lease has ended. Never raises (a run must not fail after its trace exists)."""
        with self._lock:
            self._leases[name] += 1
        try:
            yield
        finally:
            with self._lock:
                self._leases[name] -= 1
                old = self._agents.get(name)
                done = old is not None and name in self._retiring and self._leases[name] <= 0
                if done:
                    self._retire(name)
            if done:
                self.emit([ReloadEvent("retired", self._rel(old.path), name, message="its last run ended")])

    # -- loading ------------------------------------------------------------------------------
    def load_all(self) -> list[ReloadEvent]:
        """Read every agent and prompt (start-up, or ``:reload``); report what is invalid or new."""
        with self._lock:
            self._files = agent_files(self.root)
            names = set(self._files) | set(self._agents)
            events = self._reload_agents(names)
            for p in sorted((self.root / PROMPT_DIR).glob("*.md")):
                events += self._load_prompt(p.name[:-3])
            events += self._load_config()
        return self.emit(events)

    def refresh(self, paths: Iterable[str]) -> list[ReloadEvent]:
        """Re-read what ``paths`` (root-relative; ``dir/`` for a folder) touch; return the events."""
        touched: set[Path] = set()
        rescan, events = False, []
        with self._lock:
            for rel in paths:
                if rel == CONFIG_PATH:
                    events += self._load_config()
                elif rel.startswith(PROMPT_DIR) and rel.endswith(".md") and "/" not in rel[len(PROMPT_DIR) :]:
                    events += self._load_prompt(rel[len(PROMPT_DIR) : -3])
                elif rel.startswith(AGENT_DIRS) and rel.endswith("/"):
                    rescan = True
                elif rel.startswith(AGENT_DIRS) and rel.endswith(".md"):
                    touched.add(self.root / rel)
            if rescan or any(rel in ("agents/", "system/", "system/agents/") for rel in paths):
                events += self._rescan()
            events += self._reload_agents(self._affected(touched))
        return self.emit(events)

    def _affected(self, touched: set[Path]) -> set[str]:
        """Agents built from a touched file, and the agents those files are."""
        names = {n for path in touched for n in self._dependents.get(path, ())}
        names |= {n for n, err in self._broken.items() if Path(err.path) in touched}
        for path in touched:
            agent_dirs = (self.root / "agents", self.root / "system" / "agents")
            if any(d in path.parents for d in agent_dirs) and not path.name.endswith(".soul.md"):
                names.add(name_of(path) or path.name[:-3])
        return names

    def _rescan(self) -> list[ReloadEvent]:
        """A folder appeared, vanished or moved: compare the agent files on disk with ours."""
        on_disk = agent_files(self.root)
        changed = {n for n in set(on_disk) | set(self._files) if on_disk.get(n) != self._files.get(n)}
        return self._reload_agents(changed | (set(self._agents) - set(on_disk)))

    def _locate(self, name: str) -> tuple[Path, bool] | None:
        """Where agent ``name`` lives now (user agents shadow system agents; keyed by ``name:``)."""
        return locate(self.root, name)

    def _reload_agents(self, names: set[str]) -> list[ReloadEvent]:
        for name in names:
            found = self._locate(name)
            if found is None:
                self._files.pop(name, None)
            else:
                self._files[name] = found
        good = dict(self._agents)  # a C-speed copy; the names being rebuilt must not come from it
        for name in names:
            good.pop(name, None)
        loader = AgentLoader(self.root, self.known_tools, files=self._files, cache=good)
        events: list[ReloadEvent] = []
        for name in sorted(names):
            events += self._reload_agent(name, loader)
        return events

    def _reload_agent(self, name: str, loader: AgentLoader) -> list[ReloadEvent]:
        if name not in self._files:
            return self._deleted(name)
        path = self._files[name][0]
        try:
            new = loader.load(name)
        except DocumentError as exc:
            if name not in self._agents:
                self._broken[name] = exc
            return self._report(exc)
        except AgentNotFound as exc:  # ``extends`` names an agent that is not there
            err = DocumentError(str(path), [(None, "extends", str(exc))])
            self._broken.setdefault(name, err)
            return self._report(err)
        events = self._clear_errors(new)
        old = self._agents.get(name)
        self._broken.pop(name, None)
        self._retiring.discard(name)
        self._agents = {**self._agents, name: new}  # one assignment: readers see old or new
        self._index(name, old, new)
        if old is None:
            events.append(ReloadEvent("added", self._rel(path), name, None, new.hash))
        elif (old.hash, old.soul_hash) != (new.hash, new.soul_hash):
            self.reloads += 1
            note = "soul changed" if old.hash == new.hash else ""
            events.append(ReloadEvent("changed", self._rel(path), name, old.hash, new.hash, note))
        return events

    def _deleted(self, name: str) -> list[ReloadEvent]:
        old = self._agents.get(name)
        self._broken.pop(name, None)
        if old is None:
            return []
        self._errors.pop(self._rel(old.path), None)
        if self._leases[name] > 0:
            self._retiring.add(name)
            return [
                ReloadEvent(
                    "retiring",
                    self._rel(old.path),
                    name,
                    message=f"file deleted; {self._leases[name]} run(s) still using it",
                )
            ]
        self._retire(name)
        return [ReloadEvent("retired", self._rel(old.path), name, message="file deleted")]

    def _retire(self, name: str) -> None:
        self._retiring.discard(name)
        self._index(name, self._agents.get(name), None)
        self._agents = {n: a for n, a in self._agents.items() if n != name}

    def _index(self, name: str, old: Agent | None, new: Agent | None) -> None:
        """Keep ``_dependents`` (which agents to rebuild when a file changes) in step with ``_agents``."""
        for path in old.deps if old else ():
            self._dependents.get(path, set()).discard(name)
        for path in new.deps if new else ():
            self._dependents.setdefault(path, set()).add(name)

    # -- errors -------------------------------------------------------------------------------
    def _rel(self, path: Path | str) -> str:
        path = Path(path)
        for candidate in (path, path.resolve()):  # resolve() (slow) only for a path given another way
            try:
                return candidate.relative_to(self.root).as_posix()
            except ValueError:
                continue
        return str(path)

    def _report(self, exc: DocumentError) -> list[ReloadEvent]:
        """An ``invalid`` event, unless this exact error was the last one reported for its file."""
        rel = self._rel(exc.path)
        message = "; ".join(DocumentError(rel, exc.problems).lines())  # root-relative: short lines
        if self._errors.get(rel) == message:
            return []
        self._errors[rel] = message
        return [ReloadEvent("invalid", rel, message=message)]

    def _clear_errors(self, agent: Agent) -> list[ReloadEvent]:
        events = []
        for path in agent.deps[:2]:  # its own file and soul; a base clears its own errors
            rel = self._rel(path)
            if self._errors.pop(rel, None) is not None:
                events.append(ReloadEvent("fixed", rel, agent.name, message="valid again"))
        return events

    def _clear(self, rel: str, name: str) -> list[ReloadEvent]:
        if self._errors.pop(rel, None) is None:
            return []
        return [ReloadEvent("fixed", rel, name, message="valid again")]

    # -- config and prompts -------------------------------------------------------------------
    def _load_config(self) -> list[ReloadEvent]:
        try:
            new = load_config(self.root)
        except DocumentError as exc:
            return self._report(exc)
        events = self._clear(CONFIG_PATH, "")
        if new != self.config:
            self.config = new
            events.append(ReloadEvent("config", CONFIG_PATH, message="new settings apply to the next run"))
        return events

    def _load_prompt(self, name: str) -> list[ReloadEvent]:
        rel = f"{PROMPT_DIR}{name}.md"
        path = self.root / rel
        try:
            doc = read_document(path, require_frontmatter=False)
            text = path.read_text(encoding="utf-8")
        except DocumentError as exc:
            return self._report(exc)
        except OSError as exc:
            return self._report(DocumentError(str(path), [(None, None, f"cannot read: {exc.strerror}")]))
        base = text[: text.find(doc.body)].count("\n") if doc.body else 0
        problems = [(base + line if line else None, None, msg) for line, msg in check_template(name, doc.body)]
        if problems:
            return self._report(DocumentError(str(path), problems))
        events = self._clear(rel, name)
        old = self._prompts.get(name)
        self._prompts = {**self._prompts, name: (doc.body, path)}
        if old is not None and old[0] != doc.body:
            events.append(ReloadEvent("prompt", rel, name, message="used from the next model call"))
        return events

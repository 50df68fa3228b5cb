"""RunScope: what one run does for many-agent work, around the kernel's loop.

``Kernel.run`` opens a scope for every run. The scope registers the run in ``.llmos/runs/``
(``llmos ps``), takes the handoffs addressed to its agent, applies the valence influences (when
enabled) and records them in the trace, knows the run's lineage and budget ceiling, and collects
the runs it delegates. When the loop ends it updates the valence state, releases the run's claims
and reports the children's trace ids for the commit.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from . import claims, valence
from ..audit import shared
from ..blobs import BlobStore
from ..errors import DocumentError
from .lineage import Lineage, min_ceiling
from ..prompts import render_file
from .runs import Registration
from ..traces import now_iso

if TYPE_CHECKING:
    from ..agents import Agent
    from ..syscalls import Host
    from ..syscalls import Context
    from ..traces import TraceMeta, TraceWriter

EventHandler = Callable[[str, dict[str, Any]], None]


class SharedBlobs:
    """A blob store shared by a run and the runs it delegates (threads): every call is locked."""

    def __init__(self, store: BlobStore):
        self._store = store
        self._lock = threading.RLock()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if not callable(attr):
            return attr

        def locked(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attr(*args, **kwargs)

        return locked


class RunScope:
    """The many-agent side of one run (see the module docstring)."""

    def __init__(
        self, kernel: "Host", meta: "TraceMeta", agent: "Agent", lineage: Lineage | None, *, model: str | None = None
    ):
        self.kernel, self.meta, self.agent = kernel, meta, agent
        self.model_spec = model  # what this run's model was resolved to; children without one inherit it
        self.blobs: Any = None
        self.lineage = lineage or Lineage()
        self.lineage.trace_id = meta.id
        meta.parent = self.lineage.parent
        self.children: list[Lineage] = []
        self.lock = threading.Lock()
        self.run: Any = None  # the kernel's Run recorder, once made (its ceiling follows the children)
        self.deny: frozenset[str] = frozenset()
        self.steps_factor: float | None = None
        self.influences: list[valence.Influence] = []
        self.handoffs: list[dict[str, Any]] = []
        self.registration: Registration | None = None
        self.shared_claims: set[str] = set()  # claims this run holds on the remote (sync.shared_claims)
        self.on_event: EventHandler = lambda kind, data: None

    # -- start ---------------------------------------------------------------------------------
    def begin(self) -> None:
        """Register the run, take its handoffs, apply valence. Call once the trace id exists."""
        m = self.meta
        self.registration = Registration.start(
            self.kernel.root,
            id=m.id,
            agent=m.agent,
            goal=m.goal,
            parent=m.parent,
            depth=self.depth,
            mode=m.mode,
            started=m.started,
        )
        self.handoffs = claims.accept_handoffs(self.kernel.root, run=m.id, agent=m.agent)
        self._valence_begin()

    def _valence_begin(self) -> None:
        cfg = self.kernel.config.valence
        if not cfg.enabled:
            return
        try:
            state = valence.load(self.kernel.root, cfg)
        except DocumentError as exc:  # a person's bad edit: no influence, and never overwritten
            self.meta.valence = {"error": str(exc)}
            return
        self.influences = valence.advise(state, cfg)
        for inf in self.influences:
            if inf.kind == "strict_policy":
                self.deny, inf.applied = frozenset(inf.effect["deny"]), True
            elif inf.kind == "max_steps":
                self.steps_factor, inf.applied = inf.effect["factor"], True
        self._record_valence(state=state.values())

    def _record_valence(self, **fields: Any) -> None:
        record = dict(self.meta.valence or {})
        record.update(fields, influences=[i.record() for i in self.influences])
        self.meta.valence = record

    def goal_message(self, goal: str) -> str:
        """The goal as the model sees it: plus the notes handed off to this agent, if any."""
        if not self.handoffs:
            return goal
        notes = "\n".join(
            f"- from {h['from_agent']} (run {h['from_run']}): {h['note']}"
            + (f" [claims: {', '.join(h['claims'])}]" if h["claims"] else "")
            for h in self.handoffs
        )
        return goal + render_file(self.kernel.root, "handoff", notes=notes)

    # -- what the run may do --------------------------------------------------------------------
    @property
    def depth(self) -> int:
        return self.lineage.depth

    def allowed(self, tools: frozenset[str] | None) -> frozenset[str] | None:
        """The agent's tools, minus what a strict policy denies."""
        if not self.deny:
            return tools
        base = tools if tools is not None else frozenset(self.kernel.syscalls.names())
        return frozenset(base - self.deny)

    def ceiling(self) -> float | None:
        """USD this run with all its children may spend: the config's per-run ceiling, the agent's
        ``budget:`` and the share its parent gave it, whichever is lowest."""
        return min_ceiling(self.kernel.config.budget.per_run, self.agent.budget, self.lineage.ceiling)

    def max_steps(self, limit: int) -> int:
        """``limit``, lowered by a low-energy influence (recorded with the numbers)."""
        if self.steps_factor is None:
            return limit
        lowered = max(1, int(limit * self.steps_factor))
        for inf in self.influences:
            if inf.kind == "max_steps":
                inf.effect.update(max_steps=lowered, was=limit)
        self._record_valence()
        return lowered

    def remaining(self) -> float | None:
        """USD this run can still give to children (None: no ceiling applies)."""
        limit = self.ceiling()
        if limit is None:
            return None
        with self.lock:
            spent = self.meta.cost_usd + sum(c.tree_cost for c in self.children)
        return max(0.0, limit - spent)

    def child_lineage(self, *, ceiling: float | None, model: str | None) -> Lineage:
        return Lineage(
            parent=self.meta.id,
            chain=self.lineage.chain + (self.agent.name,),
            depth=self.depth + 1,
            ceiling=ceiling,
            model=model,
            budget=self.run.budget if self.run is not None else None,
            blobs=self.blobs,
        )

    def child_events(self, kind: str, data: dict[str, Any]) -> None:
        """What a child run reports to this run's listener: that it started (with its trace)."""
        if kind == "start":
            self.on_event(kind, data)

    def adopt(self, child: Lineage) -> None:
        """Count a started child (its trace id goes in this run's trace and commit)."""
        with self.lock:
            self.children.append(child)
            if child.trace_id and child.trace_id not in self.meta.children:
                self.meta.children.append(child.trace_id)

    def children_done(self) -> None:
        """After children end: what they spent is no longer this run's to spend itself."""
        limit = self.ceiling()
        with self.lock:
            for c in self.children:
                if c.trace_id and c.trace_id not in self.meta.children:
                    self.meta.children.append(c.trace_id)
            spent = sum(c.tree_cost for c in self.children)
        if self.run is not None and limit is not None:
            self.run.agent_ceiling = max(0.0, limit - spent)

    # -- blobs, events ---------------------------------------------------------------------------
    @contextmanager
    def blob_store(self) -> Iterator[Any]:
        """The parent's store for a child; a new (shared, locked) one for a top-level run."""
        if self.lineage.blobs is not None:
            self.blobs = self.lineage.blobs
            yield self.blobs
            return
        with BlobStore.open(self.kernel.root / ".llmos" / "blobs") as store:
            self.blobs = SharedBlobs(store)
            yield self.blobs

    def watch(self, on_event: EventHandler) -> EventHandler:
        """``on_event``, plus keeping this run's registry entry current after every step."""
        self.on_event = on_event

        def handler(kind: str, data: dict[str, Any]) -> None:
            if kind == "step" and self.registration is not None:
                m = self.meta
                self.registration.update(step=len(m.steps), tokens=m.tokens.model_dump(), cost_usd=m.cost_usd)
            on_event(kind, data)

        return handler

    # -- end ---------------------------------------------------------------------------------
    def settle(self, writer: "TraceWriter", ctx: "Context", outcome: str) -> None:
        """Before the trace's final save and the commit: update valence, release claims, sum costs."""
        m = self.meta
        self.children_done()
        with self.lock:
            self.lineage.tree_cost = m.cost_usd + sum(c.tree_cost for c in self.children)
        claims.release_run(self.kernel.root, m.id)
        self._release_shared(m.id)
        cfg = self.kernel.config.valence
        if cfg.enabled and not (m.valence or {}).get("error"):
            refused = sum(1 for s in m.steps if not s.ok and s.result.startswith("refused:"))
            try:
                update = valence.update(
                    self.kernel.root,
                    cfg,
                    trace_id=m.id,
                    outcome=outcome,
                    refused=refused,
                    cost_usd=self.lineage.tree_cost,
                    signature=m.goal_signature,
                    now=now_iso(),
                )
            except DocumentError as exc:
                self._record_valence(error=str(exc))
            else:
                self._record_valence(update=update)
                ctx.written.add(Path(cfg.path).as_posix())

    def _release_shared(self, run: str) -> None:
        """A run's claims on the remote end with it, as its local ones do (a remote that cannot be
        reached leaves them to expire)."""
        sync = self.kernel.config.sync
        branch = sync.branch or shared.current_branch(self.kernel.root)
        for resource in sorted(self.shared_claims):
            if branch:
                shared.release(self.kernel.root, resource, run=run, remote=sync.remote, branch=branch)
        self.shared_claims.clear()

    def trailers(self) -> dict[str, str]:
        """Extra commit trailers: the children's trace ids."""
        return {"Children": " ".join(self.meta.children)} if self.meta.children else {}

    def close(self) -> None:
        if self.registration is not None:
            self.registration.remove()

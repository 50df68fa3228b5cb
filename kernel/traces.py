"""Traces (gamma memory): one Markdown file per run under ``traces/YYYY/MM/ID.md``.

The frontmatter (``format: llmos-trace/1``) is the data; the body renders the steps for people.
A trace is rewritten atomically after every step, so a killed run leaves a readable file: while a
run is in progress its ``outcome`` is ``aborted`` and ``ended`` is empty, and only a run that ends
normally replaces them.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .atomic import atomic_write
from .docs import dump_frontmatter, read_document, validate

FORMAT = "llmos-trace/1"
Outcome = Literal["success", "failure", "aborted", "budget", "halted", "refused"]


class Tokens(BaseModel):
    """``input``: uncached input tokens; ``cached``: read from the provider's prompt cache;
    ``cache_write``: written to it (kept in the file only when not zero); ``output``."""

    model_config = ConfigDict(extra="forbid")
    input: int = 0
    output: int = 0
    cached: int = 0
    cache_write: int = 0


def tokens_text(t: Tokens) -> str:
    """The ``Tokens:`` trailer: ``IN/OUT``, then the prompt cache's reads and writes when there were any."""
    text = f"{t.input}/{t.output}"
    return text + (f" cache {t.cached}r/{t.cache_write}w" if t.cached or t.cache_write else "")


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int
    tool: str | None  # None: the model replied without a tool call
    args: dict[str, Any] = Field(default_factory=dict)
    result: str = ""
    ok: bool
    tokens: Tokens = Field(default_factory=Tokens)
    seconds: float = 0.0
    agent_hash: str | None = None  # set when the agent file changed since the previous step
    request: str | None = None  # blob:<manifest id> of the full LLM request behind this step
    response: str | None = None  # blob:<id> of the model's reply
    slot_args: dict[str, Any] | None = None  # arg -> template naming the goal slots it came from: "{path1}"
    post: list[dict[str, Any]] | None = None  # postconditions a replay checks (see llmos.modes.slots)


class ContextInfo(BaseModel):
    """The assembled context of a run (see :mod:`llmos.memory.context`): its size and what trimming dropped."""

    model_config = ConfigDict(extra="forbid")
    tokens: int
    budget: int
    layers: dict[str, int] = Field(default_factory=dict)  # L0, L1, L2 -> tokens
    dropped: list[str] = Field(default_factory=list)


class TraceMeta(BaseModel):
    """The trace frontmatter schema."""

    model_config = ConfigDict(extra="forbid")
    format: Literal["llmos-trace/1"] = FORMAT
    id: str
    goal: str
    goal_signature: str
    template: str = ""
    slots: dict[str, str] = Field(default_factory=dict)
    agent: str
    agent_hash: str
    soul_hash: str | None = None
    mode: str = "LEARNER"
    decision: dict[str, Any] | None = None  # how the mode was chosen: candidates, scores, thresholds, reason
    model: str
    parent: str | None = None
    children: list[str] = Field(default_factory=list)  # trace ids of the runs this run delegated to
    started: str
    ended: str | None = None
    tokens: Tokens = Field(default_factory=Tokens)
    model_calls: int = 0
    cost_usd: float = 0.0
    outcome: Outcome = "aborted"
    result: str | None = None
    error: str | None = None
    valence: dict[str, Any] | None = None  # state, influences and update of the valence policy
    context: ContextInfo | None = None
    compactions: list[dict[str, Any]] = Field(default_factory=list)  # long runs: what was compacted, when
    steps: list[Step] = Field(default_factory=list)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_ISSUED: set[str] = set()
_ISSUED_LOCK = threading.Lock()


def new_trace_id(at: datetime | None = None) -> str:
    """Sortable, unique: ``20261122T043550-3fa9c1``. Never the same id twice in one process (many
    delegated children start in the same second)."""
    at = at or datetime.now(timezone.utc)
    with _ISSUED_LOCK:
        while True:
            tid = at.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
            if tid not in _ISSUED:
                _ISSUED.add(tid)
                return tid


def trace_path(root: Path, trace_id: str) -> Path:
    return root / "traces" / trace_id[:4] / trace_id[4:6] / f"{trace_id}.md"


def offload(value: Any, limit: int, store: Any = None) -> Any:
    """Keep short values inline; a long string (nested too) becomes a preview plus, with a blob
    ``store``, the ``blob:<id>`` of the whole value, so nothing is lost and the trace stays small."""
    if isinstance(value, str) and len(value) > limit:
        where = f"blob:{store.put(value, 'tool_io')}" if store is not None else "not kept"
        return value[:limit] + f"\n[... {len(value) - limit} more characters; full text {where}]"
    if isinstance(value, dict):
        return {k: offload(v, limit, store) for k, v in value.items()}
    if isinstance(value, list):
        return [offload(v, limit, store) for v in value]
    return value


def render_body(t: TraceMeta) -> str:
    lines = [
        f"# {t.goal}",
        "",
        f"Agent `{t.agent}` · mode {t.mode} · model `{t.model}` · "
        f"outcome **{t.outcome}** · {t.tokens.input} in / {t.tokens.output} out tokens",
        "",
    ]
    for s in t.steps:
        mark = "ok" if s.ok else "FAILED"
        args = json.dumps(s.args, ensure_ascii=False)
        lines += [
            f"## Step {s.n}: {s.tool or '(no tool call)'} ({mark})",
            "",
            f"Args: `{args[:300]}`",
            "",
            "```text",
            s.result[:1500].replace("```", "'''"),
            "```",
            "",
        ]
    if t.result:
        lines += ["## Result", "", t.result]
    if t.error:
        lines += ["## Error", "", t.error]
    return "\n".join(lines)


class TraceWriter:
    """Holds a run's trace and rewrites its file after every change."""

    def __init__(self, root: Path, meta: TraceMeta, *, inline_limit: int = 2000, scrub=None, blobs=None):
        self.root = root
        self.meta = meta
        self.path = trace_path(root, meta.id)
        self.inline_limit = inline_limit
        self.scrub = scrub or (lambda x: x)
        self.blobs = blobs

    @property
    def rel(self) -> str:
        return self.path.relative_to(self.root).as_posix()

    def save(self) -> None:
        data = self.scrub(self.meta.model_dump(mode="json"))
        for step in data["steps"]:
            for optional in ("agent_hash", "request", "response", "slot_args", "post"):
                if step.get(optional) is None:
                    step.pop(optional, None)
            if not step["tokens"].get("cache_write"):
                step["tokens"].pop("cache_write", None)
        if not data["tokens"].get("cache_write"):
            data["tokens"].pop("cache_write", None)
        for optional in ("children", "valence", "compactions"):  # only runs that delegate / use valence / compact
            if not data.get(optional):
                data.pop(optional, None)
        if self.blobs is not None:
            self.blobs.flush()  # the blobs a trace points at are durable before the trace is
        meta = TraceMeta.model_validate(data)
        atomic_write(self.path, dump_frontmatter(data, render_body(meta)))

    def add_step(self, step: Step) -> None:
        step.args = offload(self.scrub(step.args), self.inline_limit, self.blobs)
        step.result = offload(self.scrub(step.result), self.inline_limit, self.blobs)
        self.meta.steps.append(step)
        self.save()

    def end(self, outcome: str, *, result: str | None = None, error: str | None = None) -> None:
        self.meta.outcome = outcome  # type: ignore[assignment]
        self.meta.result, self.meta.error, self.meta.ended = result, error, now_iso()
        self.save()


def read_trace(path: Path) -> TraceMeta:
    """Read and validate a trace file (errors name file:line)."""
    return validate(read_document(path), TraceMeta)


def iter_trace_files(root: Path):
    base = root / "traces"
    if base.is_dir():
        for dirpath, _, files in os.walk(base):
            for f in sorted(files):
                if f.endswith(".md") and not f.startswith("."):
                    yield Path(dirpath) / f

"""Claims and handoffs: so agents working in one root at once do not step on each other.

A claim reserves a named resource (a path, a project, any name agents agree on) for one run for
``ttl`` seconds. It ends when the run releases it, when the run ends, when it expires, or when its
holder is gone (its process died, or its run is no longer registered): then anyone may reclaim it.
A handoff passes the run's claims and a note to another agent; the next run of that agent takes
both (the note is shown to it with its goal).

State: ``.llmos/claims.json`` (format ``llmos-claims/1``), changed only under the file lock
``.llmos/locks/claims.lock``, so processes and threads agree.
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from ..scrub import scrub
from ..atomic import atomic_write, file_lock
from ..procs import alive, me
from .runs import is_running

FORMAT = "llmos-claims/1"
MAX_RESOURCE = 200


def claims_path(root: Path) -> Path:
    return Path(root) / ".llmos" / "claims.json"


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class Verdict:
    """What a claim attempt did: ``ok``, and a sentence for the model or the person."""

    ok: bool
    message: str


@contextmanager
def _state(root: Path) -> Iterator[dict[str, Any]]:
    """The claims state, locked; written back when the block ends without an error."""
    path = claims_path(root)
    with file_lock(Path(root) / ".llmos" / "locks" / "claims.lock", timeout=30):
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            state = {}
        except ValueError:
            state = {}  # a damaged file only holds leases: start over rather than wedge every agent
        state.setdefault("format", FORMAT)
        state.setdefault("claims", {})
        state.setdefault("handoffs", [])
        before = json.dumps(state, sort_keys=True)
        yield state
        if json.dumps(state, sort_keys=True) != before:
            atomic_write(path, json.dumps(state, indent=1, sort_keys=True) + "\n")


def stale_reason(root: Path, c: dict[str, Any], now: float) -> str | None:
    """Why claim ``c`` no longer binds anyone (expired, holder dead, run ended), or None."""
    if c["expires"] <= now:
        return f"expired at {iso(c['expires'])}"
    if c.get("run") is None:
        return None  # handed off to an agent: only its ttl ends it
    if not alive(c):
        return f"its holder process {c.get('pid')} is gone"
    if not is_running(root, c["run"]):
        return f"its run {c['run']} has ended"
    return None


def _describe(c: dict[str, Any]) -> str:
    who = f"run {c['run']}" if c.get("run") else "a handoff"
    return f"agent {c['agent']!r} ({who}, pid {c.get('pid')}) until {iso(c['expires'])}"


def check_resource(resource: str) -> str:
    name = " ".join(str(resource).split())
    if not name or len(name) > MAX_RESOURCE:
        raise ValueError(f"a resource name must be 1..{MAX_RESOURCE} characters")
    return name


def claim(root: Path, resource: str, *, run: str, agent: str, ttl: float, now: float | None = None) -> Verdict:
    """Claim ``resource`` for ``run`` for ``ttl`` seconds (renewing its own claim is fine)."""
    name, now = check_resource(resource), time.time() if now is None else now
    if ttl <= 0:
        raise ValueError("ttl must be a positive number of seconds")
    with _state(root) as state:
        held = state["claims"].get(name)
        note = ""
        if held is not None and held.get("run") != run and not _handed_to(held, agent):
            reason = stale_reason(root, held, now)
            if reason is None:
                return Verdict(False, f"{name!r} is claimed by {_describe(held)}; wait, or work on something else")
            note = f" (reclaimed: the previous claim by agent {held['agent']!r} ended: {reason})"
        state["claims"][name] = {
            "resource": name,
            "run": run,
            "agent": agent,
            **me(),
            "acquired": now,
            "expires": now + ttl,
        }
    return Verdict(True, f"claimed {name!r} until {iso(now + ttl)}{note}")


def _handed_to(held: dict[str, Any], agent: str) -> bool:
    return held.get("run") is None and held.get("agent") == agent


def release(root: Path, resource: str, *, run: str) -> Verdict:
    """Release ``run``'s claim on ``resource``."""
    name = check_resource(resource)
    with _state(root) as state:
        held = state["claims"].get(name)
        if held is None:
            return Verdict(False, f"{name!r} is not claimed")
        if held.get("run") != run:
            return Verdict(False, f"{name!r} is claimed by {_describe(held)}, not by this run")
        del state["claims"][name]
    return Verdict(True, f"released {name!r}")


def release_run(root: Path, run: str) -> list[str]:
    """Release every claim ``run`` still holds (at the end of the run); returns their names."""
    with _state(root) as state:
        mine = [n for n, c in state["claims"].items() if c.get("run") == run]
        for name in mine:
            del state["claims"][name]
    return mine


def handoff(root: Path, *, run: str, agent: str, to: str, note: str, now: float | None = None) -> Verdict:
    """Pass ``run``'s claims and ``note`` to the next run of agent ``to``."""
    now = time.time() if now is None else now
    with _state(root) as state:
        passed = []
        for name, c in state["claims"].items():
            if c.get("run") == run:
                c.update(run=None, agent=to, pid=None, pstart=None, handed_by=run)
                passed.append(name)
        state["handoffs"].append(
            {"from_run": run, "from_agent": agent, "to": to, "note": scrub(note), "claims": passed, "at": now}
        )
    listed = ", ".join(repr(p) for p in passed) or "no claims"
    return Verdict(True, f"handed off to {to!r} with {listed}; its next run receives the note")


def accept_handoffs(root: Path, *, run: str, agent: str, now: float | None = None) -> list[dict[str, Any]]:
    """At the start of a run of ``agent``: take the claims and notes handed to it."""
    now = time.time() if now is None else now
    with _state(root) as state:
        mine = [h for h in state["handoffs"] if h["to"] == agent]
        if not mine:
            return []
        state["handoffs"] = [h for h in state["handoffs"] if h["to"] != agent]
        for c in state["claims"].values():
            if _handed_to(c, agent) and c["expires"] > now:
                c.update(run=run, **me())
    return mine


def held(root: Path, now: float | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The claims that still bind (each with ``expires_at``) and the pending handoffs."""
    now = time.time() if now is None else now
    try:
        state = json.loads(claims_path(root).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return [], []
    live = [
        {**c, "expires_at": iso(c["expires"])}
        for c in state.get("claims", {}).values()
        if stale_reason(root, c, now) is None
    ]
    return sorted(live, key=lambda c: c["resource"]), list(state.get("handoffs", []))

"""Each dashboard view's figures, read from the root's files (nothing is written)."""

from __future__ import annotations

import subprocess
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ZERO_TOKEN = ("CRYSTALLIZED", "FOLLOWER")


def runs(root: Path) -> list[dict[str, Any]]:
    """Every trace, newest first: id, start, agent, mode, outcome, model, tokens, cost, goal, steps."""
    from ...modes.traceindex import read_frontmatter
    from ...traces import iter_trace_files

    out = []
    for path in iter_trace_files(root):
        d = read_frontmatter(path)
        if not d or "id" not in d:
            continue
        t = d.get("tokens") or {}
        out.append(
            {
                "id": str(d["id"]),
                "started": str(d.get("started") or ""),
                "agent": str(d.get("agent") or ""),
                "mode": str(d.get("mode") or ""),
                "outcome": str(d.get("outcome") or ""),
                "model": str(d.get("model") or ""),
                "tokens": int(t.get("input", 0)) + int(t.get("output", 0)) + int(t.get("cached", 0)),
                "cost_usd": float(d.get("cost_usd") or 0.0),
                "goal": str(d.get("goal") or ""),
                "signature": str(d.get("goal_signature") or ""),
                "steps": len(d.get("steps") or []),
                "parent": d.get("parent"),
            }
        )
    return sorted(out, key=lambda r: (r["started"], r["id"]), reverse=True)


def savings(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Tokens used and saved per day by mode. A run's saving is the mean tokens of the model-driven
    (LEARNER/MIXED) runs of the same goal signature, less its own; runs with no such baseline save 0."""
    spent: dict[str, list[int]] = defaultdict(list)
    for r in rows:
        if r["signature"] and r["mode"] not in ZERO_TOKEN and r["tokens"] > 0:
            spent[r["signature"]].append(r["tokens"])
    base = {sig: sum(v) / len(v) for sig, v in spent.items()}
    used: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    saved: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for r in rows:
        day, mode = r["started"][:10], r["mode"] or "?"
        used[mode][day] += r["tokens"]
        saved[mode][day] += max(0.0, base.get(r["signature"], 0.0) - r["tokens"])
    days = sorted({r["started"][:10] for r in rows if r["started"]})
    total_saved = sum(sum(v.values()) for v in saved.values())
    total_used = sum(r["tokens"] for r in rows)
    return {
        "days": days,
        "used": {m: [used[m].get(d, 0) for d in days] for m in sorted(used)},
        "saved": {m: [round(saved[m].get(d, 0.0)) for d in days] for m in sorted(saved) if any(saved[m].values())},
        "total_used": total_used,
        "total_saved": round(total_saved),
        "share_saved": round(total_saved / (total_saved + total_used), 3) if total_saved + total_used else 0.0,
    }


def memory(root: Path) -> dict[str, Any]:
    """Memories by tier (current and superseded), the newest ones, and dream branches awaiting review."""
    from ...memory.store import list_memories

    found, errors = list_memories(root, None, None)
    from ...memory.names import TIERS

    tiers: dict[str, dict[str, int]] = defaultdict(lambda: {"current": 0, "superseded": 0})
    for tier in TIERS:  # every tier shows, an empty one as 0
        tiers[tier]
    for m in found:
        tiers[m.meta.tier]["superseded" if m.meta.valid_to else "current"] += 1
    newest = [
        {
            "id": m.id,
            "tier": m.meta.tier,
            "kind": m.meta.kind,
            "title": m.meta.title,
            "created": f"{m.meta.created:%Y-%m-%d}",
        }
        for m in found[:50]
    ]
    return {
        "tiers": dict(tiers),
        "newest": newest,
        "errors": [str(e) for e in errors],
        "branches": dream_branches(root),
    }


def dream_branches(root: Path) -> list[dict[str, str]]:
    """``llmos/dream/*`` branches not merged into HEAD: promotions waiting for review."""
    fmt = "%(refname:short)\x1f%(committerdate:iso-strict)\x1f%(subject)"
    proc = subprocess.run(
        ["git", "-C", str(root), "for-each-ref", f"--format={fmt}", "--no-merged=HEAD", "refs/heads/llmos/dream/"],
        capture_output=True,
        text=True,
    )
    rows = [line.split("\x1f") for line in proc.stdout.splitlines() if line.count("\x1f") == 2]
    return [{"branch": b, "date": d[:16], "subject": s} for b, d, s in rows]


def budget(root: Path, config: Any, days: int = 14) -> dict[str, Any]:
    """Spend per day for the last ``days`` days against the daily ceiling, and every ceiling now."""
    from ...budget.gate import Budget

    status = Budget(root, config.budget).status()
    today = date.fromisoformat(status["day"])
    span = [(today - timedelta(days=n)).isoformat() for n in range(days - 1, -1, -1)]
    by_day = status["by_day"]
    return {
        "days": span,
        "spent": [round(by_day.get(d, {}).get("cost_usd", 0.0), 6) for d in span],
        "per_day": config.budget.per_day,
        "ceilings": status["ceilings"],
        "by_agent": status["by_agent"],
        "by_model": status["by_model"],
    }


def tools(kernel: Any) -> dict[str, Any]:
    from ...modes.learned import tool_rows

    rows, errors = tool_rows(kernel)
    return {"tools": rows, "errors": errors}


def storage(root: Path, config: Any) -> dict[str, Any]:
    """Blob store figures and vault snapshots (cheap reads: no pack is checked here)."""
    from ...blobs import BlobStore
    from ...vault import Vault

    blobs: dict[str, Any] = {}
    folder = root / ".llmos" / "blobs"
    if folder.exists():
        try:
            with BlobStore.open(folder) as store:
                blobs = store.stats()
        except Exception as exc:  # a damaged store is shown, not raised
            blobs = {"problem": f"{type(exc).__name__}: {exc}"}
    try:
        snaps = [
            {
                "id": s.id,
                "seq": s.seq,
                "created": f"{s.created:%Y-%m-%d %H:%M}",
                "files": s.files,
                "bytes": s.archive_bytes,
                "commit": s.commit[:12],
            }
            for s in Vault(root, config.vault).list()
        ]
        vault = {"snapshots": snaps}
    except Exception as exc:
        vault = {"snapshots": [], "problem": f"{type(exc).__name__}: {exc}"}
    return {"blobs": blobs, "vault": vault}

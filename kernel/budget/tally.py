"""Totals folded from the ledger's entries, and the scopes a charge counts against (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any


def utc_day(now: datetime | None = None) -> str:
    """The UTC calendar day (``YYYY-MM-DD``) that budget periods are counted in."""
    return (now or datetime.now(timezone.utc)).strftime("%Y-%m-%d")


@dataclass
class Tally:
    """Totals folded from ledger entries: spent per scope, open reservations, alerts fired."""

    spent: dict[str, float] = field(default_factory=dict)
    open: dict[str, dict[str, Any]] = field(default_factory=dict)
    fired: set[str] = field(default_factory=set)
    groups: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    applied: int = 0

    def apply(self, e: dict[str, Any]) -> None:
        kind = e.get("type")
        if kind == "reserve":
            self.open[e["id"]] = e
        elif kind == "release":
            self.open.pop(e["reservation"], None)
        elif kind == "alert":
            self.fired.add(e["key"])
        elif kind == "charge":
            self.open.pop(e["reservation"], None)
            for scope in scopes(e["run"], e["agent"], e["day"]).values():
                self.spent[scope] = self.spent.get(scope, 0.0) + e["cost_usd"]
            for group in ("model", "agent", "kind", "day"):
                row = self.groups.setdefault(group, {}).setdefault(
                    str(e[group]),
                    {
                        "calls": 0,
                        "input_tokens": 0,
                        "output_tokens": 0,
                        "cached_tokens": 0,
                        "cache_write_tokens": 0,
                        "cost_usd": 0.0,
                    },
                )
                row["calls"] += 1
                row["input_tokens"] += e["input_tokens"]
                row["output_tokens"] += e["output_tokens"]
                row["cached_tokens"] += e.get("cached_tokens", 0)
                row["cache_write_tokens"] += e.get("cache_write_tokens", 0)
                row["cost_usd"] += e["cost_usd"]

    def reserved(self, scope: str) -> float:
        """Worst case of the open reservations that count against ``scope``."""
        return sum(
            r["worst_usd"] for r in self.open.values() if scope in scopes(r["run"], r["agent"], r["day"]).values()
        )


def scopes(run: str | None, agent: str | None, day: str) -> dict[str, str]:
    """Ceiling name -> the scope key a charge of this run/agent/day counts against."""
    out = {}
    if run is not None:
        out["per_run"] = f"run:{run}"
    if agent is not None:
        out["per_agent_day"] = f"agent_day:{agent}:{day}"
    out.update({"per_day": f"day:{day}", "total": "total"})  # narrowest first
    return out

"""Budget: prices, ceilings, the fail-closed spend gate, and alerts.

Integration (the agent loop)::

    budget = Budget(root, config.budget)
    with budget.spend(run_id=..., agent=..., model=..., input_tokens=...,
                      max_output_tokens=..., kind="run", agent_ceiling=None) as charge:
        reply = backend.complete(...)   # only reached if the worst case fits every ceiling
        charge.settle(input_tokens=reply.usage.input, output_tokens=reply.usage.output)

``spend`` checks, under the ledger lock (so across processes), that the worst case (input plus max
output tokens, priced) fits every ceiling that applies *including the open reservations of other live
processes*, then records a reservation. ``settle`` charges the real usage and closes it. A block that
exits without ``settle`` (an exception, or a forgotten call) is charged the worst case: the API may
have billed before failing. ``charge.release()`` says "the call was certainly not made" and charges
nothing. Reservations of processes that died are charged their worst case by the next spender.

Periods are UTC days. Alerts fire once per (ceiling, scope, limit, threshold), recorded in the ledger.
The totals folded from the ledger are :mod:`llmos.budget.tally`; one budgeted model call (reserve,
call, settle, release when not billed) is :func:`llmos.budget.call.ask`.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator, TextIO

from .alerts import Alert, crossed_thresholds, deliver
from .config import BudgetConfig, ModelPrice, cost_usd, price_for, worst_usd
from ..errors import BudgetExceeded
from ..halt import check_halt
from .ledger import Ledger, VerifyReport
from .tally import Tally, scopes, utc_day
from ..procs import alive, process_start

EPSILON = 1e-9
CONFIG_FILE = "system/llmos.yaml"  # where a person edits the ceilings (read through ``reload``)
CEILINGS = ("per_run", "per_agent_day", "per_day", "total")


class Charge:
    """A reservation made by :meth:`Budget.spend`; settle it with the real usage."""

    def __init__(self, budget: "Budget", reserve: dict[str, Any], price: ModelPrice, agent_ceiling: float | None):
        self._budget = budget
        self.entry = reserve
        self.reservation_id: str = reserve["id"]
        self.worst_usd: float = reserve["worst_usd"]
        self.max_output: int = reserve["max_output_tokens"]
        self.price = price
        self.agent_ceiling = agent_ceiling
        self.cost_usd: float | None = None
        self.alerts: list[Alert] = []
        self.closed = False

    def settle(self, *, input_tokens: int, output_tokens: int, cached: int = 0, cache_write: int = 0) -> float:
        """Charge the real usage, close the reservation, fire alerts; returns the cost in USD.

        The charge never exceeds the reservation: the gate let the call through on that bound, and a
        provider that reports more than the request allowed (output beyond its ``max_tokens``) has
        broken the request's contract. The reported usage and its price stay in the ledger entry
        (``reported_usd``) and a line on stderr says so."""
        if min(input_tokens, output_tokens, cached, cache_write) < 0:
            raise ValueError("token counts cannot be negative")
        cost = cost_usd(self.price, input_tokens, output_tokens, cached, cache_write)
        reported = None
        if cost > self.worst_usd + EPSILON:
            reported, cost = cost, self.worst_usd
            e = self.entry
            print(
                f"llmos: the provider reported {input_tokens}/{output_tokens} tokens (${reported:.6f}) for a call "
                f"reserved at {e['input_tokens']}/{e['max_output_tokens']} (${self.worst_usd:.6f}); "
                "charged the reservation",
                file=self._budget.alert_stream,
            )
        self._close(input_tokens, output_tokens, cost, "settled", reported, cached, cache_write)
        return cost

    def release(self) -> None:
        """Close the reservation charging nothing: only when the model call was surely not made."""
        if self.closed:
            raise RuntimeError(f"reservation {self.reservation_id} is already closed")
        self._budget._close(self, None)
        self.closed = True

    def _close(
        self,
        input_tokens: int,
        output_tokens: int,
        cost: float,
        reason: str,
        reported_usd: float | None = None,
        cached: int = 0,
        cache_write: int = 0,
    ) -> None:
        if self.closed:
            raise RuntimeError(f"reservation {self.reservation_id} is already closed")
        e = self.entry
        charge = {
            "type": "charge",
            "reservation": self.reservation_id,
            "run": e["run"],
            "agent": e["agent"],
            "model": e["model"],
            "kind": e["kind"],
            "day": e["day"],
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cost_usd": cost,
            "reason": reason,
        }
        if cached or cache_write:
            charge["cached_tokens"], charge["cache_write_tokens"] = cached, cache_write
        if reported_usd is not None:
            charge["reported_usd"] = reported_usd
        self.alerts = self._budget._close(self, charge)
        self.cost_usd = cost
        self.closed = True


class Budget:
    """The spend gate of one OS root. Safe to use from many processes at once."""

    def __init__(
        self,
        root: Path,
        config: BudgetConfig,
        *,
        alert_stream: TextIO | None = None,
        reload: Callable[[], BudgetConfig] | None = None,
    ):
        self.root = Path(root)
        self.config = config
        self.ledger = Ledger(self.root)
        self.alert_stream = alert_stream if alert_stream is not None else sys.stderr
        self._tally = Tally()
        self._tally_of: int | None = None
        self._reload = reload
        self._config_mark = self._mark() if reload is not None else None

    def _mark(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.root / CONFIG_FILE)
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def _follow_config(self) -> None:
        """With ``reload``, a ceiling a person changes in system/llmos.yaml applies from the next call,
        also to runs already going (a lowered ceiling must hold now). An edit that does not validate
        keeps the ceilings in force (``llmos check`` names the error)."""
        if self._reload is None:
            return
        mark = self._mark()
        if mark == self._config_mark:
            return
        self._config_mark = mark
        try:
            self.config = self._reload()
        except Exception:  # noqa: BLE001 - an invalid edit: the ceilings in force stay
            pass

    def limits(self, agent_ceiling: float | None = None) -> dict[str, float | None]:
        """Ceiling name -> limit in USD; ``agent_ceiling`` can only lower ``per_run``."""
        out: dict[str, float | None] = {c: getattr(self.config, c) for c in CEILINGS}
        if agent_ceiling is not None:
            out["per_run"] = agent_ceiling if out["per_run"] is None else min(out["per_run"], agent_ceiling)
        return out

    @contextlib.contextmanager
    def spend(
        self,
        *,
        run_id: str | None,
        agent: str | None,
        model: str,
        input_tokens: int | Callable[[], int],
        max_output_tokens: int,
        kind: str = "run",
        agent_ceiling: float | None = None,
        caching: bool = False,
        min_output_tokens: int | None = None,
    ) -> Iterator[Charge]:
        """Reserve the worst case of one model call, or raise :class:`BudgetExceeded`.
        ``input_tokens`` may be a function (a provider's token count): it is called only once the
        kill switch and the price have been checked. With ``min_output_tokens``, a call whose full
        ``max_output_tokens`` does not fit is let through with the largest output that does (at least
        that many): :attr:`Charge.max_output` is the ``max_tokens`` the request must then set."""
        charge = self._reserve(
            run_id, agent, model, input_tokens, max_output_tokens, kind, agent_ceiling, caching, min_output_tokens
        )
        try:
            yield charge
        finally:
            if not charge.closed:
                e = charge.entry
                charge._close(e["input_tokens"], max_output_tokens, charge.worst_usd, reason="abandoned")

    def status(
        self, run_id: str | None = None, agent: str | None = None, agent_ceiling: float | None = None
    ) -> dict[str, Any]:
        """Spent, reserved and remaining per ceiling, and spend by model, agent, kind and day."""
        with self.ledger.locked() as entries:
            tally = self._fold(entries)
        day = utc_day()
        ceilings = {}
        for name, scope in scopes(run_id, agent, day).items():
            limit = self.limits(agent_ceiling)[name]
            spent, reserved = tally.spent.get(scope, 0.0), tally.reserved(scope)
            ceilings[name] = {
                "scope": scope,
                "limit": limit,
                "spent": spent,
                "reserved": reserved,
                "remaining": None if limit is None else max(0.0, limit - spent - reserved),
            }
        by = {g: {k: dict(v) for k, v in rows.items()} for g, rows in tally.groups.items()}
        return {
            "day": day,
            "ceilings": ceilings,
            "by_model": by.get("model", {}),
            "by_agent": by.get("agent", {}),
            "by_kind": by.get("kind", {}),
            "by_day": by.get("day", {}),
            "open_reservations": len(tally.open),
        }

    def settle_dead_run(self, run_id: str) -> float:
        """For recovery after a kill: charge the open reservations of dead processes (the run's
        among them) their worst case, and return everything ``run_id`` was charged, in USD."""
        with self.ledger.locked() as entries:
            tally = self._fold(entries)
            alerts = self._expire_dead(tally)
            spent = self._fold(entries).spent.get(f"run:{run_id}", 0.0)
        deliver(alerts, self.config, self.root, self.alert_stream)
        return spent

    def verify(self) -> VerifyReport:
        """Check the ledger's whole hash chain (never raises for a broken chain)."""
        return self.ledger.verify()

    # -- internals ---------------------------------------------------------------------------

    def _fold(self, entries: list[dict[str, Any]]) -> Tally:
        """Bring the tally up to date with ``entries`` (re-fold if the ledger was re-read)."""
        if self._tally_of != self.ledger.generation or self._tally.applied > len(entries):
            self._tally, self._tally_of = Tally(), self.ledger.generation
        for e in entries[self._tally.applied :]:
            self._tally.apply(e)
        self._tally.applied = len(entries)
        return self._tally

    def _reserve(
        self,
        run_id: str | None,
        agent: str | None,
        model: str,
        input_tokens: int | Callable[[], int],
        max_output_tokens: int,
        kind: str,
        agent_ceiling: float | None,
        caching: bool = False,
        min_output_tokens: int | None = None,
    ) -> Charge:
        check_halt(self.root)
        self._follow_config()
        price = price_for(self.config, model)
        if price is None and not self.config.allow_unpriced:
            raise BudgetExceeded(
                f"model {model!r} has no known price; refusing to call it",
                ceiling="price",
                hint="add it under budget.prices in system/llmos.yaml, or set budget.allow_unpriced: true",
            )
        if callable(input_tokens):
            input_tokens = input_tokens()
        if input_tokens < 0 or max_output_tokens < 0:
            raise ValueError("token counts cannot be negative")
        price = price or ModelPrice(input=0.0, output=0.0)
        worst = worst_usd(price, input_tokens, max_output_tokens, caching)
        day = utc_day()
        alerts: list[Alert] = []
        with self.ledger.locked() as entries:
            tally = self._fold(entries)
            alerts += self._expire_dead(tally)
            room = self._room(tally, run_id, agent, day, agent_ceiling)
            if min_output_tokens is not None and worst > room and price.output > 0:
                # the request may ask for a shorter reply: as long a one as the ceilings still allow
                fits = int((room - worst_usd(price, input_tokens, 0, caching)) / price.output * 1_000_000)
                if fits >= min_output_tokens:
                    max_output_tokens = min(max_output_tokens, fits)
                    worst = worst_usd(price, input_tokens, max_output_tokens, caching)
            refusal = self._first_refusal(tally, run_id, agent, day, worst, agent_ceiling)
            if refusal is not None:
                alerts += self._record_alerts(tally, run_id, agent, day, agent_ceiling, refused=refusal.ceiling)
            else:
                entry = self.ledger.append(
                    {
                        "type": "reserve",
                        "id": uuid.uuid4().hex,
                        "run": run_id,
                        "agent": agent,
                        "model": model,
                        "kind": kind,
                        "day": day,
                        "pid": os.getpid(),
                        "pstart": process_start(os.getpid()),
                        "host": socket.gethostname(),
                        "input_tokens": input_tokens,
                        "max_output_tokens": max_output_tokens,
                        "worst_usd": worst,
                    }
                )
                self._fold(entries)
        deliver(alerts, self.config, self.root, self.alert_stream)
        if refusal is not None:
            refusal.alerts = alerts
            raise refusal
        return Charge(self, entry, price, agent_ceiling)

    def _room(self, tally: Tally, run: str | None, agent: str | None, day: str, agent_ceiling: float | None) -> float:
        """USD a new call may still cost under every ceiling that applies (inf: none applies)."""
        limits = self.limits(agent_ceiling)
        rooms = [
            limits[name] - tally.spent.get(scope, 0.0) - tally.reserved(scope)
            for name, scope in scopes(run, agent, day).items()
            if limits[name] is not None
        ]
        return min(rooms, default=float("inf"))

    def _first_refusal(
        self, tally: Tally, run: str | None, agent: str | None, day: str, worst: float, agent_ceiling: float | None
    ) -> BudgetExceeded | None:
        limits = self.limits(agent_ceiling)
        for name, scope in scopes(run, agent, day).items():
            limit = limits[name]
            if limit is None:
                continue
            spent = tally.spent.get(scope, 0.0) + tally.reserved(scope)
            if spent + worst > limit + EPSILON:
                return BudgetExceeded(
                    f"budget {name} ({scope}) would be exceeded: ${spent:.4f} spent or reserved "
                    f"of ${limit:.4f}, this call may cost up to ${worst:.4f}",
                    ceiling=name,
                    limit=limit,
                    spent=spent,
                    needed=worst,
                    hint="raise the ceiling under budget: in system/llmos.yaml or wait for the "
                    "next period; see `llmos budget`",
                )
        return None

    def _expire_dead(self, tally: Tally) -> list[Alert]:
        """Charge the worst case of reservations whose process died; return alerts fired."""
        dead = [r for r in tally.open.values() if r["pid"] != os.getpid() and not alive(r)]
        alerts: list[Alert] = []
        for r in dead:
            self.ledger.append(
                {
                    "type": "charge",
                    "reservation": r["id"],
                    "run": r["run"],
                    "agent": r["agent"],
                    "model": r["model"],
                    "kind": r["kind"],
                    "day": r["day"],
                    "input_tokens": r["input_tokens"],
                    "output_tokens": r["max_output_tokens"],
                    "cost_usd": r["worst_usd"],
                    "reason": "process-died",
                }
            )
            tally = self._fold(self.ledger._cursor.entries)
            alerts += self._record_alerts(tally, r["run"], r["agent"], r["day"], None)
        return alerts

    def _close(self, charge: Charge, entry: dict[str, Any] | None) -> list[Alert]:
        """Append the charge (or a release when ``entry`` is None) and fire any alerts."""
        r = charge.entry
        with self.ledger.locked() as entries:
            self._fold(entries)
            if entry is None:
                self.ledger.append({"type": "release", "reservation": charge.reservation_id})
                return []
            self.ledger.append(entry)
            tally = self._fold(entries)
            alerts = self._record_alerts(tally, r["run"], r["agent"], r["day"], charge.agent_ceiling)
        deliver(alerts, self.config, self.root, self.alert_stream)
        return alerts

    def _record_alerts(
        self,
        tally: Tally,
        run: str | None,
        agent: str | None,
        day: str,
        agent_ceiling: float | None,
        refused: str | None = None,
    ) -> list[Alert]:
        """Append an ``alert`` entry for every threshold newly crossed (under the lock)."""
        limits = self.limits(agent_ceiling)
        out = []
        for name, scope in scopes(run, agent, day).items():
            for alert in crossed_thresholds(
                name, scope, limits[name], tally.spent.get(scope, 0.0), self.config.alerts, refused=(name == refused)
            ):
                if alert.key not in tally.fired:
                    self.ledger.append({"type": "alert", **alert.record()})
                    tally = self._fold(self.ledger._cursor.entries)
                    out.append(alert)
        return out

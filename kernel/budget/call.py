"""One budgeted model call: the gate's reservation around a backend's ``complete``."""

from __future__ import annotations

from typing import Any

from ..errors import BackendError
from .gate import Budget, Charge

MIN_OUTPUT = 1024  # the shortest reply a call near a ceiling may be cut down to (see Budget.spend)


def ask(
    backend: Any,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]],
    *,
    budget: Budget,
    agent: str | None,
    run_id: str | None = None,
    kind: str = "run",
    agent_ceiling: float | None = None,
) -> tuple[Any, float]:
    """One budgeted model call: reserve an upper bound of its cost at the gate, call ``backend``
    (anything with ``model``, ``max_output``, ``estimate_input`` and ``complete``:
    :class:`llmos.backends.Backend`), settle what it used. Returns the reply and its cost in USD;
    raises ``BudgetExceeded`` before the call when a ceiling would be crossed. The run loop, the
    rerank, the brief and the dream all call the model through here.

    ``estimate_input`` must bound the input tokens from above (a provider's token count, or a bound
    from bytes), and ``max_output`` is the ``max_tokens`` the request itself sets, so the reservation
    bounds the call. A :class:`BackendError` that was not billed (``billed`` false: no response, or an
    error status the provider does not charge) releases the reservation; any other failure is charged
    the worst case. Whatever was charged for a failed call rides on the exception as ``charged_usd``,
    so the run's trace and commit trailer say what the ledger says."""
    charge: Charge | None = None
    try:
        with budget.spend(
            run_id=run_id,
            agent=agent,
            model=backend.model,
            kind=kind,
            input_tokens=lambda: backend.estimate_input(messages, tools),
            max_output_tokens=backend.max_output,
            agent_ceiling=agent_ceiling,
            caching=bool(getattr(backend, "cache", False)),
            min_output_tokens=min(MIN_OUTPUT, backend.max_output) if _settable(backend) else None,
        ) as charge:
            full, backend.max_output = backend.max_output, charge.max_output
            try:
                reply = backend.complete(messages, tools)
            except BackendError as exc:
                if not exc.billed:
                    charge.release()
                raise
            finally:
                backend.max_output = full
            reply.max_tokens = charge.max_output
            u = reply.usage
            cost = charge.settle(
                input_tokens=u.input, output_tokens=u.output, cached=u.cached, cache_write=u.cache_write
            )
    except BaseException as exc:
        if charge is not None and charge.cost_usd:
            exc.charged_usd = charge.cost_usd  # type: ignore[attr-defined]
        raise
    return reply, cost


def _settable(backend: Any) -> bool:
    """Whether the request's output limit can be lowered for one call (a plugin's backend may expose
    ``max_output`` read-only: then its calls reserve their full limit, never a shortened one)."""
    try:
        backend.max_output = backend.max_output
    except AttributeError:
        return False
    return True

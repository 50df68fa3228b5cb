"""The budget gate is a true bound: what a call can cost is reserved before it, a charge never passes
its reservation, a call the provider did not bill costs nothing, and trace, trailer and ledger agree.
Against the strict Messages-API stub, through the real SDK."""

from __future__ import annotations

import io
import json
import secrets
from pathlib import Path

import pytest
import yaml

from anthropic_stub import StubServer, tool_use
from helpers import git
from llmos.backends import Reply, Usage
from llmos.budget.config import BudgetConfig
from llmos.budget.call import ask
from llmos.budget.gate import Budget
from llmos.budget.ledger import ledger_path
from llmos.errors import BackendError, BudgetExceeded
from llmos.kernel import Kernel
from llmos.traces import read_trace


def _configure(root: Path, **budget) -> None:
    path = root / "system/llmos.yaml"
    config = yaml.safe_load(path.read_text()) or {}
    config["budget"] = {**(config.get("budget") or {}), **budget}
    path.write_text(yaml.safe_dump(config))
    git(root, "commit", "-qam", "budget for the test")


def _charges(root: Path) -> list[dict]:
    lines = ledger_path(root).read_text().splitlines() if ledger_path(root).exists() else []
    return [e for e in map(json.loads, lines) if e["type"] == "charge"]


def _claude(monkeypatch: pytest.MonkeyPatch, stub: StubServer) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", stub.url)


def test_dense_input_cannot_overspend_the_run_ceiling(root: Path, monkeypatch: pytest.MonkeyPatch):
    """Finding: 20,000 hex characters counted as about one token, and per_run 0.05 was overspent 4.3x."""
    (root / "projects").mkdir(exist_ok=True)
    (root / "projects/dense.txt").write_text(secrets.token_hex(40_000))  # 80,000 hex characters, no spaces
    git(root, "add", "projects/dense.txt")
    git(root, "commit", "-qm", "dense file")
    _configure(root, per_run=0.05)
    replies = [tool_use(f"r{i}", "read_file", path="projects/dense.txt") for i in range(6)]
    with StubServer(replies) as stub:
        _claude(monkeypatch, stub)
        with pytest.raises(BudgetExceeded) as info:
            Kernel(root).run("read the dense file", model="anthropic:claude-sonnet-4-6")
    spent = sum(c["cost_usd"] for c in _charges(root))
    real = (
        sum(
            u["input_tokens"] * 3
            + u["output_tokens"] * 15
            + u["cache_creation_input_tokens"] * 3.75
            + u["cache_read_input_tokens"] * 0.3
            for u in stub.usages
        )
        / 1e6
    )
    assert spent <= 0.05 + 1e-9 and real <= 0.05 + 1e-9  # what the API billed stayed within the ceiling
    assert len(stub.requests) >= 1 and spent == pytest.approx(real)
    trace = read_trace(info.value.run.trace_path)
    assert trace.outcome == "budget" and trace.cost_usd == pytest.approx(spent)


def test_without_token_counting_the_bound_comes_from_bytes(root: Path, monkeypatch: pytest.MonkeyPatch):
    """A gateway without the count endpoint: the reservation is bounded from bytes, never from words."""
    from llmos.backends.claude import AnthropicBackend

    with StubServer([]) as stub:
        _claude(monkeypatch, stub)
        backend = AnthropicBackend("claude-sonnet-4-6")
        backend._can_count = False
        dense = "語" * 5000 + secrets.token_hex(5000)
        messages = [{"role": "system", "content": "sys"}, {"role": "user", "content": dense}]
        from anthropic_stub import count_request

        bound = backend.estimate_input(messages, [])
        real = count_request({"system": "sys", "messages": [{"role": "user", "content": dense}]})
    assert bound >= real and stub.counts == []


def test_a_reply_longer_than_max_tokens_is_charged_at_most_its_reservation(root: Path, monkeypatch):
    """Finding: replies longer than max_output were charged beyond the reservation ($0.1022 of $0.10)."""
    replies = [{**tool_use("f", "finish", result="done"), "output_tokens": 50_000}]
    with StubServer(replies) as stub:
        _claude(monkeypatch, stub)
        res = Kernel(root).run("answer briefly", model="anthropic:claude-sonnet-4-6")
    [charge] = _charges(root)
    reservation = next(
        json.loads(x) for x in ledger_path(root).read_text().splitlines() if json.loads(x)["type"] == "reserve"
    )
    assert charge["cost_usd"] == pytest.approx(reservation["worst_usd"]) and charge["reported_usd"] > charge["cost_usd"]
    assert res.cost_usd == pytest.approx(charge["cost_usd"])
    assert f"Cost-USD: {res.cost_usd:.6f}" in git(root, "log", "-1", "--format=%B")


@pytest.mark.parametrize(
    "status, kind",
    [(400, "invalid_request_error"), (401, "authentication_error"), (500, "api_error"), (529, "overloaded_error")],
)
def test_a_failed_call_the_provider_did_not_bill_costs_nothing_anywhere(root: Path, monkeypatch, status, kind):
    """Finding: every failed call was charged its worst case in the ledger while the trace said 0."""
    error = {"status": status, "error_type": kind, "message": "no", "headers": {"x-should-retry": "false"}}
    with StubServer([error]) as stub:
        _claude(monkeypatch, stub)
        with pytest.raises(BackendError) as info:
            Kernel(root).run("x", model="anthropic:claude-sonnet-4-6")
    assert _charges(root) == [] and Budget(root, BudgetConfig()).status()["open_reservations"] == 0
    trace = read_trace(info.value.run.trace_path)
    assert trace.cost_usd == 0 and trace.outcome == "failure"
    assert "Cost-USD: 0.000000" in git(root, "log", "-1", "--format=%B")


class _Exploding:
    model, max_output = "claude-sonnet-4-6", 1000

    def estimate_input(self, messages, tools):
        return 2000

    def complete(self, messages, tools):
        raise RuntimeError("a bug after the provider answered")


def test_a_call_that_fails_on_our_side_is_charged_its_worst_case_and_says_so(tmp_path: Path):
    budget = Budget(tmp_path, BudgetConfig(), alert_stream=io.StringIO())
    with pytest.raises(RuntimeError) as info:
        ask(_Exploding(), [], [], budget=budget, agent="a", run_id="r")
    worst = (2000 * 3 + 1000 * 15) / 1e6
    assert info.value.charged_usd == pytest.approx(worst)
    assert budget.status(run_id="r")["ceilings"]["per_run"]["spent"] == pytest.approx(worst)


class _Billed(_Exploding):
    def complete(self, messages, tools):
        return Reply("ok", [], Usage(input=10, output=5), "end_turn")


def test_the_kill_switch_and_price_are_checked_before_counting(tmp_path: Path):
    counted = []

    class Counting(_Billed):
        model = "claude-unknown-9"

        def estimate_input(self, messages, tools):
            counted.append(1)
            return 10

    budget = Budget(tmp_path, BudgetConfig(), alert_stream=io.StringIO())
    with pytest.raises(BudgetExceeded, match="no known price"):
        ask(Counting(), [], [], budget=budget, agent="a")
    assert counted == []
    reply, cost = ask(_Billed(), [], [], budget=budget, agent="a")
    assert cost == pytest.approx((10 * 3 + 5 * 15) / 1e6)


def test_a_ceiling_lowered_while_a_run_goes_holds_from_its_next_call(root: Path, script):
    """A person who lowers budget.per_run mid-run expects it to hold now, not at the next run."""
    _configure(root, free_models=["local"], prices={"scripted": {"input": 100.0, "output": 100.0}})
    config = root / "system/llmos.yaml"
    lower = yaml.safe_load(config.read_text())
    lower["budget"]["per_run"] = 0.000001
    edit = {"tool_calls": [{"name": "list_dir", "args": {"path": "."}}]}
    model = script(edit, edit, {"tool_calls": [{"name": "finish", "args": {"result": "x"}}]})
    events = []

    def on_event(kind, data):
        if kind == "step" and not events:
            config.write_text(yaml.safe_dump(lower))  # the person's edit, between two model calls
            events.append(kind)

    with pytest.raises(BudgetExceeded, match="per_run") as info:
        Kernel(root).run("list twice", model=model, on_event=on_event)
    assert read_trace(info.value.run.trace_path).model_calls == 1


class _ReadOnlyLimit(_Billed):
    @property
    def max_output(self):
        return 4000


def test_a_backend_whose_limit_cannot_be_lowered_is_never_given_a_shorter_reservation(tmp_path: Path):
    budget = Budget(tmp_path, BudgetConfig(per_run=0.03), alert_stream=io.StringIO())
    # worst case 2000 x $3 + 4000 x $15 per M = $0.066 > $0.03: a shortened max_tokens would fit, but this
    # backend would still send 4000, so the call is refused rather than under-reserved
    with pytest.raises(BudgetExceeded):
        ask(_ReadOnlyLimit(), [], [], budget=budget, agent="a", run_id="r")
    settable = _Billed()
    settable.max_output = 4000
    reply, _ = ask(settable, [], [], budget=budget, agent="a", run_id="r2")  # shortened to what fits, let through
    assert reply.max_tokens == 1600 and settable.max_output == 4000  # ($0.03 - $0.006) / $15 per M; restored

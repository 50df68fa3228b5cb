"""Budget gate, ledger and alerts: real files, real processes, nothing mocked."""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest
from pydantic import ValidationError

from llmos.budget.config import BudgetConfig, price_for
from llmos.budget.gate import Budget
from llmos.errors import BudgetExceeded, Halted, LedgerBroken
from llmos.halt import halt
from llmos.budget.ledger import ledger_path

# claude-haiku-4-5 costs $1 / $5 per million tokens: 5000 in + 1000 out = $0.01 worst case.
HAIKU = "claude-haiku-4-5"
CALL = dict(model=HAIKU, input_tokens=5000, max_output_tokens=1000)


def make(root: Path, **cfg) -> Budget:
    return Budget(root, BudgetConfig(**cfg), alert_stream=io.StringIO())


def spend_once(
    budget: Budget, run_id: str = "run-1", agent: str = "writer", output_tokens: int = 1000, **extra
) -> float:
    with budget.spend(run_id=run_id, agent=agent, **{**CALL, **extra}) as charge:
        return charge.settle(input_tokens=extra.get("input_tokens", 5000), output_tokens=output_tokens)


def test_prices_exact_prefix_free_and_unknown():
    cfg = BudgetConfig(prices={"my-model": {"input": 2, "output": 4}})
    assert price_for(cfg, "claude-sonnet-4-5").output == 15
    assert price_for(cfg, "claude-sonnet-4-5-20250929").input == 3  # prefix
    assert price_for(cfg, "anthropic:claude-haiku-4-5").input == 1
    assert price_for(cfg, "my-model").output == 4  # added, defaults kept
    assert price_for(cfg, "local:/models/x.gguf").input == 0
    assert price_for(cfg, "scripted:demo.yaml").output == 0
    assert price_for(cfg, "gpt-9") is None


def test_config_rejects_unknown_and_bad_values():
    with pytest.raises(ValidationError):
        BudgetConfig(per_dya=1.0)
    with pytest.raises(ValidationError):
        BudgetConfig(per_run=-1)
    with pytest.raises(ValidationError):
        BudgetConfig(alerts=[0.5, 0])
    with pytest.raises(ValidationError):
        BudgetConfig(prices={"x": {"input": 1}})


def test_unpriced_model_is_refused_unless_allowed(tmp_path):
    budget = make(tmp_path)
    with pytest.raises(BudgetExceeded) as err:
        with budget.spend(run_id="r", agent="a", model="mystery-1", input_tokens=10, max_output_tokens=10):
            pytest.fail("the call must not be reached")
    assert err.value.ceiling == "price" and "allow_unpriced" in str(err.value)
    allowed = make(tmp_path, allow_unpriced=True)
    with allowed.spend(run_id="r", agent="a", model="mystery-1", input_tokens=10, max_output_tokens=10) as charge:
        assert charge.settle(input_tokens=10, output_tokens=3) == 0.0


def test_free_models_count_tokens_at_zero_cost(tmp_path):
    budget = make(tmp_path, total=0.0)
    with budget.spend(run_id="r", agent="a", model="local", input_tokens=100, max_output_tokens=50) as charge:
        charge.settle(input_tokens=100, output_tokens=20)
    row = budget.status()["by_model"]["local"]
    assert row == {
        "calls": 1,
        "input_tokens": 100,
        "output_tokens": 20,
        "cached_tokens": 0,
        "cache_write_tokens": 0,
        "cost_usd": 0.0,
    }


def test_worst_case_must_fit_and_real_usage_is_charged(tmp_path):
    budget = make(tmp_path, per_run=0.025)
    assert spend_once(budget, output_tokens=0) == pytest.approx(0.005)
    assert spend_once(budget, output_tokens=1000) == pytest.approx(0.01)
    # 0.015 spent: a 0.01 worst case still fits (0.025), then nothing more does.
    spend_once(budget)
    with pytest.raises(BudgetExceeded) as err:
        spend_once(budget)
    e = err.value
    assert (e.ceiling, e.limit) == ("per_run", 0.025)
    assert e.spent == pytest.approx(0.025) and e.needed == pytest.approx(0.01)
    spend_once(budget, run_id="run-2")  # another run has its own per-run ceiling


def test_agent_ceiling_only_lowers_per_run(tmp_path):
    budget = make(tmp_path, per_run=0.015)
    spend_once(budget, agent_ceiling=1.0)  # cannot raise: 0.01 of 0.015 spent
    with pytest.raises(BudgetExceeded):
        spend_once(budget, agent_ceiling=1.0)
    lowered = make(tmp_path / "other", per_run=1.0)
    with pytest.raises(BudgetExceeded) as err:
        spend_once(lowered, agent_ceiling=0.005)
    assert err.value.limit == 0.005


def test_every_ceiling_applies(tmp_path):
    budget = make(tmp_path, per_agent_day=0.02, per_day=0.03, total=0.035)
    spend_once(budget, agent="a", run_id="1")
    spend_once(budget, agent="a", run_id="2")
    with pytest.raises(BudgetExceeded) as err:
        spend_once(budget, agent="a", run_id="3")
    assert err.value.ceiling == "per_agent_day"
    spend_once(budget, agent="b", run_id="4")
    with pytest.raises(BudgetExceeded) as err:
        spend_once(budget, agent="b", run_id="5")
    assert err.value.ceiling == "per_day"


def test_exception_charges_worst_case_release_charges_nothing(tmp_path):
    budget = make(tmp_path)
    with pytest.raises(RuntimeError):
        with budget.spend(run_id="r", agent="a", **CALL):
            raise RuntimeError("network died after the request was sent")
    with budget.spend(run_id="r", agent="a", **CALL) as charge:
        charge.release()
    status = budget.status(run_id="r")
    assert status["ceilings"]["per_run"]["spent"] == pytest.approx(0.01)
    assert status["open_reservations"] == 0
    with budget.spend(run_id="r", agent="a", **CALL) as charge:
        charge.settle(input_tokens=1, output_tokens=1)
        with pytest.raises(RuntimeError):
            charge.settle(input_tokens=1, output_tokens=1)


def test_halt_stops_spending(tmp_path):
    budget = make(tmp_path)
    halt(tmp_path, "runaway agent")
    with pytest.raises(Halted, match="runaway agent"):
        spend_once(budget)


def test_broken_ledger_stops_spending(tmp_path):
    budget = make(tmp_path, per_day=10.0)
    for _ in range(3):
        spend_once(budget)
    path = ledger_path(tmp_path)
    data = bytearray(path.read_bytes())
    i = data.index(b'"cost_usd":') + len(b'"cost_usd":')
    data[i] = ord("9") if data[i] != ord("9") else ord("8")  # edit one byte of a charge
    path.write_bytes(bytes(data))
    report = make(tmp_path).verify()
    assert not report.ok and report.bad_line is not None and "hash" in report.problem
    for b in (make(tmp_path, per_day=10.0), budget):  # a fresh process and the same one
        with pytest.raises(LedgerBroken, match="llmos budget verify"):
            spend_once(b)


def test_unreadable_ledger_line_stops_spending(tmp_path):
    budget = make(tmp_path)
    spend_once(budget)
    with open(ledger_path(tmp_path), "ab") as fh:
        fh.write(b'{"half a line')
    with pytest.raises(LedgerBroken):
        spend_once(make(tmp_path))
    with pytest.raises(LedgerBroken):
        make(tmp_path).status()


def _hammer(root: str, cfg: dict, out: "multiprocessing.Queue") -> None:
    budget = Budget(Path(root), BudgetConfig(**cfg), alert_stream=io.StringIO())
    calls = 0
    try:
        while True:
            with budget.spend(run_id=f"run-{os.getpid()}", agent="a", **CALL) as charge:
                charge.settle(input_tokens=5000, output_tokens=1000)  # the full worst case
            calls += 1
    except BudgetExceeded:
        out.put(calls)


def test_eight_processes_never_exceed_one_ceiling(tmp_path):
    (tmp_path / "alerts.log").touch()
    cfg = {"per_day": 0.5, "alert_command": 'echo "$LLMOS_ALERT_KEY" >> alerts.log'}
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_hammer, args=(str(tmp_path), cfg, out)) for _ in range(8)]
    for p in procs:
        p.start()
    calls = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert sum(calls) == 50  # exactly $0.50 / $0.01, however the processes interleave
    budget = make(tmp_path, **cfg)
    status = budget.status()
    assert status["ceilings"]["per_day"]["spent"] <= 0.5 + 1e-9
    assert status["open_reservations"] == 0
    assert budget.verify().ok
    # Each threshold crossing ran the alert command exactly once, across all eight processes.
    lines = Counter((tmp_path / "alerts.log").read_text().split())
    day = status["day"]
    assert lines == Counter({f"per_day|day:{day}|0.5|{f}": 1 for f in ("0.5", "0.8", "1")})
    recorded = [json.loads(line) for line in ledger_path(tmp_path).read_text().splitlines()]
    assert len([e for e in recorded if e["type"] == "alert"]) == 3


def test_alert_fires_once_per_crossing_and_again_for_a_new_limit(tmp_path):
    stream = io.StringIO()
    budget = Budget(
        tmp_path,
        BudgetConfig(total=0.04, alerts=[0.5, 1.0], alert_command="echo $LLMOS_ALERT_THRESHOLD >> fired"),
        alert_stream=stream,
    )
    alerts = []
    for _ in range(4):
        with budget.spend(run_id="r", agent="a", **CALL) as charge:
            charge.settle(input_tokens=5000, output_tokens=1000)
        alerts += charge.alerts
    assert [a.threshold for a in alerts] == [0.5, 1.0]
    assert "reached 50%" in stream.getvalue()
    with pytest.raises(BudgetExceeded):
        spend_once(budget)  # refused at 100%: already alerted, not again
    assert (tmp_path / "fired").read_text().split() == ["0.5", "1"]
    raised = Budget(
        tmp_path,
        BudgetConfig(total=0.06, alerts=[0.5, 1.0], alert_command="echo $LLMOS_ALERT_THRESHOLD >> fired"),
        alert_stream=stream,
    )
    spend_once(raised)  # 0.05 of a new 0.06 limit: a new 50% crossing
    assert (tmp_path / "fired").read_text().split() == ["0.5", "1", "0.5"]


def test_failing_alert_command_does_not_stop_the_gate(tmp_path):
    stream = io.StringIO()
    budget = Budget(tmp_path, BudgetConfig(total=0.01, alert_command="exit 3"), alert_stream=stream)
    spend_once(budget)
    assert "alert command failed" in stream.getvalue() and "exited 3" in stream.getvalue()


def test_dead_process_reservation_does_not_block_forever(tmp_path):
    script = textwrap.dedent(f"""
        import os, signal, io
        from pathlib import Path
        from llmos.budget.config import BudgetConfig
        from llmos.budget.gate import Budget
        b = Budget(Path({str(tmp_path)!r}), BudgetConfig(per_day=0.015), alert_stream=io.StringIO())
        with b.spend(run_id="dead", agent="a", model="claude-haiku-4-5", input_tokens=5000,
                     max_output_tokens=1000):
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert done.returncode == -signal.SIGKILL
    budget = make(tmp_path, per_day=0.025)
    assert budget.status()["open_reservations"] == 1
    spend_once(budget)  # the dead reservation is charged its worst case, not held forever
    status = budget.status()
    assert status["open_reservations"] == 0
    assert status["ceilings"]["per_day"]["spent"] == pytest.approx(0.02)
    reasons = [json.loads(x).get("reason") for x in ledger_path(tmp_path).read_text().splitlines()]
    assert "process-died" in reasons


def test_live_reservation_of_another_process_counts(tmp_path):
    script = textwrap.dedent(f"""
        import sys, io
        from pathlib import Path
        from llmos.budget.config import BudgetConfig
        from llmos.budget.gate import Budget
        b = Budget(Path({str(tmp_path)!r}), BudgetConfig(), alert_stream=io.StringIO())
        with b.spend(run_id="slow", agent="a", model="claude-haiku-4-5", input_tokens=5000,
                     max_output_tokens=1000) as c:
            print("reserved", flush=True)
            sys.stdin.readline()
            c.settle(input_tokens=5000, output_tokens=0)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "reserved"
        budget = make(tmp_path, per_day=0.015)
        with pytest.raises(BudgetExceeded) as err:
            spend_once(budget)
        assert err.value.spent == pytest.approx(0.01)  # the other process's open worst case
    finally:
        proc.communicate("go\n", timeout=30)
    spend_once(budget)  # settled at 0.005: now 0.01 more fits

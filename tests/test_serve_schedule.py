"""The scheduler: cron jobs of `schedule:`, missed jobs once, no overlap, each outcome a trace and a commit."""

from __future__ import annotations

import json
import os
import stat
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

from helpers import call, git, run_llmos
from llmos.atomic import file_lock
from llmos.errors import DocumentError


def configure(root: Path, **schedule) -> None:
    path = root / "system" / "llmos.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["schedule"] = schedule
    path.write_text(yaml.safe_dump(doc))


def kernel(root: Path):
    from llmos.kernel import Kernel

    return Kernel(root)


def set_since(root: Path, name: str, when: datetime) -> None:
    path = root / ".llmos" / "schedule.json"
    state = json.loads(path.read_text()) if path.exists() else {"format": "llmos-schedule/1", "jobs": {}}
    state["jobs"][name] = {"since": when.isoformat(timespec="seconds")}
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(state))


def test_a_bad_cron_expression_is_an_error_at_its_line(root: Path):
    from llmos.config import load_config

    configure(root, dream="0 3 * *")
    with pytest.raises(DocumentError) as err:
        load_config(root)
    assert "schedule.dream" in str(err.value) and "5-field cron" in str(err.value)
    configure(root, goals=[{"name": "x", "cron": "99 * * * *", "goal": "g"}])
    with pytest.raises(DocumentError):
        load_config(root)


def test_missed_jobs_run_once_each_outcome_a_trace_and_a_commit(root: Path, script):
    from llmos.serve.jobs import jobs
    from llmos.serve.schedule import run_due, status

    model = script(call("write_file", path="projects/daily/today.md", content="report"), call("finish", result="ok"))
    configure(
        root,
        crystallize="30 3 * * *",
        vault_snapshot="0 4 * * *",
        goals=[{"name": "daily", "cron": "0 8 * * *", "goal": "Write the daily report", "model": model}],
    )
    k = kernel(root)
    now = datetime.now().astimezone()
    for name in ("crystallize", "vault-snapshot", "goal-daily"):
        set_since(root, name, now - timedelta(days=3))  # three fire times each passed while nothing ran
    assert all(r["due"] for r in status(root, jobs(k.config)))

    ran = dict(run_due(k))
    assert set(ran) == {"crystallize", "vault-snapshot", "goal-daily"}
    assert all(last["outcome"] == "success" for last in ran.values()), ran
    assert run_due(k) == []  # once, not three times: nothing is due until the next fire time

    log = git(root, "log", "--format=%s%n%b")
    assert "llmos: scheduled crystallize" in log and "Job: crystallize" in log and "Job: vault-snapshot" in log
    assert "llmos: Write the daily report" in log
    for name in ("crystallize", "vault-snapshot"):
        trace = next((root / "traces").rglob(f"{ran[name]['trace']}.md")).read_text()
        assert "agent: scheduler" in trace and "mode: SCHEDULED" in trace and "outcome: success" in trace
    assert (root / "projects/daily/today.md").read_text() == "report"
    assert git(root, "status", "--porcelain", "traces", "projects") == ""

    out = run_llmos("schedule", root=root)
    assert out.returncode == 0, out.stderr
    assert "crystallize" in out.stdout and "success" in out.stdout and "next" in out.stdout


def test_no_overlap_and_no_job_while_halted(root: Path):
    from llmos.halt import halt, resume
    from llmos.serve.jobs import jobs
    from llmos.serve.schedule import run_job

    configure(root, crystallize="* * * * *")
    k = kernel(root)
    (job,) = jobs(k.config)
    with file_lock(root / ".llmos" / "locks" / "job-crystallize.lock", timeout=1):
        assert run_job(k, job) is None  # held by someone else: not started
    halt(root, "quiet")
    assert run_job(k, job) is None
    resume(root)
    assert run_job(k, job)["outcome"] == "success"
    assert run_llmos("schedule", "run", "nope", root=root).returncode != 0


def test_the_serve_loop_catches_up_at_start(root: Path):
    from llmos.serve.schedule import Scheduler, state_path

    configure(root, crystallize="0 0 1 1 *")  # once a year: only the catch-up can run it
    set_since(root, "crystallize", datetime.now().astimezone() - timedelta(days=400))
    s = Scheduler(kernel(root), tick=0.1).start()
    try:
        for _ in range(200):
            last = json.loads(state_path(root).read_text())["jobs"]["crystallize"].get("last")
            if last:
                break
            time.sleep(0.05)
    finally:
        s.stop()
    assert last and last["outcome"] == "success"
    assert git(root, "log", "-1", "--format=%s") == "llmos: scheduled crystallize\n"


def test_install_writes_a_systemd_timer_or_crontab_entries(root: Path, tmp_path: Path):
    configure(root, dream="0 3 * * *", goals=[{"name": "daily", "cron": "0 8 * * 1-5", "goal": "report"}])
    units = tmp_path / "units"
    out = run_llmos("schedule", "install", "--systemd", "--dir", str(units), root=root)
    assert out.returncode == 0, out.stderr
    service = next(units.glob("llmos-schedule-*.service")).read_text()
    timer = next(units.glob("llmos-schedule-*.timer")).read_text()
    assert "Type=oneshot" in service and f"--root {root}" in service and "schedule run-due" in service
    assert "OnCalendar=*-*-* *:*:00" in timer and "Persistent=true" in timer and "WantedBy=timers.target" in timer

    bin_dir, saved = tmp_path / "bin", tmp_path / "crontab.txt"
    bin_dir.mkdir()
    saved.write_text("MAILTO=me\n15 * * * * backup.sh\n")
    fake = bin_dir / "crontab"  # a stand-in for cron's crontab: -l prints the table, - replaces it
    fake.write_text(f'#!/bin/sh\nif [ "$1" = "-l" ]; then cat {saved}; else cat > {saved}; fi\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}"}
    for _ in range(2):  # installing again replaces the block
        out = run_llmos("schedule", "install", "--crontab", root=root, env=env)
        assert out.returncode == 0, out.stderr
    table = saved.read_text()
    assert table.startswith("MAILTO=me\n15 * * * * backup.sh\n")
    assert table.count("# llmos schedule") == 2 and table.count("schedule run dream") == 1
    assert "0 3 * * * " in table and "schedule run dream" in table
    assert "0 8 * * 1-5 " in table and "schedule run goal-daily" in table
    assert "@reboot " in table and "schedule run-due" in table


def test_a_job_added_while_serving_is_picked_up(root: Path):
    from llmos.config import load_config
    from llmos.serve.schedule import Scheduler, state_path

    k = kernel(root)
    set_since(root, "crystallize", datetime.now().astimezone() - timedelta(days=400))  # before the loop writes
    s = Scheduler(k, tick=0.05).start()
    try:
        assert s.jobs == []
        configure(root, crystallize="0 0 1 1 *")
        k.config = load_config(root)  # what the live root does when system/llmos.yaml is saved
        for _ in range(200):
            if json.loads(state_path(root).read_text())["jobs"]["crystallize"].get("last"):
                break
            time.sleep(0.05)
    finally:
        s.stop()
    assert [j.name for j in s.jobs] == ["crystallize"]
    assert json.loads(state_path(root).read_text())["jobs"]["crystallize"]["last"]["outcome"] == "success"

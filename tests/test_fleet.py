"""Fleet runs on a real local Ray cluster: goals run in workers' own clones, every commit reaches the
remote and the head, the fleet's ceiling holds across workers, a dead worker's goal is retried."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from helpers import call, git, run_llmos

ray = pytest.importorskip("ray", reason="Ray is in the test extra: pip install -e '.[test]'")


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@pytest.fixture()
def head(root: Path, tmp_path: Path) -> Path:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(remote)], check=True)
    git(root, "remote", "add", "origin", str(remote))
    return root


def _goals(tmp_path: Path, n: int, price: bool = False) -> Path:
    goals = []
    for i in range(n):
        script = tmp_path / f"goal{i}.yaml"
        replies = [
            call("write_file", path=f"projects/fleet/part{i}.md", content=f"part {i}\n"),
            call("finish", result=f"part {i}"),
        ]
        script.write_text(yaml.safe_dump({"replies": replies, **({"model": "claude-haiku-4-5"} if price else {})}))
        goals.append({"goal": f"Write fleet part number {i}", "model": f"scripted:{script}"})
    path = tmp_path / "goals.yaml"
    path.write_text(yaml.safe_dump(goals))
    return path


def test_goals_run_in_workers_and_every_commit_comes_home(cluster, head: Path, tmp_path: Path):
    from llmos.config import load_config
    from llmos.fleet import load_goals, run_fleet

    summary = run_fleet(head, load_config(head), load_goals(_goals(tmp_path, 4)), workers=2)
    assert summary["totals"]["success"] == 4 and summary["totals"]["failed"] == 0
    assert {r["worker"] for r in summary["results"]} <= {0, 1}
    tracked = git(head, "ls-tree", "-r", "--name-only", "HEAD")
    assert all(f"projects/fleet/part{i}.md" in tracked for i in range(4))
    traces = [r["trace"] for r in summary["results"]]
    assert all(f"{t}.md" in tracked for t in traces)
    assert git(head, "status", "--porcelain") == ""


def test_the_fleet_ceiling_holds_across_workers(cluster, head: Path, tmp_path: Path):
    from llmos.config import load_config
    from llmos.fleet import load_goals, run_fleet

    summary = run_fleet(head, load_config(head), load_goals(_goals(tmp_path, 6, price=True)), workers=2, ceiling=0.02)
    t = summary["totals"]
    assert t["cost_usd"] <= 0.02 + 1e-9 and t["failed"] > 0  # it ran out, and nothing spent past it
    assert any("fleet budget" in (r.get("error") or "") for r in summary["results"])


def test_bad_goals_file_and_no_remote_are_one_line(root: Path, tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("goal: not a list\n")
    out = run_llmos("fleet", "run", str(bad), root=root)
    assert out.returncode == 1 and "expected a non-empty list of goals" in out.stderr
    out = run_llmos("fleet", "run", str(_goals(tmp_path, 1)), root=root)
    assert out.returncode == 1 and "no git remote 'origin'" in out.stderr


def test_a_worker_killed_mid_goal_has_its_goal_retried_on_another(cluster, head: Path, tmp_path: Path):
    import glob
    import json
    import os
    import signal
    import threading
    import time

    from llmos.config import load_config
    from llmos.fleet import run_fleet

    slow = tmp_path / "slow.yaml"
    first = {**call("write_file", path="projects/fleet/slow.md", content="slow\n"), "delay": 2.0}
    slow.write_text(yaml.safe_dump({"replies": [first, call("finish", result="slow done")]}))
    goals = [{"goal": "Write the slow part", "model": f"scripted:{slow}"}]
    killed = []

    def killer():
        deadline = time.time() + 60
        while time.time() < deadline and not killed:
            for entry in glob.glob("/tmp/llmos-fleet-*/os/.llmos/runs/*.json"):
                try:
                    data = json.loads(Path(entry).read_text())
                except (OSError, ValueError):
                    continue
                if "slow" in data.get("goal", "") and data.get("id") not in stale:
                    try:
                        os.kill(data["pid"], signal.SIGKILL)
                    except ProcessLookupError:  # a clone left by an earlier killed worker
                        continue
                    killed.append(data["pid"])
                    return
            time.sleep(0.05)

    stale = {Path(p).stem for p in glob.glob("/tmp/llmos-fleet-*/os/.llmos/runs/*.json")}
    thread = threading.Thread(target=killer)
    thread.start()
    summary = run_fleet(head, load_config(head), load_goals_list(tmp_path, goals), workers=2)
    thread.join()
    [result] = summary["results"]
    assert killed and result["outcome"] == "success" and result["retried"]
    assert "projects/fleet/slow.md" in git(head, "ls-tree", "-r", "--name-only", "HEAD")
    assert not [d for d in glob.glob("/tmp/llmos-fleet-*") if f"-{killed[0]}-" in d]  # its clone was swept


def load_goals_list(tmp_path: Path, goals: list[dict]) -> list[dict]:
    from llmos.fleet import load_goals

    path = tmp_path / "these.yaml"
    path.write_text(yaml.safe_dump(goals))
    return load_goals(path)

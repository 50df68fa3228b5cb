"""`llmos config show`: the merged config, each value with where it came from; the public API."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from helpers import run_llmos


def test_config_show_names_file_line_environment_and_default(root: Path):
    cfg = root / "system" / "llmos.yaml"
    cfg.write_text("max_steps: 7\nbudget:\n  alerts: [0.9]\n  per_run: 0.25\n")
    rows = {r["key"]: r for r in json.loads(run_llmos("config", "show", "--json", root=root).stdout)}
    assert rows["max_steps"] == {"key": "max_steps", "value": 7, "source": "system/llmos.yaml:1"}
    assert rows["budget.per_run"] == {"key": "budget.per_run", "value": 0.25, "source": "system/llmos.yaml:4"}
    assert rows["budget.per_day"] == {"key": "budget.per_day", "value": None, "source": "default"}
    assert rows["watch.debounce_ms"] == {"key": "watch.debounce_ms", "value": 40, "source": "default"}
    assert rows["budget.prices.claude-opus-4.input"]["source"] == "default"
    env = run_llmos("config", "show", root=root, env={"LLMOS_MODEL": "scripted:x.yaml"})
    assert env.returncode == 0 and '"scripted:x.yaml"  ($LLMOS_MODEL)' in env.stdout


def test_config_show_of_a_broken_config_is_a_one_line_error(root: Path):
    (root / "system" / "llmos.yaml").write_text("budget:\n  per_run: lots\n")
    res = run_llmos("config", "show", root=root)
    assert res.returncode == 1 and "llmos.yaml:2" in res.stderr and "per_run" in res.stderr


def test_import_llmos_is_cheap_and_exports_the_public_api():
    code = (
        "import sys, llmos\n"
        "assert 'llmos.kernel' not in sys.modules and 'pydantic' not in sys.modules\n"
        "from llmos import Kernel, RunResult, Backend, syscall, hookimpl, Context, Outcome\n"
        "assert Kernel.__module__ == 'llmos.kernel' and callable(syscall)\n"
        "print('ok')\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.stdout == "ok\n", res.stderr

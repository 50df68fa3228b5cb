"""The memory commands through the real CLI (subprocesses), and the cold-start brief."""

import json
from pathlib import Path

from llmos.kernel import Kernel
from llmos.memory.working import write_working
from helpers import call, git, run_llmos


def test_remember_recall_list_show_history(root: Path):
    r = run_llmos("remember", "Quarry builds run on host Tolvek", "--tag", "build", root=root)
    assert r.returncode == 0, r.stderr
    old_id = r.stdout.split()[1]
    r = run_llmos("remember", "Quarry builds run on host Marrow now", "--supersedes", old_id, root=root)
    assert r.returncode == 0 and f"superseded {old_id}" in r.stdout
    new_id = r.stdout.split()[1]
    assert git(root, "log", "-1", "--format=%B").startswith("llmos: remember Quarry builds run on host Marrow now")
    r = run_llmos("recall", "which host runs quarry builds?", "--json", root=root)
    data = json.loads(r.stdout)
    assert [h["id"] for h in data["hits"]] == [new_id] and not data["abstain"]
    r = run_llmos("recall", "quarry host", "--history", root=root)
    assert r.stdout.index(new_id) < r.stdout.index(old_id) and f"superseded by {new_id}" in r.stdout
    listed = run_llmos("memory", "list", root=root).stdout
    assert new_id in listed and old_id not in listed
    assert old_id in run_llmos("memory", "list", "--all", root=root).stdout
    shown = run_llmos("memory", "show", old_id, root=root).stdout
    assert f"superseded_by: {new_id}" in shown and "valid_to:" in shown
    hist = run_llmos("memory", "history", new_id, root=root).stdout.splitlines()
    assert old_id in hist[0] and hist[1].startswith("*") and new_id in hist[1]


def test_cli_bad_input(root: Path):
    r = run_llmos("memory", "show", "no-such-id", root=root)
    assert r.returncode == 1 and "no memory with id 'no-such-id'" in r.stderr and "Traceback" not in r.stderr
    r = run_llmos("recall", "x", "--since", "yesterday", root=root)
    assert r.returncode == 2 and "not a date" in r.stderr
    r = run_llmos("remember", "   ", root=root)
    assert r.returncode == 2 and "empty" in r.stderr
    (root / "memory/beta/bad.md").write_text("---\nid: bad\ntier: beta\n  title: [\n---\n")
    r = run_llmos("recall", 'title:"(x', root=root)
    assert r.returncode == 0 and "skipped: memory/beta/bad.md:" in r.stderr
    r = run_llmos("memory", "list", root=root)
    assert r.returncode == 0 and "bad.md:" in r.stderr
    assert run_llmos("check", root=root).returncode == 1


def test_brief_is_small_and_names_open_threads(root: Path, script):
    kernel = Kernel(root)
    long_goal = "Refactor the module " + "very " * 60 + "carefully"
    for n in range(12):
        kernel.run(f"{long_goal} number {n}", model=script(call("finish", result="done " + "x" * 200)))
    res = kernel.run("Fix the flaky deploy", model=script(call("list_dir", path=".")), max_steps=1)
    assert res.outcome == "failure"
    write_working(root, "assistant", "\n".join(f"- [ ] open item {n} " + "y" * 80 for n in range(30)), cap=4096)
    r = run_llmos("brief", root=root)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.encode()) <= 3072
    assert "## Open threads" in r.stdout and "failure: Fix the flaky deploy" in r.stdout
    assert "## Recent outcomes" in r.stdout


def test_brief_distill_goes_through_the_model_and_the_budget(root: Path, script):
    Kernel(root).run("Say hi", model=script(call("finish", result="hi")))
    model = script(call("finish", result="Short: said hi; nothing open."))
    r = run_llmos("brief", "assistant", "--distill", "--model", model, root=root)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Short: said hi; nothing open.\n" and "distilled by scripted" in r.stderr
    status = json.loads(run_llmos("budget", "--json", root=root).stdout)
    assert "brief" in status["by_kind"]  # the ledger saw the distilling call

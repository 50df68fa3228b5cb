"""Protection, tried as an attacker would: an agent's writes to kernel-owned paths, git's own folder
by another spelling, and oversized writes are refused; what was there stays as it was."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from llmos.kernel import Kernel
from llmos.traces import read_trace
from helpers import call, git

CONTROL_TARGETS = [
    "system/llmos.yaml",
    "system/prompts/agent.md",
    "agents/assistant.md",
    "agents/new-helper.md",
    "Agents/assistant.md",
    "crystallized/steal.py",
    "crystallized/test_steal.py",
    "crystallized/steal.yaml",
    "traces/2026/01/20260101T000000-abcdef.md",
    "memory/beta/forged-fact.md",
    "memory/delta/x.md",
    "projects/demo/memory/fact.md",
    "claims/projects-site-0a1b2c3d.json",  # a forged shared claim would reach every machine with a sync
    ".gitignore",
]
GIT_TARGETS = [".GIT/config", "projects/.Git/hooks/post-checkout", "a/.git./x", "GIT~1/config", ".git /hooks/x"]
PRIVATE_TARGETS = [".LLMOS/ledger", ".llmos/budget.json", "halt", "HALT"]


def _attempt(root: Path, script, path: str, content: str = "x") -> tuple[bool, str]:
    res = Kernel(root).run(  # LEARNER: every attempt is the model's own, never a replay of the last one
        "try a write",
        model=script(call("write_file", path=path, content=content), call("finish", result="done")),
        mode="LEARNER",
    )
    step = read_trace(res.trace_path).steps[0]
    return step.ok, step.result


def _attempt_all(root: Path, script, paths: list[str]) -> list[tuple[bool, str]]:
    """One run that tries every path in turn (one write each), in LEARNER mode."""
    calls = [call("write_file", path=p, content="tools: []\nowned: true\n") for p in paths]
    res = Kernel(root).run(
        "try writes", model=script(*calls, call("finish", result="done")), mode="LEARNER", max_steps=len(paths) + 1
    )
    return [(s.ok, s.result) for s in read_trace(res.trace_path).steps[: len(paths)]]


def test_an_agent_cannot_write_a_kernel_owned_path(root: Path, script):
    before = {t: (root / t).read_bytes() if (root / t).is_file() else None for t in CONTROL_TARGETS}
    for target, (ok, result) in zip(CONTROL_TARGETS, _attempt_all(root, script, CONTROL_TARGETS), strict=True):
        assert not ok and "kernel-owned" in result, (target, result)
        assert ((root / target).read_bytes() if (root / target).is_file() else None) == before[target], target
    assert git(root, "status", "--porcelain") == ""


def test_git_and_kernel_private_names_are_refused_in_any_spelling(root: Path, script):
    targets = GIT_TARGETS + PRIVATE_TARGETS
    for target, (ok, result) in zip(targets, _attempt_all(root, script, targets), strict=True):
        assert not ok and ("git's own" in result or "kernel-private" in result), (target, result)
        assert not (root / target).exists(), target
    git(root, "fsck", "--strict")


def test_a_grant_opens_exactly_its_pattern_to_exactly_its_agent(root: Path, script):
    cfg = root / "system" / "llmos.yaml"
    data = yaml.safe_load(cfg.read_text())
    data["protection"] = {"grants": [{"agent": "assistant", "paths": ["system/prompts/*.md"]}]}
    cfg.write_text(yaml.safe_dump(data))
    git(root, "commit", "-qam", "grant prompts to the assistant")
    ok, result = _attempt(root, script, "system/prompts/extra.md", "a prompt")
    assert ok, result
    ok, result = _attempt(root, script, "system/llmos.yaml", "budget: {}\n")
    assert not ok and "kernel-owned" in result


@pytest.mark.parametrize("extra", [1, 1000])
def test_a_write_over_the_limit_is_refused_with_both_sizes(root: Path, script, extra: int):
    cfg = root / "system" / "llmos.yaml"
    data = yaml.safe_load(cfg.read_text())
    data["limits"] = {"max_write_bytes": 5000}
    cfg.write_text(yaml.safe_dump(data))
    git(root, "commit", "-qam", "small writes")
    ok, result = _attempt(root, script, "projects/big.txt", "é" * ((5000 + extra) // 2 + 1))
    assert not ok and "5,000" in result and "limits.max_write_bytes" in result
    assert not (root / "projects/big.txt").exists()
    ok, result = _attempt(root, script, "projects/fits.txt", "y" * 5000)
    assert ok, result


NARROW = """---
name: narrow
description: May only write files.
tools: [write_file]
---
Write what you are told.
"""


def _edit_after_first_step(path: Path, text: str):
    def on_event(kind: str, data: dict) -> None:
        if kind == "step" and data["step"].n == 1:
            path.write_text(text)

    return on_event


@pytest.mark.parametrize(
    "widened",
    [
        NARROW.replace("tools: [write_file]\n", ""),  # no tools line: every syscall
        NARROW.replace("[write_file]", "[write_file, read_file, list_dir]"),
        NARROW.replace("[write_file]", "Read, LS, Write"),  # Claude Code names for the same
    ],
)
def test_an_edit_mid_run_cannot_widen_the_runs_tools(root: Path, script, widened: str):
    agent = root / "agents" / "narrow.md"
    agent.write_text(NARROW)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "a narrow agent")
    model = script(
        call("write_file", path="projects/a.txt", content="a"),
        call("read_file", path="system/llmos.yaml"),
        call("list_dir", path="."),
        call("finish", result="done"),
    )
    res = Kernel(root).run(
        "widen", agent="narrow", model=model, mode="LEARNER", on_event=_edit_after_first_step(agent, widened)
    )
    steps = read_trace(res.trace_path).steps
    assert [s.ok for s in steps] == [True, False, False, True], [(s.tool, s.result) for s in steps]
    assert all("may not use" in s.result for s in steps[1:3])


def test_an_edit_mid_run_can_narrow_the_runs_tools(root: Path, script):
    agent = root / "agents" / "narrow.md"
    agent.write_text(NARROW.replace("[write_file]", "[write_file, read_file]"))
    git(root, "add", "-A")
    git(root, "commit", "-qm", "an agent")
    model = script(
        call("read_file", path="system/llmos.yaml"),
        call("read_file", path="system/llmos.yaml"),
        call("finish", result="done"),
    )
    res = Kernel(root).run(
        "narrow", agent="narrow", model=model, mode="LEARNER", on_event=_edit_after_first_step(agent, NARROW)
    )
    assert [s.ok for s in read_trace(res.trace_path).steps] == [True, False, True]


@pytest.mark.parametrize(
    "soul", ["/etc/hostname", "../../outside.md", "../outside.md", "projects/../../outside.md", ".git/config"]
)
def test_a_soul_outside_the_root_is_refused(root: Path, script, soul: str):
    (root.parent / "outside.md").write_text("SECRET-SOUL-TEXT\n")
    (root / "agents" / "souly.md").write_text(f"---\nname: souly\ndescription: d\nsoul: {soul}\n---\nhi\n")
    from llmos.errors import DocumentError

    with pytest.raises(DocumentError, match="soul"):
        Kernel(root).run("x", agent="souly", model=script(call("finish", result="x")))
    assert not list((root / "traces").rglob("*.md"))
    assert "SECRET-SOUL-TEXT" not in "".join(
        p.read_text(errors="replace") for p in root.rglob("*") if p.is_file() and ".git" not in p.parts
    )


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed (.ci/run installs it)")
def test_check_warns_about_an_unsandboxed_or_over_privileged_setup(root: Path):
    from helpers import run_llmos

    assert "warning:" not in run_llmos("check", root=root).stderr  # bubblewrap installed, no grants
    cfg = root / "system" / "llmos.yaml"
    data = yaml.safe_load(cfg.read_text())
    data["protection"] = {
        "grants": [{"agent": "assistant", "paths": ["agents/*"]}, {"agent": "w", "paths": ["system/**"]}]
    }
    data.setdefault("crystallize", {})["unsandboxed"] = True
    cfg.write_text(yaml.safe_dump(data))
    res = run_llmos("check", root=root)
    assert res.returncode == 0 and "crystallize.unsandboxed" in res.stderr
    assert "'assistant' write agents/assistant.md" in res.stderr and "'w' write system/llmos.yaml" in res.stderr
    no_bwrap = run_llmos("check", root=root, env={"PATH": "/nonexistent"})
    assert "WITHOUT a sandbox" in no_bwrap.stderr


SECRETS = [
    ("postgres://admin:{x}@db.internal:5432/app", "{x}"),
    ("mysql+pymysql://svc:{x}@10.0.0.5/db", "{x}"),
    ("aws_secret_access_key = {y}", "{y}"),
    ('"AWS_SECRET_ACCESS_KEY": "{y}"', "{y}"),
]


@pytest.mark.parametrize("template, secret", SECRETS)
def test_secrets_known_by_where_they_stand_are_scrubbed(template: str, secret: str):
    from llmos.scrub import scrub

    import secrets as rng

    x = "Pw" + rng.token_urlsafe(12).replace("-", "x").replace("_", "y")
    y = (rng.token_urlsafe(40).replace("-", "A").replace("_", "b"))[:40]
    text = template.format(x=x, y=y)
    value = secret.format(x=x, y=y)
    out = scrub(text)
    assert value not in out and "[secret:" in out, out
    assert (
        scrub("see https://example.org/a@b and user@example.org") == "see https://example.org/a@b and user@example.org"
    )


def test_no_secret_reaches_the_registry_stdout_history_claims_or_a_path(root: Path, script, monkeypatch):
    from helpers import run_llmos
    from llmos import scrub as scrub_mod

    key = "sk-ant-api03-" + "Q7" * 20
    monkeypatch.setenv("ANTHROPIC_API_KEY", key)
    scrub_mod.refresh()
    url = "postgres://admin:Hunter2Hunter2@db/x"
    model = script(
        call("write_file", path=f"projects/{key}.txt", content="x"),
        call("handoff", agent="assistant", note=f"the db is {url}"),
        call("finish", result=f"done with {key} and {url}"),
    )
    (root / "agents" / "teamer.md").write_text(
        "---\nname: teamer\ndescription: hands work on\ntools: [write_file, handoff, finish]\n---\nGo.\n"
    )
    res = run_llmos("boot", f"use {key}", "--json", "--agent", "teamer", "--model", model, root=root)
    steps = read_trace(Path(json.loads(res.stdout)["trace_path"])).steps
    assert [s.ok for s in steps] == [False, True, True], [(s.tool, s.result) for s in steps]
    assert "handoffs" in (root / ".llmos" / "claims.json").read_text()
    assert key not in res.stdout and "Hunter2Hunter2" not in res.stdout, res.stdout
    out = run_llmos("shell", "--model", model, root=root, input=f"remember {key}\n:quit\n")
    assert out.returncode == 0
    leaked = [
        p
        for p in root.rglob("*")
        if p.is_file()
        and ".git" not in p.parts
        and "blobs" not in p.parts
        and (key in p.read_text(errors="replace") or "Hunter2Hunter2" in p.read_text(errors="replace"))
    ]
    assert leaked == []
    assert not any(key in p.name for p in root.rglob("*"))


def test_a_folder_swapped_for_a_symlink_mid_write_never_sends_a_write_outside(root: Path, tmp_path: Path):
    """Another local process swaps projects/race between a real folder and a symlink to a folder
    outside the root, as fast as it can, while writes go in."""
    import subprocess
    import sys

    from llmos.syscalls import Context, SyscallTable

    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "projects" / "race").mkdir()
    swap = (
        "import os, sys\n"
        "race, real, link, outside = sys.argv[1], sys.argv[1] + '.real', sys.argv[1] + '.link', sys.argv[2]\n"
        "while True:\n"
        "    try:\n"
        "        os.rename(race, real); os.symlink(outside, link); os.rename(link, race)\n"
        "        os.unlink(race); os.rename(real, race)\n"
        "    except OSError:\n"
        "        pass\n"
    )
    swapper = subprocess.Popen([sys.executable, "-c", swap, str(root / "projects" / "race"), str(outside)])
    table, ctx = SyscallTable.default(), Context(root, "assistant", run_id="race")
    try:
        for n in range(200):
            table.call(ctx, "write_file", {"path": f"projects/race/f{n}.txt", "content": "x"})
    finally:
        swapper.kill()
        swapper.wait()
    assert list(outside.iterdir()) == [], sorted(p.name for p in outside.iterdir())[:5]


def test_writes_never_follow_a_symlinked_folder(root: Path, tmp_path: Path):
    import errno
    import os

    from llmos.atomic import write_beneath

    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, root / "projects" / "link")
    with pytest.raises(OSError) as err:
        write_beneath(root, "projects/link/f.txt", "x")
    assert err.value.errno in (errno.ELOOP, errno.ENOTDIR) and list(outside.iterdir()) == []
    for bad in ("../x", "/etc/x", ""):
        with pytest.raises(ValueError):
            write_beneath(root, bad, "x")


def _poem_run(root: Path, script, n: int, *replies):
    goal = f'Write a poem about "cat {n}" into projects/p{n}/poem.md'
    default = (
        call("write_file", path=f"projects/p{n}/poem.md", content=f"# cat {n}\n"),
        call("finish", result=f"wrote projects/p{n}/poem.md"),
    )
    return Kernel(root).run(goal, model=script(*(replies or default)))


@pytest.mark.parametrize("commit_the_forgery", [False, True])
def test_an_edited_trace_is_never_replayed(root: Path, script, commit_the_forgery: bool):
    first = _poem_run(root, script, 1)
    trace = first.trace_path
    text = trace.read_text()
    trace.write_text(text.replace("A poem", "A forged poem") + "\n<!-- edited -->\n")
    if commit_the_forgery:
        git(root, "commit", "-qam", "an innocent-looking edit")
    second = _poem_run(root, script, 2)
    assert second.mode != "FOLLOWER" and second.tokens["input"] > 0
    decision = read_trace(second.trace_path).decision
    assert "untrusted" in decision and "differs from what its run committed" in str(decision["untrusted"])


def test_a_trace_as_its_run_committed_it_is_replayed(root: Path, script):
    _poem_run(root, script, 1)
    _poem_run(root, script, 2)  # a replay needs two runs with different slot values
    assert _poem_run(root, script, 3, call("write_file", path="projects/WRONG.md", content="x")).mode == "FOLLOWER"

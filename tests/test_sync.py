"""A shared brain through git remotes: two machines (two clones of one bare remote) sync memories,
traces and files; conflicting memories keep the newer valid_from; nothing is lost or force-pushed;
bad input is one line and never leaves a root mid-merge."""

from __future__ import annotations

import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from helpers import call, git, run_llmos
from llmos.kernel import Kernel
from llmos.memory.store import remember
from llmos.sync import SyncError, sync

JAN = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.fixture()
def two(root: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    """Machine A (the `root` fixture), a bare remote, and machine B cloned from it."""
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(remote)], check=True)
    git(root, "remote", "add", "origin", str(remote))
    sync(root)
    other = tmp_path / "b"
    subprocess.run(["git", "clone", "-q", str(remote), str(other)], check=True)
    return root, remote, other


def _memory_text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_memories_and_runs_from_both_machines_meet(two, script):
    a, remote, b = two
    Kernel(a).run(
        "write a", model=script(call("write_file", path="projects/a.md", content="a\n"), call("finish", result="ok"))
    )
    remember(a, "Machine A learned the API is on port 8443", commit=True)
    Kernel(b).run(
        "write b", model=script(call("write_file", path="projects/b.md", content="b\n"), call("finish", result="ok"))
    )
    remember(b, "Machine B learned deploys are on Thursdays", commit=True)
    first = sync(a)
    second = sync(b)
    third = sync(a)
    assert first.pushed > 0 and second.merged and second.fetched > 0 and third.fetched > 0
    for root in (a, b):
        tracked = git(root, "ls-tree", "-r", "--name-only", "HEAD")
        assert "projects/a.md" in tracked and "projects/b.md" in tracked
        assert git(root, "status", "--porcelain") == ""
    out = run_llmos("recall", "deploys Thursdays", root=a)
    assert "Thursdays" in out.stdout
    assert git(a, "rev-parse", "HEAD") == git(b, "rev-parse", "HEAD")


def test_the_same_memory_changed_on_both_keeps_the_newer_valid_from(two):
    a, remote, b = two
    _, (rel, *_) = remember(a, "The staging server is called blue", valid_from=JAN, commit=True)
    sync(a)
    sync(b)
    path_a, path_b = a / rel, b / rel
    path_a.write_text(_memory_text(path_a).replace("called blue", "called green"))
    git(a, "commit", "-qam", "a renames it")
    newer = (
        _memory_text(path_b)
        .replace("called blue", "called red")
        .replace("valid_from: '2026-01-01", "valid_from: '2026-06-01")
    )
    assert newer != _memory_text(path_b)
    path_b.write_text(newer)
    git(b, "commit", "-qam", "b renames it, later")
    sync(b)
    result = sync(a)
    assert result.merged and len(result.resolved) == 1 and "kept theirs (newer valid_from)" in result.resolved[0]
    assert "called red" in _memory_text(path_a)
    body = git(a, "log", "-1", "--format=%B")
    assert "Sync-Resolved: " + str(rel) in body
    assert "called green" in git(a, "show", "HEAD^1:" + str(rel))  # the other version stays in history


def test_a_real_conflict_stops_with_the_files_named_and_no_merge_in_progress(two):
    a, remote, b = two
    for root, text in ((a, "from a\n"), (b, "from b\n")):
        (root / "projects").mkdir(exist_ok=True)
        (root / "projects/plan.md").write_text(text)
        git(root, "add", "projects/plan.md")
        git(root, "commit", "-qm", "plan")
    sync(b)
    before = git(a, "rev-parse", "HEAD")
    with pytest.raises(SyncError, match="both changed projects/plan.md") as info:
        sync(a)
    assert "merge by hand" in info.value.hint
    assert not (a / ".git/MERGE_HEAD").exists() and git(a, "rev-parse", "HEAD") == before
    assert git(a, "status", "--porcelain") == "" and (a / "projects/plan.md").read_text() == "from a\n"


def test_bad_input_is_one_line(root: Path, tmp_path: Path):
    out = run_llmos("sync", root=root)
    assert out.returncode == 1 and "no git remote named 'origin'" in out.stderr and "git -C" in out.stderr
    git(root, "remote", "add", "origin", str(tmp_path / "nowhere.git"))
    out = run_llmos("sync", root=root)
    assert out.returncode == 1 and "cannot fetch from origin" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "nowhere.git")], check=True)
    (root / "projects").mkdir(exist_ok=True)
    (root / "projects/staged.md").write_text("x")
    git(root, "add", "projects/staged.md")
    out = run_llmos("sync", root=root)
    assert out.returncode == 1 and "staged changes" in out.stderr


def test_sync_auto_after_a_run(two, script):
    a, remote, b = two
    cfg = a / "system/llmos.yaml"
    cfg.write_text(cfg.read_text() + "\nsync:\n  auto: true\n")
    git(a, "commit", "-qam", "auto sync")
    Kernel(a).run(
        "write c", model=script(call("write_file", path="projects/c.md", content="c\n"), call("finish", result="ok"))
    )
    assert "projects/c.md" in git(remote, "ls-tree", "-r", "--name-only", "main")


def test_a_push_beaten_by_another_machine_is_merged_and_pushed_again(two, script):
    a, remote, b = two
    (b / "projects").mkdir(exist_ok=True)
    (b / "projects/b.md").write_text("b\n")
    git(b, "add", "projects/b.md")
    git(b, "commit", "-qm", "b first")
    git(b, "push", "-q", "origin", "HEAD:main")
    Kernel(a).run(
        "write a", model=script(call("write_file", path="projects/a.md", content="a\n"), call("finish", result="ok"))
    )
    result = sync(a)
    assert result.merged and result.pushed > 0
    tracked = git(remote, "ls-tree", "-r", "--name-only", "main")
    assert "projects/a.md" in tracked and "projects/b.md" in tracked


def test_a_dream_branch_from_another_machine_is_applied_after_a_sync(two):
    from llmos.dream.gitops import apply_branch

    a, remote, b = two
    git(b, "switch", "-q", "-c", "llmos/dream/2026-12-01")
    (b / "memory/alpha").mkdir(parents=True, exist_ok=True)
    (b / "memory/alpha/promoted.md").write_text("---\nid: promoted\n---\nx\n")
    git(b, "add", "memory/alpha/promoted.md")
    git(b, "commit", "-qm", "dream: promote")
    git(b, "push", "-q", "origin", "llmos/dream/2026-12-01")
    sync(a)  # fetches the other machine's dream branch for review
    apply_branch(a, "2026-12-01")
    assert "memory/alpha/promoted.md" in git(a, "ls-tree", "-r", "--name-only", "HEAD")


def test_a_tool_both_machines_crystallized_keeps_the_one_pushed_first(two):
    a, remote, b = two
    for root, text in ((a, "def run():\n    return 'a'\n"), (b, "def run():\n    return 'b'\n")):
        (root / "crystallized").mkdir(exist_ok=True)
        (root / "crystallized/write_note.py").write_text(text)
        git(root, "add", "crystallized/write_note.py")
        git(root, "commit", "-qm", "tool")
    sync(b)
    result = sync(a)
    assert result.merged and "crystallized/write_note.py: kept theirs" in result.resolved[0]
    assert "'b'" in (a / "crystallized/write_note.py").read_text()


def _share_claims(root: Path) -> None:
    cfg = root / "system/llmos.yaml"
    cfg.write_text(cfg.read_text() + "\nsync:\n  shared_claims: true\n")


def test_a_claim_is_a_commit_on_the_remote_and_the_first_push_wins(two, script):
    from llmos.audit import shared

    a, remote, b = two
    won, said = shared.claim(
        a, "projects/site", run="run-a", agent="writer", host="a", ttl=60, remote="origin", branch="main"
    )
    assert won and "claimed 'projects/site' on origin" in said
    lost, said = shared.claim(
        b, "projects/site", run="run-b", agent="editor", host="b", ttl=60, remote="origin", branch="main"
    )
    assert not lost and "claimed on origin by agent 'writer' on a" in said
    assert shared.claim_file("projects/site") in git(remote, "ls-tree", "-r", "--name-only", "main")
    assert git(a, "status", "--porcelain") == ""  # built on the remote's tip: the work tree is untouched
    released, _ = shared.release(a, "projects/site", run="run-a", remote="origin", branch="main")
    won_b, _ = shared.claim(
        b, "projects/site", run="run-b", agent="editor", host="b", ttl=60, remote="origin", branch="main"
    )
    assert released and won_b
    # an expired claim binds no one
    shared.claim(a, "projects/old", run="run-a", agent="writer", host="a", ttl=0.01, remote="origin", branch="main")
    import time

    time.sleep(0.05)
    assert shared.claim(
        b, "projects/old", run="run-b", agent="editor", host="b", ttl=60, remote="origin", branch="main"
    )[0]


def test_agents_on_two_machines_see_each_others_claims(two, script):
    a, remote, b = two
    for root in (a, b):
        _share_claims(root)
        (root / "agents/claimer.md").write_text(
            "---\nname: claimer\ndescription: claims\ntools: [claim, release, finish]\n---\nClaim.\n"
        )
        git(root, "add", "-A")
        git(root, "commit", "-qm", "share claims")
    sync(a)
    sync(b)
    holder = script(call("claim", resource="projects/report"), {**call("finish", result="done"), "delay": 1.5})
    import threading

    first = threading.Thread(target=lambda: Kernel(a).run("write the report", agent="claimer", model=holder))
    first.start()
    import time

    deadline = time.time() + 30
    from llmos.audit import shared

    while time.time() < deadline and shared.claim_file("projects/report") not in git(
        remote, "ls-tree", "-r", "--name-only", "main"
    ):
        time.sleep(0.1)
    claim_it = script(call("claim", resource="projects/report"), call("finish", result="x"))
    other = Kernel(b).run("edit the report", agent="claimer", model=claim_it)
    first.join()
    from llmos.traces import read_trace

    step = read_trace(other.trace_path).steps[0]
    assert not step.ok and "claimed on origin by agent 'claimer'" in step.result
    # the first run ended: its claim is gone from the remote
    assert shared.claim_file("projects/report") not in git(remote, "ls-tree", "-r", "--name-only", "main")

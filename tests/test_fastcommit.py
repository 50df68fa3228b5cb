"""The in-process audit commit: same result as git's own commands, every guarantee kept."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import git
from llmos.audit import fastcommit
from llmos.audit.commit import commit_paths
from llmos.audit.refs import update_ref, identity
from llmos.audit.objects import Unsupported
from llmos.errors import RootError


def _write(root: Path, rel: str, text: str) -> str:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(text)
    return rel


def _scenario(root: Path) -> list[str]:
    """A person's staged and unstaged work, then three run commits (new, changed, deleted files)."""
    _write(root, "projects/mine.md", "staged by a person\n")
    _write(root, "projects/a/b/c.md", "a person's staged version, which the run overwrites\n")
    git(root, "add", "projects/mine.md", "projects/a/b/c.md")
    (root / "agents/assistant.md").write_text("unstaged edit by a person\n")
    shas = [
        commit_paths(
            root,
            [_write(root, "projects/a/b/c.md", "one\n"), _write(root, "traces/t1.md", "t\n")],
            "llmos: first\n\nTrace-Id: t1\n",
        )
    ]
    os.chmod(root / "projects/a/b/c.md", 0o755)
    (root / "system/prompts/brief.md").unlink()
    shas.append(commit_paths(root, ["projects/a/b/c.md", "system/prompts/brief.md"], "llmos: second\n\nTrace-Id: t2\n"))
    shas.append(commit_paths(root, ["projects/a/b/c.md"], "llmos: nothing changed\n"))
    return shas


def _state(root: Path) -> dict:
    return {
        "tree": git(root, "rev-parse", "HEAD^{tree}"),
        "index": git(root, "ls-files", "-s"),
        "status": git(root, "status", "--porcelain"),
        "staged": git(root, "diff", "--cached", "--name-status"),
        "messages": git(root, "log", "--format=%B%x00"),
        "count": git(root, "rev-list", "--count", "HEAD"),
    }


def test_in_process_commit_equals_gits(tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch):
    twin = tmp_path / "twin"
    subprocess.run(["git", "clone", "-q", str(root), str(twin)], check=True)
    (twin / ".llmos").mkdir(exist_ok=True)
    fast = _scenario(root)
    monkeypatch.setenv("LLMOS_GIT_SUBPROCESS", "1")
    slow = _scenario(twin)
    assert [bool(s) for s in fast] == [bool(s) for s in slow] == [True, True, False]
    assert _state(root) == _state(twin)
    assert "A  projects/mine.md" in _state(root)["status"]  # the person's staged file stays staged
    assert " M agents/assistant.md" in _state(root)["status"]  # and their edit stays unstaged
    assert "system/prompts/brief.md" not in git(root, "ls-files")
    assert "100755" in git(root, "ls-tree", "-r", "HEAD", "projects/a/b/c.md")
    assert git(root, "reflog", "-1", "--format=%gs") == "llmos: run commit\n"
    git(root, "fsck", "--strict")


def test_plain_root_uses_the_in_process_path(root: Path):
    written = fastcommit.commit_batch(root, [([_write(root, "projects/x.md", "x\n")], "llmos: x\n")])
    assert written is not None and written.shas[0] == git(root, "rev-parse", "HEAD").strip()
    assert written.entries["projects/x.md"][0] == b"100644"


def test_packed_refs_and_packed_objects(root: Path):
    git(root, "gc", "-q")  # packs HEAD's ref into packed-refs and every object into a pack
    assert not (root / ".git/refs/heads/main").exists()
    sha = commit_paths(root, [_write(root, "projects/p.md", "p\n")], "llmos: after gc\n")
    assert git(root, "rev-parse", "HEAD").strip() == sha
    assert git(root, "show", "HEAD:agents/assistant.md")  # tree rebuilt from packed trees keeps the rest
    assert git(root, "status", "--porcelain") == ""
    git(root, "fsck", "--strict")


def test_fresh_repository_without_identity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    home = tmp_path / "home"
    home.mkdir()
    for var in ("HOME", "XDG_CONFIG_HOME"):
        monkeypatch.setenv(var, str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(var, raising=False)
    repo = tmp_path / "fresh"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    (repo / ".llmos").mkdir()
    sha = commit_paths(repo, [_write(repo, "a.md", "a\n")], "llmos: first\n\nTrace-Id: x\n")
    assert (
        git(repo, "log", "--format=%an <%ae>|%cn <%ce>|%(trailers:key=Trace-Id,valueonly)").strip()
        == "llmos <llmos@localhost>|llmos <llmos@localhost>|x"
    )
    assert git(repo, "rev-parse", "HEAD").strip() == sha
    assert git(repo, "status", "--porcelain", "--untracked-files=no") == ""
    git(repo, "fsck", "--strict")


def test_fallback_to_git_when_attributes_exist(root: Path):
    _write(root, ".gitattributes", "*.md text eol=crlf\n")
    assert fastcommit.commit_batch(root, [(["projects/y.md"], "llmos: y\n")]) is None
    sha = commit_paths(root, [_write(root, "projects/y.md", "y\n")], "llmos: y\n")
    assert sha and git(root, "show", "--stat", "--format=", "HEAD").strip().startswith("projects/y.md")


def test_locked_index_is_left_alone(root: Path, monkeypatch: pytest.MonkeyPatch):
    from llmos.audit import commit as audit

    monkeypatch.setattr(audit, "INDEX_WAIT_S", 0.2)  # someone else's lock is waited for, never taken
    (root / ".git/index.lock").write_bytes(b"")
    before = (root / ".git/index").read_bytes()
    sha = commit_paths(root, [_write(root, "projects/z.md", "z\n")], "llmos: z\n")
    assert git(root, "rev-parse", "HEAD").strip() == sha
    assert (root / ".git/index").read_bytes() == before and (root / ".git/index.lock").exists()


def test_ref_moves_only_from_the_expected_value(root: Path):
    head = git(root, "rev-parse", "HEAD").strip()
    who = identity({}, fastcommit.FALLBACK_IDENTITY)
    with pytest.raises(Unsupported, match="moved"):
        update_ref(root / ".git", "refs/heads/main", "1" * 40, "2" * 40, who, "x", True)
    assert git(root, "rev-parse", "HEAD").strip() == head


HOLD = "import sys, time; f = open(sys.argv[1]); print('open', flush=True); time.sleep(60)"


def test_a_ref_lock_a_live_git_keeps_is_one_clear_error(root: Path, monkeypatch: pytest.MonkeyPatch):
    from llmos.audit import refs

    monkeypatch.setattr(refs, "REF_WAIT_S", 0.2)
    head = git(root, "rev-parse", "HEAD").strip()
    lock = root / ".git/refs/heads/main.lock"
    lock.write_text("")
    os.utime(lock, (time.time() - 60, time.time() - 60))  # old, but a process still has it open
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(lock)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "open\n"
        who = identity({}, fastcommit.FALLBACK_IDENTITY)
        with pytest.raises(RootError, match="held for 0s by a git command that is still running") as err:
            update_ref(root / ".git", "refs/heads/main", "1" * 40, head, who, "x", True)
        assert str(lock) in err.value.hint and lock.exists()
    finally:
        holder.kill()
        holder.wait()
    assert git(root, "rev-parse", "HEAD").strip() == head


@pytest.mark.parametrize("subprocess_git", [False, True])
def test_a_ref_lock_left_by_a_killed_git_is_reclaimed(
    root: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture, subprocess_git: bool
):
    """Finding: a stale refs/heads/main.lock made every later run do its work, then fail with a
    multi-line GitCommandError. Now the commit reclaims it and says so in one line."""
    if subprocess_git:
        monkeypatch.setenv("LLMOS_GIT_SUBPROCESS", "1")
    lock = root / ".git/refs/heads/main.lock"
    lock.write_text("")
    os.utime(lock, (time.time() - 30, time.time() - 30))
    sha = commit_paths(root, [_write(root, "projects/after-kill.md", "x\n")], "llmos: after a kill\n")
    assert sha and git(root, "rev-parse", "HEAD").strip() == sha and not lock.exists()
    assert "removed a stale .git/refs/heads/main.lock" in capfd.readouterr().err
    assert git(root, "status", "--porcelain") == ""


def test_an_index_lock_left_by_a_killed_git_is_reclaimed(root: Path, capfd: pytest.CaptureFixture):
    lock = root / ".git" / "index.lock"
    lock.write_bytes(b"")
    os.utime(lock, (time.time() - 30, time.time() - 30))  # what a killed git leaves behind
    commit_paths(root, [_write(root, "projects/reclaimed.md", "x\n")], "llmos: under a dead lock\n")
    assert not lock.exists() and "removed a stale .git/index.lock" in capfd.readouterr().err
    assert git(root, "status", "--porcelain") == ""
    git(root, "commit", "--allow-empty", "-qm", "a person's next commit")
    assert "projects/reclaimed.md" in git(root, "ls-tree", "-r", "--name-only", "HEAD")


COMMITTER = """
import sys
from pathlib import Path
from llmos.audit.commit import commit_paths
root, tag = Path(sys.argv[1]), sys.argv[2]
for i in range(15):
    p = root / "projects" / f"{tag}-{i}.md"
    p.write_text(f"{tag} {i}\\n")
    assert commit_paths(root, [f"projects/{tag}-{i}.md"], f"llmos: {tag} {i}\\n")
"""


def test_processes_committing_at_once_lose_nothing(root: Path):
    procs = [
        subprocess.Popen([sys.executable, "-c", COMMITTER, str(root), f"proc{n}"], stderr=subprocess.PIPE, text=True)
        for n in range(3)
    ]
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read()
    assert len(git(root, "log", "--format=%s", "--grep=llmos: proc").splitlines()) == 45
    assert git(root, "status", "--porcelain") == ""
    git(root, "fsck", "--strict")


def test_identity_from_the_environment_and_one_git_would_clean(root: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Ada Lovelace")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "ada@example.org")
    commit_paths(root, [_write(root, "projects/e1.md", "1\n")], "llmos: env identity\n")
    assert git(root, "log", "-1", "--format=%an <%ae>") == "Ada Lovelace <ada@example.org>\n"
    monkeypatch.setenv("GIT_AUTHOR_NAME", " <Ada.> ")  # git strips this; the git path writes it
    commit_paths(root, [_write(root, "projects/e2.md", "2\n")], "llmos: odd identity\n")
    assert git(root, "log", "-1", "--format=%an") == "Ada\n"
    git(root, "fsck", "--strict")


def test_a_persons_brief_index_lock_is_waited_out(root: Path):
    """A person's `git status` holds index.lock for a moment; the run's files must still reach the
    index, or that person's next commit would record them as deleted."""
    import threading

    lock = root / ".git" / "index.lock"
    lock.write_bytes(b"")
    threading.Timer(0.3, lock.unlink).start()
    commit_paths(root, [_write(root, "projects/brief.md", "x\n")], "llmos: while git status ran\n")
    assert git(root, "status", "--porcelain") == ""
    git(root, "commit", "--allow-empty", "-qm", "a person's next commit")
    assert "projects/brief.md" in git(root, "ls-tree", "-r", "--name-only", "HEAD")


def test_an_index_lock_held_past_the_wait_is_remembered_and_caught_up_by_the_next_commit(root: Path, monkeypatch):
    from llmos.audit import commit as audit

    monkeypatch.setattr(audit, "INDEX_WAIT_S", 0.2)
    lock = root / ".git" / "index.lock"
    lock.write_bytes(b"")  # fresh: a git command that may still be running holds it
    commit_paths(root, [_write(root, "projects/stale.md", "x\n")], "llmos: under a stale lock\n")
    assert (root / audit.PENDING).read_text() == "projects/stale.md\n"
    lock.unlink()  # a person removes it, as git's own message tells them to
    commit_paths(root, [_write(root, "projects/next.md", "y\n")], "llmos: the next run\n")
    assert not (root / audit.PENDING).exists()
    assert git(root, "status", "--porcelain") == ""
    git(root, "commit", "--allow-empty", "-qm", "a person's next commit")
    tracked = git(root, "ls-tree", "-r", "--name-only", "HEAD")
    assert "projects/stale.md" in tracked and "projects/next.md" in tracked

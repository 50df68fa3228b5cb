"""Git for the dream: a separate worktree under ``.llmos/dream/``, commits, the review branch, apply.

The root's own checkout is touched only at the end, by a fast-forward (or merge) to the dream's
local commit, which git refuses rather than overwrite a person's uncommitted change.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from ..errors import DreamError

BRANCH_PREFIX = "llmos/dream/"


@functools.lru_cache(maxsize=32)
def _identity(root: str) -> tuple[tuple[str, str], ...]:
    env = []
    for kind, fallback in (("name", "llmos"), ("email", "llmos@localhost")):
        probe = subprocess.run(["git", "config", f"user.{kind}"], cwd=root, capture_output=True, text=True)
        if not probe.stdout.strip():
            env += [(f"GIT_AUTHOR_{kind.upper()}", fallback), (f"GIT_COMMITTER_{kind.upper()}", fallback)]
    return tuple(env)


def run(root: Path, *args: str) -> subprocess.CompletedProcess:
    """``git args`` in ``root`` (with a fallback identity when none is configured)."""
    env = {**dict(_identity(str(root))), **os.environ}
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, env=env)


def git(root: Path, *args: str, check: bool = True) -> str:
    p = run(root, *args)
    if check and p.returncode != 0:
        raise DreamError(
            f"git {' '.join(args[:3])} failed in {root}: {(p.stderr or p.stdout).strip()[:300]}",
            hint="fix the repository state (see `git status`) and run `llmos dream` again",
        )
    return p.stdout


def dream_dir(root: Path) -> Path:
    return Path(root) / ".llmos" / "dream"


def discard(root: Path, wt: Path) -> None:
    git(root, "worktree", "remove", "--force", str(wt), check=False)
    shutil.rmtree(wt, ignore_errors=True)
    git(root, "worktree", "prune", check=False)


def open_worktree(root: Path) -> Path:
    """A fresh detached worktree of HEAD (left-overs of an interrupted dream are removed first)."""
    base = dream_dir(root)
    if base.is_dir():
        for old in base.glob("wt-*"):
            discard(root, old)
    base.mkdir(parents=True, exist_ok=True)
    wt = base / f"wt-{os.getpid()}-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}"
    git(root, "worktree", "add", "--detach", str(wt), "HEAD")
    return wt


def dirty_paths(root: Path) -> set[str]:
    """Paths with uncommitted changes (staged, unstaged or untracked) in the person's checkout."""
    out = git(root, "status", "--porcelain", "-z", "--untracked-files=all")
    paths, items = set(), out.split("\0")
    i = 0
    while i < len(items):
        item = items[i]
        if len(item) > 3:
            paths.add(item[3:])
            if item[0] in "RC":
                i += 1
        i += 1
    return paths


def restore(wt: Path, paths: list[str]) -> None:
    """Undo the dream's change to ``paths`` in the worktree (modified: checked out; new: removed)."""
    for p in paths:
        if git(wt, "ls-files", "--", p).strip():
            git(wt, "checkout", "HEAD", "--", p)
        else:
            (wt / p).unlink(missing_ok=True)


def commit(wt: Path, paths: list[str], message: str) -> str | None:
    if not paths:
        return None
    git(wt, "add", "-A", "--", *paths)
    if not git(wt, "diff", "--cached", "--name-only").strip():
        return None
    _commit_message(wt, message)
    return git(wt, "rev-parse", "HEAD").strip()


def _commit_message(wt: Path, message: str) -> None:
    msg = wt / ".git-dream-message"
    msg.write_text(message, encoding="utf-8")
    try:
        git(wt, "commit", "-q", "-F", str(msg))
    finally:
        msg.unlink(missing_ok=True)


def pending_has(root: Path, wt: Path, paths: list[str]) -> str | None:
    """The existing dream branch that already holds ``paths`` exactly as they are in ``wt``, if any."""
    refs = git(root, "for-each-ref", "--format=%(refname:short)", f"refs/heads/{BRANCH_PREFIX}").split()
    if not refs:
        return None
    mine = {p: git(wt, "hash-object", "--", p).strip() for p in paths}
    for ref in refs:
        if all(
            git(root, "rev-parse", "-q", "--verify", f"{ref}:{p}", check=False).strip() == h for p, h in mine.items()
        ):
            return ref
    return None


def new_branch(root: Path, sha: str, day: str) -> str:
    name, n = f"{BRANCH_PREFIX}{day}", 1
    while git(root, "rev-parse", "--verify", "--quiet", f"refs/heads/{name}", check=False).strip():
        n += 1
        name = f"{BRANCH_PREFIX}{day}-{n}"
    git(root, "branch", name, sha)
    return name


def advance(root: Path, sha: str) -> None:
    """Bring the root's current branch to ``sha`` without touching uncommitted work (git refuses
    to overwrite it, and then the dream is abandoned)."""
    if run(root, "merge", "--ff-only", "-q", sha).returncode == 0:
        return
    p = run(root, "merge", "--no-edit", "-q", sha)
    if p.returncode != 0:
        run(root, "merge", "--abort")
        raise DreamError(
            f"the dream's changes could not be merged into the current branch: {(p.stderr or p.stdout).strip()[:200]}",
            hint="run `llmos dream` again",
        )


def apply_branch(root: Path, branch: str) -> str:
    """Merge an approved dream branch into the current branch; return the new HEAD."""
    if not branch.startswith(BRANCH_PREFIX):
        branch = BRANCH_PREFIX + branch
    ref = f"refs/heads/{branch}"
    if not git(root, "rev-parse", "--verify", "--quiet", ref, check=False).strip():
        # a branch another machine dreamed and pushed (llmos sync): its remote-tracking copy
        remote = git(root, "for-each-ref", "--format=%(refname)", f"refs/remotes/*/{branch}", check=False).split()
        if not remote:
            raise DreamError(
                f"no dream branch {branch!r} here or on a remote",
                hint="list them with `git branch -a --list '*llmos/dream/*'`; `llmos sync` fetches other machines'",
            )
        ref = remote[0]
    p = run(root, "merge", "--no-edit", "-q", ref)
    if p.returncode != 0:
        run(root, "merge", "--abort")
        raise DreamError(
            f"merging {branch} failed: {(p.stderr or p.stdout).strip()[:300]}",
            hint="commit or stash your changes to those files, or merge it with git yourself",
        )
    return git(root, "rev-parse", "HEAD").strip()

"""Git is the audit trail: one commit per run, holding exactly the files the run wrote.

The commit is built in a private index (``GIT_INDEX_FILE``) from HEAD plus the run's files, so a
person's staged or unstaged edits are never swept into it; HEAD moves by compare-and-swap under a
lock, so concurrent runs in one root serialize cleanly.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import git

from . import fastcommit, stale
from ..atomic import atomic_write, file_lock
from .gitindex import IndexLocked
from .refs import REF_WAIT_S
from ..errors import RootError
from ..procs import temp_prefix

TRAILERS = ("Trace-Id", "Agent", "Mode", "Model", "Tokens", "Cost-USD")
FALLBACK_IDENTITY = {"name": "llmos", "email": "llmos@localhost"}


def open_repo(root: Path) -> git.Repo:
    """The git repository whose top level is ``root``; :class:`RootError` if there is none."""
    try:
        repo = git.Repo(root)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise RootError(
            f"{root} is not a git repository",
            hint="run `git init` there and commit, or create a root with `llmos init DIR`",
        ) from None
    if Path(repo.working_tree_dir or "").resolve() != Path(root).resolve():
        raise RootError(
            f"{root} is inside the git repository {repo.working_tree_dir}, not its top level",
            hint="an OS root must be the top of its own repository: `git init` it",
        )
    return repo


def identity_env(repo: git.Repo) -> dict[str, str]:
    """Commit as the person's configured git identity, else as ``llmos <llmos@localhost>``."""
    reader = repo.config_reader()
    env = {}
    for kind in ("name", "email"):
        var = f"GIT_AUTHOR_{kind.upper()}"
        if not reader.has_option("user", kind) and var not in os.environ:
            env[var] = env[f"GIT_COMMITTER_{kind.upper()}"] = FALLBACK_IDENTITY[kind]
    return env


def format_message(subject: str, trailers: dict[str, str], body: str = "") -> str:
    subject = " ".join(subject.split())
    if len(subject) > 72:
        subject = subject[:71] + "…"
    lines = [subject, ""]
    if body:
        lines += [body.strip(), ""]
    lines += [f"{k}: {v}" for k, v in trailers.items()]
    return "\n".join(lines) + "\n"


@dataclass
class _Pending:
    """One caller's commit waiting in its root's queue (see :func:`commit_paths`)."""

    paths: list[str]
    message: str
    sha: str | None = None
    error: BaseException | None = None
    done: bool = False


_QUEUE_GUARD = threading.Lock()
_QUEUES: dict[str, list[_Pending]] = {}
_COMMITTERS: dict[str, threading.Lock] = {}


def commit_paths(root: Path, paths: list[str], message: str) -> str | None:
    """Commit exactly ``paths`` (relative to root) on top of HEAD; return the new sha, or None if
    nothing changed. Other changes in the work tree and index are left as they were.

    Group commit: threads of one process committing to one root at once (parallel delegated
    runs) queue their requests; whichever thread gets to commit takes the whole queue and writes
    one commit per request in order, in one pass of git, so many runs finishing together do not
    pay for git one by one.
    """
    key = os.path.abspath(root)
    mine = _Pending(list(paths), message)
    with _QUEUE_GUARD:
        _QUEUES.setdefault(key, []).append(mine)
        committer = _COMMITTERS.setdefault(key, threading.Lock())
    with committer:
        if not mine.done:
            with _QUEUE_GUARD:
                batch, _QUEUES[key] = _QUEUES[key], []
            _commit_batch(Path(root), batch)
    if mine.error is not None:
        raise mine.error
    return mine.sha


def _commit_batch(root: Path, batch: list[_Pending]) -> None:
    """Write one commit per request of ``batch`` on top of HEAD, then move HEAD once.

    In-process first (:mod:`llmos.audit.fastcommit`: objects, ref and index written directly, no git
    process); anything that path does not handle falls back to git subprocesses, same result."""
    try:
        final, fast = None, fastcommit.usable(root)
        if not fast:
            open_repo(root).close()  # a root that is no repository fails before anything is written
        with file_lock(root / ".llmos" / "locks" / "git.lock", timeout=120):
            if fast:
                final = fastcommit.commit_batch(root, [(req.paths, req.message) for req in batch])
            if final is None:
                _commit_batch_git(root, batch)
                paths, entries = sorted({p for req in batch for p in req.paths}), None
            else:
                for req, sha in zip(batch, final.shas):
                    req.sha = sha
                paths, entries = sorted(final.entries), final.entries
            sync_index(root, paths, entries)  # under the git lock: no other run's sync can interleave
    except BaseException as exc:  # every caller of the batch re-raises it in its own thread
        for req in batch:
            req.error, req.sha = exc, None
    finally:
        for req in batch:
            req.done = True


def _commit_batch_git(root: Path, batch: list[_Pending]) -> None:
    """The batch written by git subprocesses in a private index (the caller holds the git lock)."""
    repo = open_repo(root)
    try:
        with tempfile.TemporaryDirectory(prefix=temp_prefix("index")) as tmp:
            env = {**os.environ, **identity_env(repo), "GIT_INDEX_FILE": os.path.join(tmp, "index")}
            head = _head(repo)
            if head:
                repo.git.execute(["git", "read-tree", head], env=env)
            tip, tree = head, (repo.commit(head).tree.hexsha if head else None)
            for req in batch:
                tip, tree = _commit_one(repo, root, env, req, tip, tree)
            if tip != head:
                _update_head(repo, root, tip, head)
    except git.GitCommandError as exc:
        raise RootError(
            f"git could not write the audit commit in {root}: {_first_line(exc)}",
            hint="run `git status` there to see what git says; the run's files are on disk and are "
            "committed by the next run",
        ) from None
    finally:
        repo.close()


def _update_head(repo: git.Repo, root: Path, tip: str, head: str | None) -> None:
    """``git update-ref HEAD tip head``, waiting for (or reclaiming, if stale) the branch's lock."""
    git_dir = root / ".git"
    target = (git_dir / "HEAD").read_text().strip()
    lock = git_dir / ((target[5:] if target.startswith("ref: ") else "HEAD") + ".lock")
    deadline = time.monotonic() + REF_WAIT_S
    while lock.exists() and not stale.reclaim(lock, root) and time.monotonic() < deadline:
        time.sleep(0.05)
    repo.git.execute(["git", "update-ref", "-m", "llmos: run commit", "HEAD", tip] + ([head] if head else []))


def _first_line(exc: git.GitCommandError) -> str:
    text = str(exc.stderr or exc).strip().strip("'").strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("stderr:")]
    return (lines[0] if lines else text)[:300]


def _commit_one(
    repo: git.Repo, root: Path, env: dict[str, str], req: _Pending, tip: str | None, tree: str | None
) -> tuple[str | None, str | None]:
    """Stage ``req``'s paths in the private index and commit them on ``tip``, if anything changed."""
    g = repo.git
    present = [p for p in req.paths if (root / p).exists()]
    gone = [p for p in req.paths if not (root / p).exists()]
    if present:
        g.execute(["git", "update-index", "--add", "--"] + present, env=env)
    if gone:
        g.execute(["git", "update-index", "--force-remove", "--"] + gone, env=env)
    new_tree = g.execute(["git", "write-tree"], env=env)
    if tip and new_tree == tree:
        return tip, tree
    parents = ["-p", tip] if tip else []
    req.sha = g.execute(["git", "commit-tree", new_tree, *parents, "-m", req.message], env=env)
    return req.sha, new_tree


def _head(repo: git.Repo) -> str | None:
    try:
        return repo.head.commit.hexsha
    except ValueError:
        return None


INDEX_WAIT_S = 10.0  # how long a commit waits for a person's git command to release index.lock
PENDING = ".llmos/index-pending"  # paths whose index entries still have to catch up with HEAD


def sync_index(root: Path, paths: list[str], entries: dict[str, Any] | None = None) -> bool:
    """Make the real index agree with HEAD for ``paths`` (the caller holds the git lock), so a
    person's next ``git commit`` never records a run's files as deleted. A person's git command
    holds ``index.lock`` for milliseconds: wait up to :data:`INDEX_WAIT_S` for it. A lock that stays
    (a killed git leaves one) is reclaimed once no process holds it (:mod:`llmos.audit.stale`); one a
    live git command keeps past the wait (an editor open for ``git commit``) cannot be waited out: the
    paths are kept in ``.llmos/index-pending`` and synced by the next commit, and ``False`` is returned."""
    pending = root / PENDING
    todo = sorted(set(paths) | set(_read_pending(pending)))
    deadline = time.monotonic() + INDEX_WAIT_S
    while True:
        try:
            if entries is None or set(todo) != set(entries) or not fastcommit.sync_index(root, entries):
                _git_reset(root, todo)
            pending.unlink(missing_ok=True)
            return True
        except IndexLocked:
            if stale.reclaim(root / ".git" / "index.lock", root):
                continue
            if time.monotonic() >= deadline:
                atomic_write(pending, "".join(p + "\n" for p in todo), durable=True)
                return False
            time.sleep(0.02)


def _read_pending(path: Path) -> list[str]:
    try:
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line]
    except FileNotFoundError:
        return []


def _git_reset(root: Path, paths: list[str]) -> None:
    """``git reset -q HEAD -- paths``: the index entries of ``paths`` become HEAD's."""
    if not paths:
        return
    proc = subprocess.run(["git", "-C", str(root), "reset", "-q", "HEAD", "--", *paths], capture_output=True, text=True)
    if proc.returncode != 0:
        if "index.lock" in proc.stderr:
            raise IndexLocked(proc.stderr.strip())
        raise RootError(f"cannot update the git index of {root}: {proc.stderr.strip()}")

"""A shared brain through git remotes: ``llmos sync`` fetches, integrates and pushes an OS root.

Memories, traces and crystallized tools are one file each with unique ids, so most changes from two
machines merge without conflict. Where both changed the same memory, the supersede rule decides:
the version with the newer ``valid_from`` (then ``updated``, then ``created``) is kept, the other stays
in history (it is the other parent of the merge commit), and the merge commit says which was kept in a
``Sync-Resolved:`` trailer. Files the kernel generates from shared runs (crystallized tools, the
valence state) keep the remote's version when both machines made one. A conflict anywhere else aborts
the merge (the root is never left
mid-merge) with one line naming the files. Nothing is ever force-pushed: a push another machine beat
is fetched, merged and pushed again. The whole sync holds the root's git lock, so no run commits in
the middle of it.

Layer: upkeep. May import the layers below it.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import yaml

from ..atomic import file_lock
from ..errors import LlmosError
from .config import SyncConfig

MERGEABLE = ("memory/",)  # conflicts here are resolved by the supersede rule
# Files the kernel generates from shared evidence: two machines that made the same tool (or updated the
# valence state) from the same runs keep the one the remote already has; the commit says so.
FIRST_PUSH_WINS = ("crystallized/", "memory/valence.yaml")
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class SyncError(LlmosError):
    """A sync that could not be done: no remote, unreachable, staged changes, a real conflict."""


@dataclass
class SyncResult:
    """What one sync did."""

    remote: str
    branch: str
    fetched: int = 0  # commits taken from the remote
    pushed: int = 0  # commits the remote did not have
    merged: bool = False
    resolved: list[str] = field(default_factory=list)  # "path: kept ours|theirs (why)"
    rounds: int = 0
    head: str = ""

    def line(self) -> str:
        parts = [f"{self.fetched} in", f"{self.pushed} out"]
        if self.merged:
            parts.append("merged")
        if self.resolved:
            parts.append(f"{len(self.resolved)} memory conflict(s) resolved by valid_from")
        return f"synced {self.branch} with {self.remote}: " + ", ".join(parts) + f" (HEAD {self.head[:10]})"


def _git(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise SyncError(f"git {args[0]} failed: {_first(proc.stderr)}")
    return proc


def _first(text: str) -> str:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip() and not ln.startswith("hint:")]
    return lines[0][:300] if lines else "(no message)"


def _rev(root: Path, ref: str) -> str | None:
    proc = _git(root, "rev-parse", "--verify", "--quiet", ref + "^{commit}", check=False)
    return proc.stdout.strip() or None


def _count(root: Path, spec: str) -> int:
    return int(_git(root, "rev-list", "--count", spec).stdout.strip() or 0)


def sync(root: Path, config: SyncConfig | None = None) -> SyncResult:
    """Fetch, integrate and push ``root`` (see the module doc). Raises :class:`SyncError`."""
    config = config or SyncConfig()
    root = Path(root)
    url = _git(root, "remote", "get-url", config.remote, check=False)
    if url.returncode != 0:
        raise SyncError(
            f"{root} has no git remote named {config.remote!r}",
            hint=f"git -C {root} remote add {config.remote} URL, or set sync.remote in system/llmos.yaml",
        )
    branch = config.branch or _git(root, "symbolic-ref", "--quiet", "--short", "HEAD", check=False).stdout.strip()
    if not branch:
        raise SyncError("HEAD is detached: there is no branch to sync", hint="git switch BRANCH first")
    result = SyncResult(config.remote, branch)
    with file_lock(root / ".llmos" / "locks" / "git.lock", timeout=120):
        if _git(root, "diff", "--cached", "--quiet", check=False).returncode != 0:
            raise SyncError(
                "the git index has staged changes: a merge would sweep them into its commit",
                hint="commit them or unstage them (git restore --staged PATH), then sync",
            )
        for result.rounds in range(1, config.attempts + 1):
            _fetch(root, config.remote, branch, url.stdout.strip())
            theirs = _rev(root, f"refs/remotes/{config.remote}/{branch}")
            ours = _rev(root, "HEAD")
            if theirs and ours != theirs:
                behind = _count(root, f"HEAD..{theirs}")
                if behind:
                    result.fetched += behind
                    if _count(root, f"{theirs}..HEAD") == 0:
                        _fast_forward(root, theirs)
                    else:
                        result.resolved += _merge(root, theirs, f"{config.remote}/{branch}")
                        result.merged = True
            ahead = _count(root, f"{theirs}..HEAD") if theirs else _count(root, "HEAD")
            if _push(root, config.remote, branch):
                result.pushed += ahead
                break
        else:
            raise SyncError(
                f"{config.remote} kept moving: {config.attempts} rounds of fetch, merge and push were all beaten",
                hint="sync again, or raise sync.attempts",
            )
        if config.dream_branches:
            _push_dream_branches(root, config.remote)
    result.head = _rev(root, "HEAD") or ""
    return result


def _fetch(root: Path, remote: str, branch: str, url: str) -> None:
    proc = _git(root, "fetch", "--quiet", remote, check=False)
    if proc.returncode != 0:
        raise SyncError(
            f"cannot fetch from {remote} ({url}): {_first(proc.stderr)}",
            hint="check the URL (git remote -v), the network and your credentials",
        )


def _fast_forward(root: Path, theirs: str) -> None:
    proc = _git(root, "merge", "--ff-only", "--quiet", theirs, check=False)
    if proc.returncode != 0:
        raise SyncError(
            f"cannot take the remote's commits: {_first(proc.stderr)}",
            hint="a file you changed and did not commit is changed on the remote too: commit or stash it, then sync",
        )


def _merge(root: Path, theirs: str, label: str) -> list[str]:
    """Merge ``theirs``; resolve memory conflicts by the supersede rule; abort on any other conflict."""
    proc = _git(root, "merge", "--no-ff", "--no-commit", "--quiet", theirs, check=False)
    resolved: list[str] = []
    try:
        if proc.returncode != 0:
            conflicted = _git(root, "diff", "--name-only", "--diff-filter=U").stdout.split()
            if not conflicted:
                raise SyncError(
                    f"cannot merge {label}: {_first(proc.stderr + proc.stdout)}",
                    hint="a file you changed and did not commit is changed on the remote too: commit or stash it",
                )
            generated = [p for p in conflicted if p.startswith(FIRST_PUSH_WINS)]
            others = [
                p for p in conflicted if p not in generated and not (p.startswith(MERGEABLE) and p.endswith(".md"))
            ]
            if others:
                raise SyncError(
                    f"{label} and this root both changed {', '.join(others[:5])}"
                    + (f" and {len(others) - 5} more" if len(others) > 5 else ""),
                    hint=f"merge by hand: git pull {label.replace('/', ' ', 1)}, resolve, commit; then llmos sync",
                )
            for path in conflicted:
                resolved.append(_keep_theirs(root, path) if path in generated else _resolve_memory(root, path))
        trailers = "".join(f"Sync-Resolved: {r}\n" for r in resolved)
        message = f"llmos: sync with {label}\n\n{trailers}"
        commit = _git(root, "commit", "--quiet", "--no-verify", "-m", message, check=False)
        if commit.returncode != 0:
            raise SyncError(f"cannot commit the merge of {label}: {_first(commit.stderr + commit.stdout)}")
    except BaseException:
        _git(root, "merge", "--abort", check=False)  # never leave the root mid-merge
        raise
    return resolved


def _when(text: str) -> datetime:
    """The supersede key of a memory version: valid_from, else updated, else created."""
    try:
        meta = yaml.safe_load(text.split("---", 2)[1]) if text.startswith("---") else {}
    except (yaml.YAMLError, IndexError):
        meta = {}
    for key in ("valid_from", "updated", "created"):
        value = (meta or {}).get(key)
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    return EPOCH


def _resolve_memory(root: Path, path: str) -> str:
    ours = _git(root, "show", f":2:{path}", check=False)
    theirs = _git(root, "show", f":3:{path}", check=False)
    if ours.returncode != 0 or theirs.returncode != 0:  # deleted on one side: keep the one that exists
        keep = "ours" if ours.returncode == 0 else "theirs"
        text = ours.stdout if keep == "ours" else theirs.stdout
        why = "the other side deleted it"
    else:
        keep = "theirs" if _when(theirs.stdout) > _when(ours.stdout) else "ours"
        text = theirs.stdout if keep == "theirs" else ours.stdout
        why = "newer valid_from" if keep == "theirs" else "valid_from not older"
    (root / path).write_text(text, encoding="utf-8")
    _git(root, "add", "--", path)
    return f"{path}: kept {keep} ({why})"


def _keep_theirs(root: Path, path: str) -> str:
    theirs = _git(root, "show", f":3:{path}", check=False)
    if theirs.returncode != 0:  # the remote deleted it: so do we
        _git(root, "rm", "-q", "--", path, check=False)
        return f"{path}: removed as on the remote (generated file)"
    (root / path).write_text(theirs.stdout, encoding="utf-8")
    _git(root, "add", "--", path)
    return f"{path}: kept theirs (generated file: the first one pushed wins)"


def _push(root: Path, remote: str, branch: str) -> bool:
    """Push HEAD to the branch; False if another machine pushed first (fetch and merge again)."""
    proc = _git(root, "push", "--quiet", remote, f"HEAD:refs/heads/{branch}", check=False)
    if proc.returncode == 0:
        return True
    text = proc.stderr
    if "non-fast-forward" in text or "fetch first" in text or "rejected" in text:
        return False
    raise SyncError(
        f"{remote} refused the push: {_first(text)}", hint="check your rights on the remote and its branch protection"
    )


def _push_dream_branches(root: Path, remote: str) -> None:
    refs = _git(root, "for-each-ref", "--format=%(refname)", "refs/heads/llmos/dream/").stdout.split()
    if refs:
        _git(root, "push", "--quiet", remote, *[f"{r}:{r}" for r in refs], check=False)

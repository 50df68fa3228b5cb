"""Claims across machines: a claim is a commit on the shared remote, won by the first push.

With ``sync.shared_claims`` (and a remote), the ``claim`` syscall first claims on the remote: it
fetches the branch, reads ``claims/<name>.json`` at the remote's tip, and if no other run holds it
(or that claim expired), writes a commit on top of the remote's tip that adds the claim file and
pushes it, never forcing. Two machines claiming at once both build on the same tip; the first push
wins and the other's is rejected, fetches again, and finds the claim taken. ``release`` pushes a
commit removing the file. The commits are built in a private index from the remote's tip, so the
local work tree and index are not touched; the next ``llmos sync`` brings them in. A remote that
cannot be reached refuses the claim (fail closed).

Layer: stores.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .commit import identity_env, open_repo

FOLDER = "claims"


def claim_file(resource: str) -> str:
    """``claims/<readable>-<hash>.json``: one file per resource name, any name."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", resource).strip("-.")[:80] or "claim"
    return f"{FOLDER}/{slug}-{hashlib.sha1(resource.encode()).hexdigest()[:8]}.json"


def _git(
    root: Path, *args: str, env: dict[str, str] | None = None, data: str | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, input=data, env={**os.environ, **(env or {})}
    )


def _identity(root: Path) -> dict[str, str]:
    """The audit commit's identity rule: the person's git identity, else ``llmos <llmos@localhost>``."""
    repo = open_repo(root)
    try:
        return identity_env(repo)
    finally:
        repo.close()


def current_branch(root: Path) -> str | None:
    return _git(root, "symbolic-ref", "--quiet", "--short", "HEAD").stdout.strip() or None


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _tip(root: Path, remote: str, branch: str) -> tuple[str | None, str | None]:
    """(the remote branch's tip after a fetch, None) or (None, why it could not be fetched)."""
    fetched = _git(root, "fetch", "-q", remote, branch)
    if fetched.returncode != 0:
        lines = [ln for ln in fetched.stderr.splitlines() if ln.strip()]
        return None, f"cannot reach {remote}: {lines[0] if lines else 'fetch failed'}"
    tip = _git(root, "rev-parse", "--verify", "-q", "FETCH_HEAD^{commit}").stdout.strip()
    return (tip or None), (None if tip else f"{remote} has no branch {branch}")


def _holder(root: Path, tip: str, path: str) -> dict[str, Any] | None:
    shown = _git(root, "show", f"{tip}:{path}")
    if shown.returncode != 0:
        return None
    try:
        return json.loads(shown.stdout)
    except ValueError:
        return None  # a damaged claim file binds no one


def _push_change(root: Path, remote: str, branch: str, tip: str, path: str, content: str | None, message: str) -> bool:
    """A commit on ``tip`` that writes (or, with None, removes) ``path``, pushed to the branch;
    False if another push got there first."""
    env = _identity(root)
    with tempfile.TemporaryDirectory(prefix="llmos-claim-") as tmp:
        env["GIT_INDEX_FILE"] = os.path.join(tmp, "index")
        _git(root, "read-tree", tip, env=env)
        if content is None:
            _git(root, "update-index", "--force-remove", "--", path, env=env)
        else:
            blob = _git(root, "hash-object", "-w", "--stdin", data=content).stdout.strip()
            _git(root, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
        tree = _git(root, "write-tree", env=env).stdout.strip()
        commit = _git(root, "commit-tree", tree, "-p", tip, "-m", message, env=env).stdout.strip()
    pushed = _git(root, "push", "-q", remote, f"{commit}:refs/heads/{branch}")
    return pushed.returncode == 0


def claim(
    root: Path,
    resource: str,
    *,
    run: str,
    agent: str,
    host: str,
    ttl: float,
    remote: str,
    branch: str,
    attempts: int = 5,
) -> tuple[bool, str]:
    """Claim ``resource`` on the remote (see the module doc): (won, a sentence saying what happened)."""
    path = claim_file(resource)
    for _ in range(attempts):
        tip, why = _tip(root, remote, branch)
        if tip is None:
            return False, f"cannot claim {resource!r} across machines: {why}"
        now = time.time()
        held = _holder(root, tip, path)
        if held is not None and held.get("run") != run and held.get("expires", 0) > now:
            return False, (
                f"{resource!r} is claimed on {remote} by agent {held.get('agent')!r} on {held.get('host')} "
                f"until {_iso(held['expires'])}; wait, or work on something else"
            )
        record = {"resource": resource, "run": run, "agent": agent, "host": host, "expires": now + ttl}
        message = (
            f"llmos: claim {resource}\n\nClaim: {resource}\nAgent: {agent}\nRun: {run}\nExpires: {_iso(now + ttl)}\n"
        )
        if _push_change(root, remote, branch, tip, path, json.dumps(record, indent=1) + "\n", message):
            return True, f"claimed {resource!r} on {remote} until {_iso(now + ttl)}"
    return False, f"cannot claim {resource!r}: {remote} kept moving ({attempts} tries)"


def release(root: Path, resource: str, *, run: str, remote: str, branch: str, attempts: int = 5) -> tuple[bool, str]:
    """Remove this run's claim of ``resource`` from the remote (nothing to do if it holds none)."""
    path = claim_file(resource)
    for _ in range(attempts):
        tip, why = _tip(root, remote, branch)
        if tip is None:
            return False, f"cannot release {resource!r} on {remote}: {why}"
        held = _holder(root, tip, path)
        if held is None or held.get("run") != run:
            return True, f"{resource!r} is not held by this run on {remote}"
        if _push_change(
            root, remote, branch, tip, path, None, f"llmos: release {resource}\n\nRelease: {resource}\nRun: {run}\n"
        ):
            return True, f"released {resource!r} on {remote}"
    return False, f"cannot release {resource!r}: {remote} kept moving ({attempts} tries)"

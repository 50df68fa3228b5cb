"""HEAD read and moved in-process, by compare-and-swap under git's own ref lock file.

The protocol is git's: create ``<ref>.lock`` exclusively, check the ref still holds the expected
value, write the new value into the lock file, rename it over the ref, append to the reflogs. A
packed ref is read from ``packed-refs`` and superseded by a loose one, as git does. Anything else
(a symbolic ref chain, a ref held by another lock, reftable storage) raises
:class:`~llmos.audit.objects.Unsupported` and the caller falls back to git.

Also here: the repository's configuration, read once per process with ``git config`` and cached
until one of the config files changes, and the identity a commit is written as.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import RootError
from .objects import LockFile, Unsupported

ZERO = "0" * 40
_CRUD = "".join(map(chr, range(33))) + ".,:;<>\"\\'"  # what git trims from the ends of a name or email
_CONFIG_CACHE: dict[str, tuple[tuple, dict[str, str]]] = {}
_CONFIG_GUARD = threading.Lock()
_ENV_KEYS = (
    "GIT_CONFIG_GLOBAL",
    "GIT_CONFIG_SYSTEM",
    "GIT_CONFIG_NOSYSTEM",
    "GIT_CONFIG_COUNT",
    "GIT_CONFIG_PARAMETERS",
    "HOME",
    "XDG_CONFIG_HOME",
)


def _config_files(git_dir: Path) -> list[str]:
    home = os.environ.get("HOME", "")
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    return [
        str(git_dir / "config"),
        os.path.join(home, ".gitconfig"),
        os.path.join(xdg, "git", "config"),
        "/etc/gitconfig",
        os.environ.get("GIT_CONFIG_GLOBAL", ""),
        os.environ.get("GIT_CONFIG_SYSTEM", ""),
    ]


def _fingerprint(git_dir: Path) -> tuple:
    marks = []
    for f in _config_files(git_dir):
        try:
            st = os.stat(f)
            marks.append((f, st.st_mtime_ns, st.st_size, st.st_ino))
        except OSError:
            marks.append((f, None))
    return tuple(marks) + tuple(os.environ.get(k) for k in _ENV_KEYS)


def read_config(root: Path) -> dict[str, str]:
    """Every config value git sees in ``root`` (last one wins), lower-cased keys; cached."""
    git_dir = root / ".git"
    key, mark = str(git_dir.resolve()), _fingerprint(git_dir)
    with _CONFIG_GUARD:
        cached = _CONFIG_CACHE.get(key)
        if cached and cached[0] == mark:
            return cached[1]
    out = subprocess.run(["git", "config", "--list", "-z"], cwd=root, capture_output=True, check=False).stdout
    config = {}
    for item in out.decode("utf-8", "surrogateescape").split("\0"):
        name, _, value = item.partition("\n")
        if name:
            config[name.lower()] = value
    with _CONFIG_GUARD:
        _CONFIG_CACHE[key] = (mark, config)
    return config


def is_true(config: dict[str, str], key: str, default: bool = False) -> bool:
    value = config.get(key)
    if value is None:
        return default
    return value.lower() in ("true", "yes", "on", "1", "")


@dataclass
class Identity:
    author: bytes
    committer: bytes
    name: str
    email: str


def identity(config: dict[str, str], fallback: dict[str, str]) -> Identity:
    """Author and committer lines as git would write them now; ``fallback`` where nothing is configured
    (the audit trail must commit even without a git identity)."""
    if os.environ.get("GIT_AUTHOR_DATE") or os.environ.get("GIT_COMMITTER_DATE"):
        raise Unsupported("commit dates come from the environment")
    people = {}
    for who in ("author", "committer"):
        values = []
        for kind in ("name", "email"):
            env = os.environ.get(f"GIT_{who.upper()}_{kind.upper()}")
            conf = config.get(f"{who}.{kind}") or config.get(f"user.{kind}")
            if env is None and conf is None:
                if os.environ.get(f"GIT_AUTHOR_{kind.upper()}") is not None or (
                    kind == "email" and os.environ.get("EMAIL")
                ):
                    raise Unsupported("a partial identity in the environment")
                values.append(fallback[kind])
            else:
                values.append(env if env is not None else conf)
        if any(not v or v != v.strip(_CRUD) or any(c in v for c in "<>\n") for v in values):
            raise Unsupported("an identity git would clean up first")
        people[who] = values
    now = time.time()
    offset = time.localtime(now).tm_gmtoff
    sign, offset = ("+" if offset >= 0 else "-"), abs(offset)
    stamp = f"{int(now)} {sign}{offset // 3600:02d}{offset % 3600 // 60:02d}"
    line = lambda v: f"{v[0]} <{v[1]}> {stamp}".encode()
    name, email = people["committer"]
    return Identity(line(people["author"]), line(people["committer"]), name, email)


def head_target(git_dir: Path) -> str:
    """The ref HEAD points at (``refs/heads/main``), or ``HEAD`` itself when detached."""
    text = (git_dir / "HEAD").read_text()
    if text.startswith("ref: "):
        ref = text[5:].strip()
        if not ref.startswith("refs/heads/") or ".." in ref or ref.endswith(".lock"):
            raise Unsupported(f"HEAD points at {ref}")
        return ref
    return "HEAD"


def read_ref(git_dir: Path, ref: str) -> str | None:
    """The sha a ref holds (loose first, then packed-refs), or None if it does not exist yet."""
    try:
        value = (git_dir / ref).read_text().strip()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        value = _packed_ref(git_dir, ref)
        if value is None:
            return None
    if len(value) != 40 or not all(c in "0123456789abcdef" for c in value):
        raise Unsupported(f"{ref} holds {value[:60]!r}")
    return value


def _packed_ref(git_dir: Path, ref: str) -> str | None:
    try:
        lines = (git_dir / "packed-refs").read_text().splitlines()
    except FileNotFoundError:
        return None
    for line in lines:
        sha, _, name = line.partition(" ")
        if name == ref and not line.startswith(("#", "^")):
            return sha
    return None


REF_WAIT_S = 10.0  # how long a commit waits for another git command to release a ref's lock


def ref_locked(git_dir: Path, ref: str) -> RootError:
    """The error for a ref whose lock a live git process has held for :data:`REF_WAIT_S`."""
    lock = git_dir / (ref + ".lock")
    return RootError(
        f"cannot move {ref}: {lock} has been held for {REF_WAIT_S:.0f}s by a git command that is still running",
        hint=f"let that git command finish (is an editor open for `git commit`?); if none is running, remove {lock}",
    )


def update_ref(git_dir: Path, ref: str, new: str, old: str | None, who: Identity, message: str, log_all: bool) -> None:
    """Move ``ref`` from ``old`` to ``new`` if it still holds ``old`` (None: does not exist yet), and
    log the move in its reflog and HEAD's; :class:`Unsupported` if it moved. A lock held by a live git
    command is waited for, one left by a killed process is reclaimed; :class:`RootError` if neither."""
    path = git_dir / ref
    path.parent.mkdir(parents=True, exist_ok=True)
    with LockFile(path, lambda: ref_locked(git_dir, ref), wait=REF_WAIT_S, repo=git_dir.parent) as lock:
        if read_ref(git_dir, ref) != old:
            raise Unsupported(f"{ref} moved")
        lock.commit((new + "\n").encode())
    entry = b"%s %s %s\t%s\n" % ((old or ZERO).encode(), new.encode(), who.committer, message.encode())
    for log in {ref, "HEAD"}:
        _append_log(git_dir / "logs" / log, entry, log_all)


def _append_log(path: Path, entry: bytes, create: bool) -> None:
    if not create and not path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as fh:
        fh.write(entry)

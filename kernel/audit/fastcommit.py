"""The audit commit written in-process: blobs, trees, commits, HEAD and the index, no git process.

Same result as the git path in :mod:`llmos.audit.commit` (private index from HEAD, ``update-index``,
``write-tree``, ``commit-tree``, ``update-ref`` with the old value, ``reset -q HEAD -- paths``), at
the cost of a few file writes. Used only for a plain repository in a plain configuration: whatever
could make git write something different (attributes and filters, autocrlf, signing, SHA-256,
reftable, a reference-transaction hook, ``GIT_DIR`` and friends) makes :func:`usable` or
:func:`commit_batch` decline, and the caller uses git itself. ``LLMOS_GIT_SUBPROCESS=1`` forces git.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .gitindex import reset_paths
from .refs import head_target, identity, is_true, read_config, read_ref, update_ref
from .objects import Entry, ObjectStore, Unsupported, commit_bytes, edit_tree

FALLBACK_IDENTITY = {"name": "llmos", "email": "llmos@localhost"}
REFLOG_MESSAGE = "llmos: run commit"
_GIT_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_COMMON_DIR",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "LLMOS_GIT_SUBPROCESS",
)


@dataclass
class Written:
    """What :func:`commit_batch` did: each request's new sha (None: nothing changed), and the final
    HEAD entry of every path the batch touched (None: not in HEAD), for :func:`sync_index`."""

    shas: list[str | None]
    entries: dict[str, Entry | None]


def usable(root: Path) -> bool:
    """Whether ``root`` is a plain repository the in-process path may write to."""
    return (root / ".git").is_dir() and not any(os.environ.get(k) for k in _GIT_ENV)


def _refuse_unusual(root: Path, config: dict[str, str], paths: set[str]) -> None:
    """:class:`Unsupported` if git would write these paths differently from a plain byte copy."""
    if (
        config.get("extensions.objectformat", "sha1").lower() != "sha1"
        or config.get("extensions.refstorage", "files").lower() != "files"
    ):
        raise Unsupported("not a SHA-1 repository with files refs")
    if is_true(config, "commit.gpgsign") or is_true(config, "core.bare") or "core.worktree" in config:
        raise Unsupported("signed commits, a bare repository or a separate work tree")
    if config.get("core.autocrlf", "false").lower() != "false" or not is_true(config, "core.filemode", True):
        raise Unsupported("line-ending conversion or no file modes")
    if (
        "core.sharedrepository" in config
        or "core.attributesfile" in config
        or config.get("i18n.commitencoding", "utf-8").lower().replace("-", "") != "utf8"
    ):
        raise Unsupported("shared permissions, attributes or a commit encoding")
    home = os.environ.get("HOME", "")
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    hooks = Path(config.get("core.hookspath") or root / ".git" / "hooks")
    candidates = {
        root / ".git" / "info" / "attributes",
        Path(xdg) / "git" / "attributes",
        Path("/etc/gitattributes"),
        hooks / "reference-transaction",
    }
    for path in paths:
        parts = path.split("/")
        candidates.update(root.joinpath(*parts[:n], ".gitattributes") for n in range(len(parts)))
    if any(c.exists() for c in candidates):
        raise Unsupported("git attributes or a reference-transaction hook")


def commit_batch(root: Path, batch: list[tuple[list[str], str]]) -> Written | None:
    """One commit per (paths, message) on top of HEAD, then HEAD moved once by compare-and-swap;
    None (nothing written to refs or index) if this repository needs git itself. The caller holds
    the root's git lock."""
    try:
        return _commit(root, [([str(p) for p in paths], message) for paths, message in batch])
    except Unsupported:
        return None


def _commit(root: Path, batch: list[tuple[list[str], str]]) -> Written:
    git_dir = root / ".git"
    config = read_config(root)
    _refuse_unusual(root, config, {p for paths, _ in batch for p in paths})
    who = identity(config, FALLBACK_IDENTITY)
    store = ObjectStore(git_dir)
    ref = head_target(git_dir)
    head = read_ref(git_dir, ref)
    tip, tree = head, (store.commit_tree(head) if head else None)
    entries: dict[str, Entry | None] = {}
    shas: list[str | None] = []
    for paths, message in batch:
        changes = {p: store.blob_from_file(root / p) for p in paths}
        entries.update(changes)
        new_tree = edit_tree(store, tree, changes)
        if tip and new_tree == tree:
            shas.append(None)
            continue
        tip = store.write(b"commit", commit_bytes(new_tree, tip, who.author, who.committer, message))
        tree = new_tree
        shas.append(tip)
    if tip != head:
        log_all = config.get("core.logallrefupdates", "true").lower() not in ("false", "no", "off", "0")
        update_ref(git_dir, ref, tip, head, who, REFLOG_MESSAGE, log_all)
    return Written(shas, entries)


def sync_index(root: Path, entries: dict[str, Entry | None]) -> bool:
    """Make the real index agree with HEAD for these paths only; False if git must do it.
    Raises :class:`IndexLocked` while someone else (a person's git command) holds ``index.lock``."""
    try:
        reset_paths(root / ".git", entries)
    except Unsupported:
        return False
    return True

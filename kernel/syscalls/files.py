"""Built-in syscalls: files inside the OS root, and ``finish``."""

from __future__ import annotations

import errno
from typing import Any

from ..plugins import hookimpl
from ..atomic import write_beneath
from ..scrub import scrub
from . import Context, Outcome, syscall
from .hooks import check_write

READ_LIMIT = 20_000  # characters returned by one read_file call
LIST_LIMIT = 500  # entries returned by one list_dir call


@syscall
def read_file(ctx: Context, path: str, offset: int = 0) -> Outcome:
    """Read a text file inside the OS root.

    Args:
        path: file path relative to the OS root, e.g. projects/demo/notes.md
        offset: character offset to start from, for files longer than one read
    """
    target = ctx.path(path)
    if not target.is_file():
        return Outcome(False, f"no such file: {path}")
    text = target.read_text(encoding="utf-8", errors="replace")
    chunk = text[offset : offset + READ_LIMIT]
    rest = len(text) - offset - len(chunk)
    more = f"\n[... {rest} more characters; read again with offset={offset + len(chunk)}]" if rest > 0 else ""
    return Outcome(True, chunk + more)


@syscall
def write_file(ctx: Context, path: str, content: str) -> Outcome:
    """Create or overwrite a text file inside the OS root (parent folders are created).

    Args:
        path: file path relative to the OS root, e.g. projects/demo/notes.md
        content: the complete new text of the file
    """
    if scrub(path) != path:  # a secret in a path would reach the git tree and the vault's file list
        return Outcome(False, "refused: the path contains a secret; name the file without it")
    if path.endswith(("/", "\\")):  # a folder's path: writing it would make a file of the folder's name
        return Outcome(False, f"refused: {path} is a folder path; name the file, e.g. {path}notes.md")
    target = ctx.path(path, for_write=True)
    rel = target.relative_to(ctx.path(".")).as_posix()
    check_write(ctx, rel, len(content.encode("utf-8", "surrogatepass")))
    if target.is_dir():
        return Outcome(False, f"{path} is a directory")
    content = scrub(content)  # a credential never reaches disk (or the audit commit)
    ctx.written.add(rel)  # before the write: a run killed mid-write still names the file for recovery
    try:  # relative to descriptors, no symlink followed: a folder swapped after the check cannot redirect it
        write_beneath(ctx.path("."), rel, content)
    except OSError as exc:
        ctx.written.discard(rel)  # nothing was written: the commit must not take what stands there
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EISDIR):
            return Outcome(False, f"refused: {path}: a symbolic link or a file stands where a folder should be")
        raise
    return Outcome(True, f"wrote {len(content.encode('utf-8'))} bytes to {rel}")


@syscall
def list_dir(ctx: Context, path: str = ".") -> Outcome:
    """List the files and folders in a folder inside the OS root (folders end with '/').

    Args:
        path: folder path relative to the OS root; '.' is the root
    """
    target = ctx.path(path)
    if not target.is_dir():
        return Outcome(False, f"no such folder: {path}")
    hidden = {".llmos", ".git"}
    entries = sorted(e.name + ("/" if e.is_dir() else "") for e in target.iterdir() if e.name not in hidden)
    shown = entries[:LIST_LIMIT]
    more = f"\n[... {len(entries) - len(shown)} more]" if len(entries) > len(shown) else ""
    return Outcome(True, ("\n".join(shown) or "(empty)") + more)


@syscall
def finish(ctx: Context, result: str) -> Outcome:
    """End the run and report its result. Call this once the goal is done (or cannot be done).

    Args:
        result: a short summary of what was done, for the person who gave the goal
    """
    return Outcome(True, result, finished=True)


def finish_schema() -> dict[str, Any]:
    """The ``finish`` tool as a model sees it (for one-shot calls that answer through it)."""
    return finish.__llmos_syscall__.schema()  # type: ignore[attr-defined]


@hookimpl
def register_syscalls(register: Any) -> None:
    """This family's syscalls, through the same door as any plugin's."""
    for fn in (read_file, write_file, list_dir, finish):
        register(fn)

"""``grep`` and ``glob`` (Claude Code's ``Grep`` and ``Glob``): search the OS root without leaving it.

Both walk the tree without following symbolic links, skip ``.git`` (at any depth, any case), ``.llmos``
and ``HALT``, and cap what they return. For speed on large roots they list through GNU ``find`` and
prefilter through ``grep -P`` when those are installed (every hit is then checked with Python's ``re``,
whose syntax the pattern is in), and walk in Python otherwise. ``glob`` sorts by modification time,
newest first.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Iterator, Literal

from ..plugins import hookimpl
from . import Context, Outcome, syscall
from .hooks import PRIVATE_FOLDED, _git_name

MAX_RESULTS = 500  # files or lines one call returns at most
MAX_FILE_BYTES = 8 << 20  # larger files are skipped by grep


def walk(root: Path, start: Path) -> Iterator[tuple[str, os.DirEntry]]:
    """``(path relative to root, entry)`` of every regular file under ``start``, no links followed."""
    real_root = str(root)
    stack = [str(start)]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        top = folder == real_root
        for e in entries:
            if _git_name(e.name) or (top and e.name.lower() in PRIVATE_FOLDED):
                continue
            if e.is_dir(follow_symlinks=False):
                stack.append(e.path)
            elif e.is_file(follow_symlinks=False):
                yield os.path.relpath(e.path, real_root), e


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A glob as a regex over root-relative POSIX paths: ``**/`` any folders, ``*`` and ``?`` within one
    name, ``{a,b}`` alternatives; a pattern without ``/`` matches the file name at any depth."""
    if "/" not in pattern:
        pattern = "**/" + pattern
    out, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
            continue
        if pattern.startswith("**", i):
            out, i = out + ".*", i + 2
            continue
        if c == "{" and "}" in pattern[i:]:
            end = pattern.index("}", i)
            out += "(?:" + "|".join(re.escape(a) for a in pattern[i + 1 : end].split(",")) + ")"
            i = end + 1
            continue
        out += {"*": "[^/]*", "?": "[^/]"}.get(c, re.escape(c))
        i += 1
    return re.compile(out + r"\Z")


def _start(ctx: Context, path: str) -> Path:
    return ctx.path(path or ".")


@syscall
def glob(ctx: Context, pattern: str, path: str = ".") -> Outcome:
    """Find files by name pattern inside the OS root, newest first (e.g. **/*.py, src/**/*.{ts,tsx}).

    Args:
        pattern: a glob over paths relative to path: ** spans folders, * and ? stay in one name, {a,b} alternatives
        path: the folder to search, relative to the OS root; '.' is the root
    """
    start = _start(ctx, path)
    if not start.is_dir():
        return Outcome(False, f"no such folder: {path}")
    root = ctx.path(".")
    rx, base = glob_regex(pattern), os.path.relpath(start, root)
    names = _name_globs(pattern)
    listed = find_files(root, start, names)
    if listed is None:  # no GNU find: walk in Python
        names = None
        listed = [(e.stat(follow_symlinks=False).st_mtime, os.path.relpath(rel, base)) for rel, e in walk(root, start)]
    prefix = "" if base == "." else base + "/"
    if _exact_names(pattern) and listed is not None and names is not None:  # find -name already decided it
        hits = [(-mtime, prefix + sub) for mtime, sub in listed]
    else:
        hits = [(-mtime, prefix + sub) for mtime, sub in listed if rx.match(sub.replace(os.sep, "/"))]
    hits.sort()  # newest first, then by path
    shown = [rel for _, rel in hits[:MAX_RESULTS]]
    more = f"\n[... {len(hits) - len(shown)} more; narrow the pattern]" if len(hits) > len(shown) else ""
    return Outcome(True, ("\n".join(shown) or "(no files match)") + more)


def _exact_names(pattern: str) -> bool:
    """Whether ``find -name`` with :func:`_name_globs` matches exactly what the glob does: a pattern that
    is a file name at any depth (``*.py``, ``**/*.{ts,tsx}``) with no ``[`` (find and the glob read it
    differently) and nothing but ``*`` and ``?`` as wildcards."""
    name = pattern[3:] if pattern.startswith("**/") else pattern
    return "/" not in name and "[" not in name and "\\" not in name and "**" not in name


def _name_globs(pattern: str) -> list[str] | None:
    """``find -name`` patterns for the last component of ``pattern`` (a prefilter), or None for all."""
    last = pattern.rsplit("/", 1)[-1]
    if "**" in last or "[" in last:
        return None
    m = re.fullmatch(r"([^{}]*)\{([^{}]*)\}([^{}]*)", last)
    if m:
        return [m.group(1) + alt + m.group(3) for alt in m.group(2).split(",")]
    return None if "{" in last else [last]


GIT_NAMES = (".[gG][iI][tT]", ".[gG][iI][tT][. ]*", "[gG][iI][tT]~1", "[gG][iI][tT]~1[. ]*")


def find_files(root: Path, start: Path, names: list[str] | None) -> list[tuple[float, str]] | None:
    """``(mtime, path relative to start)`` of the regular files under ``start`` through GNU find (links
    not followed, .git pruned at any depth, the root's .llmos and HALT left out), or None without it."""
    find = shutil.which("find")
    if find is None:
        return None
    prune = [x for g in GIT_NAMES for x in ("-name", g, "-o")]  # folders only: cheap, and pruned whole
    if start == root:
        prune += ["-ipath", f"{root}/.llmos", "-o"]
    match = [x for n in names for x in ("-name", n, "-o")][:-1] if names else []
    argv = [find, "-P", str(start), "-type", "d", "(", *prune[:-1], ")", "-prune", "-o"]
    argv += ["(", *match, ")", "-type", "f"] if match else ["-type", "f"]
    proc = subprocess.run([*argv, "-printf", r"%T@\t%P\0"], capture_output=True)
    if proc.returncode not in (0, 1) and not proc.stdout:
        return None
    out, top = [], start == root
    for item in os.fsdecode(proc.stdout).split("\0"):  # one decode for all: 100k files is the case to be fast at
        if item:
            mtime, _, name = item.partition("\t")
            base = name[name.rfind("/") + 1 :]
            if (base[:1] in ".gG" and _git_name(base)) or (top and "/" not in name and name.lower() in PRIVATE_FOLDED):
                continue  # a file named .git, or the root's HALT
            out.append((float(mtime), name))
    return out


@syscall
def grep(
    ctx: Context,
    pattern: str,
    path: str = ".",
    glob: str = "",
    output_mode: Literal["files_with_matches", "content", "count"] = "files_with_matches",
    context: int = 0,
    case_insensitive: bool = False,
    head_limit: int = 100,
) -> Outcome:
    """Search file contents inside the OS root with a regular expression (Python syntax).

    Args:
        pattern: the regular expression to look for, e.g. def \\w+\\(|TODO
        path: a folder or file to search, relative to the OS root; '.' is the root
        glob: only files whose path matches this glob, e.g. *.py or src/**/*.ts
        output_mode: files_with_matches (paths, newest first), content (matching lines with numbers), or count
        context: lines of context before and after each match (content mode)
        case_insensitive: match without regard to case
        head_limit: at most this many paths, lines or counts
    """
    try:
        rx = re.compile(pattern.encode("utf-8"), re.IGNORECASE if case_insensitive else 0)
    except re.error as exc:
        return Outcome(False, f"bad regular expression {pattern!r}: {exc}")
    start, root = _start(ctx, path), ctx.path(".")
    limit = max(1, min(head_limit, MAX_RESULTS))
    if start.is_file():
        files = [(os.path.relpath(start, root), None)]
    else:
        files = prefilter(root, start, pattern, case_insensitive)
        files = walk(root, start) if files is None else files
    only = glob_regex(glob) if glob else None
    found: list[tuple[float, str, bytes]] = []
    for rel, _entry in files:
        if only is not None and not only.match(rel.replace(os.sep, "/")):
            continue
        data = _read(root / rel)
        if data is None or not rx.search(data):
            continue
        found.append((os.stat(root / rel, follow_symlinks=False).st_mtime, rel, data))
        if output_mode == "content" and len(found) > limit:
            break
    if output_mode == "files_with_matches":
        found.sort(key=lambda f: (-f[0], f[1]))
        return _capped([rel for _, rel, _ in found], limit, "(no matches)")
    if output_mode == "count":
        return _capped([f"{rel}:{len(rx.findall(data))}" for _, rel, data in found], limit, "(no matches)")
    lines = [line for _, rel, data in found for line in _content(rel, data, rx, context)]
    return _capped(lines, limit, "(no matches)")


def prefilter(root: Path, start: Path, pattern: str, case_insensitive: bool) -> list[tuple[str, None]] | None:
    """The files under ``start`` that ``grep -P`` finds ``pattern`` in (binary files, links and kernel-
    private folders left out), relative to ``root``; None when grep -P is missing or rejects the pattern."""
    grep = shutil.which("grep")
    if grep is None:
        return None
    argv = [grep, "-rlIZP", "--no-messages", *(f"--exclude-dir={g}" for g in GIT_NAMES)]
    argv += ["--exclude-dir=.[lL][lL][mM][oO][sS]", "--exclude=HALT", *(["-i"] if case_insensitive else [])]
    proc = subprocess.run([*argv, "-e", pattern, "--", str(start)], capture_output=True)
    if proc.returncode == 2 and not proc.stdout:
        return None
    real = str(root) + os.sep
    return [(os.fsdecode(p)[len(real) :], None) for p in proc.stdout.split(b"\0") if p.startswith(os.fsencode(real))]


def _read(path: Path) -> bytes | None:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError:
        return None
    if len(data) > MAX_FILE_BYTES or b"\x00" in data[:8192]:
        return None  # too large, or binary
    return data


def _content(rel: str, data: bytes, rx: re.Pattern[bytes], context: int) -> list[str]:
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()  # the file's last newline ends a line, it does not start one
    keep: dict[int, bool] = {}
    for i, line in enumerate(lines):
        if rx.search(line):
            for j in range(max(0, i - context), min(len(lines), i + context + 1)):
                keep[j] = keep.get(j, False) or j == i
    out, last = [], None
    for i in sorted(keep):
        if last is not None and i > last + 1:
            out.append("--")
        sep = ":" if keep[i] else "-"
        out.append(f"{rel}{sep}{i + 1}{sep}{lines[i].decode('utf-8', 'replace').rstrip()[:500]}")
        last = i
    return out


def _capped(items: list[str], limit: int, empty: str) -> Outcome:
    shown = items[:limit]
    more = f"\n[... {len(items) - len(shown)} more; narrow the search or raise head_limit]" if items[limit:] else ""
    return Outcome(True, ("\n".join(shown) or empty) + more)


@hookimpl
def register_syscalls(register: Any) -> None:
    """This family's syscalls, through the same door as any plugin's."""
    for fn in (grep, glob):
        register(fn)

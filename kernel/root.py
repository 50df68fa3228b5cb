"""OS roots: finding one (``--root``, ``LLMOS_ROOT``, walking up) and creating one (``llmos init``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .errors import RootError

CONFIG_PATH = "system/llmos.yaml"

TEMPLATE_COPY = ("system", "agents")
EMPTY_FOLDERS = ("projects", "memory/beta", "memory/alpha", "memory/delta", "memory/working", "traces", "crystallized")
GITIGNORE = (
    "# llmos local state: blob store, index, ledger, locks, vault (rebuilt or kept outside git)\n"
    ".llmos/\n# the kill switch is a local signal, never part of history\nHALT\n"
)


def template_dir() -> Path:
    """Where the template lives: inside an installed wheel, or the source checkout (editable)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_template", here.parent):
        if (candidate / CONFIG_PATH).is_file():
            return candidate
    raise RootError("the llmos template is missing from this installation", hint="reinstall: pip install llmos")


def is_root(path: Path) -> bool:
    return (path / CONFIG_PATH).is_file()


def find_root(explicit: str | os.PathLike | None = None, cwd: Path | None = None) -> Path:
    """``explicit`` (``--root``), else ``LLMOS_ROOT``, else the nearest ancestor holding system/llmos.yaml."""
    for source, value in (("--root", explicit), ("LLMOS_ROOT", os.environ.get("LLMOS_ROOT"))):
        if value:
            path = Path(value).expanduser().resolve()
            if not is_root(path):
                raise RootError(
                    f"{source} points at {path}, which is not an llmos root (no {CONFIG_PATH})",
                    hint=f"create one with `llmos init {value}`",
                )
            return path
    start = (cwd or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if is_root(folder):
            return folder
    raise RootError(
        f"no llmos root in {start} or any folder above it",
        hint="create one with `llmos init DIR`, or pass --root / set LLMOS_ROOT",
    )


def init_root(target: str | os.PathLike) -> Path:
    """Create a new OS root at ``target``: the template, empty tier folders, a git repo, one commit."""
    root = Path(target).expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise RootError(f"{root} exists and is not a folder", hint="choose another path")
    if root.is_dir() and any(p.name != ".git" for p in root.iterdir()):
        raise RootError(f"{root} is not empty", hint="choose a new or empty folder for the OS root")
    src = template_dir()
    root.mkdir(parents=True, exist_ok=True)
    for name in TEMPLATE_COPY:
        shutil.copytree(src / name, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in EMPTY_FOLDERS:
        (root / name).mkdir(parents=True, exist_ok=True)
        (root / name / ".gitkeep").touch()
    (root / ".gitignore").write_text(GITIGNORE, encoding="utf-8")
    import git

    repo = git.Repo.init(root, initial_branch="main") if not (root / ".git").exists() else git.Repo(root)
    from .audit.commit import commit_paths

    files = [
        p.relative_to(root).as_posix()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    ]
    commit_paths(root, files, "llmos: init\n\nA new OS root from the llmos template.\n")
    repo.close()
    return root

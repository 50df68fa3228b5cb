"""The state of each crystallized tool: ``crystallized/NAME.yaml`` beside ``NAME.py`` and ``test_NAME.py``.

The state file is git-tracked and changes only on events a person should review: activation
(tests passed in the sandbox), failure (a check or test failed), demotion (repeated failures in
use), re-verification after an edit. ``hash`` is the blake3 of the tool and test files *as
verified*: when a person edits either, the hashes differ and the tool is verified again before
it runs. Use counts are not stored here: they are counted from the traces (see traceindex).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import blake3
from pydantic import BaseModel, ConfigDict, Field

from ..atomic import atomic_write
from ..docs import read_yaml, validate
from ..errors import DocumentError

FOLDER = "crystallized"
State = Literal["active", "failed", "demoted"]


class ToolState(BaseModel):
    """Frontmatter-like record of one tool (``format: llmos-tool/1``)."""

    model_config = ConfigDict(extra="forbid")
    format: Literal["llmos-tool/1"] = "llmos-tool/1"
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)
    description: str
    template: str
    signature: str
    agent: str
    slots: list[str] = Field(default_factory=list)
    state: State
    hash: str = ""  # blake3 of NAME.py + test_NAME.py when last verified
    verified: str | None = None  # when the tests last passed (ISO time)
    sources: list[str] = Field(default_factory=list)
    assignments: int = 0  # different slot assignments its tests run it with (as verified)
    fixed: dict[str, str] = Field(default_factory=dict)  # slots with one value in every test: the tool is for those
    ambiguous: list[list[str]] = Field(default_factory=list)  # [template used, another its runs fit]: must agree
    report: str = ""  # the last verification or failure, in one paragraph


def paths(root: Path, name: str) -> tuple[Path, Path, Path]:
    """``NAME.py``, ``test_NAME.py`` and ``NAME.yaml`` of a tool."""
    base = Path(root) / FOLDER
    return base / f"{name}.py", base / f"test_{name}.py", base / f"{name}.yaml"


def rel_paths(name: str) -> list[str]:
    return [f"{FOLDER}/{name}.py", f"{FOLDER}/test_{name}.py", f"{FOLDER}/{name}.yaml"]


def files_hash(root: Path, name: str) -> str:
    """Hash of the tool and its tests as they are now ('' if either is missing)."""
    tool, test, _ = paths(root, name)
    h = blake3.blake3()
    for p in (tool, test):
        try:
            h.update(p.read_bytes())
        except OSError:
            return ""
        h.update(b"\x00")
    return h.hexdigest()[:32]


def save(root: Path, state: ToolState) -> None:
    import yaml

    text = yaml.safe_dump(state.model_dump(mode="json"), sort_keys=False, allow_unicode=True, width=100)
    atomic_write(paths(root, state.name)[2], "# llmos crystallized tool state (see `llmos tools`)\n" + text)


_cache: dict[Path, tuple[int, dict[str, ToolState], list[DocumentError]]] = {}


def load_all(root: Path) -> tuple[dict[str, ToolState], list[DocumentError]]:
    """Every tool state in the root, and the files that do not validate (cached on the folder mtime)."""
    folder = Path(root) / FOLDER
    try:
        mtime = folder.stat().st_mtime_ns
    except OSError:
        return {}, []
    hit = _cache.get(folder)
    if hit and hit[0] == mtime:
        return dict(hit[1]), list(hit[2])
    states, errors = {}, []
    for p in sorted(folder.glob("*.yaml")):
        try:
            st = validate(read_yaml(p), ToolState)
        except DocumentError as exc:
            errors.append(exc)
            continue
        states[st.name] = st
    _cache[folder] = (mtime, states, errors)
    return dict(states), list(errors)


def for_signature(root: Path, signature: str, agent: str) -> ToolState | None:
    """The tool crystallized for this template and agent (any state), if there is one."""
    found = [s for s in load_all(root)[0].values() if s.signature == signature and s.agent == agent]
    return found[0] if found else None

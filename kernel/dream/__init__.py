"""Dream cycles: the nightly maintenance run (promotion, distillation, consolidation, review via git).

``config`` (the ``dream:`` section), ``evidence`` (what the traces say: workflow and lesson
candidates), ``distill`` (candidates -> readable memories), ``consolidate`` (duplicates,
contradictions, working memory, old traces), ``souls`` (a soul section proposed from
delta-level workflows), ``proof`` (recall before/after), ``gitops`` (the
separate worktree, commits, the dream branch) and ``cycle`` (one dream, end to end).

Layer: upkeep, above memory and modes (which it maintains); below the assembled config.
"""

from importlib import import_module
from typing import Any

# Loaded on first use: the config section (``dream.config``) is read by every command, a dream is not.
_LAZY = {"DreamReport": "cycle", "apply_dream": "cycle", "dream": "cycle", "candidates": "evidence"}
__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Dream cycles: the nightly maintenance run (promotion, distillation, consolidation, review via git).

``config`` (the ``dream:`` section), ``evidence`` (what the traces say: workflow and lesson
candidates), ``distill`` (candidates -> readable memories), ``consolidate`` (duplicates,
contradictions, working memory, old traces), ``souls`` (a soul section proposed from
delta-level workflows), ``proof`` (recall before/after), ``gitops`` (the
separate worktree, commits, the dream branch) and ``cycle`` (one dream, end to end).
"""
from .cycle import DreamReport, apply_dream, dream  # noqa: F401
from .evidence import candidates  # noqa: F401

"""Where a run sits in a delegation tree, and the ``orchestration:`` settings that bound the tree.

A top-level run has an empty lineage. A run started by ``delegate`` gets a :class:`Lineage` from
its parent: the parent's trace id, the chain of agents above it (a cycle is refused), its depth
(bounded by ``max_depth``), the USD ceiling it may not exceed (its share of the parent's remaining
budget), and the budget gate and blob store it shares with the parent. When the child ends it
fills in its trace id and what its whole subtree cost, which the parent subtracts from its own
remaining budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class OrchestrationConfig(BaseModel):
    """The ``orchestration:`` section of system/llmos.yaml."""

    model_config = ConfigDict(extra="forbid")
    max_depth: int = Field(3, ge=0, le=20, description="deepest delegation allowed (top-level run: depth 0)")
    max_parallel: int = Field(4, ge=1, le=1000, description="children of one delegate_many run at once")
    max_children: int = Field(100, ge=1, le=10_000, description="tasks one delegate_many call may ask for")
    child_share: float = Field(
        0.5,
        gt=0,
        le=1,
        description="fraction of the parent's remaining per-run budget one "
        "delegate call gives away (split evenly over delegate_many tasks)",
    )
    claim_ttl: float = Field(300.0, gt=0, description="seconds a claim lasts when the agent gives no ttl")


@dataclass
class Lineage:
    """A delegated run's place in the tree (given by the parent; the last two fields by the child)."""

    parent: str | None = None  # trace id of the parent run
    chain: tuple[str, ...] = ()  # agents from the top-level run down to the parent
    depth: int = 0  # 0: a top-level run
    ceiling: float | None = None  # USD this run (with its own children) may spend; None: config only
    model: str | None = None  # model spec for a child whose agent names none
    budget: Any = None  # the parent's Budget gate (shared: one ledger reader per tree)
    blobs: Any = None  # the parent's blob store (shared, locked)
    trace_id: str | None = None  # set by the child as soon as its trace exists
    tree_cost: float = 0.0  # set by the child when it ends: its cost plus its children's


def min_ceiling(*limits: float | None) -> float | None:
    """The smallest of the given USD limits, ignoring None (None if all are None)."""
    given = [x for x in limits if x is not None]
    return min(given) if given else None

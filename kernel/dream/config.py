"""Settings of the dream cycle (the ``dream:`` section of system/llmos.yaml)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TierRule(_Strict):
    """When a workflow (all runs of one goal template) is promoted into a tier."""

    min_uses: int = Field(ge=1, description="ended runs of the template")
    min_success: float = Field(ge=0.0, le=1.0, description="successes / uses")
    min_contexts: int = Field(1, ge=1, description="distinct agents and projects the runs came from")


class DreamConfig(_Strict):
    """The ``dream:`` section."""

    beta: TierRule = Field(default_factory=lambda: TierRule(min_uses=3, min_success=0.8, min_contexts=1))
    alpha: TierRule = Field(default_factory=lambda: TierRule(min_uses=10, min_success=0.9, min_contexts=2))
    delta: TierRule = Field(default_factory=lambda: TierRule(min_uses=30, min_success=0.95, min_contexts=3))
    lesson_min_failures: int = Field(2, ge=1, description="failed runs of a template before a lesson is kept")
    duplicate_similarity: float = Field(0.9, gt=0.0, le=1.0, description="word overlap (Jaccard) of near-duplicates")
    working_high_water: float = Field(
        0.9, gt=0.0, le=1.0, description="prune working memory above this share of its cap"
    )
    working_target: float = Field(0.6, gt=0.0, le=1.0, description="... down to this share of the cap")
    trace_retention_days: int = Field(90, ge=1, description="trace bodies older than this go to the blob store")
    repack_blobs: bool = Field(True, description="recompress sealed blob packs at zstd level 19")
    repack_mb: float = Field(
        64.0,
        gt=0,
        description="blob megabytes one dream recompresses at most (whole packs; the rest waits for the next dream)",
    )
    model_pass: bool = Field(False, description="let a model rewrite distilled prose (charged to the budget)")
    model: str = Field("local", description="model spec of the prose pass")
    eval_questions: int = Field(60, ge=0, le=10_000, description="recall questions of the before/after check")
    eval_suite: int = Field(
        100,
        ge=0,
        le=10_000,
        description="memories of the recall benchmark suite the consolidation rules are tried on (0 = skip)",
    )
    snapshot: bool = Field(True, description="take a vault snapshot first when one is due")

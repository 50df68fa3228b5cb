"""Settings of execution modes and crystallization (the ``modes:`` and ``crystallize:`` sections)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ModesConfig(BaseModel):
    """Thresholds that pick CRYSTALLIZED / FOLLOWER / MIXED / LEARNER for a goal."""

    model_config = ConfigDict(extra="forbid")
    follower: float = Field(0.92, ge=0, le=1, description="confidence a trace needs to be replayed (zero tokens)")
    mixed: float = Field(0.75, ge=0, le=1, description="confidence a trace needs to guide the LLM")
    similarity: float = Field(0.5, ge=0, le=1, description="lexical similarity a different template needs to guide")
    top_k: int = Field(5, ge=1, le=50, description="lexical candidates considered")
    prior: float = Field(0.5, ge=0, le=1, description="confidence of a trace before any evidence")
    prior_weight: float = Field(0.25, ge=0, description="how many runs the prior is worth")
    min_sources: int = Field(2, ge=2, description="successful runs with different slot values a replay needs")
    max_sources: int = Field(4, ge=2, le=20, description="newest such runs a replay's arguments are explained from")
    demote_after: int = Field(2, ge=1, description="consecutive failed reuses that demote a trace or tool")
    rerank_model: str | None = Field(None, description="model spec that reranks lexical candidates; null: off")
    rerank_candidates: int = Field(5, ge=2, le=10)


class CrystallizeConfig(BaseModel):
    """When and how repeated traces become Python tools."""

    model_config = ConfigDict(extra="forbid")
    auto: bool = Field(True, description="crystallize after a run when a template becomes eligible")
    min_runs: int = Field(3, ge=1, description="successful runs with the same step structure needed")
    timeout_s: float = Field(30.0, gt=0, description="wall-clock limit of a tool's run or verification")
    unsandboxed: bool = Field(
        False, description="run tools as plain processes where bubblewrap is missing (llmos check warns)"
    )
    max_tests: int = Field(5, ge=2, description="recorded runs turned into test cases")
    min_assignments: int = Field(2, ge=2, description="different slot assignments the tests must run the tool with")

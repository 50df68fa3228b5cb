"""Settings of the memory system (the ``memory:`` section of system/llmos.yaml)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RecallConfig(_Strict):
    """How recall weighs a BM25 match: by tier, confidence, recency and validity."""

    tier_weights: dict[str, float] = Field(
        default_factory=lambda: {"delta": 1.3, "alpha": 1.2, "beta": 1.0, "gamma": 0.7},
        description="multiplier per tier",
    )
    half_life_days: float = Field(180.0, gt=0, description="age at which the recency weight is halfway to its floor")
    recency_floor: float = Field(0.6, ge=0, le=1, description="weight of a very old memory (1.0 = age ignored)")
    superseded_weight: float = Field(0.3, ge=0, le=1, description="multiplier of a superseded memory (history only)")
    min_match: float = Field(
        0.3, ge=0, le=1, description="top match below this = 'nothing relevant' (abstain); 0.3: see bench/recall.py"
    )
    k: int = Field(5, ge=1, le=100, description="results per recall when k is not given")
    hybrid: bool = Field(
        False, description="fuse BM25 with dense embeddings (reciprocal rank fusion); off: see bench/recall.py"
    )
    embedder: str = Field("e5", description="embedding model (shipped in a package; see llmos.memory.embed)")
    dense_weight: float = Field(1.0, ge=0, le=10, description="weight of the dense ranking in the fusion")
    rrf_k: int = Field(60, ge=1, le=1000, description="reciprocal rank fusion constant: 1 / (rrf_k + rank)")
    depth: int = Field(50, ge=1, le=1000, description="how deep each ranking goes into the fusion")


class ContextConfig(_Strict):
    """Context assembly: the token budget of the system prompt (L0 + L1 + L2) per model."""

    budgets: dict[str, int] = Field(
        default_factory=lambda: {"local*": 1500, "claude-*": 6000, "default": 3000},
        description="model name glob -> tokens; the first match wins, else 'default'",
    )
    whats_new_lines: int = Field(8, ge=0, le=50, description="most lines in L2 'what's new'")
    brief_in_l2: bool = Field(False, description="put the cold-start brief's open threads in L2")


class MemoryConfig(_Strict):
    """The ``memory:`` section."""

    working_cap_bytes: int = Field(4096, ge=256, le=1_000_000, description="hard cap of memory/working/AGENT.md")
    brief_max_bytes: int = Field(3072, ge=512, le=65536, description="cap of `llmos brief`")
    recall: RecallConfig = Field(default_factory=RecallConfig)
    context: ContextConfig = Field(default_factory=ContextConfig)

"""The ``protection:`` and ``limits:`` sections of system/llmos.yaml: what agents may write, and how much."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Grant(BaseModel):
    """A right to write kernel-owned paths, given to one agent by path pattern (fnmatch)."""

    model_config = ConfigDict(extra="forbid")
    agent: str = Field(description="the agent's name")
    paths: list[str] = Field(description="patterns relative to the root, e.g. agents/*.md or system/prompts/*")


class ProtectionConfig(BaseModel):
    """Control paths (system/, agents/, crystallized/, traces/, memory tiers, .gitignore) are written
    by the kernel's own code paths only; ``grants`` opens some of them to a named agent."""

    model_config = ConfigDict(extra="forbid")
    grants: list[Grant] = Field(default_factory=list)


class LimitsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_write_bytes: int = Field(4 << 20, ge=1, description="the largest file one write_file may write")

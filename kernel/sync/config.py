"""The ``sync:`` section of system/llmos.yaml: sharing a root through a git remote."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SyncConfig(BaseModel):
    """Where ``llmos sync`` fetches from and pushes to, and whether every run syncs when it ends."""

    model_config = ConfigDict(extra="forbid")
    remote: str = Field("origin", description="the git remote to share the root through")
    branch: str | None = Field(None, description="the branch to share; none: the current branch")
    auto: bool = Field(False, description="sync after every top-level run (a failed sync only warns)")
    dream_branches: bool = Field(True, description="push llmos/dream/* branches for review in pull requests")
    attempts: int = Field(5, ge=1, le=50, description="fetch-merge-push rounds when another machine pushed first")
    shared_claims: bool = Field(
        False, description="claims are commits on the remote, won by the first push (every machine sees them)"
    )

"""Kernel configuration: typed, layered (defaults < system/llmos.yaml < environment < flags)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .backends.config import AnthropicConfig, LocalConfig
from .budget.config import BudgetConfig
from .docs import read_yaml, validate
from .root import CONFIG_PATH
from .sync.config import SyncConfig
from .syscalls.config import LimitsConfig, ProtectionConfig
from .team.lineage import OrchestrationConfig
from .team.valence import ValenceConfig
from .modes.config import CrystallizeConfig, ModesConfig
from .toolbelt.config import McpServer, ShellConfig, WebConfig
from .memory.config import MemoryConfig
from .dream.config import DreamConfig
from .vault.config import VaultConfig


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WatchConfig(Strict):
    """``watch:``: hot reload for ``llmos shell`` (kept here, not in live/: the live layer reads the
    config, so its section beside it would point the config upward)."""

    debounce_ms: int = Field(40, ge=1, le=10_000, description="quiet time that ends a burst of saves")
    max_delay_ms: int = Field(1000, ge=10, le=60_000, description="longest a change waits during a save storm")
    follow_agent: bool = Field(True, description="a run picks up edits of its agent before each model call")


class TraceConfig(Strict):
    inline_limit: int = Field(2000, ge=64, description="chars of an argument or result kept inline in a trace")


class GoalJob(Strict):
    """One goal run on a schedule (``schedule.goals``)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,40}$", description="the job's name (goal-NAME)")
    cron: str = Field(description="5-field cron expression, local time")
    goal: str = Field(min_length=1)
    agent: str | None = None
    model: str | None = None

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        return cron_expression(value)


class ScheduleConfig(Strict):
    """``schedule:``: cron expressions of the jobs ``llmos serve`` runs (null: never), parsed by croniter.
    Kept here, not in serve/: the config layer sits below the services that read it."""

    dream: str | None = None
    vault_snapshot: str | None = None
    crystallize: str | None = None
    blobs_repack: str | None = None
    goals: list[GoalJob] = Field(default_factory=list)
    catch_up: bool = Field(True, description="a job whose time passed while nothing ran runs once at start")

    @field_validator("dream", "vault_snapshot", "crystallize", "blobs_repack")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return None if value is None else cron_expression(value)


def cron_expression(value: str) -> str:
    """``value`` if croniter accepts it as a 5-field expression, else a ValueError saying so."""
    from croniter import croniter

    value = " ".join(value.split())
    if len(value.split()) != 5 or not croniter.is_valid(value):
        raise ValueError(f"{value!r} is not a 5-field cron expression (minute hour day month weekday)")
    return value


class Config(Strict):
    """The whole of system/llmos.yaml."""

    format: Literal["llmos-config/1"] = "llmos-config/1"
    model: str | None = Field(None, description="default model spec; none = anthropic if a key is set, else local")
    entry_agent: str = "assistant"
    max_steps: int = Field(12, ge=1, le=1000)
    models: dict[str, str] = Field(
        default_factory=lambda: {
            "opus": "anthropic:claude-opus-4-6",
            "sonnet": "anthropic:claude-sonnet-4-6",
            "haiku": "anthropic:claude-haiku-4-5",
        },
        description="aliases usable wherever a model spec is expected (Claude Code's sonnet/opus/haiku)",
    )
    local: LocalConfig = Field(default_factory=LocalConfig)
    anthropic: AnthropicConfig = Field(default_factory=AnthropicConfig)
    traces: TraceConfig = Field(default_factory=TraceConfig)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    vault: VaultConfig = Field(default_factory=VaultConfig)
    orchestration: OrchestrationConfig = Field(default_factory=OrchestrationConfig)
    valence: ValenceConfig = Field(default_factory=ValenceConfig)
    watch: WatchConfig = Field(default_factory=WatchConfig)
    modes: ModesConfig = Field(default_factory=ModesConfig)
    crystallize: CrystallizeConfig = Field(default_factory=CrystallizeConfig)
    memory: MemoryConfig = Field(default_factory=MemoryConfig)
    dream: DreamConfig = Field(default_factory=DreamConfig)
    protection: ProtectionConfig = Field(default_factory=ProtectionConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    shell: ShellConfig = Field(default_factory=ShellConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    mcp_servers: dict[str, McpServer] = Field(default_factory=dict, description="MCP servers agents may use")
    sync: SyncConfig = Field(default_factory=SyncConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)


def load_config(root: Path) -> Config:
    """Read and validate ``system/llmos.yaml`` of ``root``, then apply environment overrides."""
    doc = read_yaml(root / CONFIG_PATH)
    config = validate(doc, Config)
    env_model = os.environ.get("LLMOS_MODEL")
    if env_model:
        config = config.model_copy(update={"model": env_model})
    return config


@dataclass
class Setting:
    """One value of the merged config and where it came from."""

    key: str  # dotted, e.g. budget.per_run
    value: Any
    source: str  # "default", "system/llmos.yaml:LINE" or "$LLMOS_MODEL"


def explain_config(root: Path) -> list[Setting]:
    """Every leaf of the merged config of ``root``, with its source (``llmos config show``)."""
    doc = read_yaml(root / CONFIG_PATH)
    config = load_config(root)
    rows = []
    for key, value in _leaves(config.model_dump(mode="json")):
        parts = key.split(".")
        if key == "model" and os.environ.get("LLMOS_MODEL"):
            source = "$LLMOS_MODEL"
        elif _given(doc.meta, parts):
            source = f"{CONFIG_PATH}:{doc.line_of(parts) or '?'}"
        else:
            source = "default"
        rows.append(Setting(key, value, source))
    return rows


def _leaves(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        out = []
        for k, v in value.items():
            out += _leaves(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    return [(prefix, value)]


def _given(meta: Any, parts: list[str]) -> bool:
    for part in parts:
        if not isinstance(meta, dict) or part not in meta:
            return False
        meta = meta[part]
    return True

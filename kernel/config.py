"""Kernel configuration: typed, layered (defaults < system/llmos.yaml < environment < flags)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .budget.gate import BudgetConfig
from .docs import read_yaml, validate
from .root import CONFIG_PATH
from .team.lineage import OrchestrationConfig
from .team.valence import ValenceConfig
from .modes.config import CrystallizeConfig, ModesConfig
from .memory.config import MemoryConfig
from .dream.config import DreamConfig
from .vault.config import VaultConfig
from .live.watch import WatchConfig


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LocalConfig(Strict):
    """llama-cpp-python settings for ``local`` model specs."""

    model_path: str | None = Field(None, description="GGUF file; default: the bundled Gemma 3 270M")
    n_ctx: int = Field(4096, ge=256)
    max_tokens: int = Field(256, ge=16, description="output cap per model call")
    temperature: float = Field(0.2, ge=0.0, le=2.0)
    repeat_penalty: float = Field(1.3, ge=1.0, le=2.0, description="discourages small models' loops")
    seed: int = 0
    threads: int | None = Field(None, ge=1)
    max_string: int = Field(400, ge=16, description="longest string argument the grammar allows")
    timeout_s: float = Field(300.0, gt=0, description="longest wait for one reply of the model worker")
    extra_buffers: Literal["auto", "on", "off"] = Field(
        "auto",
        description="llama.cpp's AMX/repacked weight buffers; auto: off where AMX is not granted "
        "or after a worker crash on this machine",
    )


class AnthropicConfig(Strict):
    max_tokens: int = Field(1024, ge=16)
    base_url: str | None = None
    timeout_s: float = Field(120.0, gt=0)


class TraceConfig(Strict):
    inline_limit: int = Field(2000, ge=64, description="chars of an argument or result kept inline in a trace")


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


def load_config(root: Path) -> Config:
    """Read and validate ``system/llmos.yaml`` of ``root``, then apply environment overrides."""
    doc = read_yaml(root / CONFIG_PATH)
    config = validate(doc, Config)
    env_model = os.environ.get("LLMOS_MODEL")
    if env_model:
        config = config.model_copy(update={"model": env_model})
    return config

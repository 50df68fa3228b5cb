"""The ``local:`` and ``anthropic:`` sections of system/llmos.yaml."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


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

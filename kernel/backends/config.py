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


class AnthropicModel(Strict):
    """Per-model settings under ``anthropic.models.<model id or prefix>``."""

    max_tokens: int | None = Field(None, ge=16, description="first max_tokens of a call")
    max_output: int | None = Field(None, ge=16, description="the model's own output limit")
    context_window: int | None = Field(None, ge=1024)


class AnthropicConfig(Strict):
    """The ``anthropic:`` section: Claude through the Messages API."""

    max_tokens: int | None = Field(
        None, ge=16, description="first max_tokens of a call; default 8192 (a reply cut off is retried larger)"
    )
    base_url: str | None = None
    timeout_s: float = Field(120.0, gt=0, description="longest wait for one reply (streamed replies: per chunk)")
    max_retries: int = Field(2, ge=0, le=10, description="the SDK's retries of 408/409/429/5xx with backoff")
    overloaded_retries: int = Field(4, ge=0, le=20, description="further retries of 529 overloaded")
    retry_base_s: float = Field(2.0, ge=0, description="first wait before an overloaded retry; doubles")
    cache: bool = Field(True, description="prompt caching: breakpoints after the tools, the system prompt, the turn")
    compact_share: float = Field(
        0.5, gt=0, le=1, description="compact older tool results when a request passes this share of the window"
    )
    max_input_tokens: int | None = Field(None, ge=1024, description="compact above this many input tokens too")
    models: dict[str, AnthropicModel] = Field(default_factory=dict)

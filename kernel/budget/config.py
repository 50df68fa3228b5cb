"""The ``budget:`` section of system/llmos.yaml and the price table it extends (no gate, no ledger:
reading the config imports only this)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ModelPrice(BaseModel):
    """USD per million tokens."""

    model_config = ConfigDict(extra="forbid")
    input: float = Field(ge=0)
    output: float = Field(ge=0)


# Public list prices (USD / million tokens). Unknown names fall back to the longest matching prefix,
# so e.g. a new "claude-opus-4-7" is priced as "claude-opus-4" (the dearer Opus 4 rate: fail safe).
DEFAULT_PRICES: dict[str, dict[str, float]] = {
    "claude-opus-4": {"input": 15.0, "output": 75.0},
    "claude-opus-4-1": {"input": 15.0, "output": 75.0},
    "claude-opus-4-5": {"input": 5.0, "output": 25.0},
    "claude-opus-4-6": {"input": 5.0, "output": 25.0},
    "claude-sonnet-4": {"input": 3.0, "output": 15.0},
    "claude-sonnet-4-5": {"input": 3.0, "output": 15.0},
    "claude-haiku-4-5": {"input": 1.0, "output": 5.0},
    "claude-3-7-sonnet": {"input": 3.0, "output": 15.0},
    "claude-3-5-haiku": {"input": 0.8, "output": 4.0},
    "claude-3-haiku": {"input": 0.25, "output": 1.25},
}


class BudgetConfig(BaseModel):
    """The ``budget:`` section of system/llmos.yaml. Ceilings are USD; ``None`` means unlimited."""

    model_config = ConfigDict(extra="forbid")
    prices: dict[str, ModelPrice] = Field(default_factory=dict, validate_default=True)
    free_models: list[str] = Field(default_factory=lambda: ["local", "scripted"])
    allow_unpriced: bool = False
    per_run: float | None = Field(default=None, ge=0)
    per_agent_day: float | None = Field(default=None, ge=0)
    per_day: float | None = Field(default=None, ge=0)
    total: float | None = Field(default=None, ge=0)
    alerts: list[float] = Field(default_factory=lambda: [0.5, 0.8, 1.0])
    alert_command: str | None = None
    alert_timeout: float = Field(default=30.0, gt=0)

    @field_validator("prices", mode="before")
    @classmethod
    def _with_defaults(cls, value: Any) -> Any:
        """Prices given in the config are added to (or override) the defaults."""
        return _merge_prices(value) if isinstance(value, dict) else value

    @field_validator("alerts")
    @classmethod
    def _fractions(cls, value: list[float]) -> list[float]:
        if any(f <= 0 for f in value):
            raise ValueError("alert fractions must be > 0 (e.g. 0.5 for 50%)")
        return sorted(set(value))


def _merge_prices(given: dict[str, Any]) -> dict[str, Any]:
    return {**{k: dict(v) for k, v in DEFAULT_PRICES.items()}, **given}


def price_for(config: BudgetConfig, model: str) -> ModelPrice | None:
    """The price of ``model`` (exact name, then longest prefix), zero for free models, else None.

    A provider prefix such as ``anthropic:`` is ignored; ``local``/``scripted`` specs are free.
    """
    if any(model == p or model.startswith(p + ":") or model.startswith(p) for p in config.free_models):
        return ModelPrice(input=0.0, output=0.0)
    name = model.split(":", 1)[1] if model.startswith("anthropic:") else model
    if name in config.prices:
        return config.prices[name]
    matches = [k for k in config.prices if name.startswith(k)]
    return config.prices[max(matches, key=len)] if matches else None


def cost_usd(price: ModelPrice, input_tokens: int, output_tokens: int) -> float:
    """USD for that many tokens at ``price``."""
    return (input_tokens * price.input + output_tokens * price.output) / 1_000_000

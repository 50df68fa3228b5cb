"""The ``budget:`` section of system/llmos.yaml and the price table it extends (no gate, no ledger:
reading the config imports only this)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ModelPrice(BaseModel):
    """USD per million tokens. Prompt-cache prices default to the provider's rule: writing costs
    1.25x the input price, reading 0.1x."""

    model_config = ConfigDict(extra="forbid")
    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cache_write: float | None = Field(default=None, ge=0)
    cache_read: float | None = Field(default=None, ge=0)

    @property
    def write(self) -> float:
        return self.input * 1.25 if self.cache_write is None else self.cache_write

    @property
    def read(self) -> float:
        return self.input * 0.1 if self.cache_read is None else self.cache_read


# Public list prices (USD / million tokens), by exact model id. A model id that is not listed is
# priced by its family (FAMILIES below), so a new Claude model is priced the day it ships.
DEFAULT_PRICES: dict[str, dict[str, float]] = {
    "claude-opus-4": {"input": 15.0, "output": 75.0},
    "claude-opus-4-0": {"input": 15.0, "output": 75.0},
    "claude-opus-4-1": {"input": 15.0, "output": 75.0},
    "claude-opus-4-5": {"input": 5.0, "output": 25.0},
    "claude-opus-4-6": {"input": 5.0, "output": 25.0},
    "claude-sonnet-4": {"input": 3.0, "output": 15.0},
    "claude-sonnet-4-5": {"input": 3.0, "output": 15.0},
    "claude-sonnet-4-6": {"input": 3.0, "output": 15.0},
    "claude-haiku-4-5": {"input": 1.0, "output": 5.0},
    "claude-3-7-sonnet": {"input": 3.0, "output": 15.0},
    "claude-3-5-haiku": {"input": 0.8, "output": 4.0},
    "claude-3-haiku": {"input": 0.25, "output": 1.25},
}

# Family rules for model ids no table lists: ``claude-TIER-MAJOR[-MINOR][-DATE]``. The newest
# generation of a tier is priced at its newest known rate (Opus 4.5 and later: $5/$25), so a new
# ``claude-opus-4-8`` or ``claude-sonnet-5`` is neither refused nor priced at a retired generation's
# rate. ``budget.prices`` overrides any of this, by exact id or prefix.
FAMILIES: dict[str, list[tuple[tuple[int, int], dict[str, float]]]] = {  # tier -> (from version, price)
    "opus": [((4, 0), {"input": 15.0, "output": 75.0}), ((4, 5), {"input": 5.0, "output": 25.0})],
    "sonnet": [((3, 7), {"input": 3.0, "output": 15.0})],
    "haiku": [((3, 5), {"input": 0.8, "output": 4.0}), ((4, 5), {"input": 1.0, "output": 5.0})],
}
_FAMILY = re.compile(r"^claude-(opus|sonnet|haiku)-(\d{1,2})(?:-(\d{1,2}))?(?:-\d{8})?(?:-.*)?$")


def family_price(name: str) -> ModelPrice | None:
    """The price of a Claude model id by its family rule, or None if it is not one."""
    m = _FAMILY.match(name)
    if not m:
        return None
    version = (int(m.group(2)), int(m.group(3) or 0))
    rules = [price for since, price in FAMILIES[m.group(1)] if version >= since]
    return ModelPrice(**rules[-1]) if rules else None


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
    """The price of ``model``: zero for free models; else the config's or the default table's exact
    name, then the family rule (Claude ids), then the longest listed prefix; else None.

    A provider prefix such as ``anthropic:`` is ignored; ``local``/``scripted`` specs are free.
    """
    if any(model == p or model.startswith(p + ":") or model.startswith(p) for p in config.free_models):
        return ModelPrice(input=0.0, output=0.0)
    name = model.split(":", 1)[1] if model.startswith("anthropic:") else model
    if name in config.prices:
        return config.prices[name]
    given = [k for k in config.prices if name.startswith(k) and k not in DEFAULT_PRICES]
    if given:  # a prefix the person configured wins over the built-in family rules
        return config.prices[max(given, key=len)]
    family = family_price(name)
    if family is not None:
        return family
    matches = [k for k in config.prices if name.startswith(k)]
    return config.prices[max(matches, key=len)] if matches else None


def cost_usd(price: ModelPrice, input_tokens: int, output_tokens: int, cached: int = 0, cache_write: int = 0) -> float:
    """USD for that many tokens at ``price``: uncached input, output, cache reads and cache writes."""
    return (
        input_tokens * price.input + output_tokens * price.output + cached * price.read + cache_write * price.write
    ) / 1_000_000


def worst_usd(price: ModelPrice, input_tokens: int, output_tokens: int, caching: bool = False) -> float:
    """The most a call of that many input tokens and at most that many output tokens can cost. With
    ``caching`` (the request carries cache breakpoints) every input token may be a cache write, which
    costs more than plain input."""
    dearest = max(price.input, price.write) if caching else price.input
    return (input_tokens * dearest + output_tokens * price.output) / 1_000_000

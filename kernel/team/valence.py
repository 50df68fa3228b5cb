"""Valence: a small, explainable state that makes the kernel more careful after bad outcomes.

Four numbers in [-1, 1], kept in a YAML file a person can read and edit (``memory/valence.yaml``):

- ``safety``: falls when syscalls are refused; low safety runs with a stricter policy.
- ``curiosity``: falls when a goal repeats, rises with new goals; low curiosity prefers reuse
  (FOLLOWER), high curiosity lets the LLM explore (LEARNER).
- ``energy``: falls with failures and expensive runs; low energy caps a run's steps.
- ``confidence``: rises with successes, falls with failures; low confidence prefers FOLLOWER.

After every run the rules below fire on its outcome (decay toward 0 first, then each rule's
deltas, clipped to [-1, 1]); before every run :func:`advise` turns the state into influences.
Every influence and every update is written into the run's trace (``valence:``) together with the
state that caused it; nothing else changes behaviour. ``valence.enabled: false`` (the default)
turns it all off. The rule deltas and thresholds are settings under ``valence:`` in system/llmos.yaml.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..atomic import atomic_write, file_lock
from ..docs import read_yaml, validate

FORMAT = "llmos-valence/1"
DIMENSIONS = ("safety", "curiosity", "energy", "confidence")
MAX_REFUSALS = 3  # refused syscalls counted per run (the `refused` rule fires once for each)

# rule -> dimension -> delta. Documented here, overridable under valence.rules in system/llmos.yaml.
RULES: dict[str, dict[str, float]] = {
    "success": {"confidence": 0.15, "energy": 0.05},  # the run ended with success
    "failure": {"confidence": -0.25, "energy": -0.1},  # any other outcome (failure, budget, halted, aborted)
    "repetition": {"curiosity": -0.15},  # the same goal (signature) ran before
    "novelty": {"curiosity": 0.1},  # a goal never seen before
    "high_cost": {"energy": -0.3},  # the run cost at least high_cost_usd
    "refused": {"safety": -0.2},  # per refused syscall, at most MAX_REFUSALS a run
}


class ValenceConfig(BaseModel):
    """The ``valence:`` section of system/llmos.yaml."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = False
    path: str = "memory/valence.yaml"
    decay: float = Field(0.1, ge=0, le=1, description="fraction every value moves toward 0 per update")
    threshold: float = Field(0.3, gt=0, le=1, description="|value| from which a dimension influences runs")
    high_cost_usd: float = Field(0.5, ge=0)
    steps_factor: float = Field(0.5, gt=0, le=1, description="low energy multiplies max_steps by this")
    strict_deny: list[str] = Field(default_factory=lambda: ["write_file", "delegate", "delegate_many", "create_agent"])
    recent: int = Field(50, ge=1, le=10_000, description="goal signatures remembered for repetition")
    rules: dict[str, dict[str, float]] = Field(default_factory=lambda: {k: dict(v) for k, v in RULES.items()})

    @field_validator("rules")
    @classmethod
    def _known(cls, value: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        for rule, deltas in value.items():
            if rule not in RULES:
                raise ValueError(f"unknown rule {rule!r} (rules: {', '.join(RULES)})")
            for dim, delta in deltas.items():
                if dim not in DIMENSIONS or not -1 <= delta <= 1:
                    raise ValueError(f"rule {rule!r}: {dim!r} must be one of {DIMENSIONS} with a delta in [-1, 1]")
        return {**{k: dict(v) for k, v in RULES.items()}, **value}


class ValenceState(BaseModel):
    """The valence file."""

    model_config = ConfigDict(extra="forbid")
    format: Literal["llmos-valence/1"] = FORMAT
    safety: float = Field(0.0, ge=-1, le=1)
    curiosity: float = Field(0.0, ge=-1, le=1)
    energy: float = Field(0.0, ge=-1, le=1)
    confidence: float = Field(0.0, ge=-1, le=1)
    recent: list[str] = Field(default_factory=list)
    updated: str | None = None
    last: dict[str, Any] | None = None

    def values(self) -> dict[str, float]:
        return {d: round(getattr(self, d), 4) for d in DIMENSIONS}


@dataclass
class Influence:
    """One way the state changes a run: what, why (with the state that caused it), and whether it
    took effect (``prefer_mode`` is advice for the mode chooser, applied only when one uses it)."""

    kind: str  # strict_policy | max_steps | prefer_mode
    because: str  # e.g. "safety -0.45 <= -0.30"
    effect: dict[str, Any]
    state: dict[str, float]
    applied: bool = False

    def record(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RuleHit:
    rule: str
    why: str
    deltas: dict[str, float] = field(default_factory=dict)


def advise(state: ValenceState, config: ValenceConfig) -> list[Influence]:
    """The influences ``state`` has on the next run, in a fixed order (caution first)."""
    v, t = state.values(), config.threshold
    out = []
    if v["safety"] <= -t:
        out.append(
            Influence(
                "strict_policy", f"safety {v['safety']:+.2f} <= {-t:+.2f}", {"deny": sorted(config.strict_deny)}, v
            )
        )
    if v["energy"] <= -t:
        out.append(
            Influence("max_steps", f"energy {v['energy']:+.2f} <= {-t:+.2f}", {"factor": config.steps_factor}, v)
        )
    if v["confidence"] <= -t:
        out.append(
            Influence(
                "prefer_mode",
                f"confidence {v['confidence']:+.2f} <= {-t:+.2f}",
                {"prefer": "FOLLOWER", "over": "LEARNER"},
                v,
            )
        )
    if v["curiosity"] <= -t:
        out.append(
            Influence(
                "prefer_mode",
                f"curiosity {v['curiosity']:+.2f} <= {-t:+.2f}",
                {"prefer": "FOLLOWER", "over": "LEARNER"},
                v,
            )
        )
    elif v["curiosity"] >= t and v["confidence"] > -t:
        out.append(
            Influence(
                "prefer_mode",
                f"curiosity {v['curiosity']:+.2f} >= {t:+.2f}",
                {"prefer": "LEARNER", "over": "FOLLOWER"},
                v,
            )
        )
    return out


def mode_preference(influences: list[Influence]) -> str | None:
    """The mode the influences ask for (the first ``prefer_mode``: caution wins), or None."""
    return next((i.effect["prefer"] for i in influences if i.kind == "prefer_mode"), None)


def rules_for(
    config: ValenceConfig, state: ValenceState, *, outcome: str, refused: int, cost_usd: float, signature: str
) -> list[RuleHit]:
    """Which rules a finished run fires, with their deltas and the reason for each."""
    rules = config.rules
    hits = [
        RuleHit("success", "outcome success", rules["success"])
        if outcome == "success"
        else RuleHit("failure", f"outcome {outcome}", rules["failure"])
    ]
    if signature in state.recent:
        hits.append(RuleHit("repetition", f"goal signature {signature[:12]} ran before", rules["repetition"]))
    else:
        hits.append(RuleHit("novelty", f"new goal signature {signature[:12]}", rules["novelty"]))
    if config.high_cost_usd and cost_usd >= config.high_cost_usd:
        hits.append(RuleHit("high_cost", f"cost ${cost_usd:.4f} >= ${config.high_cost_usd:.4f}", rules["high_cost"]))
    for n in range(min(refused, MAX_REFUSALS)):
        hits.append(RuleHit("refused", f"refused syscall {n + 1} of {refused}", rules["refused"]))
    return hits


def apply(state: ValenceState, hits: list[RuleHit], config: ValenceConfig) -> ValenceState:
    """Decay every value toward 0, add the hits' deltas, clip to [-1, 1]."""
    values = {d: getattr(state, d) * (1 - config.decay) for d in DIMENSIONS}
    for hit in hits:
        for dim, delta in hit.deltas.items():
            values[dim] += delta
    clipped = {d: round(max(-1.0, min(1.0, x)), 4) for d, x in values.items()}
    return state.model_copy(update=clipped)


def valence_path(root: Path, config: ValenceConfig) -> Path:
    return Path(root) / config.path


def load(root: Path, config: ValenceConfig) -> ValenceState:
    """The state in the valence file (all zeros if there is none); :class:`DocumentError` if invalid."""
    path = valence_path(root, config)
    if not path.is_file():
        return ValenceState()
    return validate(read_yaml(path), ValenceState)


def save(root: Path, config: ValenceConfig, state: ValenceState) -> None:
    data = state.model_dump(mode="json")
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    atomic_write(valence_path(root, config), HEADER + body)


def update(
    root: Path,
    config: ValenceConfig,
    *,
    trace_id: str,
    outcome: str,
    refused: int,
    cost_usd: float,
    signature: str,
    now: str,
) -> dict[str, Any]:
    """Fire the rules for a finished run on the file's current state and save it (under a lock,
    so parallel runs add up). Returns the record for the trace: rules, before, after."""
    with file_lock(Path(root) / ".llmos" / "locks" / "valence.lock", timeout=30):
        state = load(root, config)
        hits = rules_for(config, state, outcome=outcome, refused=refused, cost_usd=cost_usd, signature=signature)
        after = apply(state, hits, config)
        recent = [s for s in state.recent if s != signature] + [signature]
        rules = [asdict(h) for h in hits]
        after = after.model_copy(
            update={
                "recent": recent[-config.recent :],
                "updated": now,
                "last": {"trace": trace_id, "rules": [h.rule for h in hits]},
            }
        )
        save(root, config, after)
    return {"rules": rules, "before": state.values(), "after": after.values()}


HEADER = """\
# Valence state of this OS root (llmos-valence/1). You may edit the four values (each in [-1, 1]).
# Read before every run when `valence.enabled: true` in system/llmos.yaml; rewritten after every run.
#   safety      falls per refused syscall (-0.2).          <= -threshold: strict policy (deny valence.strict_deny)
#   curiosity   falls when a goal repeats (-0.15), rises   <= -threshold: prefer FOLLOWER (reuse)
#               with a new goal (+0.1).                    >= +threshold: prefer LEARNER (explore)
#   energy      falls on failure (-0.1), on a run costing  <= -threshold: max_steps x valence.steps_factor
#               >= high_cost_usd (-0.3); rises on success (+0.05)
#   confidence  rises on success (+0.15), falls on failure (-0.25); <= -threshold: prefer FOLLOWER
# Each update first moves every value valence.decay of the way back to 0. Every influence and update
# is recorded in the run's trace under `valence:` with the state that caused it.
"""

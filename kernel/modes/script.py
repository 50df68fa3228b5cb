"""A replay script: what several successful runs of one template did, with every argument explained.

A step may run without the model only if each of its arguments is derived from the goal's slots (the
substitution is recorded) or is proven constant: the same in at least two source runs whose slot values
differed (:mod:`llmos.modes.explain`). There is no script, and the reason says why, when

- fewer than ``modes.min_sources`` source runs have different slot values;
- the goal changes a slot that had one value in every source run (nothing shows what depends on it);
- the source runs took different steps, or an argument is made differently in one of them (a value the
  model wrote in its own words, a slot used in a way no substitution reproduces);
- a step would write a file that a source run wrote (a replay never overwrites its evidence);
- a step acts where a replay cannot check what happened (a shell command, the web, an MCP server).

The same script, built for every value of the slots that varied, is what a crystallized tool runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import LlmosError
from ..traces import TraceMeta
from .explain import Unexplained, derive, describe, fill_tree, leaves, slots_used
from .slots import resolve_offloaded

WRITES = {"write_file": "path"}  # tools that write a file, and the argument naming it
CHECKED_READS = ("read_file",)  # tools whose result a replay compares with what the sources saw
UNCHECKED = frozenset({"bash", "web_fetch", "web_search"})  # and every mcp__SERVER__TOOL: never replayed
_GENERIC = "\x00{}\x00"  # a slot value no text contains: readings that differ for it are told apart


@dataclass
class ScriptStep:
    n: int  # the step's number in the newest source run
    tool: str
    tree: dict[str, Any]  # how each argument is made (see explain.derive)
    args: dict[str, Any] = field(default_factory=dict)  # the arguments for this goal
    expect: str | None = None  # what a checked read must return for this goal (None: not checked)


@dataclass
class Script:
    sources: list[str]  # trace ids, newest first
    steps: list[ScriptStep]
    fixed: dict[str, str] = field(default_factory=dict)  # slots with one value in every source run

    def ambiguous(self) -> list[list[str]]:
        """[chosen template, another that fits every source run] of a tool's arguments (see explain.derive)."""
        return [[t.template, alt] for s in self.steps for t in leaves(s.tree) for alt in t.alternatives]

    def record(self) -> list[dict[str, Any]]:
        """The substitution, step by step, as the decision records it."""
        return [{"n": s.n, "tool": s.tool, "args": describe(s.tree, len(self.sources))} for s in self.steps]


def assignments(metas: list[TraceMeta]) -> int:
    """How many different slot assignments the runs have."""
    return len({tuple(sorted(m.slots.items())) for m in metas})


def _steps(meta: TraceMeta, get_blob: Callable[[str], bytes] | None) -> list[tuple[int, str, dict, Any]]:
    out = []
    for s in meta.steps:
        if s.ok and s.tool:  # the model's mistakes and musings are not replayed
            try:
                args = resolve_offloaded(s.args, get_blob)
            except (ValueError, LlmosError) as exc:
                raise Unexplained(f"step {s.n} of {meta.id}: {exc}") from None
            try:
                result = resolve_offloaded(s.result, get_blob)
            except (ValueError, LlmosError):
                result = None
            out.append((s.n, s.tool, args, result))
    return out


def _generic(metas: list[TraceMeta], slots: dict[str, str] | None) -> tuple[dict[str, str], dict[str, str]]:
    """(the assignment readings are judged for, the slots with one value in every source run)."""
    fixed, varied = {}, {}
    for name in metas[0].slots:
        seen = {m.slots.get(name) for m in metas}
        if len(seen) == 1:
            fixed[name] = metas[0].slots[name]
            if slots is not None and slots.get(name) != fixed[name]:
                raise Unexplained(
                    f"slot {name} was {fixed[name]!r} in every source run, so nothing shows what depends on it"
                )
        else:
            varied[name] = _GENERIC.format(name)
    return (slots if slots is not None else {**fixed, **varied}), fixed


def build(
    metas: list[TraceMeta],
    slots: dict[str, str] | None,
    get_blob: Callable[[str], bytes] | None = None,
    min_sources: int = 2,
) -> Script:
    """The script of ``metas`` (newest first) for the goal's ``slots``; ``slots=None`` builds it for any
    value of the slots that varied (a crystallized tool). Raises :class:`Unexplained`."""
    if assignments(metas) < min_sources:
        raise Unexplained(
            f"{assignments(metas)} source run(s) with different slot values; {min_sources} are needed to tell "
            "what comes from the slots from what stays the same"
        )
    judged, fixed = _generic(metas, slots)
    runs = [_steps(m, get_blob) for m in metas]
    shape = [(tool, sorted(args)) for _, tool, args, _ in runs[0]]
    for m, steps in zip(metas[1:], runs[1:]):
        if [(tool, sorted(args)) for _, tool, args, _ in steps] != shape:
            raise Unexplained(f"source runs {metas[0].id} and {m.id} took different steps")
    if not shape or shape[-1][0] != "finish":
        raise Unexplained(f"source run {metas[0].id} has no finish step to replay")
    for n, tool, _, _ in runs[0]:
        if tool in UNCHECKED or tool.startswith("mcp__"):
            raise Unexplained(f"step {n} ({tool}) acts where a replay cannot check what happened")
    slot_sets = [m.slots for m in metas]
    script = Script([m.id for m in metas], [], fixed)
    for k, (n, tool, _, _) in enumerate(runs[0]):
        tree = derive([r[k][2] for r in runs], slot_sets, judged, f"step {n} ({tool}) argument", slots is None)
        step = ScriptStep(n, tool, tree)
        if slots is not None:
            step.args = fill_tree(tree, slots)
            step.expect = _expected(tool, [r[k][3] for r in runs], slot_sets, slots)
        script.steps.append(step)
    _never_overwrite(script, metas, runs, slots)
    return script


def _expected(tool: str, results: list[Any], slot_sets: list[dict[str, str]], slots: dict[str, str]) -> str | None:
    if tool not in CHECKED_READS or any(not isinstance(r, str) for r in results):
        return None
    try:
        return fill_tree(derive(results, slot_sets, slots, "result"), slots)
    except Unexplained:
        return None  # the sources read different things: the arguments were explained without it


def _never_overwrite(script: Script, metas: list[TraceMeta], runs: list, slots: dict[str, str] | None) -> None:
    """A replayed write never lands on a file a source run wrote; a tool's writes each depend on a slot
    that varied (a file written by every run alike is the model's business)."""
    wrote = {
        args.get(WRITES[tool]): m.id for m, steps in zip(metas, runs) for _, tool, args, _ in steps if tool in WRITES
    }
    for step in script.steps:
        key = WRITES.get(step.tool)
        if key is None:
            continue
        if slots is not None and step.args.get(key) in wrote:
            path = step.args[key]
            raise Unexplained(f"step {step.n} ({step.tool}) would write {path}, which source run {wrote[path]} wrote")
        if slots is None and not slots_used(step.tree.get(key)) - set(script.fixed):
            raise Unexplained(f"step {step.n} ({step.tool}) writes the same file in every source run")

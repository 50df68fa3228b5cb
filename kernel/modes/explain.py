"""Explaining an argument from the goal's slots, across the source runs that used it.

Given what one argument was in several runs of a template (``values``) and each run's slot values,
:func:`derive` finds how the value is made: a *template* (``projects/room{num1}/note.txt``) that, filled
with each run's slots, gives exactly that run's value, or a *constant*, the same in every run. A part of
a value that equals a slot value may be the slot or just text; which it is is decided by position, run
against run (the ``3`` of ``room3`` is the slot if the run for room 5 has ``5`` there), never by
searching for the value in the text. When the runs leave it open (two templates fit every run but
would fill differently for the new goal) the argument is not explained.

Braces in templates are escaped as in :mod:`llmos.modes.slots` (``{{`` and ``}}``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .slots import fill, names_in

MAX_STATES = 20_000  # reading states of one value explored before giving up ("too many ways to read it")
MAX_FILLS = 2  # distinct results kept per state for a goal: two are enough to know it is ambiguous
MAX_READINGS = 8  # ... for a tool, which keeps the other readings to refuse goals they would change


class Unexplained(Exception):
    """An argument the sources do not explain; the message says which and why."""


@dataclass(frozen=True)
class Slotted:
    """A string (or number) built from slot values: ``template`` filled, converted to ``kind``.
    ``alternatives``: other templates that fit every source run as well (a tool's; see :func:`derive`)."""

    template: str
    kind: str = "str"  # str | int | float
    alternatives: tuple[str, ...] = ()


def _escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def derive(
    values: list[Any], slot_sets: list[dict[str, str]], new: dict[str, str], where: str, tool: bool = False
) -> Any:
    """How ``values`` (one per source run) come from the runs' ``slot_sets``: a tree like the values whose
    string leaves are constants or :class:`Slotted`. ``new`` (the goal's slots) decides ambiguity: two
    readings that fill alike for it are one, two that do not leave the argument unexplained. For a
    ``tool``, ``new`` maps each slot to a value no text holds (the slots that never varied keep theirs) and
    the reading that takes most from the slots is chosen, the others kept as its ``alternatives``: the
    kernel refuses the tool a goal for which they differ. Raises :class:`Unexplained`."""
    first = values[0]
    if isinstance(first, dict):
        if any(not isinstance(v, dict) or v.keys() != first.keys() for v in values):
            raise Unexplained(f"{where} has other keys in another source run")
        return {k: derive([v[k] for v in values], slot_sets, new, f"{where}.{k}", tool) for k in first}
    if isinstance(first, list):
        if any(not isinstance(v, list) or len(v) != len(first) for v in values):
            raise Unexplained(f"{where} has another length in another source run")
        return [derive([v[n] for v in values], slot_sets, new, f"{where}[{n}]", tool) for n in range(len(first))]
    kind = "int" if isinstance(first, int) and not isinstance(first, bool) else type(first).__name__
    if kind in ("int", "float") and all(type(v) is type(first) for v in values):
        found = _string([str(v) for v in values], slot_sets, new, where, tool)
        return Slotted(found.template, kind, found.alternatives) if isinstance(found, Slotted) else first
    if isinstance(first, str) and all(isinstance(v, str) for v in values):
        return _string(values, slot_sets, new, where, tool)
    if all(v == first and type(v) is type(first) for v in values):
        return first
    raise Unexplained(f"{where} differs between source runs")


def _string(values: list[str], slot_sets: list[dict[str, str]], new: dict[str, str], where: str, tool: bool) -> Any:
    if all(v == values[0] for v in values) and not _occurrences(values[0], slot_sets[0]):
        return values[0]  # a constant no slot value appears in: the common case, no search
    found = _readings(values, slot_sets, new, MAX_READINGS if tool else MAX_FILLS)
    if found is None:
        raise Unexplained(f"{where} can be read from the slot values in too many ways to prove one")
    if not found:
        raise Unexplained(f"{where} is not made from the goal's slot values the same way in every source run")
    if len(found) > 1 and not tool:
        raise Unexplained(f"{where} can be read from the slot values in ways that differ for this goal")
    found.sort(key=lambda t: (len(fill(t, {n: "" for n in names_in(t)})), t))  # most taken from slots first
    template = found[0]
    return Slotted(template, alternatives=tuple(found[1:])) if names_in(template) else fill(template, {})


def _occurrences(text: str, slots: dict[str, str]) -> list[tuple[int, int, str]]:
    """Every place a slot value appears in ``text``: (start, end, slot name), overlaps included."""
    out = []
    for name, value in slots.items():
        if not value:
            continue
        at = text.find(value)
        while at >= 0:
            out.append((at, at + len(value), name))
            at = text.find(value, at + 1)
    return out


def _readings(values: list[str], slot_sets: list[dict[str, str]], new: dict[str, str], limit: int) -> list[str] | None:
    """Templates of ``values[0]`` that every source run fills to its own value, one per distinct result
    for ``new`` (at most ``limit``); None when there are too many ways to read it. A reading walks
    the first run's value from one boundary (a place where a slot value starts or ends) to the next,
    taking each stretch as text or, where a slot value starts, as that slot; every run's value is followed
    along with its own slot values, so a reading holds only if it gives each run exactly its value."""
    base = values[0]
    occ = _occurrences(base, slot_sets[0])
    starts: dict[int, list[tuple[int, str]]] = {}
    for s, e, name in occ:
        starts.setdefault(s, []).append((e, name))
    marks = sorted({0, len(base), *(s for s, _, _ in occ), *(e for _, e, _ in occ)})
    following = dict(zip(marks, marks[1:]))
    # position in base -> {position in each run's value: {result for `new`: template}}
    buckets: dict[int, dict[tuple[int, ...], dict[str, str]]] = {0: {(0,) * len(values): {"": ""}}}
    done: dict[str, str] = {}
    explored = 0
    for p in marks:
        for cursors, readings in buckets.pop(p, {}).items():
            explored += 1
            if explored > MAX_STATES:
                return None
            if p == len(base):
                if all(c == len(v) for c, v in zip(cursors, values)) and not _merge(done, readings, limit):
                    return None
                continue
            moves = [(following[p], base[p : following[p]], None)]
            moves += [(e, slot_sets[0][name], name) for e, name in starts.get(p, [])]
            for q, piece, name in moves:
                moved = _advance(cursors, values, slot_sets, piece, name)
                if moved is None:
                    continue
                add = "{" + name + "}" if name else _escape(piece)
                out = piece if name is None else new.get(name, add)
                step: dict[str, str] = {}
                for result, template in readings.items():
                    step.setdefault(result + out, template + add)
                if not _merge(buckets.setdefault(q, {}).setdefault(moved, {}), step, limit):
                    return None
    return list(done.values())


def _advance(cursors, values, slot_sets, piece: str, name: str | None) -> tuple[int, ...] | None:
    """Each run's position after taking ``piece`` as text (``name`` None) or as slot ``name``; None if a run's
    value does not continue that way."""
    out = []
    for c, value, slots in zip(cursors, values, slot_sets):
        text = slots.get(name, "\0") if name else piece
        if not value.startswith(text, c):
            return None
        out.append(c + len(text))
    return tuple(out)


def _merge(into: dict[str, str], readings: dict[str, str], limit: int) -> bool:
    """Add ``readings`` (result -> template) to ``into``; False when that makes more than ``limit``
    results (for a goal, ``limit`` = 2 already says "ambiguous": the rest is not needed)."""
    for result, template in readings.items():
        if result not in into:
            if len(into) >= limit:
                return limit <= MAX_FILLS
            into[result] = template
    return True


def fill_tree(tree: Any, slots: dict[str, str]) -> Any:
    """The value ``tree`` (from :func:`derive`) takes for ``slots``."""
    if isinstance(tree, Slotted):
        text = fill(tree.template, slots)
        return int(text) if tree.kind == "int" else float(text) if tree.kind == "float" else text
    if isinstance(tree, dict):
        return {k: fill_tree(v, slots) for k, v in tree.items()}
    if isinstance(tree, list):
        return [fill_tree(v, slots) for v in tree]
    return tree


def describe(tree: Any, sources: int, limit: int = 200) -> Any:
    """The decision record of a derivation: ``{"from": template}`` or ``{"constant": sources}`` per leaf."""
    if isinstance(tree, Slotted):
        return {"from": tree.template[:limit]}
    if isinstance(tree, dict):
        return {k: describe(v, sources, limit) for k, v in tree.items()}
    if isinstance(tree, list):
        return [describe(v, sources, limit) for v in tree]
    return {"constant": sources}


def leaves(tree: Any) -> list[Slotted]:
    """The :class:`Slotted` leaves of a derivation."""
    if isinstance(tree, Slotted):
        return [tree]
    if isinstance(tree, dict):
        return [leaf for v in tree.values() for leaf in leaves(v)]
    if isinstance(tree, list):
        return [leaf for v in tree for leaf in leaves(v)]
    return []


def slots_used(tree: Any) -> set[str]:
    """The slot names a derivation fills in."""
    return {name for leaf in leaves(tree) for name in names_in(leaf.template)}

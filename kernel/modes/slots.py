"""Slots inside step arguments, as one run sees them: templates, filling, and what a step recorded.

A run of ``write a haiku into {path1}`` with ``path1 = projects/a/h.md`` that calls
``write_file(path="projects/a/h.md", content="...")`` records ``slot_args: {path: "{path1}"}``, found
by searching the argument for slot values. That is a note for people and for the model's guidance
(MIXED), not what a replay runs: one run cannot tell a slot from text that happens to equal it (the
``3`` of ``room3``), so replays derive arguments across several runs (:mod:`llmos.modes.explain`).
Templates escape literal braces as ``{{`` and ``}}``; filling is a plain substitution (never
``str.format``, whose ``{0.__class__}`` would reach into objects).

Each step also records ``post``: what the run saw (a written file's first characters, the hash of a
file read) and the words of slot values an argument used on their own (``unexplained``).
"""

from __future__ import annotations

import re
from typing import Any, Callable

import blake3

_FIELD = re.compile(r"\{\{|\}\}|\{(\w+)\}")
_OFFLOADED = re.compile(r"\n\[\.\.\. \d+ more characters; full text (?:blob:([0-9a-f]+)|not kept)\]$")
MIN_SLOT_CHARS = 2  # a one-character value ("3") is abstracted only as a whole word
SNIPPET = 80


def _escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def abstract(text: str, slots: dict[str, str]) -> str:
    """``text`` with every slot value replaced by ``{name}`` (longest values first), braces escaped."""
    values = sorted(((v, k) for k, v in slots.items() if v), key=lambda vk: -len(vk[0]))
    if not values:
        return _escape(text)
    alts = "|".join(re.escape(v) if len(v) >= MIN_SLOT_CHARS else rf"\b{re.escape(v)}\b" for v, _ in values)
    by_value = {v: k for v, k in reversed(values)}
    out, last = [], 0
    for m in re.finditer(alts, text):
        out.append(_escape(text[last : m.start()]))
        out.append("{" + by_value[m.group(0)] + "}")
        last = m.end()
    out.append(_escape(text[last:]))
    return "".join(out)


def fill(template: str, slots: dict[str, str]) -> str:
    """Substitute ``{name}`` with slot values; raise ``KeyError`` naming a slot the goal lacks."""

    def sub(m: re.Match[str]) -> str:
        if m.group(1) is None:
            return m.group(0)[0]
        return slots[m.group(1)]

    return _FIELD.sub(sub, template)


def names_in(template: str) -> list[str]:
    """The slot names a template uses, in order."""
    return [m.group(1) for m in _FIELD.finditer(template) if m.group(1)]


def slot_args(args: dict[str, Any], slots: dict[str, str]) -> dict[str, str] | None:
    """For each argument that contains a slot value, its template; None when no argument does."""
    out = {}
    for key, value in args.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str):
            template = abstract(value, slots)
            if names_in(template):
                out[key] = template
    return out or None


def text_hash(text: str, slots: dict[str, str]) -> str:
    """Hash of ``text`` with slot values abstracted: equal when two texts differ only in slot values."""
    return blake3.blake3(abstract(text, slots).encode("utf-8")).hexdigest()[:32]


def postconditions(
    tool: str | None, args: dict[str, Any], output: str, ok: bool, slots: dict[str, str]
) -> list[dict[str, Any]] | None:
    """What a replay of this step must find afterwards, in slot-template form."""
    if not ok or not isinstance(args.get("path"), str):
        return None
    path = abstract(args["path"], slots)
    if tool == "write_file" and isinstance(args.get("content"), str):
        return [{"file_exists": path}, {"file_starts": path, "text": abstract(args["content"][:SNIPPET], slots)}]
    if tool == "read_file":
        return [{"file_exists": path}, {"result_hash": text_hash(output, slots)}]
    return None


def resolve_offloaded(value: Any, get_blob: Callable[[str], bytes] | None) -> Any:
    """Undo :func:`llmos.traces.offload`: a preview ending in ``blob:<id>`` becomes the full text.
    Raises ``ValueError`` when the full text was not kept (it cannot be replayed)."""
    if isinstance(value, str):
        m = _OFFLOADED.search(value)
        if m is None:
            return value
        if m.group(1) is None or get_blob is None:
            raise ValueError("a long argument of this trace was not kept in full")
        return get_blob(m.group(1)).decode("utf-8")
    if isinstance(value, dict):
        return {k: resolve_offloaded(v, get_blob) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_offloaded(v, get_blob) for v in value]
    return value


_COMMON = frozenset("the and with for from into this that are was not you your our all any new".split())


def fragments(slots: dict[str, str], template: str = "") -> set[str]:
    """Words of text and path slot values (a path by its file name) that could be copied on their own;
    words the goal's template says itself ("note" in "save a note into {path1}") are not suspicious."""
    words: set[str] = set()
    for name, value in slots.items():
        if name.startswith(("num", "date")):
            continue
        part = value.rstrip("/").rsplit("/", 1)[-1].rsplit(".", 1)[0] if name.startswith("path") else value
        words |= {w for w in re.findall(r"[^\W\d_]{3,}", part.lower()) if w not in _COMMON}
    return words - set(re.findall(r"[^\W\d_]{3,}", _FIELD.sub(" ", template.lower())))


def unexplained(args: dict[str, Any], slots: dict[str, str], template: str = "") -> list[str]:
    """Words of slot values that an argument uses *outside* a whole slot value ("named after ada" for
    the slot "ada protocol"): a replay with new values could not reproduce them."""
    frags = fragments(slots, template)
    hits: set[str] = set()
    for value in args.values():
        if isinstance(value, str) and frags:
            literal = _FIELD.sub(" ", abstract(value, slots)).lower()
            hits |= frags & set(re.findall(r"[^\W\d_]{3,}", literal))
    return sorted(hits)


def step_extras(
    tool: str | None,
    args: dict[str, Any],
    output: str,
    ok: bool,
    slots: dict[str, str],
    shrink: Callable[[Any], Any] = lambda v: v,
    template: str = "",
) -> dict[str, Any]:
    """The ``slot_args`` and ``post`` fields of a trace step (``shrink`` offloads long templates)."""
    if not tool:
        return {}
    post = postconditions(tool, args, output, ok, slots) or []
    derived = unexplained(args, slots, template) if ok else []
    if derived:
        post.insert(0, {"unexplained": derived})
    return {"slot_args": shrink(slot_args(args, slots)), "post": shrink(post or None)}

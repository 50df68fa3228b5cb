"""GBNF grammars that force a local model's reply to be exactly one valid tool call.

The reply shape is ``{"tool": "NAME", "args": {...}}`` with the arguments of that tool's JSON schema
in order. Strings are length-bounded so a weak model cannot ramble past ``max_tokens`` mid-string.
"""

from __future__ import annotations

import json
from typing import Any

_PRIMITIVES = {
    "string": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
}


def _rule_name(tool: str) -> str:
    return "call-" + "".join(c if c.isalnum() else "-" for c in tool)


def _literal(text: str) -> str:
    """A GBNF string literal matching ``text`` exactly (JSON-encoded, then GBNF-escaped)."""
    return json.dumps(text)


def _value_rule(prop: dict[str, Any]) -> str:
    kind = prop.get("type")
    if "enum" in prop:
        return "(" + " | ".join(_literal(json.dumps(v)) for v in prop["enum"]) + ")"
    if kind == "array":
        item = _value_rule(prop.get("items", {"type": "string"}))
        return f'"[" ws ({item} (ws "," ws {item})*)? ws "]"'
    if kind not in _PRIMITIVES:
        for option in prop.get("anyOf", []):  # Optional[...] -> first non-null option
            if option.get("type") in _PRIMITIVES:
                return _PRIMITIVES[option["type"]]
        return "string"
    return _PRIMITIVES[kind]


def _call_rule(tool: dict[str, Any]) -> str:
    schema = tool.get("input_schema") or {}
    props = schema.get("properties") or {}
    parts = [
        _literal('"tool"'),
        'ws ":" ws',
        _literal(json.dumps(tool["name"])),
        'ws "," ws',
        _literal('"args"'),
        'ws ":" ws "{" ws',
    ]
    for n, (pname, prop) in enumerate(props.items()):
        if n:
            parts.append('ws "," ws')
        parts += [_literal(json.dumps(pname)), 'ws ":" ws', _value_rule(prop)]
    parts.append('ws "}"')
    return " ".join(parts)


def tool_call_grammar(tools: list[dict[str, Any]], max_string: int = 400) -> str:
    """GBNF for one tool call among ``tools`` (Messages-API style definitions with input_schema)."""
    if not tools:
        raise ValueError("a tool-call grammar needs at least one tool")
    lines = ['root ::= " "? "{" ws (' + " | ".join(_rule_name(t["name"]) for t in tools) + ') ws "}"']
    for tool in tools:
        lines.append(f"{_rule_name(tool['name'])} ::= {_call_rule(tool)}")
    lines += [
        f'string ::= "\\"" char{{0,{max_string}}} "\\""',
        'char ::= [^"\\\\\\x00-\\x1F] | "\\\\" (["\\\\/bfnrt] | "u" [0-9a-fA-F]{4})',
        'integer ::= "-"? [0-9]{1,9}',
        'number ::= "-"? [0-9]{1,9} ("." [0-9]{1,6})?',
        'boolean ::= "true" | "false"',
        "ws ::= [ ]?",
    ]
    return "\n".join(lines) + "\n"


def parse_tool_call(text: str) -> tuple[str, dict[str, Any]] | None:
    """Read ``{"tool": ..., "args": {...}}`` out of a reply; None if it is not one."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("tool"), str) or not isinstance(obj.get("args"), dict):
        return None
    return obj["tool"], obj["args"]

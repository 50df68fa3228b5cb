"""Long runs stay within the window: older turns are compacted before a request grows too large.

Before each model call of a backend that names an ``input_limit`` (Claude: a share of the model's
context window, or ``anthropic.max_input_tokens``), a request above it is compacted:

1. every older tool result (all but the newest :data:`KEEP_RECENT`) longer than :data:`LONG` characters
   is replaced, at once, by its first lines and the ``blob:`` id of the whole text (the blob store
   keeps it; the trace's step already points at it), so later calls append to a history that does not
   change again until the next compaction;
2. if the request still passes the limit, the oldest exchanges (a model turn and its tool results, kept together so
   every ``tool_use`` stays answered) are replaced by one line each, told with the goal.

The system prompt and the tools are never touched: they are the prefix a provider caches. Each
compaction is recorded in the trace (``compactions``).
"""

from __future__ import annotations

from typing import Any

KEEP_RECENT = 2  # tool results always kept whole: the model's working set
LONG = 600  # characters: shorter results are not worth compacting
PREVIEW = 300


def compact(
    messages: list[dict[str, Any]], tools: list[dict[str, Any]], backend: Any, blobs: Any, at_call: int
) -> dict[str, Any] | None:
    """Compact ``messages`` in place if the request passes ``backend.input_limit``; return the record
    of what was done (None: nothing needed)."""
    limit = getattr(backend, "input_limit", None)
    if not limit:
        return None
    before = backend.estimate_input(messages, tools)
    if before <= limit:
        return None
    record: dict[str, Any] = {"at_call": at_call, "before": before, "results": 0, "turns": 0}
    tool_at = [i for i, m in enumerate(messages) if m["role"] == "tool"]
    for i in tool_at[: max(0, len(tool_at) - KEEP_RECENT)]:
        text = messages[i].get("content") or ""
        if len(text) <= LONG or "[compacted:" in text:
            continue
        ref = f"blob:{blobs.put(text, 'tool_io')}" if blobs is not None else "not kept"
        messages[i] = {
            **messages[i],
            "content": text[:PREVIEW] + f"\n[compacted: {len(text)} characters in all; full text {ref}]",
        }
        record["results"] += 1
    after = backend.estimate_input(messages, tools)
    while after > limit and _summarize_oldest(messages):  # still too long: the oldest turns go
        record["turns"] += 1
        after = backend.estimate_input(messages, tools)
    record["after"] = after
    return record


def _summarize_oldest(messages: list[dict[str, Any]]) -> bool:
    """Replace the oldest exchange after the goal by one line in a compacted-history note; False if
    only the newest exchanges are left."""
    first = next((i for i, m in enumerate(messages) if m["role"] == "assistant"), None)
    exchanges = sum(1 for m in messages if m["role"] == "assistant")
    if first is None or exchanges <= 2:
        return False
    end = first + 1
    while end < len(messages) and messages[end]["role"] == "tool":
        end += 1
    turn, results = messages[first], messages[first + 1 : end]
    lines = []
    for call in turn.get("tool_calls") or []:
        out = next((r for r in results if r.get("tool_call_id") == call["id"]), None)
        args = ", ".join(f"{k}={str(v)[:40]!r}" for k, v in call["args"].items())
        status = "no result" if out is None else ("ok" if out.get("ok", True) else "failed")
        said = " ".join((out or {}).get("content", "").split())[:80]
        lines.append(f"- {call['name']}({args}) -> {status}: {said}")
    if not lines:
        lines.append(f"- (a reply without tool calls: {' '.join((turn.get('content') or '').split())[:80]})")
    del messages[first:end]
    note = next((m for m in messages[:first] if m.get("compacted")), None)
    if note is None:
        note = {"role": "user", "content": "[Earlier steps of this run, compacted to save room:]", "compacted": True}
        messages.insert(first, note)
    note["content"] += "\n" + "\n".join(lines)
    return True

"""The cold-start brief: a few KB that bring an agent (or a person) up to speed.

Built from the agent's traces and its working memory: what it is doing, recent outcomes, open
threads (runs that failed and were not redone since, open items in its notes), what changed. With
``distill`` a model (the local one by default) compresses it further, through the budget gate.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..agents import Agent
from .context import short, open_threads, recent_traces, whats_new
from .working import read_working

RECENT = 5


def _fit(sections: list[tuple[str, list[str]]], header: str, max_bytes: int) -> str:
    """Drop lines, lowest-value section first (the list is in order of value), until it fits."""

    def render() -> str:
        parts = [header]
        for title, lines in sections:
            parts += ["", f"## {title}", *(lines or ["(none)"])]
        return "\n".join(parts) + "\n"

    text = render()
    for _, lines in reversed(sections):
        while len(text.encode("utf-8")) > max_bytes and len(lines) > 1:
            lines.pop()
            text = render()
    raw = text.encode("utf-8")
    return text if len(raw) <= max_bytes else raw[: max_bytes - 4].decode("utf-8", "ignore") + "…\n"


def brief(root: Path, agent: Agent, config: Any) -> str:
    """The brief of ``agent`` as Markdown, at most ``config.memory.brief_max_bytes`` bytes."""
    root = Path(root)
    working = read_working(root, agent.name)
    traces = recent_traces(root, agent.name)
    doing = [line for line in working.splitlines() if line.strip()][:12] or ["(no working memory)"]
    outcomes = [
        f"- {t.started[:16].replace('T', ' ')} {t.outcome}: {short(t.goal, 70)}"
        f"{' -> ' + short(t.result or t.error, 70) if (t.result or t.error) else ''}"
        for t in traces[:RECENT]
    ] or ["(no runs yet)"]
    threads = [f"- {x}" for x in open_threads(traces, working)] or ["(none)"]
    changed = [f"- {x}" for x in whats_new(root, agent, config.memory)[1:] if not x.startswith("Everything else")]
    today = datetime.now(timezone.utc).date().isoformat()
    sections = [
        ("Open threads", threads),
        ("Recent outcomes", outcomes),
        ("What it is doing", doing),
        ("What changed", changed or ["(nothing)"]),
    ]
    return _fit(sections, f"# Brief: {agent.name} ({today})", config.memory.brief_max_bytes)


def distill(root: Path, agent: str, text: str, config: Any, model: str | None = None) -> tuple[str, dict[str, Any]]:
    """Compress ``text`` with a model (default: ``local``), through the budget gate.

    Returns the shorter brief (or ``text`` itself when the model's answer is empty or not shorter)
    and what the call cost: ``{model, input, output, cost_usd, kept}``."""
    from ..backends import make_backend, parse_spec
    from ..budget.call import ask
    from ..budget.gate import Budget
    from ..prompts import render_file
    from ..syscalls.files import finish_schema

    backend = make_backend(parse_spec(model or "local", config.models), config=config, root=root)
    max_chars = max(200, len(text) // 2)
    messages = [
        {"role": "user", "content": render_file(root, "brief", agent=agent, brief=text, max_chars=str(max_chars))}
    ]
    reply, cost = ask(backend, messages, [finish_schema()], budget=Budget(root, config.budget), agent=agent,
                      kind="brief")
    out = next((str(c.args.get("result", "")) for c in reply.tool_calls if c.name == "finish"), reply.text).strip()
    kept = bool(out) and len(out) < len(text)
    info = {
        "model": backend.model,
        "input": reply.usage.input,
        "output": reply.usage.output,
        "cost_usd": cost,
        "kept": kept,
    }
    return (out + "\n" if kept else text), info

"""``llmos report --html FILE``: every dashboard view in one self-contained HTML file (plotly.js
inline, no link leaves the file), for CI artifacts and pull requests. The newest runs' trace trees
and every agent and soul are included; links point at anchors in the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...atomic import atomic_write
from ...scrub import scrub
from . import data, render

RUNS = 20


def report_html(kernel: Any, runs_shown: int = RUNS) -> str:
    from ...team.tracetree import find_trace, load_tree
    from ..tools import resource_path
    from ..gate import Gate

    link = lambda kind, ident="": f"#{kind}-{ident}" if ident else f"#{kind}"  # noqa: E731
    site = render.Site(link, f"<script>{render.plotly_js()}</script>", one_file=True)
    root, config = kernel.root, kernel.config
    rows = data.runs(root)
    agents = kernel.agents()[0]
    parts = [
        ("overview", render.overview(site, rows, data.savings(rows), data.budget(root, config))),
        ("runs", render.runs_view(site, rows)),
        ("memory", render.memory_view(site, data.memory(root))),
        ("budget", render.budget_view(site, data.budget(root, config))),
        ("health", render.health_view(site, data.tools(kernel), data.storage(root, config))),
        ("agents", render.agents_view(site, agents)),
    ]
    for r in rows[:runs_shown]:
        tree = load_tree(root, r["id"]).as_dict()
        parts.append(
            (f"runs-{r['id']}", render.run_view(site, tree, find_trace(root, r["id"]).read_text(encoding="utf-8")))
        )
    gate = Gate(kernel, via="report")
    for a in agents:
        parts.append((f"agents-{a.name}", render.doc_view(site, "agent", a.name, a.path)))
        if a.soul:
            parts.append(
                (f"souls-{a.name}", render.doc_view(site, "soul", a.name, resource_path(gate, "souls", a.name)))
            )
    body = "".join(f'<div id="{anchor}" class="view">{html}</div>' for anchor, html in parts)
    return render.page(site, f"report of {root.name}", "", scrub(body))  # plotly.js itself holds no secret


def write_report(kernel: Any, path: Path) -> int:
    """Write the report to ``path``; returns its size in bytes."""
    text = report_html(kernel)
    atomic_write(path, text)
    return len(text.encode("utf-8"))

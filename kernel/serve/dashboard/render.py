"""HTML of the dashboard's views: tables, plotly figures (data as JSON, drawn by plotly.js from the
plotly package: no CDN), and documents rendered from Markdown with markdown-it-py (raw HTML in a
document is shown as text, never run), frontmatter as a table.

A :class:`Site` says how pages link (``/runs/ID`` served, ``#run-ID`` in the one-file report) and
how plotly.js is included (a served asset, or inline).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from markdown_it import MarkdownIt

NAV = (
    ("overview", "Overview"),
    ("runs", "Runs"),
    ("memory", "Memory"),
    ("budget", "Budget"),
    ("health", "Tools & storage"),
    ("agents", "Agents"),
)
CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:10px 20px;display:flex;gap:18px;align-items:center}
header a{color:#cfd6e4;text-decoration:none} header a.on{color:#fff;font-weight:600} header b{margin-right:12px}
main{padding:16px 20px;max-width:1200px} section{margin-bottom:28px}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border-bottom:1px solid #e3e6eb;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef0f4} td.n{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{background:#fff;border:1px solid #e3e6eb;border-radius:6px;padding:10px 14px;min-width:150px}
.card b{display:block;font-size:20px} .plot{background:#fff;border:1px solid #e3e6eb;height:340px;margin:8px 0}
.ok{color:#1a7f37} .bad{color:#b42318} .doc{background:#fff;border:1px solid #e3e6eb;padding:8px 16px}
ul.tree{list-style:none;padding-left:18px} ul.tree li{margin:3px 0}
code,pre{background:#eef0f4} pre{padding:8px;overflow:auto}
select{margin-right:10px}
"""
PLOTS_JS = """
document.querySelectorAll('[data-plot]').forEach(function (el) {
  var fig = JSON.parse(document.getElementById(el.dataset.plot).textContent);
  Plotly.newPlot(el, fig.data, fig.layout, {displaylogo: false, responsive: true});
});
document.querySelectorAll('table[data-filter]').forEach(function (table) {
  var selects = document.querySelectorAll('select[data-for="' + table.id + '"]');
  function apply() {
    table.querySelectorAll('tbody tr').forEach(function (row) {
      var show = true;
      selects.forEach(function (s) { if (s.value && row.dataset[s.dataset.key] !== s.value) show = false; });
      row.style.display = show ? '' : 'none';
    });
  }
  selects.forEach(function (s) { s.addEventListener('change', apply); });
});
"""
_MD = MarkdownIt("commonmark", {"html": False}).enable("table")


@dataclass
class Site:
    """How pages link and load plotly.js: served (``llmos serve``) or one file (``llmos report``)."""

    link: Callable[[str, str], str]
    plotly: str  # a <script> tag
    one_file: bool = False
    _n: list[int] = field(default_factory=lambda: [0])

    def plot(self, figure: dict[str, Any], name: str) -> str:
        self._n[0] += 1
        fid = f"fig-{name}-{self._n[0]}"
        data = json.dumps(figure).replace("</", "<\\/")
        holder = f'<div class="plot" id="plot-{name}" data-plot="{fid}"></div>'
        return f'{holder}<script type="application/json" id="{fid}">{data}</script>'


def served_site() -> Site:
    link = lambda kind, ident="": f"/{kind}" + (f"/{ident}" if ident else "")  # noqa: E731
    return Site(link, '<script src="/assets/plotly.min.js"></script>')


def plotly_js() -> str:
    """plotly.js as shipped inside the plotly package (no network)."""
    from importlib.resources import files

    return (files("plotly") / "package_data" / "plotly.min.js").read_text(encoding="utf-8")


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def page(site: Site, title: str, active: str, body: str) -> str:
    nav = "".join(f'<a href="{site.link(k, "")}" class="{"on" if k == active else ""}">{label}</a>' for k, label in NAV)
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{esc(title)} - llmos</title>'
        f'<link rel="icon" href="data:,"><style>{CSS}</style>{site.plotly}</head>'
        f"<body><header><b>llmos</b>{nav}</header><main>{body}</main><script>{PLOTS_JS}</script></body></html>"
    )


def table(headers: list[str], rows: list[list[str]], attrs: str = "", row_attrs: list[str] | None = None) -> str:
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join(
        f"<tr {row_attrs[i] if row_attrs else ''}>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>"
        for i, r in enumerate(rows)
    )
    return f"<table {attrs}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def outcome(value: str) -> str:
    return f'<span class="{"ok" if value == "success" else "bad"}">{esc(value)}</span>'


def section(title: str, body: str) -> str:
    return f"<section><h2>{title}</h2>{body}</section>"


def cards(items: list[tuple[str, Any]]) -> str:
    return (
        '<div class="cards">' + "".join(f'<div class="card"><b>{esc(v)}</b>{esc(k)}</div>' for k, v in items) + "</div>"
    )


# -- views ----------------------------------------------------------------------------------------
def overview(site: Site, runs: list[dict], saved: dict, budget: dict) -> str:
    ok = sum(r["outcome"] == "success" for r in runs)
    items = [
        ("runs", len(runs)),
        ("succeeded", f"{ok / len(runs):.0%}" if runs else "-"),
        ("tokens used", f"{saved['total_used']:,}"),
        ("tokens saved by reuse", f"{saved['total_saved']:,} ({saved['share_saved']:.0%})"),
        ("spent today (USD)", f"{budget['spent'][-1]:.4f}"),
    ]
    plots = section("Token savings over time by mode", site.plot(savings_figure(saved), "savings"))
    plots += section("Budget burn", site.plot(budget_figure(budget), "budget"))
    return f"<h1>Overview</h1>{cards(items)}{plots}"


def savings_figure(s: dict) -> dict:
    data = [{"type": "bar", "name": f"used: {m}", "x": s["days"], "y": y} for m, y in s["used"].items()]
    data += [
        {"type": "scatter", "mode": "lines+markers", "name": f"saved: {m}", "x": s["days"], "y": y}
        for m, y in s["saved"].items()
    ]
    if not data:
        data = [{"type": "bar", "name": "no runs yet", "x": [], "y": []}]
    layout = {
        "barmode": "stack",
        "margin": {"t": 20},
        "xaxis": {"type": "category"},
        "yaxis": {"title": {"text": "tokens"}},
    }
    return {"data": data, "layout": layout}


def budget_figure(b: dict) -> dict:
    data = [{"type": "bar", "name": "spent (USD)", "x": b["days"], "y": b["spent"]}]
    if b["per_day"] is not None:
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": "per_day ceiling",
                "x": b["days"],
                "y": [b["per_day"]] * len(b["days"]),
                "line": {"dash": "dash", "color": "#b42318"},
            }
        )
    layout = {
        "margin": {"t": 20},
        "xaxis": {"type": "category"},
        "yaxis": {"title": {"text": "USD"}, "rangemode": "tozero"},
    }
    return {"data": data, "layout": layout}


def runs_view(site: Site, runs: list[dict], limit: int = 500) -> str:
    shown = runs[:limit]
    selects = "".join(
        f'<label>{key} <select data-for="runs" data-key="{key}"><option value="">all</option>'
        + "".join(f'<option value="{esc(v)}">{esc(v)}</option>' for v in sorted({r[key] for r in runs}))
        + "</select></label>"
        for key in ("agent", "outcome", "mode")
    )
    rows = [
        [
            f'<a href="{site.link("runs", r["id"])}">{esc(r["id"])}</a>',
            esc(r["started"][:19].replace("T", " ")),
            esc(r["agent"]),
            esc(r["mode"]),
            outcome(r["outcome"]),
            f'<span class="n">{r["steps"]}</span>',
            f'<span class="n">{r["tokens"]:,}</span>',
            f'<span class="n">{r["cost_usd"]:.4f}</span>',
            esc(r["goal"][:100]),
        ]
        for r in shown
    ]
    attrs = [
        f'data-agent="{esc(r["agent"])}" data-outcome="{esc(r["outcome"])}" data-mode="{esc(r["mode"])}"' for r in shown
    ]
    more = f"<p>newest {limit} of {len(runs)}</p>" if len(runs) > limit else ""
    grid = table(
        ["run", "started", "agent", "mode", "outcome", "steps", "tokens", "USD", "goal"],
        rows,
        'id="runs" data-filter="1"',
        attrs,
    )
    return f"<h1>Runs</h1><p>{selects}</p>{more}{grid}"


def tree_html(site: Site, node: dict) -> str:
    tokens = node.get("tokens") or {}
    own = (
        f"{tokens.get('input', 0):,} in / {tokens.get('output', 0):,} out, ${node.get('cost_usd', 0):.4f}"
        if tokens
        else esc(node.get("problem"))
    )
    tree = node["tree"]
    total = f"tree {tree['tokens']['input']:,} in / {tree['tokens']['output']:,} out, ${tree['cost_usd']:.4f}"
    kids = "".join(f"<li>{tree_html(site, c)}</li>" for c in node["children"])
    link = f'<a href="{site.link("runs", node["id"])}">{esc(node["id"])}</a>'
    what = f"{esc(node.get('agent'))} {esc(node.get('mode'))} {outcome(node.get('outcome') or 'missing')}"
    label = f"{link} {what} · {node.get('steps', 0)} steps · {own} · {total}"
    return label + (f'<ul class="tree">{kids}</ul>' if kids else "")


def document(text: str) -> str:
    """A Markdown document with YAML frontmatter: the frontmatter as a table, the body rendered."""
    import yaml

    meta, body = {}, text
    if text.startswith("---"):
        end = text.find("\n---", 3)
        if end > 0:
            try:
                meta = yaml.safe_load(text[3:end]) or {}
            except yaml.YAMLError:
                meta = {}
            body = text[end + 4 :].lstrip("-\n")
    rows = [
        [esc(k), esc(json.dumps(v, default=str) if isinstance(v, (dict, list)) else v)]
        for k, v in meta.items()
        if k != "steps"
    ]
    front = table(["field", "value"], rows, 'class="front"') if rows else ""
    return f'{front}<div class="doc">{_MD.render(body)}</div>'


def run_view(site: Site, tree: dict, text: str) -> str:
    head = f"<h1>Run {esc(tree['id'])}</h1><p>{esc(tree.get('goal'))}</p>"
    tree_list = f'<ul class="tree"><li>{tree_html(site, tree)}</li></ul>'
    return head + section("Trace tree", tree_list) + section("Trace", document(text))


def memory_view(site: Site, m: dict) -> str:
    order = ("beta", "alpha", "delta")
    tiers = [t for t in order if t in m["tiers"]] + sorted(set(m["tiers"]) - set(order))
    fig = {
        "data": [
            {"type": "bar", "name": "current", "x": tiers, "y": [m["tiers"][t]["current"] for t in tiers]},
            {"type": "bar", "name": "superseded", "x": tiers, "y": [m["tiers"][t]["superseded"] for t in tiers]},
        ],
        "layout": {"barmode": "stack", "margin": {"t": 20}, "yaxis": {"title": {"text": "memories"}}},
    }
    rows = [
        [
            f'<a href="{site.link("memories", x["id"])}">{esc(x["id"])}</a>',
            esc(x["tier"]),
            esc(x["kind"]),
            esc(x["created"]),
            esc(x["title"]),
        ]
        for x in m["newest"]
    ]
    branches = [
        [esc(b["branch"]), esc(b["date"]), esc(b["subject"]), f"<code>llmos dream --apply {esc(b['branch'])}</code>"]
        for b in m["branches"]
    ]
    review = table(["branch", "date", "subject", "merge with"], branches) if branches else "<p>none waiting</p>"
    return (
        "<h1>Memory</h1>"
        + section("By tier", site.plot(fig, "memory"))
        + section("Promotions waiting for review (dream branches)", review)
        + section("Newest memories", table(["id", "tier", "kind", "created", "title"], rows))
    )


def budget_view(site: Site, b: dict) -> str:
    usd = lambda v: "unlimited" if v is None else f"{v:,.4f}"  # noqa: E731
    rows = [
        [esc(n), esc(c["scope"]), usd(c["spent"]), usd(c["reserved"]), usd(c["limit"]), usd(c["remaining"])]
        for n, c in b["ceilings"].items()
    ]
    by = lambda d: table(
        ["name", "calls", "USD"],
        [[esc(k), str(v.get("calls", 0)), f"{v.get('cost_usd', 0):.4f}"] for k, v in sorted(d.items())],
    )  # noqa: E731
    return (
        "<h1>Budget</h1>"
        + section("Burn against the daily ceiling", site.plot(budget_figure(b), "burn"))
        + section("Ceilings", table(["ceiling", "scope", "spent", "reserved", "limit", "remaining"], rows))
        + section("By agent", by(b["by_agent"]))
        + section("By model", by(b["by_model"]))
    )


def health_view(site: Site, tools: dict, storage: dict) -> str:
    rows = [
        [
            esc(t["name"]),
            esc(t["state"]),
            str(t["uses"]),
            str(t["successes"]),
            f"{t['confidence']:.2f}",
            "yes" if t["edited"] else "",
            esc(t["template"]),
        ]
        for t in tools["tools"]
    ]
    grid = (
        table(["tool", "state", "uses", "ok", "confidence", "edited", "template"], rows)
        if rows
        else "<p>no crystallized tools yet</p>"
    )
    b = storage["blobs"]
    keys = (
        "blobs",
        "packs",
        "logical_bytes",
        "stored_bytes",
        "disk_bytes",
        "dedup_ratio",
        "compression_ratio",
        "total_reduction",
        "repacked_share",
        "problem",
    )
    blobs = table(["figure", "value"], [[k, esc(b[k])] for k in keys if k in b]) if b else "<p>no blob store yet</p>"
    snaps = storage["vault"]["snapshots"]
    vault = (
        table(
            ["snapshot", "#", "created", "files", "bytes", "commit"],
            [
                [esc(s["id"]), str(s["seq"]), esc(s["created"]), str(s["files"]), f"{s['bytes']:,}", esc(s["commit"])]
                for s in snaps
            ],
        )
        if snaps
        else "<p>no snapshots yet (llmos vault snapshot)</p>"
    )
    problem = f'<p class="bad">{esc(storage["vault"]["problem"])}</p>' if storage["vault"].get("problem") else ""
    return (
        "<h1>Tools &amp; storage</h1>"
        + section("Crystallized tools", grid)
        + section("Blob store", blobs)
        + section("Vault", problem + vault)
    )


def agents_view(site: Site, agents: list[Any]) -> str:
    rows = [
        [
            f'<a href="{site.link("agents", a.name)}">{esc(a.name)}</a>',
            esc(a.model or "(default)"),
            esc(", ".join(sorted(a.tools)) if a.tools is not None else "all"),
            esc(a.description),
            f'<a href="{site.link("souls", a.name)}">soul</a>' if a.soul else "",
        ]
        for a in agents
    ]
    return f"<h1>Agents</h1>{table(['agent', 'model', 'tools', 'description', 'soul'], rows)}"


def doc_view(site: Site, kind: str, ident: str, path: Path) -> str:
    return f"<h1>{esc(kind)} {esc(ident)}</h1>{document(path.read_text(encoding='utf-8'))}"

"""The dashboard's pages as Starlette routes, mounted beside /mcp by ``llmos serve`` (GET only;
the bearer gate of :mod:`llmos.serve.http` is in front). Each page reads the files on request."""

from __future__ import annotations

from typing import Any, Callable

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from ...scrub import scrub
from . import data, render


def views(kernel: Any, site: render.Site) -> dict[str, Callable[..., str]]:
    """Page name -> a function of the path's ident that returns the page's HTML."""
    root, config = kernel.root, kernel.config

    def overview(_: str = "") -> str:
        rows = data.runs(root)
        return render.page(
            site, "Overview", "overview", render.overview(site, rows, data.savings(rows), data.budget(root, config))
        )

    def run(ident: str) -> str:
        from ...team.tracetree import find_trace, load_tree

        body = render.run_view(
            site, load_tree(root, ident).as_dict(), find_trace(root, ident).read_text(encoding="utf-8")
        )
        return render.page(site, f"Run {ident}", "runs", body)

    def doc(kind: str, active: str) -> Callable[[str], str]:
        def show(ident: str) -> str:
            from ..gate import Gate
            from ..tools import resource_path

            path = resource_path(Gate(kernel, via="dashboard"), kind, ident)
            return render.page(site, f"{kind} {ident}", active, render.doc_view(site, kind[:-1], ident, path))

        return show

    return {
        "overview": overview,
        "runs": lambda _="": render.page(site, "Runs", "runs", render.runs_view(site, data.runs(root))),
        "run": run,
        "memory": lambda _="": render.page(site, "Memory", "memory", render.memory_view(site, data.memory(root))),
        "budget": lambda _="": render.page(
            site, "Budget", "budget", render.budget_view(site, data.budget(root, config))
        ),
        "health": lambda _="": render.page(
            site, "Tools & storage", "health", render.health_view(site, data.tools(kernel), data.storage(root, config))
        ),
        "agents": lambda _="": render.page(site, "Agents", "agents", render.agents_view(site, kernel.agents()[0])),
        "agent": doc("agents", "agents"),
        "soul": doc("souls", "agents"),
        "memory_doc": doc("memories", "memory"),
    }


def routes(kernel: Any) -> list[Route]:
    pages = views(kernel, render.served_site())
    plotly: list[bytes] = []

    def handler(name: str) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            ident = request.path_params.get("ident", "")
            try:
                text = await to_thread.run_sync(lambda: scrub(pages[name](ident)))
            except Exception as exc:  # an unknown id, a damaged file: one line, not a traceback
                return PlainTextResponse(f"{type(exc).__name__}: {exc}", status_code=404)
            return HTMLResponse(text)

        return endpoint

    async def asset(request: Request) -> Response:
        if not plotly:
            plotly.append((await to_thread.run_sync(render.plotly_js)).encode())
        return Response(plotly[0], media_type="text/javascript", headers={"cache-control": "max-age=86400"})

    table = [
        ("/", "overview"),
        ("/overview", "overview"),
        ("/runs", "runs"),
        ("/runs/{ident}", "run"),
        ("/memory", "memory"),
        ("/memories/{ident}", "memory_doc"),
        ("/budget", "budget"),
        ("/health", "health"),
        ("/agents", "agents"),
        ("/agents/{ident}", "agent"),
        ("/souls/{ident}", "soul"),
    ]
    return [Route("/assets/plotly.min.js", asset, methods=["GET"])] + [
        Route(path, handler(name), methods=["GET"]) for path, name in table
    ]

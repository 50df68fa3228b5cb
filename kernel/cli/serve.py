"""``llmos mcp`` (the MCP server on stdio) and ``llmos serve`` (MCP over HTTP, scheduler, dashboard)."""

from __future__ import annotations

import click

from .context import current, echo_err


@click.command("mcp")
def mcp_cmd() -> None:
    """Serve llmos memory, runs and budget to an MCP client over stdin/stdout.

    \b
    Claude Code:  claude mcp add llmos -e LLMOS_ROOT=$PWD -- llmos mcp
    Tools: recall remember brief boot trace_show log budget_status claim release
    Resources: llmos://agents, llmos://agents/NAME, llmos://souls/NAME, llmos://memories/ID, llmos://traces/ID
    """
    from ..serve.mcp import run_stdio

    kernel = current().kernel()
    echo_err(f"llmos mcp: serving {kernel.root} on stdio")
    run_stdio(kernel)


serve_commands = (mcp_cmd,)

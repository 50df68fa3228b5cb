"""``llmos mcp`` (the MCP server on stdio) and ``llmos serve`` (MCP over HTTP, scheduler, dashboard)."""

from __future__ import annotations

from pathlib import Path

import click

from .context import current, echo_err


@click.command("mcp")
def mcp_cmd() -> None:
    """Serve llmos memory, runs and budget to an MCP client over stdin/stdout.

    \b
    Claude Code:  claude mcp add --transport stdio --env LLMOS_ROOT=$PWD llmos -- llmos mcp
    Tools: recall remember brief boot trace_show log budget_status claim release
    Resources: llmos://agents, llmos://agents/NAME, llmos://souls/NAME, llmos://memories/ID, llmos://traces/ID
    """
    from ..serve.mcp import run_stdio

    kernel = current().kernel()
    echo_err(f"llmos mcp: serving {kernel.root} on stdio")
    run_stdio(kernel)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (keep it local).")
@click.option("--port", type=click.IntRange(0, 65535), default=7878, show_default=True, help="0: any free port.")
@click.option("--no-schedule", is_flag=True, help="Do not run the scheduled jobs.")
def serve_cmd(host: str, port: int, no_schedule: bool) -> None:
    """The OS as a service: MCP over streamable HTTP (/mcp), the scheduler and the dashboard (/).

    Every HTTP request needs the bearer token of .llmos/serve-token, made and shown on the first
    start. `llmos halt` stops scheduled jobs and MCP boots alike.
    """
    from ..serve.http import serve

    if host not in ("127.0.0.1", "localhost", "::1"):
        echo_err(f"warning: listening on {host}: anyone who can reach it and has the token can run goals")
    serve(current().kernel(), host=host, port=port, say=click.echo, schedule=not no_schedule)


@click.command("report")
@click.option(
    "--html", "html_file", required=True, type=click.Path(dir_okay=False, path_type=Path), help="File to write."
)
def report_cmd(html_file: Path) -> None:
    """Write the dashboard's views as one self-contained HTML file (for CI artifacts and PRs)."""
    from ..serve.dashboard.report import write_report

    size = write_report(current().kernel(), html_file)
    click.echo(f"wrote {html_file} ({size:,} bytes, self-contained)")


from .schedule import schedule_commands  # noqa: E402

serve_commands = (mcp_cmd, serve_cmd, report_cmd, *schedule_commands)

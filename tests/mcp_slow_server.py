"""A tiny stdio MCP server for tests/test_toolbelt_mcp.py: a tool that sleeps, to test halt and timeouts."""

import time

from mcp.server.mcpserver import MCPServer

server = MCPServer("slow")


@server.tool()
def nap(seconds: float) -> str:
    """Sleep, then say so."""
    time.sleep(seconds)
    return f"slept {seconds}"


if __name__ == "__main__":
    server.run("stdio")

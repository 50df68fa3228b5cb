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
    import sys

    if sys.argv[1:2] == ["http"]:  # python mcp_slow_server.py http PORT: streamable HTTP on 127.0.0.1
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run("stdio")

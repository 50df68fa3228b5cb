"""The ``shell:``, ``web:`` and ``mcp_servers:`` sections of system/llmos.yaml."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ShellConfig(Strict):
    """``bash``: a command line in the sandbox (bubblewrap), the root read-only but ``projects/``."""

    timeout_s: float = Field(120, gt=0, le=3600, description="default wall-clock limit of one command")
    max_timeout_s: float = Field(600, gt=0, le=86400, description="the most a call may ask for")
    inline_chars: int = Field(30_000, ge=200, description="stdout/stderr kept inline; the rest is a blob")
    network_agents: list[str] = Field(default_factory=list, description="agents whose commands may use the network")
    unsandboxed: bool = Field(False, description="run without bubblewrap when it is missing (unsafe)")


class WebConfig(Strict):
    """``web_fetch`` (off unless ``fetch_domains`` lists domains) and ``web_search`` (a provider)."""

    fetch_domains: list[str] = Field(
        default_factory=list, description="domains web_fetch may read (a domain covers its subdomains); empty: off"
    )
    fetch_max_bytes: int = Field(2 << 20, ge=1024, description="the largest response body read")
    fetch_timeout_s: float = Field(20, gt=0, le=300)
    fetch_inline_chars: int = Field(20_000, ge=200, description="Markdown returned inline; the whole is a blob")
    search_provider: str | None = Field(
        None, description="a web search provider registered through the plugin door ('module:attr'); none by default"
    )


class McpServer(Strict):
    """One MCP server: a stdio command or an HTTP URL; its tools appear as ``mcp__NAME__TOOL``."""

    command: list[str] | None = Field(None, description="argv of a stdio server, e.g. [uvx, mcp-server-git]")
    url: str | None = Field(None, description="the streamable HTTP endpoint of a remote server")
    transport: Literal["stdio", "http"] | None = None
    env: dict[str, str] = Field(default_factory=dict, description="environment of a stdio server")
    cwd: str | None = Field(None, description="working folder of a stdio server, relative to the root")
    tools: list[str] | None = Field(None, description="the server's tools llmos offers (default: all)")
    timeout_s: float = Field(60, gt=0, le=3600, description="the longest one tool call may take")

    @model_validator(mode="after")
    def _one_transport(self) -> "McpServer":
        if bool(self.command) == bool(self.url):
            raise ValueError("give either command (a stdio server's argv) or url (an HTTP server)")
        return self

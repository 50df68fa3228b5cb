"""The OS as a service: the MCP server (``llmos mcp`` over stdio, ``llmos serve`` over streamable
HTTP), the scheduler and the read-only dashboard.

``gate`` (every call passes the kill switch, the syscall hook chain and the scrubber, and what it
writes is committed), ``tools`` (what an MCP client may call, as plain functions), ``mcp`` (the MCP
server made from them with the official SDK), ``http`` (the HTTP app: bearer token, MCP, dashboard,
scheduler), ``token`` (the bearer token in ``.llmos/``), ``schedule`` and ``install`` (cron jobs run
by ``llmos serve``, or by systemd / cron), ``dashboard`` and ``report`` (the views, and one
self-contained HTML file of them).

Layer: services, just below the clients. May import the spine (the kernel) and everything below it.
"""

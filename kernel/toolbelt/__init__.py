"""The toolbelt: syscalls that reach past the root's files: ``bash`` in the sandbox, ``web_fetch`` and
``web_search``, ``todo_write``, and MCP servers' tools (``mcp__SERVER__TOOL``).

Layer: run (``bash`` runs in :mod:`llmos.modes.jail`'s sandbox). Each module registers its syscalls
through the plugin door like any other family.
"""

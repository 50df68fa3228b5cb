"""Record the LLM calls of one conversation as a chain of manifests.

The kernel's loop only ever appends to a conversation, so each request is its parent's
request plus a few new messages. :class:`CallRecorder` stores each new message once and writes
one manifest per call listing only what is new; earlier messages are compared (C-speed
equality), never re-serialized. A chain's refs are laid out as::

    [params, system, tool_1 .. tool_n, message_1, message_2, ...]

where ``params`` is the request without system/tools/messages (plus ``"n_tools"``). If
params, system or tools change, or the history is rewritten, a new chain starts.
:func:`load_request` rebuilds the exact request from a manifest id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .store import BlobStore

_SPLIT = ("system", "tools", "messages")


class CallRecorder:
    """Stores successive requests/responses of one conversation (one per agent loop)."""

    def __init__(self, store: "BlobStore", agent: str | None = None):
        self.store = store
        self.agent = agent
        self.head: str | None = None
        self._prefix: tuple[Any, Any, Any] | None = None
        self._messages: list[Any] = []

    def record(self, request: dict, response: dict | str | None = None) -> tuple[str, str | None]:
        """Store one call; return ``(request manifest id, response blob id or None)``."""
        messages = request.get("messages", [])
        params = {k: v for k, v in request.items() if k not in _SPLIT}
        tools = request.get("tools") or []
        prefix = (params, request.get("system", ""), tools)
        if prefix != self._prefix or not self._continues(messages):
            self.head, self._messages = None, []
            new = [self._put({**params, "n_tools": len(tools)}, "request_params"), self._put(prefix[1], "prompt")] + [
                self._put(t, "tool_schema") for t in tools
            ]
            self._prefix = prefix
        else:
            new = []
        new += [self._put(m, "message") for m in messages[len(self._messages) :]]
        self.head = self.store.put_manifest(self.head, new, kind="request", agent=self.agent)
        self._messages = list(messages)
        reply = None if response is None else self._put(response, "response")
        return self.head, reply

    def _continues(self, messages: list[Any]) -> bool:
        n = len(self._messages)
        return len(messages) >= n and messages[:n] == self._messages

    def _put(self, value: Any, kind: str) -> str:
        return self.store.put(value, kind, agent=self.agent)


def load_request(store: "BlobStore", manifest_id: str) -> dict:
    """The full request recorded as ``manifest_id`` (params, system, tools, messages)."""
    refs = store.expand(manifest_id)
    params = store.get_json(refs[0])
    n_tools = params.pop("n_tools")
    system = store.get(refs[1]).decode("utf-8")
    tools = [store.get_json(r) for r in refs[2 : 2 + n_tools]]
    messages = [store.get_json(r) for r in refs[2 + n_tools :]]
    return {**params, "system": system, "tools": tools, "messages": messages}

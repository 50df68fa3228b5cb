"""The built-in backends, registered through the plugin door like a third-party one. Each is named
as ``module:attr`` so that choosing ``scripted`` never imports llama.cpp or the Anthropic SDK."""

from __future__ import annotations

from typing import Any

from ..plugins import hookimpl


@hookimpl
def register_backends(register: Any) -> None:
    register("scripted", "llmos.backends.scripted:ScriptedBackend")
    register("local", "llmos.backends.local:LocalBackend")
    register("anthropic", "llmos.backends.claude:AnthropicBackend")

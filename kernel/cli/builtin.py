"""The built-in commands, registered through the plugin door like a third-party plugin's. Each
command module imports its library inside the command, so registering them all costs little."""

from __future__ import annotations

from typing import Any

from ..plugins import hookimpl


@hookimpl
def register_commands(cli: Any) -> None:
    from .blobs import blobs
    from .core import core_commands
    from .dream import dream_commands
    from .fleet import fleet_commands
    from .guard import guard_commands
    from .memory import memory_commands
    from .serve import serve_commands
    from .modes import mode_commands
    from .shell import shell
    from .team import team_commands

    for command in (
        *core_commands,
        *guard_commands,
        blobs,
        shell,
        *team_commands,
        *mode_commands,
        *memory_commands,
        *dream_commands,
        *fleet_commands,
        *serve_commands,
    ):
        cli.add_command(command)

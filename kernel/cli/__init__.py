"""``llmos``: the command line, a thin client over the library (each command: parse, call, print).

Errors a person must fix print one line (``error: ... (fix)``) and exit non-zero; set
``LLMOS_DEBUG=1`` to see the traceback.

``context`` (how a command reaches its root, config and kernel), ``core`` (init, boot, check,
agents, log, doctor), one module per command group, ``builtin`` (registers them all through the
plugin door, as a third-party plugin registers its own).

Layer: clients, the top. May import anything; nothing imports it.
"""

from __future__ import annotations

import os
import sys

import click

from .. import __version__
from .context import Obj, echo_err
from ..errors import LlmosError


class PluginGroup(click.Group):
    """The ``llmos`` group: every command comes in through the plugin door (the built-ins of
    :mod:`llmos.cli.builtin` and those of installed plugins), registered on first use, so that a
    broken plugin is a one-line error of the command, not a traceback at import."""

    registered = False

    def _register(self) -> None:
        if not self.registered:
            self.registered = True
            from .. import plugins

            plugins.call("register_commands", cli=self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._register()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        self._register()
        return super().get_command(ctx, name)


@click.group(cls=PluginGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--root",
    "root_flag",
    type=click.Path(file_okay=False),
    default=None,
    help="OS root to use (default: $LLMOS_ROOT, else the nearest folder above holding system/llmos.yaml).",
)
@click.version_option(__version__, prog_name="llmos")
@click.pass_context
def cli(ctx: click.Context, root_flag: str | None) -> None:
    """llmos: a file-based agent OS. Agents, memories and traces are Markdown files in a git repo.

    \b
    Quick start:
      llmos init ~/myos && cd ~/myos
      llmos boot "Write a haiku about git into projects/demo/haiku.md"
      git log -1
    """
    ctx.obj = Obj(root_flag)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: one-line errors, tracebacks only with LLMOS_DEBUG=1."""
    try:
        code = cli.main(args=argv, prog_name="llmos", standalone_mode=False)
        if isinstance(code, int) and code:  # a command's ctx.exit(n): click returns it, the process must too
            sys.exit(code)
    except click.exceptions.Abort:
        echo_err("aborted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except LlmosError as exc:
        if os.environ.get("LLMOS_DEBUG") == "1":
            raise
        echo_err(f"error: {exc}")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        echo_err("interrupted")
        sys.exit(130)
    except Exception as exc:  # a bug in llmos, not the user's mistake
        if os.environ.get("LLMOS_DEBUG") == "1":
            raise
        echo_err(f"internal error: {type(exc).__name__}: {exc} (set LLMOS_DEBUG=1 for the traceback)")
        sys.exit(70)

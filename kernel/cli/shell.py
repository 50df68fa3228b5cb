"""CLI command ``llmos shell``: a thin client over :class:`llmos.live.shell.Shell`."""

from __future__ import annotations

import sys

import click

from .context import current


@click.command()
@click.option("--agent", "-a", default=None, help="Agent for every goal (default: entry_agent in system/llmos.yaml).")
@click.option(
    "--model",
    "-m",
    default=None,
    help="Model spec for every goal: local, local:PATH.gguf, anthropic:MODEL, scripted:PATH.yaml, or an alias.",
)
@click.option("--max-steps", type=click.IntRange(1, 1000), default=None, help="Cap on model calls per goal.")
@click.option("--no-history", is_flag=True, help="Do not read or write .llmos/shell_history.")
def shell(agent: str | None, model: str | None, max_steps: int | None, no_history: bool) -> None:
    """A long-running session: each line is a goal (run like boot) or a :command; edits are picked up live.

    \b
    Commands: :agents  :reload  :budget  :trace [ID]  :help  :quit
    Piped input works: printf 'GOAL\\n:quit\\n' | llmos shell --model scripted:FILE.yaml
    """
    from ..live.root import LiveRoot
    from ..live.shell import History, Shell, read_lines

    kernel = current().kernel()
    history = None if no_history else History(kernel.root)
    with LiveRoot(kernel) as live:
        session = Shell(
            live, out=lambda text: click.echo(text), agent=agent, model=model, max_steps=max_steps, history=history
        )
        session.greet()
        session.loop(read_lines(sys.stdin, history))
    click.echo("bye")

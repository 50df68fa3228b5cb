"""The one door, used from outside: a third-party package adds a syscall, a backend and a command.

The package is built and installed for real (pip, offline, into a folder of its own) and found
through its ``llmos`` entry point by a new ``llmos`` process, as a person's `pip install` would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from llmos import plugins
from llmos.errors import PluginError
from llmos.traces import iter_trace_files, read_trace
from helpers import git

PLUGIN = '''
import click

from llmos import Context, Outcome, Reply, ToolCall, Usage, hookimpl, syscall


@syscall
def shout(ctx: Context, text: str) -> Outcome:
    """Say something loudly.

    Args:
        text: what to say
    """
    return Outcome(True, text.upper() + "!")


class EchoBackend:
    """Calls shout with the spec's argument, then finishes with what it heard."""

    def __init__(self, arg, *, config=None, root=None):
        self.arg, self.model, self.max_output = arg, f"echo:{arg}", 64

    def estimate_input(self, messages, tools):
        return 1

    def complete(self, messages, tools):
        if messages[-1]["role"] != "tool":
            return Reply("", [ToolCall("c1", "shout", {"text": self.arg})], Usage(1, 1), "tool_use")
        return Reply("", [ToolCall("c2", "finish", {"result": messages[-1]["content"]})], Usage(1, 1), "tool_use")


@click.command()
def hello():
    """Say hello from a plugin."""
    click.echo("hello from a plugin")


@hookimpl
def register_syscalls(register):
    register(shout)


@hookimpl
def register_backends(register):
    register("echo", EchoBackend)


@hookimpl
def register_commands(cli):
    cli.add_command(hello)
'''

PYPROJECT = """
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "llmos-hello"
version = "0.1"

[project.entry-points.llmos]
hello = "llmos_hello"
"""

AGENT = """---
name: loud
description: Shouts what it is told.
tools: [shout, finish]
---
Shout, then finish.
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("plugin-src")
    (src / "llmos_hello").mkdir()
    (src / "llmos_hello" / "__init__.py").write_text(textwrap.dedent(PLUGIN))
    (src / "pyproject.toml").write_text(PYPROJECT)
    target = tmp_path_factory.mktemp("plugin-site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            str(src),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return target


def _llmos(site: Path, root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(site), "LLMOS_ROOT": str(root)}
    return subprocess.run([sys.executable, "-m", "llmos", *args], capture_output=True, text=True, env=env, timeout=120)


def test_a_plugin_package_adds_a_syscall_a_backend_and_a_command(site: Path, root: Path):
    (root / "agents" / "loud.md").write_text(AGENT)
    cfg = root / "system" / "llmos.yaml"
    data = yaml.safe_load(cfg.read_text())
    data.setdefault("budget", {})["free_models"] = ["local", "scripted", "echo"]  # its owner prices it
    cfg.write_text(yaml.safe_dump(data))
    git(root, "add", "-A")
    git(root, "commit", "-qm", "a loud agent")

    hello = _llmos(site, root, "hello")
    assert hello.returncode == 0 and hello.stdout == "hello from a plugin\n", hello.stderr
    assert "hello" in _llmos(site, root, "--help").stdout

    listed = _llmos(site, root, "agents")
    assert listed.returncode == 0 and "loud" in listed.stdout and "shout" in listed.stdout, listed.stderr

    run = _llmos(site, root, "boot", "say hi", "--agent", "loud", "--model", "echo:hi")
    assert run.returncode == 0, run.stderr
    (trace,) = [read_trace(p) for p in iter_trace_files(root)]
    assert [(s.tool, s.ok, s.result) for s in trace.steps] == [("shout", True, "HI!"), ("finish", True, "HI!")]
    assert trace.model == "echo:hi" and trace.outcome == "success"


def test_without_the_plugin_its_names_are_unknown(root: Path):
    (root / "agents" / "loud.md").write_text(AGENT)
    res = subprocess.run(
        [sys.executable, "-m", "llmos", "agents"],
        capture_output=True,
        text=True,
        env={**os.environ, "LLMOS_ROOT": str(root)},
        timeout=120,
    )
    assert "warning: agents/loud.md" in res.stderr and "unknown tool 'shout'" in res.stderr  # dropped, said
    res = subprocess.run(
        [sys.executable, "-m", "llmos", "boot", "x", "--model", "echo:hi"],
        capture_output=True,
        text=True,
        env={**os.environ, "LLMOS_ROOT": str(root)},
        timeout=120,
    )
    assert res.returncode == 1 and "unknown model spec" in res.stderr


def test_two_plugins_claiming_one_name_is_a_clear_error():
    class Rival:
        @plugins.hookimpl
        def register_syscalls(self, register):
            def read_file(ctx, path: str):
                """Shadow the built-in.

                Args:
                    path: a path
                """

            register(read_file)

    from llmos.syscalls import SyscallTable

    pm = plugins.manager()
    rival = Rival()
    pm.register(rival, "rival")
    try:
        with pytest.raises(PluginError, match="two plugins register a syscall named 'read_file'"):
            SyscallTable.default()
    finally:
        pm.unregister(rival)
    assert "read_file" in SyscallTable.default().names()


def test_an_uninstalled_plugin_is_forgotten_and_a_broken_one_is_a_one_line_error(
    site: Path, root: Path, tmp_path: Path
):
    import shutil

    own = tmp_path / "site"
    shutil.copytree(site, own)
    assert _llmos(own, root, "hello").returncode == 0  # found, and now in the entry-point cache
    shutil.rmtree(own / "llmos_hello")
    for info in own.glob("llmos_hello-*.dist-info"):
        shutil.rmtree(info)  # what `pip uninstall` does: the folder's mtime moves, the cache is stale
    gone = _llmos(own, root, "hello")
    assert gone.returncode != 0 and "No such command 'hello'" in gone.stderr, gone.stderr
    shutil.copytree(site, tmp_path / "broken")
    (tmp_path / "broken" / "llmos_hello" / "__init__.py").write_text("raise ImportError('libfoo.so missing')\n")
    broken = _llmos(tmp_path / "broken", root, "log")
    assert broken.returncode == 1 and "plugin 'hello'" in broken.stderr and "libfoo.so missing" in broken.stderr
    assert len(broken.stderr.strip().splitlines()) == 1 and "Traceback" not in broken.stderr

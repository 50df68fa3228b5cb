import os
from pathlib import Path

import pytest

from llmos.errors import RootError
from llmos.root import find_root, init_root
from helpers import git, run_llmos_process


def test_init_writes_template_and_commits(tmp_path: Path):
    root = init_root(tmp_path / "myos")
    for rel in (
        "system/llmos.yaml",
        "system/agents/orchestrator.md",
        "system/prompts/agent.md",
        "agents/assistant.md",
        "agents/assistant.soul.md",
        "memory/beta",
        "memory/alpha",
        "memory/delta",
        "memory/working",
        "traces",
        "crystallized",
        "projects",
    ):
        assert (root / rel).exists(), rel
    assert ".llmos/" in (root / ".gitignore").read_text()
    assert git(root, "log", "--format=%s").strip() == "llmos: init"
    assert git(root, "status", "--porcelain") == ""
    tracked = git(root, "ls-files").split()
    assert "memory/beta/.gitkeep" in tracked and "system/llmos.yaml" in tracked


def test_init_refuses_non_empty_folder(tmp_path: Path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(RootError, match="not empty"):
        init_root(tmp_path / "busy")
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"


def test_find_root_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    a, b = init_root(tmp_path / "a"), init_root(tmp_path / "b")
    deep = a / "projects" / "x" / "y"
    deep.mkdir(parents=True)
    monkeypatch.delenv("LLMOS_ROOT", raising=False)
    assert find_root(cwd=deep) == a  # walking up
    monkeypatch.setenv("LLMOS_ROOT", str(b))
    assert find_root(cwd=deep) == b  # env beats walking
    assert find_root(str(a), cwd=deep) == a  # --root beats env


def test_missing_root_is_a_one_line_error(tmp_path: Path):
    res = run_llmos_process("boot", "do something", env={"LLMOS_ROOT": str(tmp_path / "nowhere")})
    assert res.returncode == 1
    assert res.stderr.strip().startswith("error: LLMOS_ROOT points at")
    assert "llmos init" in res.stderr and "Traceback" not in res.stderr


def test_no_root_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("LLMOS_ROOT", raising=False)
    with pytest.raises(RootError, match="no llmos root"):
        find_root(cwd=tmp_path)


def test_cli_init_then_check(tmp_path: Path):
    res = run_llmos_process("init", str(tmp_path / "fresh"))
    assert res.returncode == 0, res.stderr
    res = run_llmos_process("check", root=tmp_path / "fresh")
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.startswith("ok:")


HELP_EVERY_COMMAND = """
import sys
import click
from click.testing import CliRunner
import llmos
from llmos.cli import cli

def walk(group, path):
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        yield path + [name]
        if isinstance(cmd, click.Group):
            yield from walk(cmd, path + [name])

runner = CliRunner()
paths = [[]] + list(walk(cli, []))
for p in paths:
    res = runner.invoke(cli, p + ["--help"])
    assert res.exit_code == 0 and "Usage:" in res.output, (p, res.output)
print(llmos.__file__)
print(len(paths))
"""


def test_the_wheel_is_whole_and_works_from_a_fresh_environment(tmp_path: Path):
    """`pip wheel .` carries every module and the template; installed alone into a new virtual
    environment (no editable checkout on its path), its commands work."""
    import shutil
    import subprocess
    import sys
    import zipfile

    repo = Path(__file__).resolve().parents[1]
    src = tmp_path / "src"  # a copy, so the build's egg-info and build/ never land in the checkout
    for name in ("kernel", "system", "agents"):
        shutil.copytree(repo / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy2(repo / name, src / name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(src),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next((tmp_path / "dist").glob("llmos-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {"llmos/" + p.relative_to(repo / "kernel").as_posix() for p in (repo / "kernel").rglob("*.py")}
    assert modules - names == set(), "modules missing from the wheel"
    for rel in (
        "llmos/_template/system/llmos.yaml",
        "llmos/_template/agents/assistant.md",
        "llmos/_template/system/prompts/local.md",
    ):
        assert rel in names, rel

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    py, llmos = venv / "bin" / "python", venv / "bin" / "llmos"
    subprocess.run(
        [py, "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    env = {k: v for k, v in os.environ.items() if k != "LLMOS_ROOT"}

    def run(*args: str, **kw) -> subprocess.CompletedProcess:
        res = subprocess.run([*args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, **kw)
        assert res.returncode == 0, (args, res.stdout, res.stderr)
        return res

    where, count = run(py, "-c", HELP_EVERY_COMMAND).stdout.split()
    assert Path(where).is_relative_to(venv), where  # the wheel's llmos, not the checkout's
    assert int(count) > 25
    run(llmos, "init", str(tmp_path / "os"))
    assert run(llmos, "--root", str(tmp_path / "os"), "check").stdout.startswith("ok:")
    run(llmos, "--root", str(tmp_path / "os"), "dream", "--dry-run")

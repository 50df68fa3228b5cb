from pathlib import Path

import pytest

from llmos.errors import RootError
from llmos.root import find_root, init_root
from helpers import git, run_llmos


def test_init_writes_template_and_commits(tmp_path: Path):
    root = init_root(tmp_path / "myos")
    for rel in ("system/llmos.yaml", "system/agents/orchestrator.md", "system/prompts/agent.md",
                "agents/assistant.md", "agents/assistant.soul.md", "memory/beta", "memory/alpha",
                "memory/delta", "memory/working", "traces", "crystallized", "projects"):
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
    assert find_root(cwd=deep) == a                      # walking up
    monkeypatch.setenv("LLMOS_ROOT", str(b))
    assert find_root(cwd=deep) == b                      # env beats walking
    assert find_root(str(a), cwd=deep) == a              # --root beats env


def test_missing_root_is_a_one_line_error(tmp_path: Path):
    res = run_llmos("boot", "do something", env={"LLMOS_ROOT": str(tmp_path / "nowhere")})
    assert res.returncode == 1
    assert res.stderr.strip().startswith("error: LLMOS_ROOT points at")
    assert "llmos init" in res.stderr and "Traceback" not in res.stderr


def test_no_root_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("LLMOS_ROOT", raising=False)
    with pytest.raises(RootError, match="no llmos root"):
        find_root(cwd=tmp_path)


def test_cli_init_then_check(tmp_path: Path):
    res = run_llmos("init", str(tmp_path / "fresh"))
    assert res.returncode == 0, res.stderr
    res = run_llmos("check", root=tmp_path / "fresh")
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.startswith("ok:")


def test_wheel_carries_the_template(tmp_path: Path):
    """`llmos init` must work from an installed wheel, not only from the checkout."""
    import subprocess
    import sys
    import zipfile

    repo = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path), str(repo)], check=True, capture_output=True, timeout=300)
    wheel = next(tmp_path.glob("llmos-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for rel in ("llmos/_template/system/llmos.yaml", "llmos/_template/agents/assistant.md",
                "llmos/_template/system/prompts/local.md", "llmos/cli.py"):
        assert rel in names, rel

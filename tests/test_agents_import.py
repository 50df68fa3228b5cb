"""llmos agents import: a collection copied into agents/, a report per file, one commit."""

import json
import subprocess
from pathlib import Path

from helpers import run_llmos

CORPUS = Path(__file__).parent / "corpus" / "claude_code"


def test_importing_the_corpus_loads_every_file_reports_mappings_and_commits(root: Path):
    res = run_llmos("agents", "import", str(CORPUS), "--json", root=root)
    assert res.returncode == 0, res.stdout + res.stderr
    report = json.loads(res.stdout)
    files = {Path(f["source"]).relative_to(CORPUS).as_posix(): f for f in report["files"]}
    assert "README.md" not in files and all(f["status"] == "loaded" for f in files.values())
    every = files["every-tool.md"]
    assert every["mapped"]["Grep"] == "grep" and every["mapped"]["Task"] == "delegate"
    assert any("'NotebookEdit'" in n for n in every["notes"])
    assert files["plugins/context-tools/agents/context-manager.md"]["path"] == (
        "agents/claude_code/plugins/context-tools/agents/context-manager.md"
    )
    log = subprocess.run(["git", "log", "-1", "--format=%s%n%b"], cwd=root, capture_output=True, text=True).stdout
    assert f"import {len(files)} agent file(s) from claude_code" in log and report["commit"]
    status = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True).stdout
    assert "agents/" not in status
    listed = run_llmos("agents", "--json", root=root)
    assert "agent-orchestration-context-manager" in {r["name"] for r in json.loads(listed.stdout)}


def test_a_second_import_skips_what_is_there_and_a_bad_file_exits_1(root: Path, tmp_path: Path):
    one = tmp_path / "one.md"
    one.write_text("---\nname: one\ndescription: d\ntools: Read, Bash\n---\nbody\n")
    first = run_llmos("agents", "import", str(one), root=root)
    assert first.returncode == 0 and "loaded   one  agents/one.md" in first.stdout and "Bash->bash" in first.stdout
    again = run_llmos("agents", "import", str(one), root=root)
    assert "skipped" in again.stdout and "nothing committed" in again.stdout
    bad = tmp_path / "bad.md"
    bad.write_text("---\nname: bad\n---\nbody\n")
    res = run_llmos("agents", "import", str(bad), root=root)
    assert res.returncode == 1 and "description: required field is missing" in res.stdout

"""Commands that check or verify exit non-zero when they find damage, through the real `llmos` entry
point (which runs click with standalone_mode=False), with and without --json; and the kill switch
when something other than a file is named HALT."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import run_llmos
from llmos.blobs import BlobStore
from llmos.budget.ledger import ledger_path
from llmos.errors import Halted, RootError
from llmos.halt import check_halt, halt, halt_path, halt_reason, resume


def damaged_store(root: Path) -> str:
    """A store under ``root`` with one blob whose pack bytes were flipped; returns the pack's name."""
    with BlobStore.open(root / ".llmos" / "blobs") as store:
        store.put("a blob that will be damaged " * 20, "result", agent="writer")
    pack = next((root / ".llmos" / "blobs" / "packs").glob("*.pack"))
    data = bytearray(pack.read_bytes())
    data[-10] ^= 0xFF
    pack.write_bytes(bytes(data))
    return pack.stem


# -- llmos blobs check ----------------------------------------------------------------------------


def test_blobs_check_exits_0_on_a_sound_store(root: Path):
    with BlobStore.open(root / ".llmos" / "blobs") as store:
        store.put("a sound blob " * 20, "result", agent="writer")
    res = run_llmos("blobs", "check", "--read-data", root=root)
    assert res.returncode == 0 and res.stdout.strip().endswith("ok")


@pytest.mark.parametrize("flags", [[], ["--read-data"], ["--json"], ["--read-data", "--json"]])
def test_blobs_check_exits_1_on_damage(root: Path, flags: list[str]):
    pack = damaged_store(root)
    res = run_llmos("blobs", "check", *flags, root=root)
    assert res.returncode == 1, res.stdout
    if "--json" in flags:
        report = json.loads(res.stdout)
        assert report["ok"] is False and report["problems"][0]["pack"] == pack
    else:
        assert f"problem: pack {pack}, offset" in res.stdout and res.stdout.strip().endswith("1 problems")


# -- llmos budget verify, llmos check -------------------------------------------------------------


def test_budget_verify_exits_1_on_a_broken_chain(root: Path):
    from llmos.budget.config import BudgetConfig
    from llmos.budget.gate import Budget

    budget = Budget(root, BudgetConfig())
    for _ in range(2):
        with budget.spend(run_id="r", agent="a", model="local", input_tokens=10, max_output_tokens=10) as charge:
            charge.settle(input_tokens=10, output_tokens=10)
    assert run_llmos("budget", "verify", root=root).returncode == 0
    ledger = ledger_path(root)
    ledger.write_text(ledger.read_text().replace('"input_tokens":10', '"input_tokens":1', 1))
    res = run_llmos("budget", "verify", root=root)
    assert res.returncode == 1 and "BROKEN" in res.stdout


def test_check_exits_1_on_an_error_and_0_on_warnings_only(root: Path):
    (root / "system" / "llmos.yaml").write_text("format: llmos-config/1\n")  # no ceilings: a warning
    res = run_llmos("check", root=root)
    assert res.returncode == 0 and "warning:" in res.stderr
    (root / "agents" / "x.md").write_text("---\nname: x\n---\n")
    assert run_llmos("check", root=root).returncode == 1


# -- HALT that is not a file ----------------------------------------------------------------------


def test_an_empty_halt_directory_halts_and_resume_removes_it(root: Path):
    halt_path(root).mkdir()
    with pytest.raises(Halted, match="HALT is a directory"):
        check_halt(root)
    boot = run_llmos("boot", "hello", "--model", "scripted:/nonexistent.yaml", root=root)
    assert boot.returncode == 1 and "is halted" in boot.stderr
    res = run_llmos("resume", root=root)
    assert res.returncode == 0 and "resumed" in res.stdout, res.stderr
    assert not halt_path(root).exists()
    check_halt(root)


def test_a_halt_directory_with_files_is_left_and_resume_says_what_to_remove(root: Path):
    halt_path(root).mkdir()
    (halt_path(root) / "notes.txt").write_text("why we stopped")
    res = run_llmos("resume", root=root)
    assert res.returncode == 1, res.stderr
    assert "internal error" not in res.stderr
    assert f"{halt_path(root)} is a directory holding files" in res.stderr and "rm -r" in res.stderr
    assert (halt_path(root) / "notes.txt").exists()  # nothing a person wrote is deleted
    with pytest.raises(RootError):
        resume(root)
    assert halt_reason(root) is not None  # still halted: fail closed


def test_halt_over_a_halt_directory_is_a_clear_error_and_stays_halted(root: Path):
    halt_path(root).mkdir()
    res = run_llmos("halt", "--reason", "stop", root=root)
    assert res.returncode == 1 and "internal error" not in res.stderr
    assert "is a directory: the root is halted all the same" in res.stderr
    assert not [p for p in root.iterdir() if p.name.startswith(".HALT")]  # no temp file left behind
    with pytest.raises(Halted):
        check_halt(root)


def test_a_broken_link_named_halt_halts(tmp_path: Path):
    halt_path(tmp_path).symlink_to(tmp_path / "gone")
    with pytest.raises(Halted, match="link to nothing"):
        check_halt(tmp_path)
    assert resume(tmp_path) is True
    check_halt(tmp_path)
    halt(tmp_path, "again")  # and the switch still works
    with pytest.raises(Halted, match="again"):
        check_halt(tmp_path)

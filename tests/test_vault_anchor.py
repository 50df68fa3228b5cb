"""The vault's head is anchored in the ledger: a deleted or replaced newest snapshot is reported by
``verify``, and ``snapshot`` never deletes what is left of one."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from llmos import vault
from llmos.budget.ledger import Ledger
from llmos.cli.context import Obj
from llmos.cli.guard import vault as vault_cmd
from llmos.errors import LedgerBroken, VaultError
from llmos.vault import VaultConfig
from llmos.vault.snapshots import header_hash

sys.path.insert(0, str(Path(__file__).parent))
import test_vault  # noqa: E402

root = test_vault.root  # the same small OS root: tracked files, a ledger with one charge, blobs
LEDGER_OWN = ("v", "seq", "ts", "prev", "hash")


def objects(root: Path) -> Path:
    return root / ".llmos" / "vault" / "snapshots"


def verify_cli(root: Path) -> tuple[int, str]:
    class Config:
        vault = VaultConfig()

    out = CliRunner().invoke(vault_cmd, ["verify"], obj=Obj(root=root, config=Config()))
    return out.exit_code, out.output


def anchors(root: Path) -> list[dict]:
    return [e for e in Ledger(root).entries() if e["type"] == "vault-head"]


def drop_anchors(root: Path, last_only: bool = False) -> None:
    """Rewrite the ledger (a valid chain) without its vault anchors, or without the newest one:
    a vault made before anchoring, or a snapshot killed after its manifest but before its anchor."""
    entries = Ledger(root).entries()
    heads = [e for e in entries if e["type"] == "vault-head"]
    dropped = heads[-1:] if last_only else heads
    ledger = root / ".llmos" / "ledger.jsonl"
    ledger.unlink()
    fresh = Ledger(root)
    with fresh.locked():
        for e in entries:
            if e not in dropped:
                fresh.append({k: v for k, v in e.items() if k not in LEDGER_OWN})
    assert Ledger(root).verify().ok


def vault_problems(root: Path) -> list[str]:
    return [p for r in vault.verify(root) if r.id == "vault" for p in r.problems]


def test_deleted_head_manifest_fails_verify_and_names_it(root):
    a, b = vault.snapshot(root), vault.snapshot(root)
    (objects(root) / f"{b.id}.sealed.manifest.json").unlink()
    assert [s.id for s in vault.list_snapshots(root)] == [a.id]  # the chain up to a still holds
    problems = vault_problems(root)
    assert any("head manifest missing" in p and b.id in p for p in problems), problems
    code, output = verify_cli(root)
    assert code == 1 and "head manifest missing" in output and b.id in output, output
    assert anchors(root)[-1]["vault_hash"] == b.hash and Ledger(root).verify().ok  # the budget's chain holds


def test_deleted_head_snapshot_is_an_anchor_ahead_of_the_vault(root):
    a, b = vault.snapshot(root), vault.snapshot(root)
    for p in objects(root).glob(f"{b.id}.*"):
        p.unlink()
    problems = vault_problems(root)
    assert any("anchor ahead of the vault" in p and b.id in p and "#0" in p for p in problems), problems
    assert verify_cli(root)[0] == 1
    for p in objects(root).glob(f"{a.id}.*"):  # all of them: the vault is empty
        p.unlink()
    assert any("anchor ahead" in p and "empty" in p for p in vault_problems(root))
    assert verify_cli(root)[0] == 1


def test_forged_head_manifest_fails_verify(root):
    a, b = vault.snapshot(root), vault.snapshot(root)
    path = objects(root) / f"{b.id}.sealed.manifest.json"
    forged = json.loads(path.read_text())
    forged["label"] = "forged"
    forged["hash"] = header_hash(forged)  # self-consistent: its own hash and its prev both check out
    path.chmod(0o644)
    path.write_text(json.dumps(forged, indent=1) + "\n")
    results = {r.id: r for r in vault.verify(root)}
    assert results[a.id].ok and results[b.id].ok  # nothing inside the vault tells
    assert any("head replaced" in p and "#1" in p for p in results["vault"].problems), results["vault"]
    code, output = verify_cli(root)
    assert code == 1 and "head replaced" in output
    with pytest.raises(VaultError, match="head replaced"):  # nothing is chained onto a forged head
        vault.snapshot(root)


def test_next_snapshot_does_not_delete_the_orphaned_archive(root):
    a, b = vault.snapshot(root), vault.snapshot(root)
    (objects(root) / f"{b.id}.sealed.manifest.json").unlink()
    with pytest.raises(VaultError, match="head manifest missing") as caught:
        vault.snapshot(root)
    assert b.id in str(caught.value) and "llmos vault verify" in str(caught.value)
    assert (objects(root) / f"{b.id}.sealed.tar.zst").exists()
    assert (objects(root) / f"{b.id}.sealed.files.jsonl").exists()
    assert [s.id for s in vault.list_snapshots(root)] == [a.id]


def test_reanchor_accepts_a_loss_once_its_archive_is_moved_out(root, tmp_path):
    a, b = vault.snapshot(root), vault.snapshot(root)
    (objects(root) / f"{b.id}.sealed.manifest.json").unlink()
    with pytest.raises(VaultError, match="still in the vault"):
        vault.reanchor(root, "manifest lost")
    kept = tmp_path / "kept"
    kept.mkdir()
    for p in objects(root).glob(f"{b.id}.*"):
        shutil.move(p, kept / p.name)
    with pytest.raises(VaultError, match="reason"):
        vault.reanchor(root, "  ")
    head = vault.reanchor(root, "manifest lost with the old disk")
    assert (head.seq, head.hash, head.id) == (0, a.hash, a.id)
    assert all(r.ok for r in vault.verify(root))
    with pytest.raises(VaultError, match="nothing to accept"):
        vault.reanchor(root, "again")
    c = vault.snapshot(root)
    assert c.seq == 1 and c.prev == a.hash
    history = anchors(root)  # append-only: the loss stays on record
    assert [(e["vault_id"], e.get("reason")) for e in history] == [
        (a.id, None),
        (b.id, None),
        (a.id, "manifest lost with the old disk"),
        (c.id, None),
    ]


def test_crash_leftovers_are_still_cleaned(root):
    a, b = vault.snapshot(root), vault.snapshot(root)
    drop_anchors(root, last_only=True)  # b was killed after its manifest, before its anchor
    leftovers = [objects(root) / f"20000101-000000-dead{s}" for s in (".sealed.tar.zst", ".sealed.files.jsonl")]
    for p in leftovers:  # a snapshot killed between its puts: never anchored
        p.write_bytes(b"half")
    assert all(r.ok for r in vault.verify(root))
    c = vault.snapshot(root)
    assert (c.seq, c.prev) == (2, b.hash)
    assert not any(p.exists() for p in leftovers)
    assert [s.id for s in vault.list_snapshots(root)] == [a.id, b.id, c.id]
    assert [(e["vault_seq"], e["vault_hash"], e["vault_id"]) for e in anchors(root)] == [
        (0, a.hash, a.id),
        (2, c.hash, c.id),
    ]
    assert all(r.ok for r in vault.verify(root))


def test_old_vault_without_anchor_still_verifies(root):
    a = vault.snapshot(root)
    drop_anchors(root)  # as made before anchoring
    b = vault.snapshot(root)
    drop_anchors(root)
    assert anchors(root) == []
    assert all(r.ok for r in vault.verify(root)) and verify_cli(root)[0] == 0
    c = vault.snapshot(root)  # the anchor starts here
    assert c.prev == b.hash and [e["vault_id"] for e in anchors(root)] == [c.id]
    assert all(r.ok for r in vault.verify(root))
    (objects(root) / f"{c.id}.sealed.manifest.json").unlink()
    assert any("head manifest missing" in p for p in vault_problems(root))
    assert a.id in {s.id for s in vault.list_snapshots(root)}


def test_broken_ledger_fails_verify_and_stops_snapshots(root):
    vault.snapshot(root)
    ledger = root / ".llmos" / "ledger.jsonl"
    ledger.write_text(ledger.read_text().replace('"local"', '"locaL"', 1))
    assert any("cannot compare the vault with its anchor" in p for p in vault_problems(root))
    assert verify_cli(root)[0] == 1
    with pytest.raises(LedgerBroken):
        vault.snapshot(root)

"""Vault: sealed snapshots of a real git root, tampering, SIGKILL, restore, retention."""

from __future__ import annotations

import io
import json
import os
import signal
import stat
import subprocess
import sys
import tarfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import zstandard
from click.testing import CliRunner

from llmos.cli.context import Obj

from llmos import vault
from llmos.budget.config import BudgetConfig
from llmos.budget.gate import Budget
from llmos.cli.guard import budget as budget_cmd
from llmos.cli.guard import vault as vault_cmd
from llmos.errors import VaultError
from llmos.vault import Vault, VaultConfig

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], check=True, capture_output=True, text=True, env={**os.environ, **GIT_ENV}
    ).stdout


def commit_all(root: Path, msg: str = "commit") -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", msg)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A small OS root: tracked files (one executable, one symlink), a ledger and blobs."""
    r = tmp_path / "root"
    (r / "agents").mkdir(parents=True)
    (r / "system").mkdir()
    (r / "system" / "llmos.yaml").write_text("budget: {}\n")
    (r / "agents" / "writer.md").write_text("---\nname: writer\n---\nWrite well.\n")
    (r / "tool.sh").write_text("#!/bin/sh\necho hi\n")
    (r / "tool.sh").chmod(0o755)
    (r / "bin.dat").write_bytes(bytes(range(256)) * 40)
    os.symlink("agents/writer.md", r / "latest")
    (r / ".gitignore").write_text(".llmos/\n")
    git(r, "init", "-q")
    commit_all(r, "init")
    (r / ".llmos" / "blobs" / "ab").mkdir(parents=True)
    (r / ".llmos" / "blobs" / "ab" / "cdef").write_bytes(b"blob bytes \x00\x01")
    budget = Budget(r, BudgetConfig(), alert_stream=io.StringIO())
    with budget.spend(run_id="r", agent="a", model="local", input_tokens=1, max_output_tokens=1) as charge:
        charge.settle(input_tokens=1, output_tokens=1)
    return r


def expected_files(r: Path) -> dict[str, tuple[bytes, bool, bool]]:
    """path -> (bytes or link target, executable, symlink) of HEAD plus ledger and blobs."""
    out = {}
    for path in git(r, "ls-files").split():
        p = r / path
        link = p.is_symlink()
        data = os.readlink(p).encode() if link else p.read_bytes()
        out[path] = (data, not link and bool(p.stat().st_mode & stat.S_IXUSR), link)
    for p in [r / ".llmos" / "ledger.jsonl", r / ".llmos" / "blobs" / "ab" / "cdef"]:
        out[p.relative_to(r).as_posix()] = (p.read_bytes(), False, False)
    return out


def tree_files(d: Path) -> dict[str, tuple[bytes, bool, bool]]:
    out = {}
    for dirpath, _, names in os.walk(d):
        for n in names:
            p = Path(dirpath) / n
            link = p.is_symlink()
            data = os.readlink(p).encode() if link else p.read_bytes()
            out[p.relative_to(d).as_posix()] = (data, not link and bool(p.stat().st_mode & stat.S_IXUSR), link)
    return out


def test_snapshot_seals_head_ledger_and_blobs(root):
    (root / "agents" / "writer.md").write_text("uncommitted edit\n")  # not sealed
    info = vault.snapshot(root, label="first")
    assert info.seq == 0 and info.prev is None and info.label == "first"
    objects = sorted((root / ".llmos" / "vault" / "snapshots").iterdir())
    assert [p.name.split(".", 1)[1] for p in objects] == [
        "sealed.files.jsonl",
        "sealed.manifest.json",
        "sealed.tar.zst",
    ]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o444 for p in objects)
    manifest = json.loads(objects[1].read_text())
    assert manifest["sealed"] is True and "SEALED" in manifest["notice"]
    assert manifest["commit"] == git(root, "rev-parse", "HEAD").strip()
    listed = [json.loads(x)["path"] for x in objects[0].read_text().splitlines()]
    assert set(listed) == {
        ".gitignore",
        "agents/writer.md",
        "bin.dat",
        "latest",
        "system/llmos.yaml",
        "tool.sh",
        ".llmos/ledger.jsonl",
        ".llmos/blobs/ab/cdef",
    }
    second = vault.snapshot(root)
    assert second.seq == 1 and second.prev == info.hash
    assert [s.id for s in vault.list_snapshots(root)] == [info.id, second.id]
    assert all(r.ok for r in vault.verify(root, "all"))


def test_restore_is_byte_identical(root, tmp_path):
    want = expected_files(root)  # the ledger as sealed: the snapshot's anchor is appended after it
    info = vault.snapshot(root)
    dest = tmp_path / "restored"
    vault.restore(root, info.id[:12], dest)
    assert tree_files(dest) == want
    with pytest.raises(VaultError, match="not an empty directory"):
        vault.restore(root, info.id, dest)
    with pytest.raises(VaultError, match="no snapshot"):
        vault.restore(root, "nope", tmp_path / "x")


def rewrite_archive(root: Path, ident: str, edit) -> None:
    """Repack a snapshot's archive with ``edit(members) -> members`` (what a tamperer would do)."""
    path = root / ".llmos" / "vault" / "snapshots" / f"{ident}.sealed.tar.zst"
    raw = zstandard.ZstdDecompressor().decompressobj().decompress(path.read_bytes())
    members = []
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        for m in tar:
            members.append((m, tar.extractfile(m).read() if m.isfile() else None))
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for m, data in edit(members):
            m.size = len(data) if data is not None else 0
            tar.addfile(m, io.BytesIO(data) if data is not None else None)
    path.chmod(0o644)
    path.write_bytes(zstandard.ZstdCompressor().compress(out.getvalue()))


def test_verify_names_changed_missing_and_added_files(root):
    info = vault.snapshot(root)

    def tamper(members):
        out = []
        for m, data in members:
            if m.name == "bin.dat":
                data = bytes([data[0] ^ 1]) + data[1:]  # one flipped bit
            if m.name == "agents/writer.md":
                continue  # deleted
            out.append((m, data))
        extra = tarfile.TarInfo("agents/planted.md")
        return out + [(extra, b"planted\n")]

    rewrite_archive(root, info.id, tamper)
    [result] = vault.verify(root, info.id)
    assert not result.ok
    assert (result.changed, result.missing, result.added) == (["bin.dat"], ["agents/writer.md"], ["agents/planted.md"])
    assert any("changed: bin.dat" in line for line in result.lines())
    with pytest.raises(VaultError, match="bin.dat"):
        vault.restore(root, info.id, root.parent / "out")


def test_verify_catches_raw_damage_and_edited_manifests(root):
    first, second = vault.snapshot(root), vault.snapshot(root)
    snaps = root / ".llmos" / "vault" / "snapshots"
    archive = snaps / f"{first.id}.sealed.tar.zst"
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    archive.chmod(0o644)
    archive.write_bytes(bytes(data))
    listing = snaps / f"{second.id}.sealed.files.jsonl"
    listing.chmod(0o644)
    listing.write_text(listing.read_text().replace('"size":', '"size": ', 1))
    results = {r.id: r for r in vault.verify(root)}
    assert not results[first.id].ok and results[first.id].problems
    assert any("file list" in p for p in results[second.id].problems)
    manifest = snaps / f"{first.id}.sealed.manifest.json"
    manifest.chmod(0o644)
    manifest.write_text(manifest.read_text().replace('"label": null', '"label": "forged"'))
    results = {r.id: r for r in vault.verify(root)}
    assert any("manifest was edited" in p for p in results[first.id].problems)


def test_snapshot_killed_midway_leaves_no_half_snapshot(root):
    earlier = vault.snapshot(root)
    for i in range(50):
        (root / "agents" / f"bulk{i}.md").write_bytes(os.urandom(20_000))
    commit_all(root, "bulk")
    fifo = root / ".llmos" / "blobs" / "zz" / "stuck"
    fifo.parent.mkdir()
    os.mkfifo(fifo)  # reading it blocks: the snapshot is stuck mid-archive, like a slow disk
    script = f"from llmos import vault; vault.snapshot({str(root)!r})"
    proc = subprocess.Popen([sys.executable, "-c", script])
    staging = root / ".llmos" / "vault" / ".staging"

    def started() -> bool:  # the snapshot clears leftovers first: the folder may come and go
        return staging.is_dir() and any(p.name.endswith(".tar.zst") for p in os.scandir(staging))

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if started():
                break
        except FileNotFoundError:
            pass
        time.sleep(0.01)
    time.sleep(0.3)
    try:
        assert started(), "the snapshot never started"
    finally:  # never leave the child blocked on the fifo behind a failed test
        proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=10) == -signal.SIGKILL
    fifo.unlink()
    assert [s.id for s in vault.list_snapshots(root)] == [earlier.id]
    assert all(r.ok for r in vault.verify(root))
    # A leftover of a snapshot killed between its puts is not listed and is cleaned up too.
    orphan = root / ".llmos" / "vault" / "snapshots" / "20000101-000000-dead.sealed.tar.zst"
    orphan.write_bytes(b"half")
    assert [s.id for s in vault.list_snapshots(root)] == [earlier.id]
    after = vault.snapshot(root)
    assert after.seq == 1 and after.prev == earlier.hash
    assert not orphan.exists() and not list(staging.iterdir())
    assert all(r.ok for r in vault.verify(root))


def test_prune_refuses_unexpired_and_keeps_hot(root):
    cfg = VaultConfig(retention_days=30, keep_hot=1)
    a, b, c = (vault.snapshot(root, config=cfg) for _ in range(3))
    assert vault.prune(root, cfg) == []
    with pytest.raises(VaultError, match="retained until"):
        vault.prune(root, cfg, ids=[a.id])
    assert len(vault.list_snapshots(root, cfg)) == 3
    later = datetime.now(timezone.utc) + timedelta(days=31)
    with pytest.raises(VaultError, match="keep_hot"):
        vault.prune(root, cfg, ids=[c.id], now=later)
    assert vault.prune(root, cfg, now=later) == [a.id, b.id]
    assert [s.id for s in vault.list_snapshots(root, cfg)] == [c.id]
    assert all(r.ok for r in vault.verify(root, config=cfg))  # chain holds across tombstones
    d = vault.snapshot(root, config=cfg)
    assert d.seq == 3 and d.prev == c.hash


def test_deleting_a_snapshot_by_hand_breaks_the_chain(root):
    a, b = vault.snapshot(root), vault.snapshot(root)
    for p in (root / ".llmos" / "vault" / "snapshots").glob(f"{a.id}.*"):
        p.unlink()
    [result] = vault.verify(root)
    assert result.id == b.id and any("chain broken" in p for p in result.problems)


def test_snapshot_due_and_vault_elsewhere(root, tmp_path):
    cfg = VaultConfig(path=tmp_path / "other-disk", interval_days=7)
    assert vault.snapshot_due(root, cfg)
    vault.snapshot(root, config=cfg)
    assert (tmp_path / "other-disk" / "SEALED-README.txt").exists()
    assert not (root / ".llmos" / "vault").exists()
    assert not vault.snapshot_due(root, cfg)
    assert Vault(root, cfg).due(now=datetime.now(timezone.utc) + timedelta(days=8))
    assert not vault.snapshot_due(root, VaultConfig(interval_days=None))


def test_nothing_committed_is_an_error(tmp_path):
    git(tmp_path, "init", "-q")
    with pytest.raises(VaultError, match="commit"):
        vault.snapshot(tmp_path)


def test_cli_vault_and_budget(root, tmp_path):
    class Config:
        budget = BudgetConfig(per_day=1.0)
        vault = VaultConfig(retention_days=1)

    obj = Obj(root=root, config=Config())
    runner = CliRunner()
    out = runner.invoke(vault_cmd, ["snapshot", "--label", "cli"], obj=obj)
    assert out.exit_code == 0 and "sealed" in out.output, out.output
    ident = vault.list_snapshots(root)[0].id
    assert ident in runner.invoke(vault_cmd, ["list"], obj=obj).output
    assert runner.invoke(vault_cmd, ["verify", "--all"], obj=obj).exit_code == 0
    assert runner.invoke(vault_cmd, ["restore", ident, str(tmp_path / "r")], obj=obj).exit_code == 0
    out = runner.invoke(vault_cmd, ["prune", ident], obj=obj)
    assert out.exit_code != 0 and isinstance(out.exception, VaultError)
    rewrite_archive(root, ident, lambda ms: [(m, d) for m, d in ms if m.name != "bin.dat"])
    out = runner.invoke(vault_cmd, ["verify", ident], obj=obj)
    assert out.exit_code == 1 and "missing: bin.dat" in out.output
    out = runner.invoke(budget_cmd, [], obj=obj)
    assert out.exit_code == 0 and "per_day" in out.output and "local" in out.output, out.output
    assert json.loads(runner.invoke(budget_cmd, ["--json"], obj=obj).output)["by_model"]["local"]
    out = runner.invoke(budget_cmd, ["verify"], obj=obj)
    assert out.exit_code == 0 and "chain intact" in out.output
    ledger = root / ".llmos" / "ledger.jsonl"
    ledger.write_text(ledger.read_text().replace('"local"', '"locaL"', 1))
    out = runner.invoke(budget_cmd, ["verify"], obj=obj)
    assert out.exit_code == 1 and "BROKEN at line" in out.output

"""``llmos blobs stats | check | gc`` over a real store in a temporary root."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from llmos.cli.context import Obj

from llmos.blobs import BlobStore, ref
from llmos.cli.blobs import blobs


def make_root(tmp_path: Path) -> tuple[Path, str, str]:
    with BlobStore.open(tmp_path / ".llmos" / "blobs") as s:
        kept = s.put("referenced by a trace " * 10, "result", agent="writer")
        dropped = s.put("referenced by nothing " * 10, "result", agent="writer")
    (tmp_path / "traces").mkdir()
    (tmp_path / "traces" / "t.md").write_text(f"result: {ref(kept)}\n")
    return tmp_path, kept, dropped


def run(root: Path, *args: str):
    return CliRunner().invoke(blobs, list(args), obj=Obj(root=root))


def test_stats_json_and_text(tmp_path: Path) -> None:
    root, _, _ = make_root(tmp_path)
    out = run(root, "stats", "--json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["blobs"] == 2
    text = run(root, "stats")
    assert "dedup" in text.output and "writer" in text.output
    assert "repacked 0% (`llmos blobs repack` does the rest)" in text.output


def test_check_passes_then_fails_on_damage(tmp_path: Path) -> None:
    root, kept, _ = make_root(tmp_path)
    ok = run(root, "check", "--read-data")
    assert ok.exit_code == 0 and ok.output.strip().endswith("ok")
    pack = next((root / ".llmos" / "blobs" / "packs").glob("*.pack"))
    data = bytearray(pack.read_bytes())
    data[-10] ^= 0xFF
    pack.write_bytes(bytes(data))
    bad = run(root, "check", "--json")
    assert bad.exit_code == 1
    problems = json.loads(bad.output)["problems"]
    assert problems and problems[0]["pack"] == pack.stem


def test_gc_dry_run_then_collect(tmp_path: Path) -> None:
    root, kept, dropped = make_root(tmp_path)
    dry = run(root, "gc", "--dry-run", "--grace", "0", "--json")
    assert dry.exit_code == 0 and json.loads(dry.output)["garbage_blobs"] == 1
    done = run(root, "gc", "--grace", "0")
    assert done.exit_code == 0 and "freed" in done.output
    with BlobStore.open(root / ".llmos" / "blobs") as s:
        assert s.has(kept) and not s.has(dropped)


def test_repack_recompresses_and_keeps_every_blob(tmp_path: Path) -> None:
    root, kept, dropped = make_root(tmp_path)
    out = run(root, "repack", "--json")
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    assert report["packs_rewritten"] == 1 and report["records"] == 2
    again = run(root, "repack")
    assert again.exit_code == 0 and "repacked 0 packs" in again.output
    stats = json.loads(run(root, "stats", "--json").output)
    assert stats["repacked_share"] == 1.0 and "does the rest" not in run(root, "stats").output
    with BlobStore.open(root / ".llmos" / "blobs") as s:
        assert s.get(kept) == ("referenced by a trace " * 10).encode()
        assert s.has(dropped)
    assert run(root, "repack", "--level", "30").exit_code == 2  # out of range, named by click
    assert run(root, "repack", "--max-mb", "0").exit_code == 2


def test_sizes_are_printed_in_units_people_read() -> None:
    from llmos.cli.blobs import _mb

    assert [_mb(n) for n in (0, 812, 14_300, 2_410_000, 1_070_000_000)] == [
        "0 B",
        "812 B",
        "14.3 kB",
        "2.41 MB",
        "1.07 GB",
    ]

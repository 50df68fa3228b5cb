"""The fast path of ``check`` (forked, fused per-record verification) against the slow,
sequential scan: the same verdicts, and every fault still named."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from llmos.blobs import BlobStore, verify
from llmos.blobs.index import encode_idx

sys.path.insert(0, str(Path(__file__).parent))
from test_blobs_faults import content, flip, spot  # noqa: E402

COUNT = 2600  # over verify.MIN_PARALLEL: the pack is split between processes


@pytest.fixture(scope="module")
def healthy(tmp_path_factory) -> tuple[Path, list[str]]:
    path = tmp_path_factory.mktemp("verify") / "blobs"
    with BlobStore.open(path) as s:
        ids = [s.put(content(i), "message") for i in range(COUNT)]
        heads = [s.put_manifest(None, ids[i : i + 4]) for i in range(0, 400, 4)]
    return path, ids + heads


def copy(healthy, tmp_path: Path) -> tuple[Path, list[str]]:
    src, ids = healthy
    shutil.copytree(src, tmp_path / "blobs")
    return tmp_path / "blobs", ids


def parts(store: BlobStore) -> tuple[bytes, list, dict]:
    state = next(iter(store.index.packs.values()))
    dicts = {d: store.get(b) for d, b in store.index.dicts.items()}
    return state.path.read_bytes(), state.rows, dicts


def test_fast_path_proves_a_healthy_pack_on_several_processes(healthy, tmp_path: Path) -> None:
    path, ids = copy(healthy, tmp_path)
    with BlobStore.open(path) as s:
        data, rows, dicts = parts(s)
        gap = rows[:5] + rows[6:]  # rows that do not tile the pack are never "sound"
        assert not verify.verify_pack(data, gap, dicts, True, s.index.entries, workers=1).sound
        assert not verify.verify_pack(data, gap, dicts, True, s.index.entries, workers=2).sound
        half = -(-(len(rows) - 1) // 2)  # the row that would start the second part
        seam = rows[:half] + rows[half + 1 :]
        assert not verify.verify_pack(data, seam, dicts, False, s.index.entries, workers=2).sound
        short = rows[:-1]
        assert not verify.verify_pack(data, short, dicts, False, s.index.entries, workers=2).sound
        assert not verify.verify_pack(data, rows[1:], dicts, False, s.index.entries).sound
        whole = verify.verify_pack(data, rows, dicts, True, s.index.entries, workers=2)
        alone = verify.verify_pack(data, rows, dicts, True, s.index.entries, workers=1)
        for v in (whole, alone):
            assert v.sound and not v.broken
            assert v.data_bytes == sum(e.ulen for _, e in rows)
            assert len(v.linked) == 100
        report = s.check(read_data=True)
        assert report.ok and report.records == len(rows) and report.manifests == 100


@pytest.mark.parametrize("which", [5, COUNT - 5])  # in the parent's half, in the child's
def test_a_flipped_byte_in_either_half_is_named(healthy, tmp_path: Path, which: int) -> None:
    path, ids = copy(healthy, tmp_path)
    with BlobStore.open(path) as s:
        pack, offset, payload = spot(s, ids[which])
    flip(pack, payload + 2)
    with BlobStore.open(path) as s:
        data, rows, dicts = parts(s)
        assert not verify.verify_pack(data, rows, dicts, False, s.index.entries, workers=2).sound
        for read_data in (False, True):
            report = s.check(read_data=read_data)
            assert [(p.offset, p.blob_id) for p in report.problems] == [(offset, ids[which])]


def test_a_manifest_ref_that_is_gone_is_named_by_the_fast_path(healthy, tmp_path: Path) -> None:
    path, ids = copy(healthy, tmp_path)
    with BlobStore.open(path) as s:
        s.pool.written |= set(s.index.packs)  # new records go to new packs
        orphan = s.put("kept only in a pack of its own", "message")
        s.pool.retire()
        lost_pack = s.index.packs[s.index.entries[orphan].pack].path
        head = s.put_manifest(None, [orphan, ids[0]])
        s.flush()
        assert len({s.index.entries[b].pack for b in (ids[0], orphan, head)}) == 3
    lost_pack.unlink()
    lost_pack.with_suffix(".idx").unlink()
    with BlobStore.open(path) as s:
        for read_data in (True, False):
            calls = []
            real = verify.verify_pack
            verify.verify_pack = lambda *a, calls=calls, real=real, **k: calls.append(1) or real(*a, **k)
            try:
                report = s.check(read_data=read_data)
            finally:
                verify.verify_pack = real
            assert len(calls) == 2  # both remaining packs took the fast path
            assert [(p.blob_id, p.message) for p in report.problems] == [
                (head, f"manifest refers to missing blob {orphan}")
            ]


def test_an_idx_naming_the_wrong_blob_is_found(healthy, tmp_path: Path) -> None:
    path, ids = copy(healthy, tmp_path)
    with BlobStore.open(path) as s:
        state = next(iter(s.index.packs.values()))
        rows = list(state.rows)
        (a, ea), (b, eb) = rows[10], rows[11]
        rows[10], rows[11] = (b, ea), (a, eb)  # two ids swapped, places kept
        state.idx_path.write_bytes(encode_idx(state.scanned, rows))
    with BlobStore.open(path) as s:
        report = s.check()
        named = {p.blob_id for p in report.problems}
        assert {a, b} <= named, [str(p) for p in report.problems]
        assert any("delete" in str(p) and ".idx" in str(p) for p in report.problems)


def test_a_stuck_worker_is_killed_and_the_verdict_is_unsound() -> None:
    import time

    def work(chunk):
        if chunk == "stuck":
            time.sleep(3600)
        return verify.Verdict(True, 1)

    t0 = time.perf_counter()
    verdicts = verify._in_parallel(work, [["fine"], "stuck", ["fine"]], patience=0.5)
    assert time.perf_counter() - t0 < 10
    assert [v.sound for v in verdicts] == [True, False, True]


def test_a_worker_that_raises_makes_the_verdict_unsound() -> None:
    def work(chunk):
        if chunk == "bad":
            raise RuntimeError("boom")
        return verify.Verdict(True, 1)

    assert [v.sound for v in verify._in_parallel(work, [["fine"], "bad"])] == [True, False]

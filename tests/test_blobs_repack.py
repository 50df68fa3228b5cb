"""``repack``: level-19 recompression of sealed packs, safe against damage, crashes and writers."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from llmos.blobs import BlobStore
from llmos.blobs import record as rec
from llmos.errors import CorruptBlob

sys.path.insert(0, str(Path(__file__).parent))
from test_blobs_faults import content, flip, spot  # noqa: E402


def chatty(rng: random.Random, n: int) -> str:
    words = "the agent read a file and wrote its plan then called the tool again".split()
    return " ".join(rng.choice(words) + str(rng.randint(0, 40)) for _ in range(n))


def fill(path: Path) -> dict[str, bytes]:
    rng = random.Random(3)
    out = {}
    with BlobStore.open(path) as s:
        for i in range(400):  # enough small ones to train a dictionary
            text = chatty(rng, 30 + i % 90)
            out[s.put(text, "message")] = text.encode()
        for _ in range(5):
            text = chatty(rng, 6000)
            out[s.put(text, "result")] = text.encode()
        doc = {"tools": [chatty(rng, 20) for _ in range(30)]}
        bid = s.put(doc, "tool_schema")
        out[bid] = s.get(bid)
        out[s.put_manifest(None, list(out)[:10])] = None
    return out


def test_repack_shrinks_the_store_and_every_blob_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "blobs"
    blobs = fill(path)
    with BlobStore.open(path) as s:
        before = s.stats()
        assert before["dictionaries"] >= 1
        report = s.repack()
        after = s.stats()
        assert report.packs_rewritten == 1
        assert report.records == len(s.index.entries)
        assert report.bytes_after < report.bytes_before
        assert after["stored_bytes"] < before["stored_bytes"]
        for bid, raw in blobs.items():
            got = s.get(bid)
            if raw is not None:
                assert got == raw
            assert s.index.entries[bid].flags & rec.DENSE
        assert len(list((path / "packs").glob("*.pack"))) == 1
        assert s.check(read_data=True).ok
    with BlobStore.open(path) as s:  # reopened from the new idx
        assert all(s.get(b) == r for b, r in blobs.items() if r is not None)
        assert s.repack().packs_rewritten == 0  # nothing left to densify


def test_repack_keeps_write_times_for_the_gc_grace_period(tmp_path: Path) -> None:
    path = tmp_path / "blobs"
    blobs = fill(path)
    with BlobStore.open(path) as s:
        times = {b: s.index.entries[b].time for b in blobs}
        s.repack()
        assert {b: s.index.entries[b].time for b in blobs} == times


def test_repack_stops_at_a_damaged_record_and_deletes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "blobs"
    blobs = fill(path)
    victim = list(blobs)[7]
    with BlobStore.open(path) as s:
        pack, _, payload = spot(s, victim)
    flip(pack, payload + 3)
    with BlobStore.open(path) as s:
        with pytest.raises(CorruptBlob) as err:
            s.repack()
        assert victim in str(err.value)
        assert pack.exists()
        assert s.get(list(blobs)[8]) == blobs[list(blobs)[8]]


def test_repack_skips_a_pack_a_live_writer_holds(tmp_path: Path) -> None:
    path = tmp_path / "blobs"
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_blobs_faults import content
        from llmos.blobs import BlobStore
        s = BlobStore.open({str(path)!r})
        for i in range(200):
            s.put(content(i), "message")
        s.flush()
        print("flushed", flush=True)
        sys.stdin.readline()
        s.close()
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "flushed"
    try:
        with BlobStore.open(path) as s:
            report = s.repack()
            assert report.packs_in_use == 1 and report.packs_rewritten == 0
    finally:
        proc.stdin.write("\n")
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
    with BlobStore.open(path) as s:
        assert s.repack().packs_rewritten == 1
        assert s.get(s.put(content(5), "message")) == content(5).encode()


KILLED = textwrap.dedent("""
    import os, sys
    from llmos.blobs import BlobStore, repack as rp
    real = rp._append
    count = [0]
    def dying(*args):
        count[0] += 1
        if count[0] == {after}:
            os.kill(os.getpid(), 9)
        return real(*args)
    rp._append = dying
    with BlobStore.open({path!r}) as s:
        s.repack()
""")


@pytest.mark.parametrize("after", [1, 200, 406])
def test_sigkill_mid_repack_loses_nothing(tmp_path: Path, after: int) -> None:
    path = tmp_path / "blobs"
    blobs = fill(path)
    proc = subprocess.run([sys.executable, "-c", KILLED.format(after=after, path=str(path))])
    assert proc.returncode == -9
    with BlobStore.open(path) as s:
        for bid, raw in blobs.items():
            got = s.get(bid)
            assert raw is None or got == raw
        report = s.check(read_data=True)
        assert report.ok, [str(p) for p in report.problems]
        s.repack()
        assert all(s.get(b) == r for b, r in blobs.items() if r is not None)
        assert s.check(read_data=True).ok


def test_max_bytes_repacks_a_slice_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "blobs"
    rng = random.Random(9)
    texts = [chatty(rng, 200) for _ in range(300)]
    with BlobStore.open(path, max_pack_bytes=64 << 10) as s:
        ids = [s.put(t, "message") for t in texts]
    packs = len(list((path / "packs").glob("*.pack")))
    assert packs >= 3
    rounds = []
    with BlobStore.open(path) as s:
        while True:
            report = s.repack(max_bytes=1)  # at least one whole pack a call
            if not report.packs_rewritten:
                break
            assert report.packs_rewritten == 1
            rounds.append(report.packs_left)
        assert rounds == list(range(packs - 1, -1, -1))
        assert all(s.index.entries[b].flags & rec.DENSE for b in ids)
        assert [s.get(b) for b in ids] == [t.encode() for t in texts]

"""Blob store under faults: SIGKILL mid-ingest, flipped bytes, truncated and missing packs,
concurrent writer processes, and gc racing a live writer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import pytest

from llmos.blobs import BlobStore
from llmos.blobs import record as rec
from llmos.errors import BlobNotFound, CorruptBlob


def content(i: int) -> str:
    """Deterministic, varied text for blob ``i`` (children and parent agree on it)."""
    words = (
        "alpha beta gamma delta trace prompt tool memory vault kernel agent reply budget index pack record"
    ).split()
    n = 40 + (i * 7919) % 300
    return f"blob {i}: " + " ".join(words[(i * 31 + k * k) % len(words)] for k in range(n))


def fill(path: Path, count: int, **options) -> list[str]:
    with BlobStore.open(path, **options) as s:
        return [s.put(content(i), "message") for i in range(count)]


def spot(store: BlobStore, bid: str) -> tuple[Path, int, int]:
    """Pack path, record offset, and payload offset of blob ``bid``."""
    e = store.index.entries[bid]
    state = store.index.packs[e.pack]
    return state.path, e.offset, e.offset + rec.HEADER_SIZE + len(e.kind.encode())


def flip(path: Path, offset: int) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        b = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([b[0] ^ 0x40]))


WRITER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from test_blobs_faults import content
    from llmos.blobs import BlobStore
    s = BlobStore.open({path!r})
    i = 0
    while True:
        ids = [s.put(content(i + k), "message") for k in range(50)]
        s.flush()
        print(i + 49, ids[-1], flush=True)
        i += 50
        for k in range(20):  # unflushed tail, in flight when the kill lands
            s.put(content(10_000_000 + i * 20 + k), "message")
""")


def test_sigkill_mid_ingest_loses_at_most_the_unflushed_tail(tmp_path: Path) -> None:
    path = tmp_path / "blobs"
    code = WRITER.format(tests=str(Path(__file__).parent), path=str(path))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    flushed = -1
    for line in proc.stdout:
        flushed = int(line.split()[0])
        if flushed >= 1500:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with BlobStore.open(path) as s:
        report = s.check(read_data=True)
        assert report.ok, [str(p) for p in report.problems]
        for i in range(flushed + 1):
            bid = s.put(content(i), "message")
            assert s.get(bid) == content(i).encode()
        assert report.records >= flushed + 1


def test_flipped_payload_byte_is_named_and_never_read_back(tmp_path: Path) -> None:
    path = tmp_path / "blobs"
    ids = fill(path, 200)
    victim = ids[77]
    with BlobStore.open(path) as s:
        pack, offset, payload = spot(s, victim)
    flip(pack, payload + 5)
    with BlobStore.open(path) as s:
        report = s.check()
        assert [(p.pack, p.offset, p.blob_id) for p in report.problems] == [(pack.stem, offset, victim)]
        with pytest.raises(CorruptBlob) as err:
            s.get(victim)
        assert err.value.blob_id == victim and err.value.offset == offset
        assert pack.stem in str(err.value)
        assert s.get(ids[78]) == content(78).encode()


def test_flipped_header_byte_is_named(tmp_path: Path) -> None:
    path = tmp_path / "blobs"
    ids = fill(path, 100)
    with BlobStore.open(path) as s:
        pack, offset, _ = spot(s, ids[10])
    flip(pack, offset + 30)  # inside the stored hash
    with BlobStore.open(path) as s:
        problems = s.check().problems
        assert len(problems) == 1
        assert (problems[0].pack, problems[0].offset, problems[0].blob_id) == (pack.stem, offset, ids[10])
        with pytest.raises(CorruptBlob):
            s.get(ids[10])
        assert s.get(ids[11]) == content(11).encode()


def test_read_data_finds_content_that_no_longer_matches_its_id(tmp_path: Path) -> None:
    """A payload changed *with* a matching crc passes the cheap check; read_data catches it."""
    path = tmp_path / "blobs"
    ids = fill(path, 50, dictionaries=False)
    with BlobStore.open(path) as s:
        e = s.index.entries[ids[3]]
        pack, offset, payload = spot(s, ids[3])
        s.put(b"x" * 40 + b"plain", "raw")  # a stored-uncompressed record to forge
    data = bytearray(pack.read_bytes())
    start = payload
    forged = bytes(s.codec.compress(content(4).encode()[: e.ulen].ljust(e.ulen, b"!")))
    if len(forged) == e.clen:
        data[start : start + e.clen] = forged
    else:
        data[start + 2] ^= 1
    crc_at = start + e.clen
    data[crc_at : crc_at + 4] = zlib.crc32(bytes(data[start : start + e.clen])).to_bytes(4, "little")
    pack.write_bytes(bytes(data))
    with BlobStore.open(path) as s:
        assert s.check().ok
        problems = s.check(read_data=True).problems
        assert [(p.pack, p.offset, p.blob_id) for p in problems] == [(pack.stem, offset, ids[3])]
        with pytest.raises(CorruptBlob):
            s.get(ids[3])


def test_truncated_pack_is_found_and_lost_blobs_named(tmp_path: Path) -> None:
    path = tmp_path / "blobs"
    ids = fill(path, 100)
    with BlobStore.open(path) as s:
        pack, offset, _ = spot(s, ids[90])
    size = pack.stat().st_size
    os.truncate(pack, offset + 10)
    with BlobStore.open(path) as s:
        report = s.check()
        assert not report.ok
        text = "\n".join(map(str, report.problems))
        assert f"pack {pack.stem}" in text and "truncated" in text
        named = {p.blob_id for p in report.problems if p.blob_id}
        assert set(ids[90:]) <= named and ids[89] not in named
        assert s.get(ids[89]) == content(89).encode()
        with pytest.raises(BlobNotFound):
            s.get(ids[95])
    assert size > offset


def test_missing_pack_is_named_with_its_blobs(tmp_path: Path) -> None:
    path = tmp_path / "blobs"
    ids = fill(path, 300, max_pack_bytes=32 * 1024)
    with BlobStore.open(path) as s:
        pack, _, _ = spot(s, ids[0])
        lost = {b for b, _ in s.index.packs[s.index.entries[ids[0]].pack].rows}
    pack.unlink()
    with BlobStore.open(path) as s:
        report = s.check()
        assert any(p.pack == pack.stem and "missing" in p.message for p in report.problems)
        assert {p.blob_id for p in report.problems if p.blob_id} == lost
        with pytest.raises(BlobNotFound):
            s.get(ids[0])
        assert s.get(ids[-1]) == content(len(ids) - 1).encode()


def test_torn_tail_is_cut_on_open(tmp_path: Path) -> None:
    path = tmp_path / "blobs"
    ids = fill(path, 20)
    pack = next((path / "packs").glob("*.pack"))
    pack.with_suffix(".idx").unlink()
    with open(pack, "ab") as fh:
        fh.write(rec.MAGIC + b"\x02\x01\x07\x00" + b"\x00" * 30)  # half a header
    with BlobStore.open(path) as s:
        assert s.check(read_data=True).ok
        assert all(s.has(i) for i in ids)
        more = s.put("after the tear", "message")
    with BlobStore.open(path) as s:
        assert s.get(more) == b"after the tear" and s.check().ok


MANY = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from test_blobs_faults import content
    from llmos.blobs import BlobStore
    w = int(sys.argv[1])
    with BlobStore.open({path!r}, max_pack_bytes=256 * 1024) as s:
        for i in range(400):
            s.put(content(i), "shared", agent=f"w{{w}}")        # every writer writes these
            s.put(content(100_000 * (w + 1) + i), "own", agent=f"w{{w}}")
""")


def test_concurrent_writer_processes(tmp_path: Path) -> None:
    path = tmp_path / "blobs"
    BlobStore.open(path).close()
    code = MANY.format(tests=str(Path(__file__).parent), path=str(path))
    procs = [subprocess.Popen([sys.executable, "-c", code, str(w)]) for w in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    with BlobStore.open(path) as s:
        report = s.check(read_data=True)
        assert report.ok, [str(p) for p in report.problems]
        for w in range(4):
            for i in range(0, 400, 7):
                assert s.get(s.put(content(100_000 * (w + 1) + i), "own")) == content(100_000 * (w + 1) + i).encode()
        stats = s.stats()
        assert stats["blobs"] - stats["dictionaries"] == 400 + 4 * 400  # shared ones once
        assert stats["agents"]["w3"]["puts"] == 800


def test_gc_never_touches_a_pack_a_live_writer_holds(tmp_path: Path) -> None:
    path = tmp_path / "blobs"
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_blobs_faults import content
        from llmos.blobs import BlobStore
        s = BlobStore.open({str(path)!r})
        for i in range(300):
            print(s.put(content(i), "message"), flush=True)
        s.flush()
        print("flushed", flush=True)
        sys.stdin.readline()   # stay alive, holding the pack, until told to finish
        s.close()
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    ids = []
    for line in proc.stdout:
        if line.strip() == "flushed":
            break
        ids.append(line.strip())
    with BlobStore.open(path) as collector:
        report = collector.gc(grace_seconds=0)  # nothing is a root: all of it is garbage...
        assert report.packs_in_use == 1
        assert all(collector.has(i) for i in ids)  # ...but the writer's pack is off limits
    proc.stdin.write("\n")
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0
    with BlobStore.open(path) as collector:
        assert collector.gc(grace_seconds=3600).garbage_blobs == 0  # still within grace
        collector.gc(grace_seconds=0)
        assert not any(collector.has(i) for i in ids)
        assert collector.check().ok


ORDERED = textwrap.dedent("""
    import os, time
    from llmos.blobs import BlobStore
    s = BlobStore.open({path!r})

    class Slow:  # large blobs are compressed on the worker: make it lag far behind
        def __init__(self, real):
            self.real = real
        def compress(self, raw):
            time.sleep(0.02)
            return self.real.compress(raw)

    s._bg_cctx = Slow(s._bg_cctx)
    for i in range(30):
        big = s.put(("large result %d " % i) * 3000, "result")
        s.put_manifest(None, [big], kind="request")
        if i == 4:
            s.flush()
            print("flushed", flush=True)
    time.sleep(0.15)  # the group commit writes what was appended; the worker still lags
    os.kill(os.getpid(), 9)
""")


def test_sigkill_never_leaves_a_manifest_without_its_large_refs(tmp_path: Path) -> None:
    path = tmp_path / "blobs"
    proc = subprocess.run(
        [sys.executable, "-c", ORDERED.format(path=str(path))], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == -signal.SIGKILL and "flushed" in proc.stdout
    with BlobStore.open(path) as s:
        report = s.check(read_data=True)
        assert report.ok, [str(p) for p in report.problems]
        kept = [s.put(("large result %d " % i) * 3000, "result") for i in range(5)]
        assert all(s.index.entries.get(b) for b in kept)  # the flushed ones survived
        assert report.manifests >= 5

"""Blob store behaviour: ids, round trips, manifests, pins, gc roots, dictionaries, stats."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from llmos.blobs import BlobStore, blob_id, canonical, ref
from llmos.errors import BlobError, BlobNotFound, LlmosError

WORDS = (
    "agent trace memory prompt tool schema request reply context budget vault kernel "
    "commit branch review summary retry error file path token model cache index pack "
    "record hash the a of to and in for with on is was will not be this that"
).split()


def text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)) + f" #{rng.random():.12f}"


@pytest.fixture
def store(tmp_path: Path):
    with BlobStore.open(tmp_path / ".llmos" / "blobs") as s:
        yield s


def test_put_get_round_trip_for_every_type(store: BlobStore) -> None:
    payloads = [
        b"\x00\x01raw bytes",
        "text \u00e9\u4e2d",
        {"b": 1, "a": [1, 2, {"z": None}]},
        ["x", 1.5, True],
        b"",
        "x" * 200_000,
    ]
    ids = [store.put(p, "message") for p in payloads]
    assert len(set(ids)) == len(ids)
    assert store.get(ids[0]) == payloads[0]
    assert store.get(ids[1]).decode("utf-8") == payloads[1]
    assert store.get_json(ids[2]) == payloads[2]
    assert store.get_json(ids[3]) == payloads[3]
    assert store.get(ids[4]) == b""
    assert store.get(ids[5]) == payloads[5].encode()


def test_ids_are_content_addresses_of_canonical_bytes(store: BlobStore) -> None:
    a = store.put({"role": "user", "content": "hi"}, "message")
    b = store.put({"content": "hi", "role": "user"}, "message")
    assert a == b
    assert store.get(a) == b'{"content":"hi","role":"user"}'
    assert store.put("hi", "message") != store.put(b"hi", "message")  # the type tag is hashed
    assert a == blob_id(*canonical({"role": "user", "content": "hi"}))
    assert ref(a) == "blob:" + a and store.get(ref(a)) == store.get(a)


def test_duplicate_puts_store_one_copy(store: BlobStore) -> None:
    rng = random.Random(1)
    body = text(rng, 400)
    ids = {store.put(body, "prompt", agent=f"agent{i}") for i in range(50)}
    assert len(ids) == 1
    s = store.stats()
    assert s["blobs"] == 1
    assert s["logical_bytes"] == 50 * len(body.encode())
    assert s["dedup_ratio"] == pytest.approx(50, rel=0.01)
    assert s["kinds"]["prompt"]["puts"] == 50
    assert s["agents"]["agent7"]["logical_bytes"] == len(body.encode())


def test_blobs_survive_reopen_and_are_seen_by_other_instances(tmp_path: Path) -> None:
    path = tmp_path / "blobs"
    with BlobStore.open(path) as a:
        ids = [a.put(f"blob {i} " * 30, "message") for i in range(100)]
        with BlobStore.open(path) as b:
            a.flush()
            assert b.has(ids[-1]) and b.get(ids[50]) == (b"blob 50 " * 30)
    with BlobStore.open(path) as c:
        assert all(c.get(i) == (f"blob {n} " * 30).encode() for n, i in enumerate(ids))
        assert (path / "packs").glob("*.idx")


def test_missing_and_malformed_ids(store: BlobStore) -> None:
    with pytest.raises(BlobNotFound):
        store.get("0" * 64)
    assert not store.has("0" * 64)
    with pytest.raises(BlobError, match="not a blob id"):
        store.get("nope")
    assert issubclass(BlobNotFound, LlmosError)
    with pytest.raises(BlobError, match="kind"):
        store.put("x", "")
    with pytest.raises(TypeError):
        store.put(3.5, "message")  # type: ignore[arg-type]


def test_closed_store_refuses_writes(tmp_path: Path) -> None:
    s = BlobStore.open(tmp_path / "blobs")
    s.close()
    with pytest.raises(BlobError, match="closed"):
        s.put("new", "message")


def test_manifest_chain_expands_to_full_conversation(store: BlobStore) -> None:
    system = store.put("You are a careful agent.", "prompt")
    tools = store.put({"tools": [{"name": "read_file"}]}, "tool_schema")
    msgs = [store.put({"role": "user", "content": f"step {i}"}, "message") for i in range(5)]
    head = store.put_manifest(None, [system, tools, msgs[0]], kind="request")
    for m in msgs[1:]:
        head = store.put_manifest(head, [m], kind="request")
    assert store.expand(head) == [system, tools, *msgs]
    assert store.manifest(head).refs == [msgs[-1]]
    with pytest.raises(BlobNotFound):
        store.put_manifest(head, ["f" * 64])
    with pytest.raises(BlobError, match="not a manifest"):
        store.manifest(system)


def test_packs_rotate_at_the_size_limit(tmp_path: Path) -> None:
    rng = random.Random(2)
    with BlobStore.open(tmp_path / "blobs", max_pack_bytes=64 * 1024) as s:
        ids = [s.put(text(rng, 300), "message") for _ in range(200)]
    packs = list((tmp_path / "blobs" / "packs").glob("*.pack"))
    assert len(packs) >= 3
    assert all(p.stat().st_size <= 64 * 1024 for p in packs)
    with BlobStore.open(tmp_path / "blobs") as s:
        assert all(s.has(i) for i in ids)
        assert s.check(read_data=True).ok


def test_gc_keeps_roots_and_collects_the_rest(tmp_path: Path) -> None:
    root = tmp_path
    rng = random.Random(3)
    with BlobStore.open(root / ".llmos" / "blobs") as s:
        keep_trace = s.put(text(rng, 200), "result")
        keep_pin = s.put(text(rng, 200), "result")
        via_manifest = s.put(text(rng, 200), "message")
        parent = s.put_manifest(None, [via_manifest])
        head = s.put_manifest(parent, [s.put(text(rng, 20), "message")])
        garbage = [s.put(text(rng, 200), "message") for _ in range(50)]
        s.pin(keep_pin)
        (root / "traces" / "2025" / "01").mkdir(parents=True)
        (root / "traces" / "2025" / "01" / "t1.md").write_text(
            f"---\nsteps:\n- result: {ref(keep_trace)}\n- prompt: blob:{head}\n---\n"
        )
        dry = s.gc(dry_run=True, grace_seconds=0)
        assert dry.garbage_blobs == 50 and all(s.has(g) for g in garbage)
        report = s.gc(grace_seconds=0)
        assert report.live_blobs == 6 and report.reclaimed_bytes > 0
        assert not any(s.has(g) for g in garbage)
        assert s.expand(head)[0] == via_manifest
        for bid in (keep_trace, keep_pin, via_manifest, parent, head):
            assert s.get(bid)
        s.unpin(keep_pin)
        s.gc(grace_seconds=0)
        assert not s.has(keep_pin) and s.has(keep_trace)
        assert s.check(read_data=True).ok


def test_gc_grace_period_keeps_recent_blobs_and_extra_roots(tmp_path: Path) -> None:
    with BlobStore.open(tmp_path / "blobs") as s:
        recent = s.put("written just now", "message")
        extra = s.put("named by the caller", "message")
        assert s.gc(grace_seconds=3600).garbage_blobs == 0
        assert s.has(recent)
        s.gc(grace_seconds=0, roots=[extra])
        assert s.has(extra) and not s.has(recent)


def test_put_of_an_aging_blob_writes_a_fresh_copy_so_gc_keeps_it(tmp_path: Path) -> None:
    """A put that dedups against a copy older than half the grace period re-writes it:
    the id a writer just got back must not be collected before it lands in a trace."""
    path = tmp_path / "blobs"
    with BlobStore.open(path, grace_seconds=2) as old:
        bid = old.put("a system prompt everyone shares " * 20, "prompt")
    time.sleep(2.2)
    with BlobStore.open(path, grace_seconds=2) as writer, BlobStore.open(path) as collector:
        assert writer.put("a system prompt everyone shares " * 20, "prompt") == bid
        writer.flush()
        collector.gc(grace_seconds=2)
        assert collector.has(bid)
        assert writer.get(bid)


def test_dictionaries_train_for_small_blobs_and_survive_reopen_and_gc(tmp_path: Path) -> None:
    rng = random.Random(4)
    path = tmp_path / "blobs"
    with BlobStore.open(path) as s:
        s.dictionaries.policy.train_after = 100
        ids = [s.put({"role": "assistant", "content": text(rng, rng.randint(80, 300))}, "message") for _ in range(400)]
        assert s.stats()["dictionaries"] == 1
        with_dict = [s.index.entries[i] for i in ids[-100:]]
        assert all(e.flags & 2 for e in with_dict)
    with BlobStore.open(path) as s:
        assert s.get_json(ids[-1])["role"] == "assistant"
        s.gc(grace_seconds=0, roots=ids[-5:])
        assert s.stats()["dictionaries"] == 1
    with BlobStore.open(path, cache_bytes=0) as s:
        assert s.get_json(ids[-1])["role"] == "assistant"
        assert s.check(read_data=True).ok


def test_stats_report_ratios_per_kind(store: BlobStore) -> None:
    rng = random.Random(5)
    prompt = text(rng, 2000)
    for _i in range(20):
        store.put(prompt, "prompt", agent="a")
        store.put(text(rng, 100), "message", agent="b")
    s = store.stats()
    assert s["kinds"]["prompt"]["blobs"] == 1 and s["kinds"]["message"]["blobs"] == 20
    assert s["kinds"]["prompt"]["dedup_ratio"] == pytest.approx(20, rel=0.01)
    assert s["compression_ratio"] > 1.5
    assert s["logical_bytes"] > s["unique_bytes"] > s["stored_bytes"]
    assert set(s["agents"]) == {"a", "b"}


def test_recorder_chains_requests_and_rebuilds_them_exactly(store: BlobStore) -> None:
    from llmos.blobs import CallRecorder, load_request

    rec = CallRecorder(store, agent="coder")
    tools = [{"name": "read_file", "input_schema": {"type": "object"}}]
    messages = [{"role": "user", "content": "fix the bug"}]
    heads = []
    for step in range(4):
        request = {"model": "m", "max_tokens": 100, "system": "You code.", "tools": tools, "messages": list(messages)}
        head, reply = rec.record(request, {"role": "assistant", "content": f"step {step}"})
        heads.append(head)
        assert load_request(store, head) == request
        assert store.get_json(reply)["content"] == f"step {step}"
        messages += [{"role": "assistant", "content": f"step {step}"}, {"role": "user", "content": f"result {step}"}]
    assert store.manifest(heads[3]).parent == heads[2]
    assert len(store.manifest(heads[3]).refs) == 2  # only the new messages
    rewritten = {
        "model": "m",
        "max_tokens": 100,
        "system": "You code.",
        "tools": tools,
        "messages": [{"role": "user", "content": "summary of earlier steps"}],
    }
    head, _ = rec.record(rewritten)
    assert store.manifest(head).parent is None and load_request(store, head) == rewritten


def test_large_blobs_compressed_in_the_background_are_readable_at_once_and_durable(tmp_path: Path) -> None:
    rng = random.Random(3)
    big = [text(rng, 12_000) for _ in range(40)]  # ~80 KiB each: over the dictionary limit
    with BlobStore.open(tmp_path / "b") as s:
        ids = [s.put(b, "result") for b in big]
        assert all(s.has(i) for i in ids)
        assert [s.get(i).decode() for i in ids] == big  # answered before the worker is done
        assert s.put(big[0], "result") == ids[0]
        with pytest.raises(BlobError):
            s.put(big[1] + "x", "")  # a bad kind fails in the caller, not on the worker
        manifest = s.put_manifest(None, ids)
        assert s.stats()["blobs"] == len(big) + 1
    with BlobStore.open(tmp_path / "b") as s:
        assert s.expand(manifest) == ids
        assert [s.get(i).decode() for i in ids] == big
        assert s.stats()["compression_ratio"] > 2
        assert s.check(read_data=True).ok


def test_manifests_are_compact_binary_and_json_ones_still_read(store: BlobStore) -> None:
    from llmos.blobs import manifest as mf

    ids = [store.put(f"message {i}", "message") for i in range(3)]
    head = store.put_manifest(None, ids[:1])
    head = store.put_manifest(head, ids[1:])
    assert len(store.get(head)) == 5 + 32 * 3
    assert mf.decode(mf.encode_json(ids[0], ids[1:])) == mf.decode(mf.encode(ids[0], ids[1:]))
    assert mf.decode(mf.encode_json(None, ids)) == mf.Manifest(None, ids)
    assert store.expand(head) == ids
    for bad in (mf.MAGIC + b"\x01", mf.MAGIC + b"\x00" + b"x" * 31, mf.MAGIC + b"\x07"):
        with pytest.raises(BlobError, match="not a manifest"):
            mf.decode(bad)


def test_warm_tier_serves_verified_frames_without_touching_the_pack(tmp_path: Path) -> None:
    from llmos.blobs import record as rec

    rng = random.Random(5)
    texts = [text(rng, 300) for _ in range(20)]
    with BlobStore.open(tmp_path / "b") as s:
        ids = [s.put(t, "message") for t in texts]
    for warm in (64 << 20, 0):
        with BlobStore.open(tmp_path / "b", cache_bytes=0, warm_bytes=warm) as s:
            assert [s.get(b) for b in ids] == [t.encode() for t in texts]  # cold: from the pack
            assert len(s.warm) == (20 if warm else 0) and len(s.cache) == 0
            e = s.index.entries[ids[3]]
            pack = s.index.packs[e.pack].path
            start = e.offset + rec.HEADER_SIZE + len(e.kind)
            data = bytearray(pack.read_bytes())
            data[start + 1] ^= 0xFF
            pack.write_bytes(bytes(data))
            if warm:
                assert s.get(ids[3]) == texts[3].encode()  # a warm hit never rereads the pack
            else:
                with pytest.raises(LlmosError, match="damaged record"):
                    s.get(ids[3])
            data[start + 1] ^= 0xFF
            pack.write_bytes(bytes(data))


def test_memory_tiers_stay_within_their_bounds(tmp_path: Path) -> None:
    rng = random.Random(6)
    with BlobStore.open(tmp_path / "b") as s:
        ids = [s.put(text(rng, 400), "message") for _ in range(200)]
    with BlobStore.open(tmp_path / "b", cache_bytes=20_000, warm_bytes=8_000) as s:
        for b in ids:
            s.get(b)
        assert 0 < s.cache.bytes <= 20_000 and 0 < s.warm.bytes <= 8_000
        assert len(s.cache) < 200 and len(s.warm) < 200

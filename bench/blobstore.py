"""Blob store benchmark on a generated 100-agent workload, beside a no-dedup baseline.

The workload (fixed seed): 100 agents in 8 roles, each with a system prompt rendered from its
role's template (name, project, rules), a subset of 24 tool schemas, and several
conversations of 6-26 LLM calls: user goals, assistant tool calls, tool results (source
files, JSON listings, logs, prose), final answers. Every call's full request (system, tools,
all messages so far) and response is recorded the way the kernel records it: each message,
prompt and schema is a blob, each request a manifest chained to the previous one.

Baseline, same run: zstd level 3 of each whole request and response (canonical JSON), no
dedup. Figures (``--json`` prints them all by name):

  dedup_ratio, compression_ratio (unique/stored payload; with and without dictionaries),
  total_reduction (logical / bytes on disk incl. record headers and index, at rest: after the
  level-19 repack that ``llmos blobs repack`` and the dream cycle run; total_reduction_ingest is
  the same before it, as written at level 3),
  ingest_logical_mb_s, put_hit_us_2k, put_hit_us_50k, put_new_us_50k (the caller's wait;
  put_new_flushed_us_50k includes the background compression, up to durable), durable_blobs_per_s,
  check_read_mb_s vs zstd_decompress_mb_s (best of 3 each, on the level-3 frames as written and
  the level-19 frames after the repack), index_bytes_per_blob, get_us_hot|warm|cold (a blob read
  before, from each tier).

    python bench/blobstore.py [--quick] [--json] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import tempfile
import time
from itertools import accumulate
from pathlib import Path

import zstandard

import blake3

from llmos.blobs import BlobStore, CallRecorder
from llmos.blobs import record as rec
from llmos.blobs.codec import canonical_json

# -- workload ---------------------------------------------------------------------------------


class Text:
    """Zipf-distributed pseudo-words, sentences, code and logs: varied, compressible like prose."""

    def __init__(self, rng: random.Random, vocab: int = 6000):
        self.rng = rng
        syll = [
            "ka",
            "to",
            "re",
            "mi",
            "sa",
            "lo",
            "ne",
            "vi",
            "da",
            "po",
            "shi",
            "en",
            "ar",
            "ul",
            "th",
            "st",
            "qu",
            "or",
            "in",
            "ex",
            "com",
            "pre",
            "tion",
            "ment",
            "ing",
        ]
        words = {"".join(rng.choice(syll) for _ in range(rng.choice((1, 2, 2, 3, 3, 4)))) for _ in range(vocab * 2)}
        self.words = sorted(words)[:vocab]
        rng.shuffle(self.words)
        self.cum = list(accumulate(1 / (i + 1) ** 1.07 for i in range(len(self.words))))

    def words_(self, n: int) -> list[str]:
        return self.rng.choices(self.words, cum_weights=self.cum, k=n)

    def sentence(self) -> str:
        w = self.words_(self.rng.randint(5, 22))
        if self.rng.random() < 0.2:
            w.insert(self.rng.randrange(len(w)), str(self.rng.randint(0, 99999)))
        return w[0].capitalize() + " " + " ".join(w[1:]) + self.rng.choice(".....?!:")

    def prose(self, size: int) -> str:
        out, n = [], 0
        while n < size:
            para = " ".join(self.sentence() for _ in range(self.rng.randint(2, 7)))
            out.append(para)
            n += len(para) + 2
        return "\n\n".join(out)

    def code(self, size: int) -> str:
        out, n, depth = [], 0, 0
        while n < size:
            a, b, c = self.words_(3)
            kind = self.rng.random()
            if kind < 0.15:
                line, depth = f"def {a}_{b}({c}, {self.words_(1)[0]}=None):", 1
            elif kind < 0.25:
                line = f"    # {self.sentence()}"
            elif kind < 0.6:
                line = f"{'    ' * depth}{a} = {b}.{c}({self.rng.randint(0, 500)})"
            else:
                line = f"{'    ' * depth}if {a} is not None and {b}[{c!r}]:\n{'    ' * (depth + 1)}return {a}"
            out.append(line)
            n += len(line) + 1
        return "\n".join(out)

    def log(self, size: int) -> str:
        out, n, t = [], 0, self.rng.randint(10**9, 2 * 10**9)
        while n < size:
            t += self.rng.randint(1, 5000)
            lvl = self.rng.choice(("INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"))
            line = f"{t} {lvl} [{self.words_(1)[0]}] {self.sentence()}"
            out.append(line)
            n += len(line) + 1
        return "\n".join(out)

    def listing(self, size: int) -> str:
        rows, n = [], 0
        while n < size:
            a, b = self.words_(2)
            row = {
                "path": f"projects/{a}/{b}.md",
                "size": self.rng.randint(10, 90000),
                "modified": f"2025-0{self.rng.randint(1, 9)}-1{self.rng.randint(0, 9)}",
                "summary": self.sentence(),
            }
            rows.append(row)
            n += 120
        return json.dumps(rows, indent=1)


ROLE_TEMPLATE = """You are {name}, the {role} agent of the llmos operating system, working on project {project}.
{mission}

## Rules
{rules}

## How to work
{method}

Today is {date}. Your budget for this run is {budget} tokens. Answer in {lang}."""


def make_workload(seed: int, agents: int, convs: int, rng_scale: float = 1.0) -> list[list[tuple[dict, dict]]]:
    """Conversations as lists of (request, response) pairs, every call's full request."""
    rng = random.Random(seed)
    tx = Text(rng)
    roles = [
        {
            "role": w,
            "mission": tx.prose(600),
            "method": tx.prose(900),
            "rules": "\n".join(f"- {tx.sentence()}" for _ in range(10)),
        }
        for w in ("writer", "reviewer", "coder", "tester", "planner", "researcher", "distiller", "toolsmith")
    ]
    tools = []
    for i in range(24):
        params = {
            w: {"type": rng.choice(("string", "integer", "boolean")), "description": tx.sentence()}
            for w in tx.words_(rng.randint(2, 6))
        }
        tools.append(
            {
                "name": f"{tx.words_(1)[0]}_{i}",
                "description": tx.prose(250),
                "input_schema": {"type": "object", "properties": params, "required": sorted(params)[:1]},
            }
        )
    conversations = []
    for a in range(agents):
        role = roles[a % len(roles)]
        system = ROLE_TEMPLATE.format(
            name=f"agent-{a:03d}",
            project=f"{tx.words_(1)[0]}-{a % 17}",
            date=f"2025-06-{1 + a % 28:02d}",
            budget=rng.choice((20000, 50000, 100000)),
            lang=rng.choice(("English", "English", "French")),
            **role,
        )
        own_tools = rng.sample(tools, rng.randint(6, 12))
        for _ in range(convs):
            conversations.append(_conversation(rng, tx, system, own_tools, rng_scale))
    return conversations


def _conversation(
    rng: random.Random, tx: Text, system: str, tools: list[dict], scale: float
) -> list[tuple[dict, dict]]:
    messages = [{"role": "user", "content": tx.prose(rng.randint(80, 700))}]
    calls = []
    for _step in range(rng.randint(6, 26)):
        request = {
            "model": "claude-sonnet-4",
            "max_tokens": 4096,
            "system": system,
            "tools": tools,
            "messages": list(messages),
        }
        tool = rng.choice(tools)
        if rng.random() < 0.85:
            reply = {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": tx.prose(rng.randint(40, 400))},
                    {
                        "type": "tool_use",
                        "id": f"toolu_{rng.getrandbits(64):016x}",
                        "name": tool["name"],
                        "input": {k: tx.words_(1)[0] for k in tool["input_schema"]["properties"]},
                    },
                ],
            }
        else:
            reply = {"role": "assistant", "content": [{"type": "text", "text": tx.prose(rng.randint(200, 1500))}]}
        calls.append(
            (
                request,
                {**reply, "usage": {"input_tokens": rng.randint(1000, 90000), "output_tokens": rng.randint(20, 900)}},
            )
        )
        messages.append(reply)
        size = int(min(rng.lognormvariate(7.4, 1.1), 60000) * scale)
        result = rng.choice((tx.prose, tx.code, tx.code, tx.log, tx.listing))(size)
        messages.append(
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "content": result, "tool_use_id": reply["content"][-1].get("id", "none")}
                ],
            }
        )
    return calls


# -- recording --------------------------------------------------------------------------------


def record(store: BlobStore, conversations: list[list[tuple[dict, dict]]]) -> None:
    """Store every call as the kernel does: one :class:`CallRecorder` per conversation, which
    puts each new message once and chains one manifest per request."""
    for n, calls in enumerate(conversations):
        recorder = CallRecorder(store, agent=f"agent-{n // 4:03d}")
        for request, response in calls:
            recorder.record(request, response)


def record_stateless(store: BlobStore, conversations: list[list[tuple[dict, dict]]]) -> None:
    """A recorder that keeps no state: every blob of every request is put (and deduplicated
    by the store) again, so every message is re-serialized on every call."""
    for n, calls in enumerate(conversations):
        agent = f"agent-{n // 4:03d}"
        parent, covered = None, 0
        for request, response in calls:
            refs = [store.put(request["system"], "prompt", agent=agent)]
            refs += [store.put(t, "tool_schema", agent=agent) for t in request["tools"]]
            refs += [store.put(m, "message", agent=agent) for m in request["messages"]]
            parent = store.put_manifest(parent, refs[covered:], kind="request", agent=agent)
            covered = len(refs)
            store.put(response, "response", agent=agent)


def baseline(conversations: list[list[tuple[dict, dict]]]) -> tuple[int, int, float]:
    """(logical bytes, zstd-3 bytes, seconds): each whole request and response compressed alone."""
    cctx = zstandard.ZstdCompressor(level=3)
    logical = stored = 0
    t0 = time.perf_counter()
    for calls in conversations:
        for request, response in calls:
            for doc in (request, response):
                raw = canonical_json(doc)
                logical += len(raw)
                stored += len(cctx.compress(raw))
    return logical, stored, time.perf_counter() - t0


# -- micro figures ----------------------------------------------------------------------------


def per_call_us(fn, items: list, repeat: int = 3) -> float:
    """Microseconds per call of ``fn`` over ``items``: the best of ``repeat`` passes (the
    usual way to time on a noisy machine; the baselines beside are timed the same way)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for item in items:
            fn(item)
        best = min(best, time.perf_counter() - t0)
    return best / len(items) * 1e6


def put_figures(path: Path, tx: Text, rounds: int) -> dict:
    out = {}
    with BlobStore.open(path) as s:
        for label, size in (("2k", 2048), ("50k", 51200)):
            blobs = [tx.prose(size)[:size] for _ in range(64)]
            for b in blobs:
                s.put(b, "message")
            items = blobs * max(1, rounds // len(blobs))
            out[f"put_hit_us_{label}"] = round(per_call_us(lambda b: s.put(b, "message"), items), 2)
            raws = [b.encode() for b in items]
            out[f"blake3_us_{label}"] = round(per_call_us(lambda r: blake3.blake3(r).digest(), raws), 2)
            dicts = [{"role": "user", "content": b} for b in blobs]
            for d in dicts:
                s.put(d, "message")
            out[f"put_hit_us_{label}_json"] = round(
                per_call_us(lambda d: s.put(d, "message"), dicts * max(1, rounds // 640)), 2
            )
        fresh = [tx.prose(51200)[:51200] + str(i) for i in range(max(50, rounds // 100))]
        out["put_new_us_50k"] = round(per_call_us(lambda b: s.put(b, "result"), fresh, 1), 1)
        s.flush()  # large blobs are compressed in the background: not during the next figures
        more = [b + "'" for b in fresh]
        t0 = time.perf_counter()
        for b in more:
            s.put(b, "result")
        s.flush()
        out["put_new_flushed_us_50k"] = round((time.perf_counter() - t0) / len(more) * 1e6, 1)
        cctx = zstandard.ZstdCompressor(level=3)
        out["zstd3_us_50k"] = round(per_call_us(lambda b: cctx.compress(b.encode()), fresh), 1)
    return out


def durable_figure(path: Path, tx: Text, count: int, repeat: int = 3) -> float:
    """New small blobs per second, made durable (group commit, then flush): the best of
    ``repeat`` runs, each into a fresh store (so each trains its dictionary too)."""
    small = [tx.prose(rng_size) for rng_size in [300 + (i * 37) % 1200 for i in range(count)]]
    best = 0.0
    for n in range(repeat):
        with BlobStore.open(path / str(n)) as s:
            t0 = time.perf_counter()
            for b in small:
                s.put(b, "message")
            s.flush()
            best = max(best, count / (time.perf_counter() - t0))
    return best


def check_figures(store: BlobStore, rounds: int = 3) -> tuple[bool, float, float]:
    """(check passed, check --read-data MB/s, raw zstd MB/s): the best of ``rounds`` each,
    alternating, so both see the same machine (and the same warm page cache)."""
    ok, check_best, zstd_best = True, 0.0, 0.0
    for _ in range(rounds):
        t0 = time.perf_counter()
        report = store.check(read_data=True)
        check_best = max(check_best, report.data_bytes / 1e6 / (time.perf_counter() - t0))
        ok = ok and report.ok
        zstd_best = max(zstd_best, raw_decompress_mb_s(store))
    return ok, check_best, zstd_best


def get_figures(path: Path, count: int = 5000) -> dict:
    """Microseconds per ``get`` of a blob already read once, from each tier: hot (its bytes
    in memory), warm (its compressed frame in memory), cold (the pack, in the page cache)."""
    out = {}
    for tier, options in (("hot", {}), ("warm", {"cache_bytes": 0}), ("cold", {"cache_bytes": 0, "warm_bytes": 0})):
        with BlobStore.open(path, **options) as s:
            ids = random.Random(3).sample(sorted(s.index.entries), min(count, len(s.index.entries)))
            for b in ids:
                s.get(b)
            out[f"get_us_{tier}"] = round(per_call_us(s.get, ids), 2)
    return out


def raw_decompress_mb_s(store: BlobStore) -> float:
    """zstd alone over the very frames the store holds (with their dictionaries)."""
    frames = []
    for state in store.index.packs.values():
        data = state.path.read_bytes()
        for _bid, e in state.rows:
            if e.flags & rec.ZSTD:
                start = e.offset + rec.HEADER_SIZE + len(e.kind.encode())
                frames.append((data[start : start + e.clen], e.ulen, e.dict_id if e.flags & rec.DICT_USED else 0))
    for _, _, d in frames:
        if d:
            store.dictionaries.load(d)
    dec = store.codec.decompress
    t0 = time.perf_counter()
    total = sum(len(dec(f, u, d)) for f, u, d in frames)
    return total / 1e6 / (time.perf_counter() - t0)


# -- main -------------------------------------------------------------------------------------


def run(seed: int, quick: bool) -> dict:
    agents, convs = (30, 2) if quick else (100, 4)
    t_gen = time.perf_counter()
    conversations = make_workload(seed, agents, convs)
    gen_s = time.perf_counter() - t_gen
    logical, base_bytes, base_s = baseline(conversations)
    tmp = Path(tempfile.mkdtemp(prefix="llmos-bench-blobs-"))
    try:
        figures = {
            "machine": _machine(),
            "agents": agents,
            "conversations": len(conversations),
            "llm_calls": sum(len(c) for c in conversations),
            "workload_gen_s": round(gen_s, 1),
            "logical_bytes": logical,
            "baseline_bytes": base_bytes,
            "baseline_ratio": round(logical / base_bytes, 2),
            "baseline_mb_s": round(logical / 1e6 / base_s, 1),
        }
        with BlobStore.open(tmp / "nodict", dictionaries=False) as s:
            t0 = time.perf_counter()
            record_stateless(s, conversations)
            s.flush()
            figures["ingest_stateless_mb_s"] = round(logical / 1e6 / (time.perf_counter() - t0), 1)
            figures["compression_ratio_no_dict"] = s.stats()["compression_ratio"]
        with BlobStore.open(tmp / "main") as s:
            t0 = time.perf_counter()
            record(s, conversations)
            s.flush()
            ingest_s = time.perf_counter() - t0
        with BlobStore.open(tmp / "main") as s:
            fresh = s.stats()
            ok_ingest, check_ingest, zstd_ingest = check_figures(s)
            t0 = time.perf_counter()
            repacked = s.repack()
            repack_s = time.perf_counter() - t0
            st = s.stats()
            ok, check_mb_s, zstd_mb_s = check_figures(s)
            distinct = sum(e.ulen for e in s.index.entries.values() if e.btype not in (rec.MANIFEST, rec.DICT))
        fresh_disk = fresh["pack_bytes"] + fresh["index_bytes"]
        disk = st["pack_bytes"] + st["index_bytes"]
        figures.update(
            {
                "unique_bytes": st["unique_bytes"],
                "blobs": st["blobs"],
                "dictionaries": st["dictionaries"],
                "dedup_ratio": round(logical / st["unique_bytes"], 2),
                # the most any store could reach keeping each distinct message, prompt, schema and
                # reply once and nothing else (no manifests): this workload's ceiling
                "dedup_ratio_ceiling": round(logical / distinct, 2),
                # as ingested: zstd level 3 (with dictionaries for small blobs)
                "stored_bytes_ingest": fresh["stored_bytes"],
                "disk_bytes_ingest": fresh_disk,
                "compression_ratio": fresh["compression_ratio"],
                "total_reduction_ingest": round(logical / fresh_disk, 1),
                # at rest, after the level-19 repack of sealed packs (llmos blobs repack, or a dream)
                "repack_s": round(repack_s, 2),
                "repack_mb_s": round(st["unique_bytes"] / 1e6 / repack_s, 1),
                "repacked_records": repacked.records,
                "stored_bytes": st["stored_bytes"],
                "disk_bytes": disk,
                "compression_ratio_repacked": st["compression_ratio"],
                "compression_ratio_on_disk": round(st["unique_bytes"] / disk, 2),
                "total_reduction": round(logical / disk, 1),
                "vs_baseline": round(base_bytes / disk, 1),
                "ingest_logical_mb_s": round(logical / 1e6 / ingest_s, 1),
                "check_ok": ok and ok_ingest,
                # check --read-data and zstd alone over the same frames: level 3 (as written) ...
                "check_read_mb_s_ingest": round(check_ingest, 1),
                "zstd_decompress_mb_s_ingest": round(zstd_ingest, 1),
                "check_vs_zstd_ingest": round(check_ingest / zstd_ingest, 2),
                # ... and level 19 (after the repack), whose frames decompress faster
                "check_read_mb_s": round(check_mb_s, 1),
                "zstd_decompress_mb_s": round(zstd_mb_s, 1),
                "check_vs_zstd": round(check_mb_s / zstd_mb_s, 2),
                "index_bytes_per_blob": round(st["index_bytes"] / st["blobs"], 1),
            }
        )
        figures.update(get_figures(tmp / "main"))
        tx = Text(random.Random(seed + 1))
        figures.update(put_figures(tmp / "puts", tx, 2000 if quick else 20000))
        figures["durable_blobs_per_s"] = round(durable_figure(tmp / "durable", tx, 5000 if quick else 40000))
        return figures
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} cpus, Python {platform.python_version()}"


TARGETS = {
    "dedup_ratio": (">=", 10),
    "compression_ratio_no_dict": (">=", 2.2),
    "compression_ratio": (">=", 3.0),
    "total_reduction": (">=", 30),
    "ingest_logical_mb_s": (">=", 100),
    "put_hit_us_2k": ("<=", 3),
    "put_hit_us_50k": ("<=", 10),
    "put_new_us_50k": ("<=", 100),
    "durable_blobs_per_s": (">=", 50000),
    "check_vs_zstd": (">=", 0.7),
}

NOTES = {"dedup_ratio": " (with templated prompts, as here; >= 15 with shared ones)"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="30 agents, 2 conversations each")
    ap.add_argument("--json", action="store_true", help="print every figure as JSON")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    figures = run(args.seed, args.quick)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    for key, value in figures.items():
        target = TARGETS.get(key)
        note = ""
        if target:
            op, goal = target
            met = value >= goal if op == ">=" else value <= goal
            note = f"   target {op} {goal}{NOTES.get(key, '')}: {'met' if met else 'MISSED'}"
        print(f"{key:<28} {value}{note}")


if __name__ == "__main__":
    main()

"""MCP over HTTP: `recall` latency through `llmos serve` against the same recall in-process, and a
load of concurrent MCP clients.

A root with N generated memories (the recall benchmark's suite, default 10,000); `llmos serve` in
its own process (as a person runs it); the official SDK's client over streamable HTTP with the
bearer token. Measured in the same run:

- in-process: ``llmos.memory.recall.recall`` with the arguments the MCP tool passes (the baseline);
- over HTTP: one client, the ``recall`` tool, one call at a time (p50/p95 and the overhead), and the
  server's own share of each call from its ``Server-Timing`` header (request in to response out);
- load: C clients (default 50), each its own MCP session calling ``recall`` in a loop for S seconds
  (default 30): calls, calls/s, p50/p95 under load, errors (exceptions or error results).

    python bench/serve.py                       # 10,000 memories, 50 clients for 30 s
    python bench/serve.py --seconds 5 --json    # a quick run
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from llmos.config import load_config
from llmos.memory.index import open_index
from llmos.memory.recall import recall
from llmos.memory.recallsuite import SEED, Suite
from llmos.root import init_root


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 2) if ordered else 0.0


def build(base: Path, size: int) -> tuple[Path, list[str], float]:
    root = init_root(base / "root")
    suite = Suite(size, random.Random(SEED + size))
    suite.write(root)
    t0 = time.perf_counter()
    report = open_index(root).sync()
    assert report.added == size and not report.errors, report
    return root, [q["q"] for q in suite.questions], time.perf_counter() - t0


def in_process(root: Path, queries: list[str], n: int) -> list[float]:
    cfg = load_config(root).memory.recall
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        recall(root, queries[i % len(queries)], k=5, config=cfg, sync="quick")
        times.append((time.perf_counter() - t0) * 1000)
    return times


def start_server(root: Path) -> tuple[subprocess.Popen, str, str]:
    env = {**os.environ, "LLMOS_ROOT": str(root)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmos", "serve", "--port", "0", "--no-schedule"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    text = ""
    while "dashboard" not in text:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit("llmos serve did not start")
        text += line
    url = re.search(r"(http://127\.0\.0\.1:\d+)/mcp", text).group(1) + "/mcp"
    return proc, url, (root / ".llmos" / "serve-token").read_text().strip()


def client(url: str, token: str, server_ms: list[float] | None = None) -> Client:
    """An SDK client with the token; ``server_ms`` collects each response's ``Server-Timing``."""

    async def timing(response: httpx2.Response) -> None:
        found = re.search(r"app;dur=([0-9.]+)", response.headers.get("server-timing", ""))
        if found and server_ms is not None:
            server_ms.append(float(found.group(1)))

    http = httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(60), event_hooks={"response": [timing]}
    )
    return Client(streamable_http_client(url, http_client=http), read_timeout_seconds=60)


async def sequential(url: str, token: str, queries: list[str], n: int, server_ms: list[float]) -> list[float]:
    times = []
    async with client(url, token, server_ms) as c:
        for q in queries[:5]:  # warm up: the server opens the index on its first recall
            await c.call_tool("recall", {"query": q})
        server_ms.clear()
        for i in range(n):
            t0 = time.perf_counter()
            result = await c.call_tool("recall", {"query": queries[i % len(queries)]})
            times.append((time.perf_counter() - t0) * 1000)
            assert not result.is_error, result.content
    return times


async def load(url: str, token: str, queries: list[str], clients: int, seconds: float) -> dict:
    times: list[float] = []
    errors: list[str] = []
    connected = [0]

    async def one(i: int) -> None:
        rng = random.Random(i)
        try:
            async with client(url, token) as c:
                connected[0] += 1
                deadline = time.monotonic() + seconds
                while time.monotonic() < deadline:
                    t0 = time.perf_counter()
                    result = await c.call_tool("recall", {"query": rng.choice(queries)})
                    times.append((time.perf_counter() - t0) * 1000)
                    if result.is_error:
                        errors.append(result.content[0].text[:200])
        except Exception as exc:  # counted, not raised: the figure is the number of errors
            errors.append(f"{type(exc).__name__}: {exc}"[:200])

    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for i in range(clients):
            tg.start_soon(one, i)
    wall = time.perf_counter() - started
    return {
        "clients": clients,
        "connected": connected[0],
        "seconds": round(wall, 1),
        "calls": len(times),
        "calls_per_s": round(len(times) / wall, 1),
        "p50_ms": pct(times, 50),
        "p95_ms": pct(times, 95),
        "errors": len(errors),
        "first_errors": errors[:3],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--memories", type=int, default=10_000)
    ap.add_argument("--calls", type=int, default=300, help="sequential recalls, in-process and over HTTP")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=30.0, help="length of the concurrent load")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="llmos-bench-serve-") as tmp:
        root, queries, index_s = build(Path(tmp), args.memories)
        base = in_process(root, queries, args.calls)
        proc, url, token = start_server(root)
        try:
            server_ms: list[float] = []
            http = anyio.run(sequential, url, token, queries, args.calls, server_ms)
            loaded = anyio.run(load, url, token, queries, args.clients, args.seconds)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    out = {
        "memories": args.memories,
        "index_build_s": round(index_s, 1),
        "in_process_p50_ms": pct(base, 50),
        "in_process_p95_ms": pct(base, 95),
        "http_p50_ms": pct(http, 50),
        "http_p95_ms": pct(http, 95),
        "server_p50_ms": pct(server_ms, 50),
        "server_p95_ms": pct(server_ms, 95),
        "p95_overhead_ms": round(pct(http, 95) - pct(base, 95), 2),
        "server_p95_overhead_ms": round(pct(server_ms, 95) - pct(base, 95), 2),
        "p50_ratio": round(statistics.median(http) / statistics.median(base), 2),
        "load": loaded,
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"{args.memories:,} memories (index built in {out['index_build_s']} s), {args.calls} sequential recalls")
    print(f"  in-process  p50 {out['in_process_p50_ms']} ms  p95 {out['in_process_p95_ms']} ms  (baseline)")
    print(f"  MCP / HTTP  p50 {out['http_p50_ms']} ms  p95 {out['http_p95_ms']} ms  ({out['p50_ratio']}x at p50)")
    print(f"  in the server (Server-Timing)  p50 {out['server_p50_ms']} ms  p95 {out['server_p95_ms']} ms")
    print(
        f"  p95 overhead {out['p95_overhead_ms']} ms end to end, "
        f"{out['server_p95_overhead_ms']} ms in the server  [target <= 10 ms]"
    )
    ld = out["load"]
    print(
        f"{ld['clients']} concurrent MCP clients for {ld['seconds']} s: {ld['calls']:,} calls ({ld['calls_per_s']}/s), "
        f"p50 {ld['p50_ms']} ms, p95 {ld['p95_ms']} ms, errors {ld['errors']}"
    )
    for e in ld["first_errors"]:
        print(f"  error: {e}")


if __name__ == "__main__":
    main()

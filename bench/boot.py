"""Boot benchmark: load + validate a root of 10, 100 and 1,000 agents; local model load time and speed.

Baselines in the same run: for boot, plain ``yaml.safe_load`` of the same frontmatter (no schema, no
souls, no inheritance); for generation, the same model without the tool-call grammar.

    python bench/boot.py            # a table
    python bench/boot.py --json     # every figure by name
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

from llmos.kernel import Kernel
from llmos.root import init_root

AGENT = """---
name: agent-{n:04d}
description: Benchmark agent {n} that reads notes and writes summaries for project {p}.
tools: [read_file, write_file, list_dir, finish]
max_steps: {steps}
{extends}---
You are agent {n}. Read the notes in projects/p{p}/ and write a summary of them to
projects/p{p}/summary-{n}.md. Keep it under 200 words. Call finish when done.
"""


def make_root(base: Path, count: int) -> Path:
    root = init_root(base / f"root{count}")
    for n in range(count):
        extends = "extends: assistant\n" if n % 10 == 0 else ""
        (root / "agents" / f"agent-{n:04d}.md").write_text(AGENT.format(n=n, p=n % 7, steps=5 + n % 5, extends=extends))
        if n % 3 == 0:
            (root / "agents" / f"agent-{n:04d}.soul.md").write_text(f"I am agent {n}; I am terse and exact.\n")
    return root


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def baseline_parse(root: Path) -> None:
    for p in (root / "agents").glob("*.md"):
        if p.name.endswith(".soul.md"):
            continue
        text = p.read_text()
        yaml.safe_load(text.split("---")[1])


def boot_once(root: Path) -> int:
    agents, errors = Kernel(root).agents()
    assert not errors, errors[0]
    return len(agents)


def bench_boot(base: Path, repeat: int) -> dict:
    out = {}
    for count in (10, 100, 1000):
        root = make_root(base, count)
        loaded = boot_once(root)
        kernel_s = best_of(lambda: boot_once(root), repeat)
        base_s = best_of(lambda: baseline_parse(root), repeat)
        out[str(count)] = {"agents_loaded": loaded, "boot_ms": round(kernel_s * 1000, 2),
                           "per_agent_us": round(kernel_s / loaded * 1e6, 1),
                           "baseline_yaml_ms": round(base_s * 1000, 2), "ratio_vs_baseline": round(kernel_s / base_s, 2)}
    return out


def bench_model(tokens: int) -> dict:
    from llama_cpp import LlamaGrammar

    from llmos.backends.grammar import tool_call_grammar
    from llmos.backends.local import bundled_model_path, load_llama
    from llmos.syscalls import SyscallTable

    path = bundled_model_path()
    t0 = time.perf_counter()
    llm = load_llama(path, 4096, None)
    load_s = time.perf_counter() - t0
    prompt = "Goal: Write a haiku about git into projects/demo/haiku.md\nCall:"
    grammar = LlamaGrammar.from_string(tool_call_grammar(SyscallTable.default().schemas(None), 400), verbose=False)

    def gen(**kw) -> tuple[float, int, float]:
        t = time.perf_counter()
        out = llm.create_completion(prompt, max_tokens=tokens, temperature=0.7, seed=1, **kw)
        dt = time.perf_counter() - t
        n = out["usage"]["completion_tokens"]
        return n / dt, n, dt

    gen()  # warm-up
    free = [gen() for _ in range(3)]
    constrained = [gen(grammar=grammar) for _ in range(3)]
    pp = len(llm.tokenize(("word " * 500).encode()))
    t = time.perf_counter()
    llm.create_completion("word " * 500, max_tokens=1)
    prompt_tps = pp / (time.perf_counter() - t)
    free_tps = statistics.median(r[0] for r in free)
    con_tps = statistics.median(r[0] for r in constrained)
    return {"model": path.name, "model_mb": round(path.stat().st_size / 2**20, 1), "load_s": round(load_s, 3),
            "gen_tokens_per_s": round(free_tps, 1), "grammar_tokens_per_s": round(con_tps, 1),
            "grammar_overhead_ratio": round(free_tps / con_tps, 2), "prompt_tokens_per_s": round(prompt_tps, 1),
            "threads": os.cpu_count()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--repeat", type=int, default=5, help="runs per size; the best is reported")
    ap.add_argument("--tokens", type=int, default=128, help="tokens generated per speed sample")
    ap.add_argument("--no-model", action="store_true", help="skip the local model figures")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = {"boot": bench_boot(Path(tmp), args.repeat)}
    if not args.no_model:
        result["local_model"] = bench_model(args.tokens)
    result["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{'agents':>7} {'boot ms':>9} {'us/agent':>9} {'yaml-only ms':>13} {'ratio':>6}")
    for count, r in result["boot"].items():
        print(f"{count:>7} {r['boot_ms']:>9} {r['per_agent_us']:>9} {r['baseline_yaml_ms']:>13} {r['ratio_vs_baseline']:>6}")
    if "local_model" in result:
        m = result["local_model"]
        print(f"\nlocal model {m['model']} ({m['model_mb']} MiB): load {m['load_s']} s; "
              f"generation {m['gen_tokens_per_s']} tok/s free, {m['grammar_tokens_per_s']} tok/s with the "
              f"tool-call grammar ({m['grammar_overhead_ratio']}x); prompt {m['prompt_tokens_per_s']} tok/s")


if __name__ == "__main__":
    main()

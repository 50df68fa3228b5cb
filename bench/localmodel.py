"""Local model benchmark: the bundled Gemma 3 270M (Q4_K_M) through the model worker.

Figures: worker start + model load, free generation and grammar-constrained tokens/s, prompt
processing tokens/s, each with llama.cpp's extra buffer types (AMX / repacked weights) on and off,
and the same generation in-process (no worker) as the baseline for the worker's overhead. Runs
alternate between the variants so each sees the same machine load.

    python bench/localmodel.py              # a table
    python bench/localmodel.py --json       # every figure by name
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

PROMPT = "Goal: Write a haiku about git into projects/demo/haiku.md\nCall:"
LONG = "word " * 500


def _worker(path: Path, extra: bool):
    from llmos.backends.worker import LocalModel, WorkerSpec

    t0 = time.perf_counter()
    model = LocalModel(WorkerSpec(str(path), 4096, None, extra, 600.0), "on" if extra else "off")
    model.call("tokenize", text="")
    return model, time.perf_counter() - t0


def _gen_worker(model, tokens: int, grammar: str | None) -> float:
    t = time.perf_counter()
    out = model.call(
        "complete", prompt=PROMPT, grammar=grammar, max_tokens=tokens, temperature=0.7, seed=1, repeat_penalty=1.0
    )
    return out["completion_tokens"] / (time.perf_counter() - t)


def _prompt_worker(model) -> float:
    n = model.call("tokenize", text=LONG)["n"]
    t = time.perf_counter()
    model.call("complete", prompt=LONG, grammar=None, max_tokens=1, temperature=0.0, seed=1, repeat_penalty=1.0)
    return n / (time.perf_counter() - t)


_QUIET: list = []


def _in_process(path: Path):
    import ctypes

    import llama_cpp

    _QUIET.append(llama_cpp.llama_log_callback(lambda level, text, user: None))  # llama.cpp logs from C
    llama_cpp.llama_log_set(_QUIET[-1], ctypes.c_void_p())
    return llama_cpp.Llama(model_path=str(path), n_ctx=4096, verbose=False)


def _gen_in_process(llm, tokens: int) -> float:
    t = time.perf_counter()
    out = llm.create_completion(PROMPT, max_tokens=tokens, temperature=0.7, seed=1, repeat_penalty=1.0)
    return out["usage"]["completion_tokens"] / (time.perf_counter() - t)


def run(tokens: int, rounds: int, in_process: bool) -> dict:
    from llmos.backends.cpu import cpu_info
    from llmos.backends.grammar import tool_call_grammar
    from llmos.backends.local import bundled_model_path
    from llmos.syscalls import SyscallTable

    path = bundled_model_path()
    grammar = tool_call_grammar(SyscallTable.default().schemas(None), 400)
    models = {}
    loads = {}
    for name, extra in (("extra_on", True), ("extra_off", False)):
        models[name], loads[name] = _worker(path, extra)
        _gen_worker(models[name], 8, None)  # warm-up
    llm = _in_process(path) if in_process else None
    if llm is not None:
        _gen_in_process(llm, 8)
    samples: dict[str, list[float]] = {}
    for _ in range(rounds):
        for name, model in models.items():
            samples.setdefault(f"{name}_gen", []).append(_gen_worker(model, tokens, None))
            samples.setdefault(f"{name}_grammar", []).append(_gen_worker(model, tokens, grammar))
            samples.setdefault(f"{name}_prompt", []).append(_prompt_worker(model))
        if llm is not None:
            samples.setdefault("in_process_gen", []).append(_gen_in_process(llm, tokens))
    for model in models.values():
        model.stop()
    med = {k: round(statistics.median(v), 1) for k, v in samples.items()}
    out = {
        "model": path.name,
        "model_mb": round(path.stat().st_size / 2**20, 1),
        "tokens": tokens,
        "rounds": rounds,
        "load_s": {k: round(v, 3) for k, v in loads.items()},
        "tokens_per_s": med,
        "extra_off_vs_on_gen": round(med["extra_off_gen"] / med["extra_on_gen"], 3),
        "extra_off_vs_on_prompt": round(med["extra_off_prompt"] / med["extra_on_prompt"], 3),
    }
    if llm is not None:
        out["worker_vs_in_process_gen"] = round(med["extra_on_gen"] / med["in_process_gen"], 3)
    info = cpu_info()
    out["machine"] = {
        "cpu": info.model,
        "flags": info.notable,
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
    }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokens", type=int, default=64, help="tokens generated per sample")
    ap.add_argument("--rounds", type=int, default=3, help="samples per variant (medians are reported)")
    ap.add_argument("--no-in-process", action="store_true", help="skip the in-process baseline")
    ap.add_argument("--json", action="store_true", help="print every figure as JSON")
    args = ap.parse_args()
    out = run(args.tokens, args.rounds, not args.no_in_process)
    if args.json:
        print(json.dumps(out, indent=2))
        return
    tps = out["tokens_per_s"]
    print(f"{out['model']} ({out['model_mb']} MiB) on {out['machine']['cpu']} [{' '.join(out['machine']['flags'])}]")
    print(f"{'extra buffers':<14} {'load':>7} {'gen t/s':>8} {'grammar t/s':>12} {'prompt t/s':>11}")
    for name in ("extra_on", "extra_off"):
        print(
            f"{name[6:]:<14} {out['load_s'][name]:>6.2f}s {tps[name + '_gen']:>8.1f} {tps[name + '_grammar']:>12.1f} "
            f"{tps[name + '_prompt']:>11.1f}"
        )
    print(f"off/on: generation {out['extra_off_vs_on_gen']:.3f}x, prompt {out['extra_off_vs_on_prompt']:.3f}x")
    if "in_process_gen" in tps:
        print(
            f"in-process baseline (no worker): gen {tps['in_process_gen']:.1f} t/s; "
            f"worker/in-process {out['worker_vs_in_process_gen']:.3f}x"
        )


if __name__ == "__main__":
    main()

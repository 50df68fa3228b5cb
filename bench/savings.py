"""Savings benchmark: what repetition costs with execution modes on, against an all-LEARNER baseline, and
whether a zero-token run ever does what the model would not have done.

The suite (``bench/savings_suite.py``): 12 honest goal families x N instances (different slot values,
realistic multi-step goals), then an adversarial half (issue 18): near-duplicates that must not be
replayed (same words, different target; a slot that changes meaning; content the model wrote; families
with a single prior run) and paraphrases of honest goals. Model replies come from the scripted backend
(one reply plan per family, a function of the slot values), so the run is deterministic.

The suite runs twice in one invocation, in two fresh roots: once with every goal forced to LEARNER (the
baseline, crystallization off), once with modes on. Reported: tokens, model calls and wall time per mode;
token reduction on the honest families; **wrong replays** (a zero-token run whose written files differ
from what the baseline's model run of the same goal wrote); zero-token runs on goals that must not be
replayed; the share of paraphrases served at zero or fewer tokens; CRYSTALLIZED goal latency; and the
mode decision over 10,000 committed traces.

A replay needs two runs of a family with different slot values, so at most (n-2)/n of a family's n
instances run without the model (80% at 10, 90% at 20): the honest families run 20 instances by default.

    python bench/savings.py            # a table and the targets
    python bench/savings.py --json     # every figure by name
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from llmos.goals import normalize
from llmos.kernel import Kernel
from llmos.modes.choose import choose_mode
from llmos.modes.evidence import Evidence
from llmos.modes.traceindex import TraceIndex
from llmos.root import init_root
from llmos.traces import read_trace

sys.path.insert(0, str(Path(__file__).parent))
from savings_suite import ADVERSARIAL, HONEST, NAMES, Family  # noqa: E402

SHARED = {
    "projects/shared/style.md": "Short lines. No rhyme.\n",
    "projects/shared/email-footer.md": "-- \nSent by llmos\n",
    "projects/shared/checklist.md": "- [ ] {item}\n",
    "projects/shared/ports.md": "Ports below 1024 need root.\n",
}
ZERO = ("FOLLOWER", "CRYSTALLIZED")


def make_root(base: Path, name: str, auto: bool) -> Path:
    root = init_root(base / name)
    for rel, text in SHARED.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    cfg = root / "system/llmos.yaml"
    if not auto:
        cfg.write_text(cfg.read_text().replace("  auto: true", "  auto: false"))
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-qm", "bench seed"], cwd=root, check=True)
    return root


COMMIT_SECONDS: list[float] = []


def _timed_commit(original):
    """Time the audit commit (git subprocesses) of each run, to show where a run's time goes."""

    def commit(self, writer, ctx):
        t0 = time.perf_counter()
        try:
            return original(self, writer, ctx)
        finally:
            COMMIT_SECONDS.append(time.perf_counter() - t0)

    return commit


Kernel._commit = _timed_commit(Kernel._commit)  # measurement only: the commit itself is unchanged


def schedule(instances: int) -> list[tuple[Family, int]]:
    """Honest families interleaved (instance 0 of each, then 1, ...), then the adversarial half likewise."""
    honest = [Family(f, "honest", True, instances) for f in HONEST]
    out = []
    for group in (honest, ADVERSARIAL):
        for i in range(max(f.instances for f in group)):
            out += [(f, i) for f in group if i < f.instances]
    return out


def run_suite(root: Path, scripts: Path, plan: list[tuple[Family, int]], forced: str | None) -> list[dict]:
    kernel = Kernel(root)
    rows = []
    for fam, i in plan:
        goal, replies = fam.plan(i)
        script = scripts / f"{fam.name}-{i}.yaml"
        if not script.exists():
            script.write_text(yaml.safe_dump({"replies": replies}))
        t0 = time.perf_counter()
        res = kernel.run(goal, model=f"scripted:{script}", mode=forced)
        seconds = time.perf_counter() - t0
        trace = read_trace(res.trace_path)
        rows.append(
            {
                "family": fam.name,
                "kind": fam.kind,
                "replay_ok": fam.replay_ok,
                "instance": i,
                "goal": goal,
                "mode": res.mode,
                "outcome": res.outcome,
                "tokens": res.tokens["input"] + res.tokens["output"],
                "seconds": seconds,
                "commit_seconds": COMMIT_SECONDS[-1] if COMMIT_SECONDS else 0.0,
                "model_calls": trace.model_calls,
                "learned": res.learned,
                "wrote": written(root, trace),
                "why": (trace.decision or {}).get("replay", {}).get("reason", ""),
            }
        )
    return rows


def written(root: Path, trace) -> dict[str, str]:
    """What the run left in each file it wrote (read right after the run, before a later run changes it)."""
    out = {}
    for s in trace.steps:
        if s.ok and s.tool == "write_file":
            p = root / s.args["path"]
            out[s.args["path"]] = p.read_text() if p.is_file() else "<missing>"
    return out


def summarize(rows: list[dict]) -> dict:
    out: dict = {}
    for mode in sorted({r["mode"] for r in rows}) + ["total"]:
        sel = [r for r in rows if mode == "total" or r["mode"] == mode]
        secs = sorted(r["seconds"] for r in sel)
        out[mode] = {
            "goals": len(sel),
            "tokens": sum(r["tokens"] for r in sel),
            "model_calls": sum(r["model_calls"] for r in sel),
            "seconds_mean": statistics.fmean(secs),
            "seconds_p50": statistics.median(secs),
            "failures": sum(r["outcome"] != "success" for r in sel),
        }
    return out


def judge(baseline: list[dict], modes: list[dict]) -> dict:
    """Wrong replays, forbidden replays and paraphrase reuse, each run compared with its baseline twin."""
    wrong, forbidden, mismatched = [], [], []
    for b, m in zip(baseline, modes):
        assert b["goal"] == m["goal"]
        zero = m["mode"] in ZERO and m["tokens"] == 0
        if m["wrote"] != b["wrote"]:
            mismatched.append(m["goal"])
            if zero:
                wrong.append({"goal": m["goal"], "mode": m["mode"], "wrote": m["wrote"], "baseline": b["wrote"]})
        if zero and not m["replay_ok"]:
            forbidden.append(m["goal"])
    para = [(b, m) for b, m in zip(baseline, modes) if m["kind"] == "paraphrase"]
    adv = [m for m in modes if m["kind"] != "honest"]
    return {
        "wrong_replays": wrong,
        "forbidden_replays": forbidden,
        "runs_with_other_files_than_baseline": mismatched,
        "adversarial_goals": len(adv),
        "adversarial_zero_token": sum(1 for m in adv if m["mode"] in ZERO and m["tokens"] == 0),
        "adversarial_by_kind": {
            k: {
                "goals": sum(1 for m in adv if m["kind"] == k),
                "zero_token": sum(1 for m in adv if m["kind"] == k and m["mode"] in ZERO),
                "modes": sorted({m["mode"] for m in adv if m["kind"] == k}),
            }
            for k in sorted({m["kind"] for m in adv})
        },
        "paraphrases": len(para),
        "paraphrases_zero_token": sum(1 for _, m in para if m["tokens"] == 0),
        "paraphrases_fewer_tokens": sum(1 for b, m in para if m["tokens"] < b["tokens"]),
        "paraphrases_guided": sum(1 for _, m in para if m["mode"] == "MIXED"),
    }


# -- the decision over 10,000 committed traces -------------------------------------------------------
WORDS = (
    "write read make create list plan draft record log archive publish review summarize index "
    "report note poem email ticket invoice config release profile checklist budget memo"
).split()


def synth_traces(root: Path, count: int, templates: int, seed: int = 7) -> list[str]:
    """``count`` trace files over ``templates`` goal templates (JSON frontmatter, valid YAML), each committed
    by a commit of its own with its ``Trace-Id`` trailer, as its run would have (through git fast-import)."""
    rng = random.Random(seed)
    goals = [f"{' '.join(rng.sample(WORDS, 5))} number {t} into projects/x/{{}}.md" for t in range(templates)]
    stream = []
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True).stdout.strip()
    for n in range(count):
        goal = goals[n % templates].format(n)
        ng = normalize(goal)
        meta = {
            "format": "llmos-trace/1",
            "id": f"20260101T{n:06d}-{n:06x}",
            "goal": goal,
            "goal_signature": ng.signature,
            "template": ng.template,
            "slots": ng.slots,
            "agent": "assistant",
            "agent_hash": "x",
            "mode": "LEARNER",
            "model": "scripted",
            "started": f"2026-01-01T00:00:{n:06d}Z",
            "ended": "2026-01-01T00:00:01Z",
            "outcome": "success" if n % 5 else "failure",
            "decision": None,
            "steps": [
                {"n": 1, "tool": "write_file", "args": {"path": ng.slots["path1"], "content": "x"}, "ok": True},
                {"n": 2, "tool": "finish", "args": {"result": "ok"}, "ok": True},
            ],
        }
        rel = f"traces/2026/01/{meta['id']}.md"
        text = ("---\n" + json.dumps(meta) + "\n---\n\n# trace\n").encode()
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(text)
        msg = f"llmos: {goal}\n\nTrace-Id: {meta['id']}\nAgent: assistant\nMode: LEARNER\n".encode()
        stream += [
            b"commit refs/heads/main\n",
            f"committer bench <bench@llmos.invalid> {1767225600 + n} +0000\n".encode(),
            b"data %d\n%s\n" % (len(msg), msg),
            f"from {head}\n".encode() if n == 0 else b"",
            b"M 100644 inline %s\ndata %d\n%s\n" % (rel.encode(), len(text), text),
        ]
    subprocess.run(["git", "fast-import", "--quiet"], cwd=root, input=b"".join(stream), check=True)
    subprocess.run(["git", "reset", "-q"], cwd=root, check=True)
    return [g.format(count + n) for n, g in enumerate(goals)]


def decision_bench(base: Path, count: int, queries: int) -> dict:
    root = make_root(base, "decide", auto=False)
    t0 = time.perf_counter()
    goals = synth_traces(root, count, max(count // 10, 1))
    made = time.perf_counter() - t0
    TraceIndex._open.clear()
    Evidence._open.clear()
    t0 = time.perf_counter()
    TraceIndex.for_root(root)  # cold: reads every file, saves the cache
    Evidence.for_root(root)  # cold: one git log and one cat-file over every run's commit
    cold = time.perf_counter() - t0
    TraceIndex._open.clear()
    Evidence._open.clear()
    t0 = time.perf_counter()
    TraceIndex.for_root(root)  # a new process: from the caches
    Evidence.for_root(root)
    warm = time.perf_counter() - t0
    kernel = Kernel(root)
    agent = kernel.agent("assistant")
    rng = random.Random(3)
    novel = [f"{' '.join(rng.sample(WORDS, 4))} something else entirely {n}" for n in range(queries)]
    asked = [rng.choice(goals) if n % 2 else novel[n] for n in range(queries)]
    times, modes = [], {}
    for goal in asked:
        ng = normalize(goal)
        t0 = time.perf_counter()
        plan = choose_mode(kernel, ng, agent)
        times.append(time.perf_counter() - t0)
        modes[plan.mode] = modes.get(plan.mode, 0) + 1
    times.sort()
    return {
        "traces": count,
        "committed_in_s": made,
        "index_cold_s": cold,
        "index_from_cache_s": warm,
        "queries": queries,
        "decision_p50_ms": 1000 * times[len(times) // 2],
        "decision_p95_ms": 1000 * times[int(len(times) * 0.95)],
        "modes": modes,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print every figure as JSON")
    ap.add_argument("--instances", type=int, default=20, help=f"instances of each honest family (<= {len(NAMES) - 4})")
    ap.add_argument("--traces", type=int, default=10_000)
    args = ap.parse_args(argv)
    if not 1 <= args.instances <= len(NAMES) - 4:  # the paraphrases use the last names
        ap.error(f"--instances must be 1-{len(NAMES) - 4}")
    with tempfile.TemporaryDirectory(prefix="llmos-savings-") as tmp:
        base = Path(tmp)
        scripts = base / "scripts"
        scripts.mkdir()
        plan = schedule(args.instances)
        baseline = run_suite(make_root(base, "baseline", auto=False), scripts, plan, "LEARNER")
        modes = run_suite(make_root(base, "modes", auto=True), scripts, plan, None)
        decide = decision_bench(base, args.traces, 400)
    report(baseline, modes, decide, args.json)


def figures_of(baseline: list[dict], modes: list[dict], decide: dict) -> dict:
    honest_b = [r for r in baseline if r["kind"] == "honest"]
    honest_m = [r for r in modes if r["kind"] == "honest"]
    base_sum, mode_sum = summarize(honest_b), summarize(honest_m)
    crystal = [r for r in modes if r["mode"] == "CRYSTALLIZED"]

    def p50(values):
        return 1000 * statistics.median(values) if values else None

    figures = {
        "honest_families": len(HONEST),
        "instances": len(honest_m) // len(HONEST),
        "baseline": base_sum,
        "modes": mode_sum,
        "token_reduction": 1 - mode_sum["total"]["tokens"] / max(base_sum["total"]["tokens"], 1),
        "honest_instances_with_tokens": {
            str(i): sum(1 for r in honest_m if r["instance"] == i and r["tokens"] > 0) for i in range(3)
        },
        **judge(baseline, modes),
        "crystallized_p50_ms": p50([r["seconds"] for r in crystal]),
        "crystallized_p50_ms_without_git_commit": p50([r["seconds"] - r["commit_seconds"] for r in crystal]),
        "crystallized_git_commit_p50_ms": p50([r["commit_seconds"] for r in crystal]),
        "crystallized_tools": sum(1 for r in modes for n in r["learned"] if n.startswith("crystallized")),
        "decision": decide,
    }
    figures["targets"] = {
        "token reduction on honest families >= 85%": figures["token_reduction"] >= 0.85,
        "wrong replays = 0": not figures["wrong_replays"],
        "no zero-token run of a goal that must not be replayed": not figures["forbidden_replays"],
        "decision over 10,000 traces p95 <= 20 ms": decide["decision_p95_ms"] <= 20,
    }
    return figures


def report(baseline: list[dict], modes: list[dict], decide: dict, as_json: bool) -> None:
    f = figures_of(baseline, modes, decide)
    if as_json:
        print(json.dumps(f, indent=2, default=float))
        return
    print(f"{f['honest_families']} honest families x {f['instances']} instances; baseline = every goal LEARNER\n")
    print(f"{'run':<10} {'mode':<13} {'goals':>5} {'tokens':>9} {'calls':>6} {'mean ms':>8} {'p50 ms':>7}")
    for name, summ in (("baseline", f["baseline"]), ("modes", f["modes"])):
        for mode, s in summ.items():
            print(
                f"{name:<10} {mode:<13} {s['goals']:>5} {s['tokens']:>9} {s['model_calls']:>6} "
                f"{1000 * s['seconds_mean']:>8.1f} {1000 * s['seconds_p50']:>7.1f}"
            )
    using = "/".join(str(v) for v in f["honest_instances_with_tokens"].values())
    print(
        f"\nhonest token reduction vs baseline: {100 * f['token_reduction']:.1f}%  "
        f"(families using tokens at instance 0/1/2: {using})"
    )
    print(f"\nadversarial half: {f['adversarial_goals']} goals, {f['adversarial_zero_token']} served at zero tokens")
    for kind, k in f["adversarial_by_kind"].items():
        print(f"  {kind:<13} {k['goals']:>3} goals, {k['zero_token']:>2} at zero tokens, modes {', '.join(k['modes'])}")
    print(
        f"wrong replays: {len(f['wrong_replays'])}; zero-token runs of goals that must not be replayed: "
        f"{len(f['forbidden_replays'])}; runs whose files differ from the baseline's (any mode): "
        f"{len(f['runs_with_other_files_than_baseline'])}"
    )
    for w in f["wrong_replays"][:5]:
        print(f"  WRONG {w['mode']}: {w['goal']}: wrote {w['wrote']} (the model: {w['baseline']})")
    print(
        f"paraphrases: {f['paraphrases']}, served at zero tokens {f['paraphrases_zero_token']}, with fewer tokens "
        f"{f['paraphrases_fewer_tokens']}, guided by a similar trace (MIXED) {f['paraphrases_guided']}"
    )
    if f["crystallized_p50_ms"] is not None:
        print(
            f"CRYSTALLIZED goal p50: {f['crystallized_p50_ms']:.1f} ms, of which the git commit "
            f"{f['crystallized_git_commit_p50_ms']:.1f} ms; tools crystallized: {f['crystallized_tools']}"
        )
    d = f["decision"]
    print(
        f"mode decision over {d['traces']} committed traces: p50 {d['decision_p50_ms']:.2f} ms, "
        f"p95 {d['decision_p95_ms']:.2f} ms ({d['queries']} goals, {d['modes']}); indexes cold "
        f"{d['index_cold_s']:.2f} s, from cache {1000 * d['index_from_cache_s']:.0f} ms"
    )
    print()
    for name, ok in f["targets"].items():
        print(f"  {'PASS' if ok else 'MISS'}  {name}")


if __name__ == "__main__":
    sys.exit(main())

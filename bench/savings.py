"""Savings benchmark: what repetition costs with execution modes on, against an all-LEARNER baseline.

A fixed suite of 12 goal families x 10 instances (different slot values), realistic multi-step goals
(read shared files, list folders, write several files, finish). Model replies come from the scripted
backend (one reply plan per family, a function of the slot values), so the run is deterministic.
The suite runs twice in one invocation, in two fresh roots: once with every goal forced to LEARNER
(the baseline, crystallization off), once with modes on. Reported per mode and in total: tokens,
model calls, wall time per goal, and whether every workspace file is byte-identical to the baseline's.
Then: CRYSTALLIZED goal latency, and the mode decision over an index of 10,000 traces.

    python bench/savings.py            # a table and the targets
    python bench/savings.py --json     # every figure by name
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import yaml

from llmos.goals import normalize
from llmos.kernel import Kernel
from llmos.modes.choose import choose_mode
from llmos.root import init_root
from llmos.modes.traceindex import TraceIndex

SHARED = {
    "projects/shared/style.md": "Short lines. No rhyme.\n",
    "projects/shared/email-footer.md": "-- \nSent by llmos\n",
    "projects/shared/checklist.md": "- [ ] {item}\n",
    "projects/shared/ports.md": "Ports below 1024 need root.\n",
}
NAMES = ["ada", "grace", "alan", "edsger", "barbara", "ken", "dennis", "linus", "margaret", "donald"]


def c(name: str, **args) -> dict:
    return {"tool_calls": [{"name": name, "args": args}]}


Family = Callable[[int], tuple[str, list[dict]]]


def project(i: int):
    n, p = NAMES[i], f"projects/app-{NAMES[i]}"
    return (
        f'Create project {p}/ with a README titled "{n} tracker"',
        [
            c("list_dir", path="projects"),
            c("write_file", path=f"{p}/README.md", content=f"# {n} tracker\n\nStatus: new\n"),
            c("write_file", path=f"{p}/TODO.md", content=f"# TODO for {n} tracker\n\n- [ ] first release\n"),
            c("finish", result=f"created {p}/ with README.md and TODO.md"),
        ],
    )


def haiku(i: int):
    t, p = f"{NAMES[i]} in autumn", f"projects/poems/{NAMES[i]}.md"
    return (
        f'Write a haiku about "{t}" into {p} following projects/shared/style.md',
        [
            c("read_file", path="projects/shared/style.md"),
            c("write_file", path=p, content=f"{t}\nleaves fall on the keyboard\nthe build is still green\n"),
            c("finish", result=f"wrote a haiku about {t} to {p}"),
        ],
    )


def meeting(i: int):
    d, p = f"2026-03-{i + 10:02d}", f"projects/meetings/{i + 10:02d}.md"
    return (
        f"Add meeting notes for {d} into {p}",
        [
            c("list_dir", path="projects"),
            c("write_file", path=p, content=f"# Meeting {d}\n\n## Attendees\n\n## Decisions\n\n## Actions\n"),
            c("finish", result=f"meeting notes for {d} in {p}"),
        ],
    )


def expense(i: int):
    amount, what, p = 12 + 7 * i, f"lunch with {NAMES[i]}", f"projects/expenses/e{i}.md"
    return (
        f'Record an expense of {amount} for "{what}" in {p}',
        [
            c("write_file", path=p, content=f"amount: {amount}\nfor: {what}\ncurrency: EUR\n"),
            c("read_file", path=p),
            c("finish", result=f"recorded {amount} EUR for {what}"),
        ],
    )


def email(i: int):
    to, p = f"{NAMES[i]}@example.com", f"projects/mail/{NAMES[i]}.md"
    return (
        f'Draft a welcome email to "{to}" into {p} and sign it with projects/shared/email-footer.md',
        [
            c("read_file", path="projects/shared/email-footer.md"),
            c(
                "write_file",
                path=p,
                content=f"To: {to}\nSubject: Welcome\n\nHello {to},\n\nwelcome aboard.\n-- \nSent by llmos\n",
            ),
            c("finish", result=f"drafted a welcome email to {to} in {p}"),
        ],
    )


def checklist(i: int):
    topic, p = f"onboarding {NAMES[i]}", f"projects/lists/{NAMES[i]}.md"
    return (
        f'Make a checklist for "{topic}" into {p} using projects/shared/checklist.md',
        [
            c("read_file", path="projects/shared/checklist.md"),
            c("write_file", path=p, content=f"# Checklist: {topic}\n\n- [ ] laptop\n- [ ] accounts\n- [ ] buddy\n"),
            c("finish", result=f"checklist for {topic} in {p}"),
        ],
    )


def config(i: int):
    svc, port, p = f"{NAMES[i]}-api", 8000 + i, f"projects/services/{NAMES[i]}.yaml"
    return (
        f'Create a config file {p} for service "{svc}" on port {port}',
        [
            c("read_file", path="projects/shared/ports.md"),
            c("write_file", path=p, content=f"service: {svc}\nport: {port}\nreplicas: 2\n"),
            c("finish", result=f"config for {svc} on port {port} in {p}"),
        ],
    )


def release(i: int):
    v, p = f"1.{i}.0", f"projects/releases/v1-{i}.md"
    return (
        f"Write release notes for version {v} into {p}",
        [
            c("list_dir", path="projects"),
            c("write_file", path=p, content=f"# Release {v}\n\n## Added\n\n## Fixed\n"),
            c("finish", result=f"release notes for {v} in {p}"),
        ],
    )


def weekly(i: int):
    d, p = f"2026-04-{i + 1:02d}", f"projects/weekly/w{i}.md"
    return (
        f"Start the weekly summary for the week of {d} in {p}",
        [
            c("write_file", path=p, content=f"# Week of {d}\n\n## Done\n\n## Next\n"),
            c("write_file", path=f"{p}.todo", content=f"summary for {d} to be filled\n"),
            c("finish", result=f"weekly summary for {d} started in {p}"),
        ],
    )


def profile(i: int):
    n, p = NAMES[i].title(), f"projects/people/{NAMES[i]}.md"
    return (
        f'Create a profile for "{n}" at {p}',
        [
            c("list_dir", path="projects"),
            c("write_file", path=p, content=f"# {n}\n\nRole: engineer\nTeam: core\n"),
            c("finish", result=f"profile of {n} at {p}"),
        ],
    )


def incident(i: int):
    what, d, p = f"disk full on {NAMES[i]}", f"2026-05-{i + 1:02d}", f"projects/incidents/i{i}.md"
    return (
        f'Log an incident "{what}" on {d} into {p}',
        [
            c("write_file", path=p, content=f"# Incident: {what}\n\nDate: {d}\nSeverity: 2\n"),
            c("read_file", path=p),
            c("finish", result=f"logged {what} ({d})"),
        ],
    )


def glossary(i: int):
    term, p = f"{NAMES[i]} protocol", f"projects/glossary/{NAMES[i]}.md"
    return (
        f'Define the term "{term}" named after "{NAMES[i].title()}" in {p}',
        [
            c("write_file", path=p, content=f"# {term}\n\nNamed after {NAMES[i].title()}.\n"),
            c("finish", result=f"defined {term} in {p}"),
        ],
    )


FAMILIES: list[Family] = [
    project,
    haiku,
    meeting,
    expense,
    email,
    checklist,
    config,
    release,
    weekly,
    profile,
    incident,
    glossary,
]


def make_root(base: Path, name: str, auto: bool) -> Path:
    root = init_root(base / name)
    for rel, text in SHARED.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    cfg = root / "system/llmos.yaml"
    if not auto:
        cfg.write_text(cfg.read_text().replace("  auto: true", "  auto: false"))
    import subprocess

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


def run_suite(root: Path, scripts: Path, instances: int, forced: str | None) -> list[dict]:
    kernel = Kernel(root)
    rows = []
    for i in range(instances):
        for f in FAMILIES:
            goal, replies = f(i)
            plan = scripts / f"{f.__name__}-{i}.yaml"
            if not plan.exists():
                plan.write_text(yaml.safe_dump({"replies": replies}))
            t0 = time.perf_counter()
            res = kernel.run(goal, model=f"scripted:{plan}", mode=forced)
            seconds = time.perf_counter() - t0
            commit = COMMIT_SECONDS[-1] if COMMIT_SECONDS else 0.0
            rows.append(
                {
                    "family": f.__name__,
                    "instance": i,
                    "mode": res.mode,
                    "outcome": res.outcome,
                    "tokens": res.tokens["input"] + res.tokens["output"],
                    "seconds": seconds,
                    "commit_seconds": commit,
                    "model_calls": _calls(res.trace_path),
                    "learned": res.learned,
                }
            )
    return rows


def _calls(path: Path) -> int:
    from llmos.traces import read_trace

    return read_trace(path).model_calls


def workspace(root: Path) -> dict[str, bytes]:
    base = root / "projects"
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}


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


# -- the decision over 10,000 traces ----------------------------------------------------------
WORDS = (
    "write read make create list plan draft record log archive publish review summarize index "
    "report note poem email ticket invoice config release profile checklist budget memo"
).split()


def synth_traces(root: Path, count: int, templates: int, seed: int = 7) -> list[str]:
    """``count`` trace files over ``templates`` goal templates, written as JSON frontmatter (valid YAML)."""
    rng = random.Random(seed)
    goals = []
    for t in range(templates):
        words = rng.sample(WORDS, 5)
        goals.append(f"{' '.join(words)} number {t} into projects/x/{{}}.md")
    folder = root / "traces" / "2026" / "01"
    folder.mkdir(parents=True, exist_ok=True)
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
                {
                    "n": 1,
                    "tool": "write_file",
                    "args": {"path": ng.slots.get("path1", "x"), "content": "x"},
                    "ok": True,
                    "slot_args": {"path": "{path1}"},
                },
                {"n": 2, "tool": "finish", "args": {"result": "ok"}, "ok": True},
            ],
        }
        (folder / f"{meta['id']}.md").write_text("---\n" + json.dumps(meta) + "\n---\n\n# trace\n")
    return [g.format(count + n) for n, g in enumerate(goals)]


def decision_bench(base: Path, count: int, queries: int) -> dict:
    root = make_root(base, "decide", auto=False)
    goals = synth_traces(root, count, max(count // 10, 1))
    TraceIndex._open.clear()
    t0 = time.perf_counter()
    TraceIndex.for_root(root)  # cold: reads every file, saves the cache
    cold = time.perf_counter() - t0
    TraceIndex._open.clear()
    t0 = time.perf_counter()
    TraceIndex.for_root(root)  # a new process: from the cache
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
    ap.add_argument("--instances", type=int, default=10)
    ap.add_argument("--traces", type=int, default=10_000)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="llmos-savings-") as tmp:
        base = Path(tmp)
        scripts = base / "scripts"
        scripts.mkdir()
        baseline_root = make_root(base, "baseline", auto=False)
        modes_root = make_root(base, "modes", auto=True)
        baseline = run_suite(baseline_root, scripts, args.instances, "LEARNER")
        modes = run_suite(modes_root, scripts, args.instances, None)
        a, b = workspace(baseline_root), workspace(modes_root)
        different = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
        decide = decision_bench(base, args.traces, 400)
    report(baseline, modes, a, different, decide, args.json)


def report(
    baseline: list[dict], modes: list[dict], files: dict, different: list[str], decide: dict, as_json: bool
) -> None:
    base_sum, mode_sum = summarize(baseline), summarize(modes)
    later = [r for r in modes if r["instance"] > 0]
    crystal = sorted(r["seconds"] for r in modes if r["mode"] == "CRYSTALLIZED")
    learner_p50 = base_sum["total"]["seconds_p50"]
    figures = {
        "families": len(FAMILIES),
        "instances": len(modes) // len(FAMILIES),
        "baseline": base_sum,
        "modes": mode_sum,
        "token_reduction": 1 - mode_sum["total"]["tokens"] / max(base_sum["total"]["tokens"], 1),
        "later_instances_with_tokens": sum(1 for r in later if r["tokens"] > 0),
        "files_compared": len(files),
        "files_different": different,
        "crystallized_p50_ms": 1000 * statistics.median(crystal) if crystal else None,
        "crystallized_p50_ms_without_git_commit": 1000
        * statistics.median(r["seconds"] - r["commit_seconds"] for r in modes if r["mode"] == "CRYSTALLIZED")
        if crystal
        else None,
        "crystallized_git_commit_p50_ms": 1000
        * statistics.median(r["commit_seconds"] for r in modes if r["mode"] == "CRYSTALLIZED")
        if crystal
        else None,
        "crystallized_vs_learner_p50": (statistics.median(crystal) / learner_p50) if crystal else None,
        "crystallized_tools": sum(1 for r in modes for n in r["learned"] if n.startswith("crystallized")),
        "decision": decide,
    }
    targets = {
        "every instance after the first uses zero tokens": figures["later_instances_with_tokens"] == 0,
        "token reduction >= 85%": figures["token_reduction"] >= 0.85,
        "outputs byte-identical": not different,
        "CRYSTALLIZED p50 <= 50 ms": bool(crystal) and figures["crystallized_p50_ms"] <= 50,
        "decision over 10,000 traces p95 <= 20 ms": decide["decision_p95_ms"] <= 20,
    }
    figures["targets"] = targets
    if as_json:
        print(json.dumps(figures, indent=2, default=float))
        return
    print(f"{figures['families']} families x {figures['instances']} instances; baseline = every goal LEARNER\n")
    print(f"{'run':<10} {'mode':<13} {'goals':>5} {'tokens':>9} {'calls':>6} {'mean ms':>8} {'p50 ms':>7}")
    for name, summ in (("baseline", base_sum), ("modes", mode_sum)):
        for mode, s in summ.items():
            print(
                f"{name:<10} {mode:<13} {s['goals']:>5} {s['tokens']:>9} {s['model_calls']:>6} "
                f"{1000 * s['seconds_mean']:>8.1f} {1000 * s['seconds_p50']:>7.1f}"
            )
    print(
        f"\ntoken reduction vs baseline: {100 * figures['token_reduction']:.1f}%  "
        f"(later instances using tokens: {figures['later_instances_with_tokens']})"
    )
    print(f"workspace files compared: {len(files)}, different: {len(different)} {different[:5]}")
    if crystal:
        print(
            f"CRYSTALLIZED goal p50: {figures['crystallized_p50_ms']:.1f} ms "
            f"({figures['crystallized_vs_learner_p50']:.2f}x the LEARNER p50); of which the git commit "
            f"{figures['crystallized_git_commit_p50_ms']:.1f} ms, the rest "
            f"{figures['crystallized_p50_ms_without_git_commit']:.1f} ms; tools crystallized: "
            f"{figures['crystallized_tools']}"
        )
    print(
        f"mode decision over {decide['traces']} traces: p50 {decide['decision_p50_ms']:.2f} ms, "
        f"p95 {decide['decision_p95_ms']:.2f} ms ({decide['queries']} goals, {decide['modes']}); index cold "
        f"{decide['index_cold_s']:.2f} s, from cache {1000 * decide['index_from_cache_s']:.0f} ms"
    )
    print()
    for name, ok in targets.items():
        print(f"  {'PASS' if ok else 'MISS'}  {name}")


if __name__ == "__main__":
    sys.exit(main())

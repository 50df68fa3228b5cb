"""Toolbelt benchmark (issue 20): the Claude Code corpus, grep/glob at scale, and bash in the sandbox.

* ``corpus``: the agent files of tests/corpus/claude_code/ (built from Claude Code's documented format)
  copied into a fresh root: the share that loads, and of the tool entries they list, how many map to
  a syscall and how many are dropped with a note (target: all load; every entry mapped or noted);
* ``grep`` / ``glob``: the syscalls over a root of N small files (default 100,000) in 1,000 folders,
  beside ``grep -rl`` and ``find -name`` over the same tree in the same run; ``ratio`` = syscall /
  baseline (target: within 2x), median of ``--repeat`` runs each. ``glob`` sorts newest first, which
  needs each hit's mtime: ``ratio_mtime`` compares it with ``find -name -printf %T@`` (a stat per hit);
* ``bash``: the wall time of one ``bash`` syscall (``true``) in the bubblewrap sandbox beside the same
  command as a plain subprocess; ``overhead_ms`` is the difference.

    python bench/tools.py              # a table
    python bench/tools.py --json       # every figure by name
    python bench/tools.py --files 10000 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from llmos.kernel import Kernel
from llmos.root import init_root
from llmos.syscalls import Context

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "corpus" / "claude_code"


def timed(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def corpus(root: Path) -> dict:
    shutil.copytree(CORPUS, root / "agents" / "corpus")
    kernel = Kernel(root)
    good, bad = kernel.agents()
    mine = [a for a in good if "corpus" in a.path.parts]
    files = [p for p in CORPUS.rglob("*.md") if p.read_text(encoding="utf-8").startswith("---")]
    from llmos.agents import read_lenient

    entries = mapped = dropped = 0
    for a in mine:
        tools = read_lenient(a.path)[0].meta.get("tools")
        listed = [t.strip() for t in tools.split(",")] if isinstance(tools, str) else list(tools or [])
        notes = " ".join(n.message for n in a.notes if n.kind == "dropped")
        for t in listed:
            entries += 1
            if repr(t) in notes:
                dropped += 1
            else:
                mapped += 1
    return {
        "files": len(files),
        "loaded": len(mine),
        "share_loaded": round(len(mine) / len(files), 3),
        "invalid": len(bad),
        "tool_entries": entries,
        "mapped": mapped,
        "dropped_with_note": dropped,
        "unaccounted": entries - mapped - dropped,
    }


def make_tree(root: Path, n: int) -> Path:
    base = root / "projects" / "big"
    for i in range(n):
        folder = base / f"d{i // 100:04d}"
        if i % 100 == 0:
            folder.mkdir(parents=True)
        body = f"line one of file {i}\nsome text here\n" + ("needle in this one\n" if i % 1000 == 7 else "")
        (folder / f"f{i:06d}.{'py' if i % 10 == 0 else 'txt'}").write_text(body)
    return base


def search(root: Path, n: int, repeat: int) -> dict:
    base = make_tree(root, n)
    kernel = Kernel(root)
    ctx = Context(root, "bench", host=kernel)
    call = kernel.syscalls.call
    out = {}
    g, res = timed(lambda: call(ctx, "grep", {"pattern": "needle", "path": "projects/big", "head_limit": 500}), repeat)
    b, base_out = timed(lambda: subprocess.run(["grep", "-rl", "needle", str(base)], capture_output=True), repeat)
    assert len(res.output.splitlines()) == len(base_out.stdout.splitlines()), (res.output[:200], base_out.stdout[:200])
    out["grep"] = {"syscall_s": round(g, 3), "grep_r_s": round(b, 3), "ratio": round(g / b, 2), "hits": n // 1000}
    g, res = timed(lambda: call(ctx, "glob", {"pattern": "**/*.py", "path": "projects/big"}), repeat)
    b, _ = timed(lambda: subprocess.run(["find", str(base), "-name", "*.py"], capture_output=True), repeat)
    m, _ = timed(
        lambda: subprocess.run(["find", str(base), "-name", "*.py", "-printf", "%T@ %p\n"], capture_output=True), repeat
    )
    out["glob"] = {
        "syscall_s": round(g, 3),
        "find_s": round(b, 3),
        "ratio": round(g / b, 2),
        "find_mtime_s": round(m, 3),  # find printing each hit's mtime, which sorting newest-first needs
        "ratio_mtime": round(g / m, 2),
        "hits": n // 10,
    }
    return out


def bash(root: Path, repeat: int) -> dict:
    from llmos.modes.jail import bwrap_path

    if bwrap_path() is None:
        return {"skipped": "bubblewrap is not installed"}
    kernel = Kernel(root)
    ctx = Context(root, "bench", host=kernel)
    s, res = timed(lambda: kernel.syscalls.call(ctx, "bash", {"command": "true"}), repeat)
    assert res.ok, res.output
    p, _ = timed(lambda: subprocess.run(["/bin/bash", "-c", "true"], capture_output=True), repeat)
    return {"sandboxed_ms": round(s * 1000, 1), "plain_ms": round(p * 1000, 1), "overhead_ms": round((s - p) * 1000, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="llmos-bench-tools-") as tmp:
        figures = {"corpus": corpus(init_root(Path(tmp) / "c"))}
        figures.update(search(init_root(Path(tmp) / "s"), args.files, args.repeat))
        figures["bash"] = bash(init_root(Path(tmp) / "b"), args.repeat * 4)
    figures["files"] = args.files
    if args.json:
        json.dump(figures, sys.stdout, indent=2)
        print()
        return
    c = figures["corpus"]
    print(f"corpus: {c['loaded']}/{c['files']} files load ({c['share_loaded']:.0%}), {c['invalid']} invalid;")
    entries, mapped, dropped = c["tool_entries"], c["mapped"], c["dropped_with_note"]
    print(f"        {entries} tool entries: {mapped} mapped, {dropped} dropped with a note")
    for name, base in (("grep", "grep_r_s"), ("glob", "find_s")):
        f = figures[name]
        ours, theirs = f["syscall_s"], f[base]
        print(f"{name}: {ours:.3f} s over {args.files:,} files vs {base[:-2]} {theirs:.3f} s -> {f['ratio']}x")
        if "find_mtime_s" in f:
            print(f"      vs find -printf %T@ {f['find_mtime_s']:.3f} s -> {f['ratio_mtime']}x")
    b = figures["bash"]
    if "skipped" in b:
        print(f"bash: skipped ({b['skipped']})")
    else:
        print(f"bash: {b['sandboxed_ms']} ms in the sandbox vs {b['plain_ms']} ms plain (+{b['overhead_ms']} ms)")


if __name__ == "__main__":
    main()

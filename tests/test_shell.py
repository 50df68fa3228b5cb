"""`llmos shell`: piped sessions through the real CLI, live reload events, history, several terminals."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

from llmos.traces import iter_trace_files, read_trace
from helpers import call, git, run_llmos, run_llmos_process

HELLO = [call("write_file", path="projects/demo/hello.txt", content="hello"), call("finish", result="wrote hello")]


def test_piped_session_runs_goals_and_commands(root: Path, script):
    model = script(*HELLO)
    session = (
        "Write hello into projects/demo/hello.txt\n:agents\n:trace\n:budget\n:nope\n:trace zzz\n"
        ":reload\n:quit\nnever run\n"
    )
    res = run_llmos_process("shell", "--model", model, root=root, input=session)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    (trace,) = list(iter_trace_files(root))
    t = read_trace(trace)
    assert "success: wrote hello" in out and f"trace traces/{t.id[:4]}/{t.id[4:6]}/{t.id}.md" in out
    assert f"assistant  {t.agent_hash}" in out and "distiller (system)" in out  # :agents
    assert f"{t.id}  success  agent=assistant" in out and "goal: Write hello" in out  # :trace (last run)
    assert "per_day" in out and "remaining" in out  # :budget
    assert "unknown command :nope" in out and "error: no trace 'zzz'" in out
    assert "reloaded: 5 agents, 0 change(s), 0 invalid file(s)" in out and out.rstrip().endswith("bye")
    assert "never run" not in (root / ".llmos" / "shell_history").read_text()
    assert git(root, "status", "--porcelain") == ""
    assert (root / "projects/demo/hello.txt").read_text() == "hello"


def test_history_persists_between_sessions_and_errors_do_not_end_the_shell(root: Path, script):
    model = script(*HELLO)
    first = run_llmos("shell", "--model", model, "--agent", "nobody", root=root, input="first goal\n")
    assert first.returncode == 0 and "error: no agent named 'nobody'" in first.stdout
    second = run_llmos("shell", "--model", model, root=root, input=":trace 2026\n\n# a comment\n:quit\n")
    assert second.returncode == 0 and "error: no trace '2026'" in second.stdout
    assert (root / ".llmos" / "shell_history").read_text().splitlines() == ["first goal", ":trace 2026", ":quit"]
    run_llmos("shell", "--no-history", root=root, input=":agents\n")
    assert (root / ".llmos" / "shell_history").read_text().count("\n") == 3


class Lines:
    """Reads a subprocess's stdout on a thread; ``until(text)`` waits for a line containing it."""

    def __init__(self, proc: subprocess.Popen):
        self.q: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=lambda: [self.q.put(ln) for ln in proc.stdout], daemon=True).start()

    def until(self, text: str, timeout: float = 5) -> str:
        while True:
            try:
                line = self.q.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no line with {text!r} in {timeout}s; got {self.seen}") from None
            self.seen.append(line)
            if text in line:
                return line


def test_shell_prints_reload_events_as_they_happen_and_uses_the_edit(root: Path, script):
    model = script(*HELLO)
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmos", "shell", "--model", model],
        cwd=root,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "LLMOS_ROOT": str(root)},
    )
    try:
        lines = Lines(proc)
        lines.until("watching for edits")
        agent = root / "agents" / "assistant.md"
        agent.write_text(agent.read_text() + "\nSHELL-EDIT\n")
        changed = lines.until("[reload] changed: agent assistant")
        (root / "agents" / "reviewer.md").write_text("---\nname: reviewer\ncolour: red\n---\n")
        assert "agents/reviewer.md:3: colour: unknown field" in lines.until("[reload] invalid")
        proc.stdin.write("Write hello into projects/demo/hello.txt\n:agents\n")
        proc.stdin.flush()
        lines.until("success: wrote hello")
        lines.until("invalid: agents/reviewer.md")
        proc.stdin.write(":quit\n")
        proc.stdin.flush()
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
    (trace,) = list(iter_trace_files(root))
    assert read_trace(trace).agent_hash == changed.split("-> ")[1].split()[0]


def test_two_terminals_in_one_root_stay_correct(root: Path, script):
    models = [
        script(call("write_file", path=f"projects/{who}.txt", content=who), call("finish", result=who))
        for who in ("left", "right")
    ]
    goals = "".join(f"goal number {i}\n" for i in range(3))
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "llmos", "shell", "--model", m],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "LLMOS_ROOT": str(root)},
        )
        for m in models
    ]
    outs = [p.communicate(goals, timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert all(out.count("success:") == 3 for out, _ in outs), outs
    traces = [read_trace(p) for p in iter_trace_files(root)]
    assert len(traces) == 6 and all(t.outcome == "success" for t in traces)
    log = git(root, "log", "--format=%s")
    assert log.count("llmos: goal number") == 6
    assert git(root, "status", "--porcelain") == ""
    history = (root / ".llmos" / "shell_history").read_text().splitlines()
    assert sorted(history) == sorted([f"goal number {i}" for i in range(3)] * 2)

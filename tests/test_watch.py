"""Hot reload with a real watcher on real files: tests wait on reload events, never on fixed sleeps."""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

import pytest

from llmos.blobs import BlobStore
from llmos.blobs.recorder import load_request
from llmos.errors import AgentNotFound, DocumentError
from llmos.kernel import Kernel
from llmos.live.root import LiveRoot
from llmos.live.registry import ReloadEvent, trace_is_current
from llmos.traces import read_trace
from llmos.config import WatchConfig
from llmos.live.watch import Debouncer, Watcher
from helpers import call

TIMEOUT = 10.0


def agent_text(name: str, instructions: str, extra: str = "") -> str:
    return f"---\nname: {name}\ndescription: test agent {name}\n{extra}---\n{instructions}\n"


class Events:
    """Collects reload events (and watcher batches) from the watcher's thread; waits on them."""

    def __init__(self, live: LiveRoot):
        self.items: list[ReloadEvent] = []
        self.batches = 0
        self.cond = threading.Condition()
        live.listen(self._add)
        for prefix in ("agents/", "system/"):  # after the registry's own subscriptions: runs after it
            live.subscribe(prefix, self._batch)

    def _add(self, event: ReloadEvent) -> None:
        with self.cond:
            self.items.append(event)
            self.cond.notify_all()

    def _batch(self, paths: list[str]) -> None:
        with self.cond:
            self.batches += 1
            self.cond.notify_all()

    def wait(self, kind: str, *, name: str | None = None, path: str | None = None) -> ReloadEvent:
        """The first event of ``kind`` (for ``name``/``path``) not seen before; consumes it."""

        def match(e: ReloadEvent) -> bool:
            return e.kind == kind and (name is None or e.name == name) and (path is None or e.path == path)

        with self.cond:
            assert self.cond.wait_for(lambda: any(match(e) for e in self.items), TIMEOUT), (
                f"no {kind} event for {name or path}; got {[e.line() for e in self.items]}"
            )
            event = next(e for e in self.items if match(e))
            self.items.remove(event)
            return event

    def settle(self, write) -> None:
        """Run ``write()`` and wait until the batch it caused has been handled."""
        with self.cond:
            before = self.batches
        write()
        with self.cond:
            assert self.cond.wait_for(lambda: self.batches > before, TIMEOUT), "the watcher reported nothing"


@pytest.fixture()
def live(root: Path):
    with LiveRoot(Kernel(root)) as lr:
        yield lr


@pytest.fixture()
def events(live: LiveRoot) -> Events:
    return Events(live)


def test_edited_agent_is_in_the_very_next_model_call(root: Path, live: LiveRoot, events: Events, script):
    path = root / "agents" / "assistant.md"
    original = live.registry.agent("assistant")

    def edit_after_first_step(kind: str, data: dict) -> None:
        if kind == "step" and data["step"].n == 1:  # the run is between model calls now
            path.write_text(path.read_text().replace("Work toward", "NEW-INSTRUCTIONS. Work toward"))
            events.wait("changed", name="assistant")

    model = script(call("list_dir", path="."), call("list_dir", path="."), call("finish", result="ok"))
    res = live.kernel.run("look around", model=model, on_event=edit_after_first_step)
    new = live.registry.agent("assistant")
    assert res.outcome == "success" and new.hash != original.hash and "NEW-INSTRUCTIONS" in new.instructions
    trace = read_trace(res.trace_path)
    assert trace.agent_hash == original.hash
    assert [s.agent_hash for s in trace.steps] == [None, new.hash, None]
    with BlobStore.open(root / ".llmos" / "blobs") as blobs:
        systems = [load_request(blobs, s.request.removeprefix("blob:"))["messages"][0]["content"] for s in trace.steps]
    assert "NEW-INSTRUCTIONS" not in systems[0] and all("NEW-INSTRUCTIONS" in s for s in systems[1:])
    assert not trace_is_current(trace.model_copy(update={"steps": trace.steps[:1]}), new)
    assert trace_is_current(trace, new)


def test_boot_without_watcher_follows_edits_by_stat(root: Path, script):
    path = root / "agents" / "assistant.md"
    kernel = Kernel(root)
    seen: list[str] = []

    def on_event(kind: str, data: dict) -> None:
        if kind == "step" and data["step"].n == 1:
            path.write_text(path.read_text() + "\nSTAT-EDIT: also say hello.\n")
        if kind == "step" and data["step"].n == 2:
            path.write_text("---\nname: assistant\nbogus: 1\n---\nbroken\n")
        if kind == "reload":
            seen.append(data["event"].message)

    model = script(call("list_dir", path="."), call("list_dir", path="."), call("finish", result="ok"))
    res = kernel.run("look around", model=model, on_event=on_event)
    steps = read_trace(res.trace_path).steps
    assert res.outcome == "success" and steps[1].agent_hash and steps[2].agent_hash is None
    assert len(seen) == 1 and "agents/assistant.md:3: bogus: unknown field" in seen[0]
    with BlobStore.open(root / ".llmos" / "blobs") as blobs:
        last = load_request(blobs, steps[2].request.removeprefix("blob:"))["messages"][0]["content"]
    assert "STAT-EDIT" in last and "broken" not in last


def test_invalid_edit_keeps_old_version_reports_once_then_fix_is_picked_up(root: Path, live: LiveRoot, events: Events):
    path = root / "agents" / "reviewer.md"
    good = live.registry.agent("reviewer")
    bad = path.read_text().replace("description:", "descripton:", 1)
    path.write_text(bad)
    event = events.wait("invalid", path="agents/reviewer.md")
    line = bad.splitlines().index(next(ln for ln in bad.splitlines() if ln.startswith("descripton"))) + 1
    assert f"agents/reviewer.md:{line}: descripton: unknown field" in event.message
    assert live.registry.agent("reviewer") is good
    assert "agents/reviewer.md" in live.registry.errors()
    events.settle(lambda: path.write_text(bad))  # the same error again: not reported again
    assert not [e for e in events.items if e.kind == "invalid"]
    path.write_text(bad.replace("---\n", "---\nname: [unclosed\n", 1))  # a different error: reported
    assert "bad YAML" in events.wait("invalid", path="agents/reviewer.md").message
    path.write_text(bad.replace("descripton:", "description:") + "\nFixed and extended.\n")
    events.wait("fixed", path="agents/reviewer.md")
    changed = events.wait("changed", name="reviewer")
    assert changed.old_hash == good.hash and live.registry.agent("reviewer").hash == changed.new_hash
    assert "Fixed and extended." in live.registry.agent("reviewer").instructions
    assert live.registry.errors() == {}


@pytest.mark.parametrize(
    "content",
    [b"", b"---\nname: reviewer\ndescription: [half", b"\x00\x01PNG\x00binary"],
    ids=["empty", "truncated-yaml", "binary"],
)
def test_half_written_or_binary_files_never_replace_the_good_version(
    root: Path, live: LiveRoot, events: Events, content: bytes
):
    good = live.registry.agent("reviewer")
    (root / "agents" / "reviewer.md").write_bytes(content)
    (root / "agents" / "dropped.md").write_bytes(content)
    assert events.wait("invalid", path="agents/reviewer.md").message
    assert events.wait("invalid", path="agents/dropped.md").message
    assert live.registry.agent("reviewer") is good
    with pytest.raises(DocumentError):
        live.registry.agent("dropped")
    events.settle(lambda: (root / "agents" / "photo.png").write_bytes(b"\x89PNG\x00"))  # not a document
    assert not [e for e in events.items if "photo" in e.path]


def test_deleted_agent_retires_after_its_running_work(root: Path, live: LiveRoot, events: Events, script):
    path = root / "agents" / "temp.md"
    path.write_text(agent_text("temp", "Temporary worker."))
    events.wait("added", name="temp")
    states: list[str] = []

    def delete_mid_run(kind: str, data: dict) -> None:
        if kind == "step" and data["step"].n == 1:
            path.unlink()
            events.wait("retiring", name="temp")
            with pytest.raises(AgentNotFound, match="retiring"):
                live.kernel.agent("temp")  # no new run may start it
            states.append("retiring")

    model = script(call("list_dir", path="."), call("finish", result="finished anyway"))
    res = live.kernel.run("work", agent="temp", model=model, on_event=delete_mid_run)
    assert states == ["retiring"] and res.outcome == "success" and res.result == "finished anyway"
    events.wait("retired", name="temp")
    assert "temp" not in {a.name for a in live.registry.agents()}
    with pytest.raises(AgentNotFound):
        live.kernel.agent("temp")
    # idle agent: retires at once; restoring it brings it back
    (root / "agents" / "reviewer.md").unlink()
    assert events.wait("retired", name="reviewer").message == "file deleted"
    path.write_text(agent_text("temp", "Back again."))
    events.wait("added", name="temp")
    assert live.kernel.agent("temp").instructions == "Back again."


def test_burst_of_saves_is_one_reload(root: Path, live: LiveRoot, events: Events):
    path = root / "agents" / "reviewer.md"
    text = path.read_text()
    before = live.registry.reloads
    for i in range(300):
        path.write_text(text + f"\nversion {i}\n")
    assert events.wait("changed", name="reviewer")
    events.settle(lambda: (root / "agents" / "unrelated.txt").write_text("x"))
    assert live.registry.reloads - before == 1 and not [e for e in events.items if e.kind == "changed"]
    assert live.registry.agent("reviewer").instructions.endswith("version 299")


def test_rename_storm_and_editor_temp_files(root: Path, live: LiveRoot, events: Events):
    path = root / "agents" / "reviewer.md"
    text = path.read_text()
    for i in range(50):  # what editors do: write a temp file, rename it over the original
        tmp = root / "agents" / f".reviewer.md.{i}.swp"
        tmp.write_text(text + f"\nsaved {i}\n")
        os.replace(tmp, path)
    events.wait("changed", name="reviewer")
    assert live.registry.agent("reviewer").instructions.endswith("saved 49")
    assert not [e for e in events.items if e.kind in ("invalid", "added")]


def test_soul_base_agent_config_and_prompt_edits(root: Path, live: LiveRoot, events: Events):
    (root / "agents" / "child.md").write_text(agent_text("child", "Child part.", "extends: reviewer\n"))
    events.wait("added", name="child")
    (root / "agents" / "reviewer.md").write_text(agent_text("reviewer", "Base part v2."))
    events.wait("changed", name="reviewer")
    events.wait("changed", name="child")
    assert live.registry.agent("child").instructions == "Base part v2.\n\nChild part."
    (root / "agents" / "assistant.soul.md").write_text("---\nagent: assistant\n---\nA new soul.\n")
    assert events.wait("changed", name="assistant").message == "soul changed"
    assert live.registry.agent("assistant").soul == "A new soul."
    config = root / "system" / "llmos.yaml"
    config.write_text(config.read_text().replace("max_steps: 12", "max_steps: 7"))
    events.wait("config")
    assert live.kernel.config.max_steps == 7
    config.write_text(config.read_text().replace("max_steps: 7", "max_stepz: 7"))
    assert "system/llmos.yaml:" in events.wait("invalid", path="system/llmos.yaml").message
    assert live.kernel.config.max_steps == 7
    prompt = root / "system" / "prompts" / "agent.md"
    good = live.kernel.system_prompt(live.registry.agent("assistant"))
    lines = prompt.read_text().splitlines()
    prompt.write_text("\n".join(lines + ["Use ${nonsense} here."]) + "\n")
    message = events.wait("invalid", path="system/prompts/agent.md").message
    assert f"system/prompts/agent.md:{len(lines) + 1}: ${{nonsense}} is not provided" in message
    assert live.kernel.system_prompt(live.registry.agent("assistant")) == good
    prompt.write_text("\n".join(lines + ["Be brief."]) + "\n")
    events.wait("prompt", path="system/prompts/agent.md")
    assert live.kernel.system_prompt(live.registry.agent("assistant")).rstrip().endswith("Be brief.")


def test_subscribers_get_their_prefix_and_a_failing_one_is_reported(root: Path, live: LiveRoot, events: Events):
    got: list[list[str]] = []
    done = threading.Event()
    live.subscribe("memory/", lambda paths: (got.append(paths), done.set()))
    live.subscribe("crystallized/", lambda paths: 1 / 0)
    (root / "memory" / "beta" / "fact.md").write_text("---\nid: m1\n---\nA fact.\n")
    (root / "traces" / "t.md").write_text("not for memory subscribers")
    assert done.wait(TIMEOUT) and got == [["memory/beta/fact.md"]]
    (root / "crystallized" / "tool.py").write_text("x = 1\n")
    assert "ZeroDivisionError" in events.wait("error", path="crystallized/").message
    unsubscribe = live.subscribe("memory/", lambda paths: got.append(["second"]))
    unsubscribe()
    done.clear()
    (root / "memory" / "beta" / "fact.md").unlink()
    assert done.wait(TIMEOUT) and got[-1] == ["memory/beta/fact.md"]


def test_debouncer_coalesces_and_a_storm_still_flushes_by_max_delay():
    batches: list[set[str]] = []
    flushed = threading.Event()
    deb = Debouncer(lambda b: (batches.append(b), flushed.set()), quiet=0.05, max_delay=0.2)
    deb.start()
    try:
        start = time.monotonic()
        while not flushed.is_set() and time.monotonic() - start < 2:  # never quiet for 50 ms
            deb.add(f"k{len(batches)}")
            time.sleep(0.005)
        assert flushed.is_set() and 0.15 < time.monotonic() - start < 1.0
        assert batches[0] == {"k0"}
    finally:
        deb.stop()


def test_watcher_cpu_stays_low_under_a_thousand_saves(tmp_path: Path):
    (tmp_path / "agents").mkdir()
    got: list[list[str]] = []
    # 200 ms: the storm must not pause that long between two saves, even on a loaded 2-core machine
    # running other tests (at 40 ms it did, and the storm arrived as 4 batches)
    with Watcher(tmp_path, WatchConfig(debounce_ms=200)) as w:
        w.subscribe("", got.append)
        target = tmp_path / "agents" / "a.md"
        cpu, wall = time.process_time(), time.monotonic()
        for i in range(1000):
            target.write_text(str(i))
        writes_cpu = time.process_time() - cpu
        deadline = time.monotonic() + TIMEOUT
        while not got and time.monotonic() < deadline:
            time.sleep(0.01)
        assert got and got[0] == ["agents/a.md"] and len(got) <= 2
        # The whole process (writes + watcher) uses a bounded share of one core while the storm lasts.
        assert time.process_time() - cpu < 3 * writes_cpu + 0.5, (writes_cpu, time.monotonic() - wall)


def test_tool_allowlist_follows_an_edit_mid_run(root: Path, live: LiveRoot, events: Events, script):
    path = root / "agents" / "assistant.md"

    def narrow(kind: str, data: dict) -> None:
        if kind == "step" and data["step"].n == 1:
            text = re.sub(r"(?m)^tools: .*$", "tools: [read_file, finish]", path.read_text())
            assert "tools: [read_file, finish]" in text
            path.write_text(text)
            events.wait("changed", name="assistant")

    model = script(call("list_dir", path="."), call("list_dir", path="."), call("finish", result="ok"))
    steps = read_trace(live.kernel.run("look", model=model, on_event=narrow).trace_path).steps
    assert steps[0].ok and not steps[1].ok and "may not use 'list_dir'" in steps[1].result


def test_bad_agent_definitions_are_reported_with_their_line(root: Path):
    live = LiveRoot(Kernel(root), watch=False)  # no watcher: refresh by hand, as :reload does
    cases = {
        "orphan": ("extends: nobody\n", "extends: no agent named 'nobody'"),
        "loop-a": ("extends: loop-b\n", "inheritance cycle"),
        "loop-b": ("extends: loop-a\n", "inheritance cycle"),
        "ghost": ("soul: missing.soul.md\n", "soul: soul file 'missing.soul.md' not found"),
    }
    (root / "agents" / "tooly.md").write_text(agent_text("tooly", "Body.", "tools: [read_file, teleport]\n"))
    for name, (extra, _) in cases.items():
        (root / "agents" / f"{name}.md").write_text(agent_text(name, "Body.", extra))
    (root / "agents" / "wrong.md").write_text(agent_text("right", "Body."))
    events = live.registry.refresh([f"agents/{n}.md" for n in [*cases, "wrong", "tooly"]])
    messages = {e.path: e.message for e in events if e.kind == "invalid"}
    for name, (_, expected) in cases.items():
        assert expected in messages[f"agents/{name}.md"], messages
        with pytest.raises(DocumentError):
            live.kernel.agent(name)
    assert "agents/wrong.md" not in messages and live.kernel.agent("right").path.name == "wrong.md"  # keyed by name
    assert live.kernel.agent("tooly").tools == {"read_file"}  # an unknown tool is dropped, with a note
    assert live.registry.refresh([f"agents/{n}.md" for n in cases]) == []  # same errors: said once
    (root / "agents" / "nobody.md").write_text(agent_text("nobody", "Base."))
    kinds = {(e.kind, e.name or e.path) for e in live.registry.refresh(["agents/nobody.md", "agents/orphan.md"])}
    assert {("added", "nobody"), ("added", "orphan")} <= kinds
    assert live.kernel.agent("orphan").instructions == "Base.\n\nBody."


def test_reload_command_catches_up_without_a_watcher(root: Path):
    live = LiveRoot(Kernel(root), watch=False)
    (root / "agents" / "reviewer.md").write_text(agent_text("reviewer", "Reviewed again."))
    (root / "agents" / "fresh.md").write_text(agent_text("fresh", "New."))
    (root / "agents" / "assistant.md").unlink()
    kinds = sorted((e.kind, e.name) for e in live.reload())
    assert kinds == [("added", "fresh"), ("changed", "reviewer"), ("retired", "assistant")]
    assert live.reload() == []

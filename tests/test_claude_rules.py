"""Claude for real work: one test per finding of the Claude-backend issue, through the real SDK against
the strict Messages-API stub (it answers 400 to any request the real API would reject)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from anthropic_stub import StubServer, tool_use
from helpers import git, run_llmos
from llmos.backends.claude import AnthropicBackend
from llmos.budget.config import BudgetConfig, price_for
from llmos.budget.ledger import ledger_path
from llmos.errors import BackendError
from llmos.kernel import Kernel
from llmos.traces import read_trace

SONNET = "anthropic:claude-sonnet-4-6"


@pytest.fixture()
def claude(monkeypatch: pytest.MonkeyPatch):
    def start(replies: list[dict]) -> StubServer:
        stub = StubServer(replies).__enter__()
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", stub.url)
        started.append(stub)
        return stub

    started: list[StubServer] = []
    yield start
    for stub in started:
        stub.__exit__(None, None, None)


def _configure(root: Path, **anthropic) -> None:
    path = root / "system/llmos.yaml"
    config = yaml.safe_load(path.read_text()) or {}
    config["anthropic"] = {**(config.get("anthropic") or {}), **anthropic}
    path.write_text(yaml.safe_dump(config))


def _reply(*blocks: dict, stop: str | None = None, **extra) -> dict:
    return {"content": list(blocks), **({"stop_reason": stop} if stop else {}), **extra}


def _use(id_: str, name: str, **args) -> dict:
    return {"type": "tool_use", "id": id_, "name": name, "input": args}


def _text(text: str) -> dict:
    return {"type": "text", "text": text}


def test_a_truncated_tool_call_is_never_executed(root: Path, claude):
    """Finding 1: a max_tokens reply with a cut-off write_file wrote a half-file and the run succeeded."""
    stub = claude(
        [
            _reply(_use("t1", "write_file", path="projects/half.md", content="the first half of"), stop="max_tokens"),
            _reply(_use("t2", "write_file", path="projects/half.md", content="the whole file\n")),
            tool_use("t3", "finish", result="wrote it"),
        ]
    )
    res = Kernel(root).run("Write the whole file", model=SONNET)
    assert res.outcome == "success" and (root / "projects/half.md").read_text() == "the whole file\n"
    assert [r["max_tokens"] for r in stub.requests] == [8192, 16384, 16384]
    steps = read_trace(res.trace_path).steps
    assert steps[0].tool is None and "cut off at max_tokens=8192" in steps[0].result and "16384" in steps[0].result
    assert stub.violations == []


def test_large_replies_are_streamed(root: Path, claude):
    stub = claude(
        [
            _reply(_use("t1", "write_file", path="projects/big.md", content="a"), stop="max_tokens"),
            _reply(_use("t2", "write_file", path="projects/big.md", content="ab"), stop="max_tokens"),
            _reply(_text("Writing it whole."), _use("t3", "write_file", path="projects/big.md", content="abc\n")),
            tool_use("t4", "finish", result="done"),
        ]
    )
    res = Kernel(root).run("Write the big file", model=SONNET)
    assert res.outcome == "success" and (root / "projects/big.md").read_text() == "abc\n"
    assert [r["max_tokens"] for r in stub.requests] == [8192, 16384, 32768, 32768]
    assert [bool(r.get("stream")) for r in stub.requests] == [False, False, True, True]
    assert stub.violations == []


def test_a_reply_cut_off_at_the_models_limit_fails_the_run_saying_so(root: Path, claude):
    _configure(root, models={"claude-sonnet-4-6": {"max_tokens": 4096, "max_output": 4096}})
    claude([_reply(_use("t1", "write_file", path="projects/x.md", content="cut"), stop="max_tokens")])
    res = Kernel(root).run("Write x", model=SONNET)
    assert res.outcome == "failure" and "max_tokens=4096" in res.error and not (root / "projects/x.md").exists()


def test_the_prefix_is_stable_and_cached_while_memory_changes(root: Path, claude):
    """Finding 2: no cache_control, and remember/rewrite_working_memory re-rendered the system prompt."""
    stub = claude(
        [
            tool_use("a", "rewrite_working_memory", content="- halfway there\n"),
            tool_use("b", "remember", text="The demo runs on port 9090"),
            tool_use("c", "list_dir", path="."),
            tool_use("d", "finish", result="done"),
        ]
    )
    Kernel(root).run("Take notes", model=SONNET)
    systems = {json.dumps(r["system"]) for r in stub.requests}
    tools = {json.dumps(r["tools"]) for r in stub.requests}
    assert len(systems) == 1 and len(tools) == 1  # the cached prefix never changed mid-run
    assert all(r["messages"][-1]["content"][-1].get("cache_control") for r in stub.requests)
    later = stub.usages[1:]
    read = sum(u["cache_read_input_tokens"] for u in later)
    assert read / sum(u["input_tokens"] + u["cache_read_input_tokens"] for u in later) > 0.8
    assert stub.violations == []
    # a second run of the unchanged agent starts with the same system prompt: the cache serves it
    stub2 = claude([tool_use("e", "finish", result="again")])
    Kernel(root).run("Take notes again", model=SONNET)
    assert json.dumps(stub2.requests[0]["system"]) in systems


def test_cache_tokens_are_recorded_and_priced(root: Path, claude):
    """Finding 3: cache writes were dropped and cache reads cost nothing."""
    claude([tool_use("a", "list_dir", path="."), tool_use("b", "finish", result="ok")])
    res = Kernel(root).run("Look around", model=SONNET)
    charges = [json.loads(x) for x in ledger_path(root).read_text().splitlines() if '"charge"' in x]
    assert charges[0]["cache_write_tokens"] > 0 and charges[1]["cached_tokens"] > 0
    t = read_trace(res.trace_path).tokens
    assert t.cache_write == sum(c.get("cache_write_tokens", 0) for c in charges)
    assert t.cached == sum(c.get("cached_tokens", 0) for c in charges)
    assert f"cache {t.cached}r/{t.cache_write}w" in git(root, "log", "-1", "--format=%B")
    assert res.cost_usd == pytest.approx(sum(c["cost_usd"] for c in charges))
    out = run_llmos("budget", root=root)
    assert "cache read" in out.stdout


def test_prices_by_family_and_from_the_config():
    """Finding 4: claude-opus-4-7 was priced as Opus 4 ($15/$75); new families were refused."""
    c = BudgetConfig()
    assert (price_for(c, "claude-opus-4-7").input, price_for(c, "claude-opus-4-7").output) == (5.0, 25.0)
    assert price_for(c, "claude-opus-4-8").output == 25.0 and price_for(c, "claude-opus-4-1").output == 75.0
    assert price_for(c, "claude-sonnet-5").input == 3.0 and price_for(c, "claude-haiku-4-5-20251001").input == 1.0
    own = BudgetConfig(prices={"claude-opus-4-7": {"input": 4.0, "output": 20.0, "cache_read": 0.2}})
    p = price_for(own, "claude-opus-4-7")
    assert (p.input, p.read, p.write) == (4.0, 0.2, 5.0)
    assert price_for(c, "gpt-9") is None


def test_refusal_ends_the_run_with_its_text(root: Path, claude):
    """Finding 5: a refusal was nudged until max_steps, every call paid."""
    stub = claude([_reply(_text("I can't help with that."), stop="refusal")])
    res = Kernel(root).run("Do the forbidden thing", model=SONNET)
    assert res.outcome == "refused" and "I can't help with that." in res.error and len(stub.requests) == 1
    assert read_trace(res.trace_path).outcome == "refused"


def test_pause_turn_is_continued_without_a_nudge(root: Path, claude):
    stub = claude([_reply(_text("Working on it"), stop="pause_turn"), tool_use("f", "finish", result="done")])
    res = Kernel(root).run("A long turn", model=SONNET)
    assert res.outcome == "success"
    last = stub.requests[1]["messages"][-1]
    assert last["role"] == "assistant" and last["content"][0]["text"] == "Working on it"  # continued as is
    assert stub.violations == []


def test_a_paused_turn_and_its_continuation_are_one_assistant_turn(root: Path, claude):
    stub = claude(
        [
            _reply(_text("Looking"), stop="pause_turn"),
            _reply(_use("a", "list_dir", path=".")),
            tool_use("b", "finish", result="done"),
        ]
    )
    res = Kernel(root).run("A paused turn, then a tool", model=SONNET)
    assert res.outcome == "success" and stub.violations == []
    roles = [m["role"] for m in stub.requests[2]["messages"]]
    assert roles == ["user", "assistant", "user"]
    assert [b["type"] for b in stub.requests[2]["messages"][1]["content"]] == ["text", "tool_use"]


def test_whitespace_text_is_dropped_and_block_order_kept(root: Path, claude):
    """Finding 6: a whitespace-only text block made the API answer 400; blocks were reordered."""
    stub = claude(
        [
            _reply(_text("  \n"), _use("a", "list_dir", path=".")),
            _reply(
                _text("First I look."),
                _use("b", "list_dir", path="agents"),
                _text("Then"),
                _use("c", "list_dir", path="system"),
            ),
            tool_use("d", "finish", result="ok"),
        ]
    )
    res = Kernel(root).run("Look around twice", model=SONNET)
    assert res.outcome == "success" and stub.violations == []
    turn = stub.requests[2]["messages"][-2]
    assert [b["type"] for b in turn["content"]] == ["text", "tool_use", "text", "tool_use"]
    assert turn["content"][2]["text"] == "Then"
    assert all(b.get("text", "x").strip() for r in stub.requests for m in r["messages"] for b in m["content"])


def test_calls_after_finish_in_the_same_reply_are_run(root: Path, claude):
    """Finding 7: calls after finish were dropped while the result claimed them."""
    claude(
        [
            _reply(
                _use("a", "finish", result="wrote the note"),
                _use("b", "write_file", path="projects/n.md", content="n\n"),
            )
        ]
    )
    res = Kernel(root).run("Write the note", model=SONNET)
    assert res.outcome == "success" and (root / "projects/n.md").read_text() == "n\n"
    assert "after finish" in res.result and "write_file: ok" in res.result
    assert "projects/n.md" in git(root, "show", "--stat", "--format=", "HEAD")


def test_the_last_run_line_names_the_last_finished_run(root: Path, claude):
    """Finding 8: the prompt said the current run was 'the last run ... aborted', even in a fresh root."""
    stub = claude([tool_use("a", "list_dir", path="."), tool_use("b", "finish", result="first done")])
    Kernel(root).run("First goal", model=SONNET)
    told = [r["messages"][0]["content"][0]["text"] for r in stub.requests]
    assert all("This is your first run." in t and "aborted" not in t for t in told)
    stub2 = claude([tool_use("c", "finish", result="second done")])
    Kernel(root).run("Second goal", model=SONNET)
    text = stub2.requests[0]["messages"][0]["content"][0]["text"]
    assert "Your last run" in text and "success" in text and "First goal" in text and "aborted" not in text


def test_context_is_assembled_once_per_run(root: Path, script, monkeypatch: pytest.MonkeyPatch):
    """Finding 9: the prompt (and the index searches behind it) was rebuilt before every model call."""
    calls = []
    real = Kernel.assemble_context
    monkeypatch.setattr(Kernel, "assemble_context", lambda self, *a: calls.append(1) or real(self, *a))
    steps = [{"tool_calls": [{"name": "list_dir", "args": {"path": "."}}]}] * 4
    Kernel(root).run(
        "Look four times", model=script(*steps, {"tool_calls": [{"name": "finish", "args": {"result": "x"}}]})
    )
    assert len(calls) == 1


@pytest.mark.parametrize(
    "status, kind, headers, expected, hint",
    [
        (401, "authentication_error", {}, "Claude rejected the API key", "ANTHROPIC_API_KEY"),
        (
            429,
            "rate_limit_error",
            {"anthropic-ratelimit-tokens-reset": "2026-12-02T12:00:00Z", "retry-after": "7"},
            "Claude rate limit reached",
            "tokens limit resets at 2026-12-02T12:00:00Z; retry after 7s",
        ),
        (
            529,
            "overloaded_error",
            {},
            "Claude is overloaded (529 overloaded_error) after 2 retries",
            "overloaded_retries",
        ),
    ],
)
def test_errors_are_one_line_with_the_fix(root: Path, claude, status, kind, headers, expected, hint):
    """Finding 10: a 401 printed the raw dict; retries on 529 gave up after ~1.4 s."""
    _configure(root, max_retries=0, overloaded_retries=2, retry_base_s=0.01)
    error = {"status": status, "error_type": kind, "message": "nope", "headers": headers}
    stub = claude([error, error, error])
    out = run_llmos("boot", "x", "--model", SONNET, root=root)
    assert out.returncode == 1
    line = out.stderr.strip().splitlines()[-1]
    assert line.startswith(f"error: {expected}") and hint in line and "{" not in line
    assert len(stub.requests) == (3 if status == 529 else 1)


def test_a_timeout_names_the_seconds_waited(root: Path, claude, monkeypatch):
    _configure(root, timeout_s=0.3, max_retries=0)
    stub = claude([tool_use("a", "finish", result="late")])
    import anthropic_stub

    slow = anthropic_stub.StubServer._message

    def late(self, body, reply):
        time.sleep(1.0)
        return slow(self, body, reply)

    monkeypatch.setattr(anthropic_stub.StubServer, "_message", late)
    with pytest.raises(BackendError, match="did not answer within 0s") as info:
        Kernel(root).run("x", model=SONNET)
    assert "anthropic.timeout_s" in info.value.hint and "network" not in str(info.value)
    assert stub.requests


def test_long_runs_are_compacted_below_the_limit(root: Path, claude):
    """Long runs stay within the window: old tool results become previews with their blob id."""
    _configure(root, max_input_tokens=8000)
    (root / "projects").mkdir(exist_ok=True)
    for n in range(6):
        (root / f"projects/big{n}.md").write_text(f"file {n} " + "lorem ipsum dolor sit amet " * 200)
    replies = [tool_use(f"r{n}", "read_file", path=f"projects/big{n}.md") for n in range(6)]
    stub = claude([*replies, tool_use("f", "finish", result="read them all")])
    res = Kernel(root).run("Read every big file", model=SONNET)
    assert res.outcome == "success" and stub.violations == []
    trace = read_trace(res.trace_path)
    assert trace.compactions and all(c["after"] < c["before"] for c in trace.compactions)
    sent = [json.dumps(r) for r in stub.requests]
    assert any("[compacted:" in r and "blob:" in r for r in sent)  # old results: a preview and the blob id
    assert json.dumps(stub.requests[-1]["system"]) == json.dumps(stub.requests[0]["system"])  # prefix intact
    sizes = [u["input_tokens"] + u["cache_read_input_tokens"] + u["cache_creation_input_tokens"] for u in stub.usages]
    assert max(sizes) <= 8000  # every request within the limit (uncompacted the last would be ~13,000)


def test_backend_defaults(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-x")
    b = AnthropicBackend("claude-opus-4-1")
    assert (b.max_output, b.output_limit) == (8192, 32000)
    assert b.grow_output() == 16384 and b.grow_output() == 32000 and b.grow_output() is None


class _Sized:
    """A backend whose input is its request's length in characters, with a small window."""

    input_limit = 2000

    def estimate_input(self, messages, tools):
        return len(json.dumps(messages))


def test_the_oldest_turns_are_summarized_and_every_tool_use_stays_answered():
    from anthropic_stub import _violations
    from llmos.backends.claude import to_anthropic
    from llmos.compact import compact

    messages = [{"role": "system", "content": "sys"}, {"role": "user", "content": "goal"}]
    for n in range(8):
        messages.append(
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"id": f"c{n}", "name": "read_file", "args": {"path": f"f{n}"}}],
            }
        )
        messages.append(
            {"role": "tool", "tool_call_id": f"c{n}", "name": "read_file", "content": f"text {n} " * 40, "ok": True}
        )
    done = compact(messages, [], _Sized(), None, at_call=9)
    assert done["turns"] > 0 and done["after"] <= 2000 < done["before"]
    assert messages[0]["content"] == "sys" and messages[1]["content"] == "goal"
    assert "read_file(path='f0') -> ok: text 0" in messages[2]["content"]
    system, turns = to_anthropic(messages)
    assert _violations({"model": "claude-sonnet-4-6", "max_tokens": 100, "system": system, "messages": turns}) == []


def test_an_agent_sets_its_own_max_tokens(root: Path, claude):
    (root / "agents/brief.md").write_text(
        "---\nname: brief\ndescription: short answers\nmax_tokens: 2000\n---\nBe brief.\n"
    )
    stub = claude([tool_use("a", "finish", result="ok")])
    Kernel(root).run("Answer", agent="brief", model=SONNET)
    assert stub.requests[0]["max_tokens"] == 2000

"""The anthropic backend through the real SDK against a local Messages-API stub (no SDK patching)."""

from pathlib import Path

import pytest

from llmos.backends.claude import to_anthropic
from llmos.errors import BackendError
from llmos.kernel import Kernel
from llmos.traces import read_trace
from anthropic_stub import StubServer, tool_use
from helpers import git, run_llmos


def test_run_through_the_messages_api(root: Path, monkeypatch: pytest.MonkeyPatch):
    replies = [
        tool_use("tu_1", "write_file", path="projects/demo/poem.md", content="git remembers"),
        {
            "content": [
                {"type": "text", "text": "Done, finishing."},
                {"type": "tool_use", "id": "tu_2", "name": "finish", "input": {"result": "wrote poem"}},
            ]
        },
    ]
    with StubServer(replies) as stub:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", stub.url)
        res = Kernel(root).run("Write a poem into projects/demo/poem.md", model="anthropic:claude-sonnet-4-6")
    assert res.outcome == "success" and (root / "projects/demo/poem.md").read_text() == "git remembers"
    first, second = stub.requests
    [system] = first["system"]
    assert first["model"] == "claude-sonnet-4-6" and "You are assistant" in system["text"]
    assert system["cache_control"] == {"type": "ephemeral"} and first["tools"][-1]["cache_control"]
    assert {t["name"] for t in first["tools"]} == {
        "read_file",
        "write_file",
        "list_dir",
        "budget_status",
        "recall",
        "remember",
        "rewrite_working_memory",
        "finish",
    }
    [goal] = first["messages"]
    assert goal["role"] == "user" and goal["content"][0]["text"].startswith("Write a poem into projects/demo/poem.md")
    assert "# Your working memory" in goal["content"][0]["text"] and goal["content"][-1]["cache_control"]
    assert second["system"] == first["system"]  # the cached prefix is the same, byte for byte
    result_block = second["messages"][-1]["content"][0]
    assert result_block["type"] == "tool_result" and result_block["tool_use_id"] == "tu_1"
    assert result_block["is_error"] is False and "wrote 13 bytes" in result_block["content"]
    sent = stub.headers[0]
    assert "sk-ant-test-key" in (sent.get("x-api-key", "") + sent.get("authorization", ""))
    t = read_trace(res.trace_path)
    used_in, used_out = sum(u["input_tokens"] for u in stub.usages), sum(u["output_tokens"] for u in stub.usages)
    assert t.model == "claude-sonnet-4-6" and t.tokens.input == used_in and t.tokens.output == used_out
    read = sum(u["cache_read_input_tokens"] for u in stub.usages)
    wrote = sum(u["cache_creation_input_tokens"] for u in stub.usages)
    assert t.tokens.cached == read > 0 and t.tokens.cache_write == wrote > 0  # the second call read the first's
    # Sonnet 4 prices: $3 in, $15 out, cache writes 1.25x and reads 0.1x the input price
    assert t.cost_usd == pytest.approx((used_in * 3 + used_out * 15 + wrote * 3.75 + read * 0.3) / 1e6)
    assert len(stub.counts) == 2 and stub.violations == []  # each call's input counted by the API first
    assert f"Cost-USD: {t.cost_usd:.6f}" in git(root, "log", "-1", "--format=%B")


def test_alias_from_claude_code_model_field(root: Path, monkeypatch: pytest.MonkeyPatch):
    (root / "agents" / "haikuist.md").write_text("---\nname: haikuist\ndescription: x\nmodel: haiku\n---\nBe brief.\n")
    with StubServer([tool_use("t", "finish", result="ok")]) as stub:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "k" * 12)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", stub.url)
        Kernel(root).run("be brief", agent="haikuist")
    assert stub.requests[0]["model"] == "claude-haiku-4-5"


def test_missing_key_is_a_one_line_error(root: Path):
    res = run_llmos("boot", "x", "--model", "anthropic:claude-sonnet-4-6", root=root, env={"ANTHROPIC_API_KEY": ""})
    assert res.returncode == 1
    assert res.stderr.strip() == (
        "error: ANTHROPIC_API_KEY is not set (export ANTHROPIC_API_KEY=sk-ant-... or use --model local)"
    )


def test_api_error_fails_the_run_with_its_trace(root: Path, monkeypatch: pytest.MonkeyPatch):
    with StubServer([], status=400) as stub:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", stub.url)
        with pytest.raises(BackendError, match="Claude API error 400") as info:
            Kernel(root).run("x", model="anthropic:claude-haiku-4-5")
    assert read_trace(info.value.run.trace_path).outcome == "failure"


def test_unpriced_model_is_refused_before_any_request(root: Path, monkeypatch: pytest.MonkeyPatch):
    from llmos.errors import BudgetExceeded

    with StubServer([tool_use("t", "finish", result="ok")]) as stub:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", stub.url)
        with pytest.raises(BudgetExceeded, match="no known price") as info:
            Kernel(root).run("x", model="anthropic:claude-unknown-9")
    assert stub.requests == []
    t = read_trace(info.value.run.trace_path)
    assert t.outcome == "budget" and t.model_calls == 0


def test_tool_results_are_grouped_into_one_user_turn():
    msgs = [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "goal"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "a", "name": "x", "args": {}}, {"id": "b", "name": "y", "args": {}}],
        },
        {"role": "tool", "tool_call_id": "a", "name": "x", "content": "1", "ok": True},
        {"role": "tool", "tool_call_id": "b", "name": "y", "content": "2", "ok": False},
    ]
    system, turns = to_anthropic(msgs)
    assert system == "sys" and [t["role"] for t in turns] == ["user", "assistant", "user"]
    assert [b["tool_use_id"] for b in turns[2]["content"]] == ["a", "b"] and turns[2]["content"][1]["is_error"]

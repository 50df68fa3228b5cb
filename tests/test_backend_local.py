"""The local backend with the real bundled Gemma 3 270M: grammar-constrained tool calls, real token counts.

The model is weak: these tests assert the shape of what it does (valid calls, a finished trace,
a commit), never its wording.
"""
from pathlib import Path

import pytest
import yaml

from llmos.backends.grammar import parse_tool_call, tool_call_grammar
from llmos.backends.local import LocalBackend, bundled_model_path
from llmos.config import load_config
from llmos.kernel import Kernel
from llmos.syscalls import SyscallTable
from llmos.traces import read_trace
from helpers import git

TOOLS = SyscallTable.default().schemas(None)


def test_grammar_compiles_in_llama_cpp():
    from llama_cpp import LlamaGrammar

    text = tool_call_grammar(TOOLS, 50)
    assert "call-write-file" in text and 'char{0,50}' in text
    LlamaGrammar.from_string(text, verbose=False)  # raises on a malformed grammar


def test_parse_tool_call_rejects_non_calls():
    assert parse_tool_call('{"tool": "finish", "args": {"result": "x"}}') == ("finish", {"result": "x"})
    assert parse_tool_call('{"tool": "finish"}') is None and parse_tool_call("not json") is None


@pytest.mark.local_model
def test_every_reply_is_a_valid_allowed_call(root: Path):
    backend = LocalBackend(None, config=load_config(root), root=root)
    allowed = [t for t in TOOLS if t["name"] in ("write_file", "finish")]
    messages = [{"role": "system", "content": "You write files."},
                {"role": "user", "content": "Write a haiku about git into projects/demo/haiku.md"}]
    reply = backend.complete(messages, allowed)
    assert len(reply.tool_calls) == 1
    call = reply.tool_calls[0]
    assert call.name in ("write_file", "finish")
    schema = next(t for t in allowed if t["name"] == call.name)["input_schema"]
    assert set(call.args) == set(schema["properties"]) and all(isinstance(v, str) for v in call.args.values())
    assert reply.usage.input > 50 and 0 < reply.usage.output <= backend.max_output
    assert reply.usage.input == backend.estimate_input(messages, allowed)  # real llama.cpp token counts


@pytest.mark.local_model
def test_boot_with_the_local_model_reaches_an_outcome(root: Path):
    res = Kernel(root).run("Write a haiku about git into projects/demo/haiku.md", model="local", max_steps=3)
    t = read_trace(res.trace_path)
    assert t.outcome in ("success", "failure") and t.ended and t.model == "local:gemma-3-270m-q4_k_m.gguf"
    # the grammar admits only the agent's own tools (which the model picks among is its business)
    front = (root / "agents" / f"{t.agent}.md").read_text().split("---")[1]
    allowed = set(yaml.safe_load(front)["tools"]) | {"finish"}
    assert 1 <= len(t.steps) and all(s.tool in allowed for s in t.steps), [s.tool for s in t.steps]
    assert t.tokens.input > 0 and t.tokens.output > 0
    assert f"Trace-Id: {t.id}" in git(root, "log", "-1", "--format=%B")
    assert git(root, "status", "--porcelain") == ""


def test_bundled_model_is_assembled_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    first = bundled_model_path()
    stamp = first.stat().st_mtime_ns
    assert first.is_file() and first.stat().st_size > 100_000_000
    assert bundled_model_path() == first and first.stat().st_mtime_ns == stamp


def test_missing_gguf_is_a_clear_error(root: Path):
    from llmos.errors import BackendError

    with pytest.raises(BackendError, match="model file not found"):
        Kernel(root).run("x", model="local:/nonexistent/model.gguf")

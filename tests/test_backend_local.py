"""The local backend with the real bundled Gemma 3 270M, run in its worker process.

The model is weak: these tests assert the shape of what it does (valid calls, a finished trace,
a commit), never its wording. llama.cpp is never imported into this process: a crash of the model
fails a test, it cannot kill pytest.
"""

from __future__ import annotations

import json
import os
import signal
import struct
from pathlib import Path

import pytest
import yaml

from llmos.backends.gguf import check_gguf
from llmos.backends.grammar import parse_tool_call, tool_call_grammar
from llmos.backends.local import LocalBackend, bundled_model_path
from llmos.backends.worker import LocalModel, WorkerSpec, stop_all
from llmos.config import load_config
from llmos.errors import BackendError, ModelWorkerError
from llmos.kernel import Kernel
from llmos.syscalls import SyscallTable
from llmos.traces import read_trace
from helpers import git, run_llmos

TOOLS = SyscallTable.default().schemas(None)
MESSAGES = [
    {"role": "system", "content": "You write files."},
    {"role": "user", "content": "Write a haiku about git into projects/demo/haiku.md"},
]


@pytest.fixture(scope="module")
def gguf() -> Path:
    return bundled_model_path()


@pytest.fixture()
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private cache folder (the crash memory lives there); each test gets fresh workers."""
    stop_all()
    monkeypatch.setenv("LLMOS_CACHE", str(tmp_path / "cache"))
    yield tmp_path / "cache"
    stop_all()


def _model(gguf: Path, *, extra: bool = True, setting: str = "auto", timeout: float = 120.0) -> LocalModel:
    return LocalModel(WorkerSpec(str(gguf), 1024, None, extra, timeout), setting)


def test_parse_tool_call_rejects_non_calls():
    assert parse_tool_call('{"tool": "finish", "args": {"result": "x"}}') == ("finish", {"result": "x"})
    assert parse_tool_call('{"tool": "finish"}') is None and parse_tool_call("not json") is None


@pytest.mark.local_model
def test_grammar_compiles_in_llama_cpp(gguf: Path, own_cache: Path):
    model = _model(gguf)
    text = tool_call_grammar(TOOLS, 50)
    assert "call-write-file" in text and "char{0,50}" in text
    assert model.call("grammar", grammar=text)["ok"]
    with pytest.raises(ModelWorkerError, match="grammar"):
        model.call("grammar", grammar="root ::= (")
    model.stop()


def _short_replies(root: Path) -> None:
    """Bound what the model may write (strings of <= 16 characters, <= 64 tokens a reply, so a whole
    call always fits): the same grammar and loop in a fraction of the defaults' generation time."""
    cfg = root / "system" / "llmos.yaml"
    data = yaml.safe_load(cfg.read_text())
    data.setdefault("local", {}).update(max_string=16, max_tokens=64)
    cfg.write_text(yaml.safe_dump(data))
    git(root, "commit", "-qam", "short local replies")


@pytest.mark.local_model
def test_every_reply_is_a_valid_allowed_call(root: Path):
    _short_replies(root)
    backend = LocalBackend(None, config=load_config(root), root=root)
    allowed = [t for t in TOOLS if t["name"] in ("write_file", "finish")]
    reply = backend.complete(MESSAGES, allowed)
    assert len(reply.tool_calls) == 1
    call = reply.tool_calls[0]
    assert call.name in ("write_file", "finish")
    schema = next(t for t in allowed if t["name"] == call.name)["input_schema"]
    assert set(call.args) == set(schema["properties"]) and all(isinstance(v, str) for v in call.args.values())
    assert reply.usage.input > 50 and 0 < reply.usage.output <= backend.max_output
    assert reply.usage.input == backend.estimate_input(MESSAGES, allowed)  # real llama.cpp token counts
    assert backend.llm.pid not in (None, os.getpid())  # the model ran in its worker, not here


TINY = """---
name: tiny
description: Writes files.
tools: [write_file, finish]
---
Write the file the goal names, then finish.
"""


@pytest.mark.local_model
def test_boot_with_the_local_model_reaches_an_outcome(root: Path):
    _short_replies(root)
    (root / "agents" / "tiny.md").write_text(TINY)  # a short agent: the prompt is the template plus a little
    git(root, "add", "-A")
    git(root, "commit", "-qm", "a tiny agent")
    # one model call: the loop itself is the scripted tests' business; this is the real model's path
    res = Kernel(root).run(
        "Write a haiku about git into projects/demo/haiku.md", agent="tiny", model="local", max_steps=1
    )
    t = read_trace(res.trace_path)
    assert t.outcome in ("success", "failure") and t.ended and t.model == "local:gemma-3-270m-q4_k_m.gguf"
    # the grammar admits only the agent's own tools (which the model picks among is its business)
    front = (root / "agents" / f"{t.agent}.md").read_text().split("---")[1]
    allowed = set(yaml.safe_load(front)["tools"]) | {"finish"}
    assert 1 <= len(t.steps) and all(s.tool in allowed for s in t.steps), [s.tool for s in t.steps]
    assert t.tokens.input > 0 and t.tokens.output > 0
    assert f"Trace-Id: {t.id}" in git(root, "log", "-1", "--format=%B")
    assert git(root, "status", "--porcelain") == ""


@pytest.mark.local_model
def test_a_native_crash_with_extra_buffers_is_retried_without_them_and_remembered(gguf: Path, own_cache: Path):
    model = _model(gguf)
    assert model.call("tokenize", text="hello")["n"] > 1
    os.kill(model.pid, signal.SIGSEGV)  # what the AMX fault looked like from outside
    assert model.call("tokenize", text="hello")["n"] > 1  # answered by a new worker
    assert model.spec.extra_buffers is False and "without" in (model.note or "")
    remembered = json.loads((own_cache / "local-safe.json").read_text())
    assert any("SIGSEGV" in reason for reason in remembered.values())
    from llmos.backends.worker import extra_buffers

    assert extra_buffers("auto") is False and extra_buffers("on") is True  # later processes start safe
    model.stop()


@pytest.mark.local_model
def test_a_dead_worker_is_a_one_line_error_and_the_next_call_starts_a_new_one(gguf: Path, own_cache: Path):
    """One model, killed three ways in turn; each death is one line, and the next call works again."""
    model = _model(gguf, extra=False, setting="off")
    model.call("tokenize", text="a")
    for sig, words in (
        (signal.SIGSEGV, "crashed in llama.cpp (SIGSEGV"),
        (signal.SIGKILL, "killed (SIGKILL)"),
        (signal.SIGILL, "SIGILL"),
    ):
        first = model.pid
        os.kill(first, sig)
        with pytest.raises(ModelWorkerError) as err:
            model.call("tokenize", text="a")
        assert words in str(err.value) and "\n" not in str(err.value) and err.value.hint, sig
        assert model.call("tokenize", text="a")["n"] >= 1 and model.pid not in (None, first)
    model.stop()


@pytest.mark.local_model
def test_a_hung_model_is_stopped_and_the_run_fails_with_a_committed_trace(root: Path, own_cache: Path, gguf: Path):
    cfg = root / "system" / "llmos.yaml"
    data = yaml.safe_load(cfg.read_text())
    data.setdefault("local", {}).update(timeout_s=0.001, model_path=str(gguf))
    cfg.write_text(yaml.safe_dump(data))
    git(root, "commit", "-qam", "a tiny model timeout")
    with pytest.raises(ModelWorkerError, match="did not answer") as err:
        Kernel(root).run("Write a haiku about git into projects/demo/haiku.md", model="local", max_steps=2)
    out = err.value.run
    assert out.outcome == "failure" and "did not answer" in out.error
    t = read_trace(out.trace_path)
    assert t.outcome == "failure" and t.ended
    assert f"Trace-Id: {t.id}" in git(root, "log", "-1", "--format=%B")
    assert git(root, "status", "--porcelain") == ""


def test_bundled_model_is_assembled_once(gguf: Path):
    stamp = gguf.stat().st_mtime_ns
    assert gguf.is_file() and gguf.stat().st_size > 100_000_000
    assert bundled_model_path() == gguf and gguf.stat().st_mtime_ns == stamp


def test_the_bundled_gguf_header_accounts_for_every_byte(gguf: Path):
    info = check_gguf(gguf)
    assert info.version == 3 and info.architecture == "gemma3" and info.tensors > 100
    assert info.needed == info.size  # the parser sizes every tensor type this model uses


def test_missing_gguf_is_a_clear_error(root: Path):
    with pytest.raises(BackendError, match="model file not found"):
        Kernel(root).run("x", model="local:/nonexistent/model.gguf")
    assert not list((root / "traces").rglob("*.md"))  # refused before any run started


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda src, dst: dst.write_bytes(b"<html>not a model</html>" * 10), "not a GGUF file"),
        (lambda src, dst: dst.write_bytes(b""), "not a GGUF file"),
        (lambda src, dst: dst.write_bytes(src.read_bytes()[:1_000_000]), "truncated GGUF file"),
        (lambda src, dst: dst.write_bytes(src.read_bytes()[:-4096]), "truncated GGUF file"),
        (lambda src, dst: dst.write_bytes(b"GGUF" + struct.pack("<I", 99) + bytes(16)), "GGUF version 99"),
        (lambda src, dst: dst.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 1, 5) + bytes(7)), "truncated GGUF file"),
    ],
)
def test_bad_gguf_files_are_refused_before_any_run(root: Path, gguf: Path, tmp_path: Path, make, words):
    bad = tmp_path / "model.gguf"
    make(gguf, bad)
    res = run_llmos("boot", "x", "--model", f"local:{bad}", root=root)
    assert res.returncode == 1 and words in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
    assert not list((root / "traces").rglob("*.md"))


def test_a_worker_that_cannot_import_llama_cpp_says_so(
    gguf: Path, own_cache: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    shadow = tmp_path / "shadow"
    (shadow / "llama_cpp").mkdir(parents=True)
    (shadow / "llama_cpp" / "__init__.py").write_text("raise ImportError('libllama.so: cannot open shared object')\n")
    monkeypatch.setenv("PYTHONPATH", str(shadow))
    model = _model(gguf)
    with pytest.raises(ModelWorkerError, match="cannot be imported.*libllama.so") as err:
        model.call("tokenize", text="a")
    assert "pip install" in (err.value.hint or "")
    model.stop()


def test_doctor_reports_a_broken_model_file(root: Path, tmp_path: Path):
    bad = tmp_path / "x.gguf"
    bad.write_bytes(b"nope")
    res = run_llmos("doctor", "--model", f"local:{bad}", root=root)
    assert res.returncode == 1 and "not a GGUF file" in res.stderr and "cpu" in res.stdout


@pytest.mark.local_model
def test_doctor_generates_one_token_in_the_worker(root: Path):
    res = run_llmos("doctor", "--json", root=root)
    assert res.returncode == 0, res.stdout + res.stderr
    report = json.loads(res.stdout)
    assert report["ok"] and report["generate"]["tokens"] == 1 and report["llama_cpp"]["missing"] == []
    assert (
        report["cpu"]["machine"] and "AVX2" in report["llama_cpp"]["features"] or report["cpu"]["machine"] != "x86_64"
    )

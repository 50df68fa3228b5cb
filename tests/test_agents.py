"""Agent documents and `llmos check`: every kind of bad file is named with file:line:field."""

from pathlib import Path

import pytest

from llmos.agents import load_agent
from llmos.errors import AgentNotFound, DocumentError
from llmos.checks import check_root
from llmos.kernel import Kernel
from llmos.syscalls import SyscallTable
from helpers import run_llmos

TOOLS = set(SyscallTable.default().names())
ASSISTANT = {
    "read_file",
    "write_file",
    "list_dir",
    "budget_status",
    "recall",
    "remember",
    "rewrite_working_memory",
    "finish",
}


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def problems(root: Path, name: str) -> DocumentError:
    with pytest.raises(DocumentError) as info:
        load_agent(root, name, TOOLS)
    return info.value


def test_claude_code_subagent_loads_as_is(root: Path):
    write(
        root,
        "agents/code-reviewer.md",
        "---\nname: code-reviewer\ndescription: Reviews code\ntools: Read, LS\nmodel: sonnet\n---\nYou review code.\n",
    )
    agent = load_agent(root, "code-reviewer", TOOLS)
    assert agent.tools == frozenset({"read_file", "list_dir"})
    assert agent.model == "sonnet" and agent.instructions == "You review code."


def test_tools_as_a_list_and_soul(root: Path):
    agent = load_agent(root, "assistant", TOOLS)
    assert agent.tools == frozenset(ASSISTANT)
    assert "careful" in agent.soul and agent.soul_hash


def test_bad_yaml_names_line(root: Path):
    write(root, "agents/broken.md", "---\nname: broken\ndescription: x\ntools: [read_file\n---\nbody\n")
    err = problems(root, "broken")
    assert "agents/broken.md:" in str(err) and "bad YAML" in str(err)
    assert err.problems[0][0] in (4, 5)


def test_unknown_field_names_file_line_field(root: Path):
    write(root, "agents/typo.md", "---\nname: typo\ndescription: x\nmodle: local\n---\nbody\n")
    err = problems(root, "typo")
    assert err.problems == [(4, "modle", err.problems[0][2])]
    assert "unknown field: did you mean 'mode' or 'model'?" in str(err) and "typo.md:4: modle" in str(err)


def test_mistyped_field(root: Path):
    write(root, "agents/typed.md", "---\nname: typed\ndescription: x\nmax_steps: many\n---\nbody\n")
    err = problems(root, "typed")
    assert err.problems[0][:2] == (4, "max_steps")


def test_missing_required_field(root: Path):
    write(root, "agents/nodesc.md", "---\nname: nodesc\n---\nbody\n")
    err = problems(root, "nodesc")
    assert err.problems[0][1] == "description" and "required" in err.problems[0][2]


def test_unknown_tool_is_dropped_with_a_note_naming_the_tool_and_line(root: Path):
    write(root, "agents/frob.md", "---\nname: frob\ndescription: x\ntools: read_file, Frobnicate\n---\nbody\n")
    agent = load_agent(root, "frob", TOOLS)
    assert agent.tools == frozenset({"read_file"})
    [note] = agent.notes
    assert (note.line, note.field, note.kind) == (4, "tools", "dropped") and "'Frobnicate'" in note.message


def test_binary_file_and_a_name_other_than_the_file_name(root: Path):
    (root / "agents" / "blob.md").write_bytes(b"\x00\x01\x02binary")
    assert "binary" in str(problems(root, "blob"))
    write(root, "agents/alias.md", "---\nname: other\ndescription: x\n---\nbody\n")
    assert load_agent(root, "other", TOOLS).path.name == "alias.md"  # keyed by name, the file name is free
    with pytest.raises(AgentNotFound):
        load_agent(root, "alias", TOOLS)


def test_extends_inherits_and_cycles_are_errors(root: Path):
    write(root, "agents/poet.md", "---\nname: poet\ndescription: writes poems\nextends: assistant\n---\nWrite verse.\n")
    poet = load_agent(root, "poet", TOOLS)
    assert poet.tools == frozenset(ASSISTANT) and poet.instructions.endswith("Write verse.")
    assert "careful" in poet.soul  # the base agent's soul
    write(root, "agents/a.md", "---\nname: a\ndescription: x\nextends: b\n---\n")
    write(root, "agents/b.md", "---\nname: b\ndescription: x\nextends: a\n---\n")
    assert "inheritance cycle" in str(problems(root, "a"))


def test_missing_agent(root: Path):
    with pytest.raises(AgentNotFound, match="no agent named 'ghost'"):
        load_agent(root, "ghost", TOOLS)


def test_check_lists_every_error_and_exits_1(root: Path):
    write(root, "agents/one.md", "---\nname: one\ndescription: x\ncolour: red\n---\n")
    write(root, "agents/two.md", "---\nname: two\n---\n")
    write(root, "traces/2026/01/bad.md", "---\nformat: llmos-trace/1\nid: bad\n---\n")
    errors = check_root(root)
    assert {Path(e.path).name for e in errors} == {"one.md", "two.md", "bad.md"}
    res = run_llmos("check", root=root)
    assert res.returncode == 1
    assert "one.md:4: colour: unknown field: did you mean 'color'?" in res.stdout
    assert "two.md:1: description: required field is missing" in res.stdout
    assert "bad.md" in res.stdout


def test_bad_config_is_reported_with_line(root: Path):
    cfg = root / "system" / "llmos.yaml"
    cfg.write_text(cfg.read_text().replace("max_steps: 12", "max_stepz: 12"))
    errors = check_root(root)
    assert len(errors) == 1 and "llmos.yaml:" in str(errors[0]) and "max_stepz" in str(errors[0])
    res = run_llmos("boot", "hello", root=root)
    assert res.returncode == 1 and "max_stepz: unknown field" in res.stderr


def test_agents_command_lists_tools_and_model(root: Path):
    res = run_llmos("agents", "--json", root=root)
    assert res.returncode == 0, res.stderr
    import json

    rows = {r["name"]: r for r in json.loads(res.stdout)}
    assert rows["reviewer"]["tools"] == ["list_dir", "read_file", "write_file"]
    assert rows["orchestrator"]["system"] is True


def test_kernel_agents_splits_good_and_bad(root: Path):
    write(root, "agents/bad.md", "---\nname: bad\n---\n")
    good, bad = Kernel(root).agents()
    assert "assistant" in {a.name for a in good} and [Path(e.path).name for e in bad] == ["bad.md"]

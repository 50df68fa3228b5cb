"""Claude Code agent files load as they are: the corpus in tests/corpus/claude_code/ (every built-in tool
name, every frontmatter field, plugin-style names, MCP tool names, unquoted ': ' in descriptions)."""

import shutil
from pathlib import Path

import pytest

from llmos.agents import load_agent, scan_agents
from llmos.compat import TOOL_MAP
from llmos.errors import DocumentError
from llmos.kernel import Kernel
from helpers import run_llmos

CORPUS = Path(__file__).parent / "corpus" / "claude_code"


def corpus_root(root: Path) -> Path:
    shutil.copytree(CORPUS, root / "agents" / "claude")
    return root


def corpus_files() -> list[Path]:
    return [p for p in sorted(CORPUS.rglob("*.md")) if p.read_text(encoding="utf-8").startswith("---")]


def test_every_corpus_file_loads_and_each_tool_is_mapped_or_listed_as_dropped(root: Path):
    corpus_root(root)
    kernel = Kernel(root)
    good, bad = kernel.agents()
    assert bad == []
    loaded = {a.path.name: a for a in good if "claude" in a.path.parts}
    assert len(loaded) + 1 == len(corpus_files())  # two files are named context-manager.md
    every = next(a for a in good if a.name == "every-tool")
    dropped = " ".join(n.message for n in every.notes if n.kind == "dropped")
    for tool in ("NotebookEdit", "Skill", "SendMessage", "TeamCreate", "AskUserQuestion"):
        assert repr(tool) in dropped
    listed = (CORPUS / "every-tool.md").read_text().split("tools: ")[1].split("\n")[0].split(", ")
    for cc in listed:
        ours = TOOL_MAP.get(cc)
        assert ours in every.tools or repr(cc) in dropped, cc
    assert {"read_file", "write_file", "list_dir", "delegate", "edit_file", "grep", "glob"} <= every.tools


def test_agents_are_keyed_by_name_and_the_file_name_is_free(root: Path):
    corpus_root(root)
    files, dupes = scan_agents(root)
    assert dupes == {}
    a = load_agent(root, "agent-orchestration-context-manager", set(Kernel(root).syscalls.names()))
    b = load_agent(root, "context-tools-context-manager", set(Kernel(root).syscalls.names()))
    assert a.path.name == b.path.name == "context-manager.md" and a.model == "haiku" and b.model == "opus"
    assert "readme" not in files  # a collection's README (no frontmatter) is not an agent


def test_two_files_with_one_name_are_an_error_naming_both(root: Path):
    (root / "agents" / "x").mkdir()
    for rel in ("agents/x/helper.md", "agents/other.md"):
        (root / rel).write_text("---\nname: helper\ndescription: d\n---\nbody\n", encoding="utf-8")
    _, bad = Kernel(root).agents()
    [err] = bad
    assert "agents/other.md" in str(err) and "agents/x/helper.md" in str(err) and "unique" in str(err)


def test_unquoted_colon_is_read_as_claude_code_does_with_a_note_naming_the_line(root: Path):
    corpus_root(root)
    agent = Kernel(root).agent("gdpr-reviewer")
    assert agent.description.endswith("Triggers on: 'GDPR', 'personal data', 'consent'")
    [note] = [n for n in agent.notes if n.kind == "lenient"]
    assert note.line == 3 and note.field == "description" and 'description: "..."' in note.message
    reviewer = Kernel(root).agent("code-reviewer")  # examples with user: and assistant: inside
    assert "<example>" in reviewer.description


def test_every_claude_code_field_is_accepted_and_what_is_ignored_is_noted(root: Path):
    corpus_root(root)
    agent = Kernel(root).agent("every-field")
    assert agent.model == "anthropic:claude-sonnet-4-5-20250929" and agent.max_steps == 20
    assert "bash" not in agent.tools  # disallowedTools: Bash
    ignored = {n.field for n in agent.notes if n.kind == "ignored"}
    expected = {"permissionMode", "skills", "mcpServers", "hooks", "memory", "background", "effort", "isolation"}
    assert expected | {"initialPrompt"} <= ignored and "color" not in ignored


def test_crlf_dotted_names_and_empty_tools(root: Path):
    corpus_root(root)
    kernel = Kernel(root)
    assert kernel.agent("windows-agent").instructions == "You were written on Windows."
    assert kernel.agent("python.pro").name == "python.pro"
    assert kernel.agent("empty-tools").tools == frozenset() and kernel.agent("no-tools").tools is None


def test_near_misses_get_a_hint_and_every_problem_of_a_file_is_reported(root: Path):
    (root / "agents" / "near.md").write_text(
        "---\nagent_name: near\ndescription: x\ntool: Read\nmax_steps: many\n---\nbody\n", encoding="utf-8"
    )
    _, bad = Kernel(root).agents()
    [err] = bad
    text = str(err)
    assert "agent_name: unknown field: did you mean 'name'?" in text
    assert "tool: unknown field: did you mean 'tools'?" in text
    assert "max_steps" in text and "name: required field is missing" in text


def test_check_lists_dropped_tools_and_strict_makes_them_errors(root: Path):
    corpus_root(root)
    res = run_llmos("check", root=root)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "warning: agents/claude/every-tool.md:4: tools: unknown tool 'NotebookEdit'" in res.stderr
    assert "permissionMode: accepted and ignored" in res.stderr
    strict = run_llmos("check", "--strict", root=root)
    assert strict.returncode == 1
    assert "every-tool.md:4: tools: unknown tool 'NotebookEdit'" in strict.stdout
    assert "gdpr-reviewer.md:3: description: the value holds" in strict.stdout


def test_agent_flag_takes_the_name(root: Path, script):
    corpus_root(root)
    model = script({"tool_calls": [{"name": "finish", "args": {"result": "done"}}]})
    res = run_llmos("boot", "hi", "--agent", "agent-orchestration-context-manager", "--model", model, root=root)
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize("bad", ["Bash(git *)", "Task(code-reviewer)"])
def test_a_patterned_tool_is_dropped_not_widened(root: Path, bad: str):
    (root / "agents" / "p.md").write_text(f"---\nname: p\ndescription: x\ntools: Read, {bad}\n---\nb\n")
    agent = Kernel(root).agent("p")
    assert agent.tools == frozenset({"read_file"}) and "cannot enforce" in agent.notes[0].message
    with pytest.raises(DocumentError):
        from llmos.agents import parse_agent

        parse_agent(root / "agents" / "p.md", set(Kernel(root).syscalls.names()))

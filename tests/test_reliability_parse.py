"""Hostile or broken files a person (or an agent) can leave in a root: bounded YAML parsing, and what
``llmos check`` finds in prompt templates, crystallized tool states and the budget section."""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from helpers import run_llmos, run_llmos_process
from llmos.checks import check_root, check_warnings
from llmos.docs import MAX_ALIASES, MAX_DEPTH, dump_frontmatter, load_yaml, parse_text, read_yaml
from llmos.errors import DocumentError


def cap_memory() -> None:
    """In a child process: fail with MemoryError past 4 GB rather than take the machine's memory."""
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, resource.getrlimit(resource.RLIMIT_AS)[1]))


def alias_bomb(levels: int = 9) -> str:
    """``a: &a [x x10]``, ``b: &b [*a x10]``, ...: a few hundred bytes that expand to 10**levels values."""
    names = "abcdefghijklmnop"[:levels]
    lines = ["a: &a [" + ",".join("x" * 10) + "]"]
    lines += [f"{n}: &{n} [" + ",".join([f"*{p}"] * 10) + "]" for p, n in zip(names, names[1:])]
    return "\n".join(lines) + "\n"


def write_agent(root: Path, frontmatter: str) -> Path:
    path = root / "agents" / "x.md"
    path.write_text(f"---\nname: x\ndescription: d\n{frontmatter}---\nDo things.\n", encoding="utf-8")
    return path


# -- bounded YAML ---------------------------------------------------------------------------------


def test_alias_bomb_in_an_agent_file_is_an_error_with_its_line_not_a_hang(root: Path):
    write_agent(root, alias_bomb())
    # a child process, time and memory capped: unbounded, the bomb takes minutes and ~16 GB
    res = run_llmos_process("check", root=root, timeout=60, preexec_fn=cap_memory)
    assert res.returncode == 1, res.stderr
    # line 7 holds `d: &d [*c, ...]`, where the aliases pass 10,000 values
    assert "agents/x.md:7: bad YAML: aliases (*name) expand to more than 10000 values" in res.stdout
    assert "write the repeated values out" in res.stdout
    start = time.monotonic()
    agents = run_llmos("agents", root=root)
    assert agents.returncode == 1 and "agents/x.md:7: bad YAML: aliases" in agents.stderr
    assert time.monotonic() - start < 2


def test_alias_bomb_in_config_trace_and_tool_state_is_refused(root: Path):
    bomb = alias_bomb(levels=5)  # 10**5 values: past the bound, harmless to walk unbounded
    for rel in ("system/llmos.yaml", "crystallized/t.yaml"):
        path = root / rel
        path.write_text(bomb, encoding="utf-8")
        with pytest.raises(DocumentError, match="alias bomb"):
            read_yaml(path)
    with pytest.raises(yaml.YAMLError, match="alias bomb"):
        load_yaml(bomb)
    with pytest.raises(DocumentError, match=r"t\.md:\d+: bad YAML: aliases"):
        parse_text("---\nformat: llmos-trace/1\n" + bomb + "---\nbody\n", Path("traces/t.md"))


def test_too_many_aliases_is_refused_even_when_small(root: Path):
    text = "a: &a 1\nb: [" + ", ".join(["*a"] * (MAX_ALIASES + 1)) + "]\n"
    with pytest.raises(yaml.YAMLError, match=f"more than {MAX_ALIASES} aliases"):
        load_yaml(text)


def test_a_recursive_alias_is_an_error_not_a_crash(root: Path):
    write_agent(root, "loop: &l [1, *l]\n")
    res = run_llmos("check", root=root)
    assert res.returncode == 1
    assert "agents/x.md:4: bad YAML: an alias refers to the anchor it is inside" in res.stdout


def test_deep_nesting_is_an_error_with_its_line(root: Path):
    write_agent(root, "deep: " + "[" * 5000 + "]" * 5000 + "\n")
    res = run_llmos("check", root=root)
    assert res.returncode == 1
    assert f"agents/x.md:4: bad YAML: nested more than {MAX_DEPTH} levels deep" in res.stdout


def test_nesting_that_crashes_libyaml_is_refused_before_it_is_composed(tmp_path: Path):
    """200,000 '[' overflow the C stack of libyaml's composer (a segfault): in a child process, so
    today's code crashes the child, not the suite."""
    path = tmp_path / "deep.yaml"
    path.write_text("deep: " + "[" * 200_000 + "]" * 200_000 + "\n", encoding="utf-8")
    code = (
        "from pathlib import Path\nfrom llmos.docs import read_yaml\nfrom llmos.errors import DocumentError\n"
        f"try:\n    read_yaml(Path({str(path)!r}))\nexcept DocumentError as exc:\n    print(exc)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert f"deep.yaml:1: bad YAML: nested more than {MAX_DEPTH} levels deep" in res.stdout


def test_files_with_a_few_anchors_still_load(root: Path):
    cfg = root / "system" / "llmos.yaml"
    cfg.write_text(
        cfg.read_text().replace("per_run: 2.00", "per_run: &cap 2.00").replace("per_day: 20.00", "per_day: *cap")
    )
    assert run_llmos("check", root=root).returncode == 0
    shown = run_llmos("config", "show", root=root).stdout
    assert "budget.per_day" in shown and "2.0" in shown
    doc = parse_text("---\nbase: &b {x: 1, y: [1, 2]}\nuse:\n  <<: *b\n  z: *b\n---\n", Path("m.md"))
    assert doc.meta["use"] == {"x": 1, "y": [1, 2], "z": {"x": 1, "y": [1, 2]}}
    assert doc.key_lines["use.z"] == 5 and doc.key_lines["base.y.1"] == 2


def test_files_llmos_writes_hold_no_aliases():
    shared = {"path": "a.md"}
    text = dump_frontmatter({"one": shared, "two": [shared, shared]}, "body")
    assert "&" not in text and "*" not in text
    assert parse_text(text, Path("t.md")).meta["two"] == [shared, shared]


# -- llmos check: prompt templates ----------------------------------------------------------------


def test_check_names_an_unknown_placeholder_with_file_line_and_the_known_names(root: Path):
    prompt = root / "system" / "prompts" / "handoff.md"
    lines = prompt.read_text().splitlines()
    prompt.write_text(prompt.read_text() + "Also see ${goal_notes}.\n")
    res = run_llmos("check", root=root)
    assert res.returncode == 1
    assert f"system/prompts/handoff.md:{len(lines) + 1}: ${{goal_notes}} is not provided (use ${{notes}})" in res.stdout


def test_check_finds_bad_placeholders_in_every_template_the_kernel_renders(root: Path):
    folder = root / "system" / "prompts"
    for name in ("agent", "mixed", "rerank", "dream", "brief"):
        (folder / f"{name}.md").write_text("Nothing here but ${nonsense}.\n")
    (folder / "local.md").write_text("A lone $ sign.\n")
    (folder / "mine.md").write_text("Not rendered by the kernel: ${anything} goes.\n")
    paths = {Path(e.path).name for e in check_root(root)}
    assert paths == {"agent.md", "mixed.md", "rerank.md", "dream.md", "brief.md", "local.md"}


def test_check_names_a_missing_template(root: Path):
    (root / "system" / "prompts" / "rerank.md").unlink()
    res = run_llmos("check", root=root)
    assert res.returncode == 1 and "rerank.md: prompt template missing" in res.stdout


def test_fresh_templates_render_with_exactly_the_placeholders_the_kernel_lists(root: Path):
    from llmos.checks import REQUIRED_PROMPTS
    from llmos.prompts import PLACEHOLDERS, render_file

    for name in REQUIRED_PROMPTS:
        render_file(root, name, **{k: "v" for k in PLACEHOLDERS[name]})  # strict: an unknown one raises


# -- llmos check: crystallized tool states --------------------------------------------------------


def test_check_reports_unparsable_and_invalid_tool_states(root: Path):
    folder = root / "crystallized"
    (folder / "broken.yaml").write_text("name: broken\nslots: [a,\n")
    (folder / "wrong.yaml").write_text("name: wrong\nstate: sleeping\n")
    res = run_llmos("check", root=root)
    assert res.returncode == 1
    assert "crystallized/broken.yaml:3: bad YAML: did not find expected node content" in res.stdout
    assert "crystallized/wrong.yaml:2: state: Input should be 'active', 'failed' or 'demoted'" in res.stdout
    assert "crystallized/wrong.yaml:1: description: required field is missing" in res.stdout


def test_check_reports_a_tool_state_naming_another_tool(root: Path):
    from llmos.modes.toolstate import ToolState, save

    save(root, ToolState(name="greet", description="d", template="t", signature="s", agent="a", state="active"))
    (root / "crystallized" / "greet.yaml").rename(root / "crystallized" / "hello.yaml")
    res = run_llmos("check", root=root)
    assert res.returncode == 1
    assert "hello.yaml:3: name: is 'greet' but the file is hello.yaml" in res.stdout  # line 1 is a comment


# -- llmos check: no spending ceiling -------------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    ["", "format: llmos-config/1\n", "budget:\n  per_run: null\n  per_day: null\n  alerts: [0.5]\n"],
)
def test_check_warns_when_no_spending_ceiling_is_set(root: Path, config: str):
    (root / "system" / "llmos.yaml").write_text(config)
    res = run_llmos("check", root=root)
    assert res.returncode == 0, res.stdout
    assert "warning: no spending ceiling is set" in res.stderr
    for key in ("budget.per_run", "budget.per_agent_day", "budget.per_day", "budget.total"):
        assert key in res.stderr


def test_one_ceiling_is_enough_to_silence_the_warning(root: Path):
    (root / "system" / "llmos.yaml").write_text("budget:\n  total: 50\n")
    assert not [w for w in check_warnings(root) if "ceiling" in w]
    assert "ceiling" not in run_llmos("check", root=root).stderr

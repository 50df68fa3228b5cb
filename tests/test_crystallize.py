"""Crystallization: tools written from repeated traces, verified in a sandbox, reviewed in git;
bad tool files (syntax error, forbidden import, failing test, edits) are never run."""

import json
from pathlib import Path

import pytest

from llmos.audit.log import parse_trailers
from llmos.errors import ScriptError
from llmos.kernel import Kernel
from llmos.modes.learned import candidate_rows, tool_rows
from llmos.toolapi import ToolRejected, check_source
from llmos.traces import read_trace
from helpers import call, git, run_llmos

NEVER = call("write_file", path="projects/WRONG.md", content="the model was called")


def note(root: Path, script, n: int, *replies, **kw):
    path = kw.pop("path", f"projects/n{n}/note.md")
    replies = replies or (
        call("write_file", path=path, content=f"Note {n}: remember the milk\n"),
        call("finish", result=f"saved {path}"),
    )
    return Kernel(root).run(f'Save a note "{n}" into {path}', model=script(*replies), **kw)


@pytest.fixture()
def tool(root: Path, script) -> dict:
    """Three successful runs of one template: the third crystallizes a tool."""
    for n in (1, 2, 3):
        res = note(root, script, n)
    assert res.learned and "active" in res.learned[0]
    rows, errors = tool_rows(Kernel(root))
    assert not errors and len(rows) == 1
    return rows[0]


def tool_file(root: Path, row: dict) -> Path:
    return root / "crystallized" / f"{row['name']}.py"


def test_three_runs_make_an_active_tool_reviewed_in_git(root: Path, script, tool):
    assert tool["state"] == "active" and tool["template"] == "save a note {text1} into {path1}"
    assert len(tool["sources"]) == 3 and "3 tests passed in the sandbox" in tool["report"]
    source = tool_file(root, tool).read_text()
    assert "def run(api: Api, text1: str, path1: str) -> str:" in source and "Sources:" in source
    msg = git(root, "log", "-1", "--format=%B")
    trailers = parse_trailers(msg)
    assert msg.startswith(f"llmos: crystallize tool {tool['name']} (active)")
    assert trailers["Tool"] == tool["name"] and trailers["Tool-State"] == "active" and trailers["Tool-Hash"]
    assert sorted(git(root, "show", "--name-only", "--format=", "HEAD").split()) == sorted(
        f"crystallized/{n}" for n in (f"{tool['name']}.py", f"test_{tool['name']}.py", f"{tool['name']}.yaml")
    )

    res = note(root, script, 4, NEVER)
    t = read_trace(res.trace_path)
    assert res.mode == "CRYSTALLIZED" and (res.tokens["input"], res.tokens["output"]) == (0, 0)
    assert t.decision["tool"] == tool["name"] and t.decision["tool_candidate"]["verified"]
    assert (root / "projects/n4/note.md").read_text() == "Note 4: remember the milk\n"
    assert [s.tool for s in t.steps] == ["write_file", "finish"] and res.result == "saved projects/n4/note.md"
    assert parse_trailers(git(root, "log", "-1", "--format=%B"))["Mode"] == "CRYSTALLIZED"
    assert tool_rows(Kernel(root))[0][0]["uses"] == 1


def test_agents_call_crystallized_tools_by_name(root: Path, script, tool):
    name = tool["name"]
    (root / "agents" / "helper.md").write_text("---\nname: helper\ndescription: may use every tool\n---\nHelp.\n")
    res = Kernel(root).run(
        "note something for me",
        agent="helper",
        model=script(call(name, text1="9", path1="projects/n9/note.md"), call("finish", result="done")),
    )
    t = read_trace(res.trace_path)
    assert t.steps[0].tool == name and t.steps[0].ok and "saved projects/n9/note.md" in t.steps[0].result
    assert (root / "projects/n9/note.md").read_text() == "Note 9: remember the milk\n"
    assert "projects/n9/note.md" in git(root, "show", "--name-only", "--format=", "HEAD")
    # the tool's inner calls still pass the agent's allowlist
    (root / "agents" / "reader.md").write_text(f"---\nname: reader\ndescription: r\ntools: Read, {name}\n---\nRead.\n")
    res = Kernel(root).run(
        "note again",
        agent="reader",
        model=script(call(name, text1="8", path1="projects/n8/note.md"), call("finish", result="x")),
        mode="LEARNER",
    )
    step = read_trace(res.trace_path).steps[0]
    assert not step.ok and "may not use 'write_file'" in step.result and not (root / "projects/n8").exists()


@pytest.mark.parametrize(
    "edit,why",
    [
        (lambda s: s.replace("def run(", "def run(:"), "syntax error"),
        (
            lambda s: s.replace("from llmos.toolapi import Api", "import os\nfrom llmos.toolapi import Api").replace(
                "    api.call(", "    os.system('touch /tmp/llmos-tool-ran')\n    api.call("
            ),
            "forbidden import 'os'",
        ),
        (lambda s: s.replace("remember the milk", "forget the milk"), "tests failed"),
    ],
)
def test_bad_tool_is_never_run_and_falls_back(root: Path, script, tool, edit, why):
    path = tool_file(root, tool)
    path.write_text(edit(path.read_text()))
    res = note(root, script, 5, NEVER)
    assert res.mode == "FOLLOWER" and res.tokens["input"] == 0  # the proven trace still serves
    assert (root / "projects/n5/note.md").read_text() == "Note 5: remember the milk\n"
    assert not Path("/tmp/llmos-tool-ran").exists()
    d = read_trace(res.trace_path).decision
    assert d["tool_candidate"]["state"] == "failed" and not d["tool_candidate"]["verified"]
    row = tool_rows(Kernel(root))[0][0]
    assert row["state"] == "failed" and why in row["report"]
    commits = git(root, "log", "--format=%s", "-3")
    assert f"llmos: re-verify tool {tool['name']} (failed)" in commits


def test_edited_tool_is_verified_again_before_use(root: Path, script, tool):
    path = tool_file(root, tool)
    path.write_text(path.read_text().replace("    api.call(", "    # reviewed by a person\n    api.call("))
    assert tool_rows(Kernel(root))[0][0]["edited"]
    res = note(root, script, 6, NEVER)
    assert res.mode == "CRYSTALLIZED"
    row = tool_rows(Kernel(root))[0][0]
    assert row["state"] == "active" and not row["edited"]
    assert f"llmos: re-verify tool {tool['name']} (active)" in git(root, "log", "--format=%s", "-3")


def test_failing_tool_is_demoted_after_repeated_failures(root: Path, script, tool):
    for n in (7, 8):  # the tool's write fails (a folder stands where the note goes); the model fails too
        (root / f"projects/n{n}/note.md").mkdir(parents=True)
        with pytest.raises(ScriptError) as info:
            note(root, script, n, call("list_dir", path="."))
        d = read_trace(info.value.run.trace_path).decision
        assert d["mode"] == "CRYSTALLIZED" and d["fallbacks"][0]["tool"] == tool["name"]
        assert "is a directory" in d["fallbacks"][0]["error"]
    row = tool_rows(Kernel(root))[0][0]
    assert row["state"] == "demoted" and (row["uses"], row["successes"]) == (2, 0)
    msg = git(root, "log", "-1", "--format=%B", "--", f"crystallized/{tool['name']}.yaml")
    assert msg.startswith(f"llmos: demote tool {tool['name']}") and parse_trailers(msg)["Tool-State"] == "demoted"
    after = note(root, script, 9)  # the demoted tool is not used; the traces lost confidence too
    assert after.mode == "LEARNER" and read_trace(after.trace_path).decision["tool_candidate"]["state"] == "demoted"
    assert (root / "projects/n7/note.md").is_dir()


def test_verification_happens_in_a_sandbox_with_a_timeout(root: Path, script, tool):
    cfg = root / "system/llmos.yaml"
    cfg.write_text(cfg.read_text().replace("timeout_s: 30", "timeout_s: 3"))
    path = tool_file(root, tool)
    source = path.read_text()
    path.write_text(
        source.replace(
            "    api.call(", "    api.call('write_file', path='projects/marker.md', content='x')\n    api.call(", 1
        )
    )
    note(root, script, 10, NEVER)
    assert not (root / "projects/marker.md").exists()  # written in the sandbox's copy only, and the tests fail
    assert "calls differ" in tool_rows(Kernel(root))[0][0]["report"]
    path.write_text(source.replace("    api.call(", "    while True:\n        pass\n    api.call(", 1))
    res = note(root, script, 11, NEVER)
    assert res.mode == "FOLLOWER" and "timed out" in tool_rows(Kernel(root))[0][0]["report"]


@pytest.mark.parametrize(
    "source,message",
    [
        ("import subprocess\n", "forbidden import 'subprocess'"),
        ("from os import path\n", "forbidden import 'os'"),
        ("from . import x\n", "forbidden import"),
        ("x = open('/etc/passwd')\n", "forbidden name 'open'"),
        ("x = ().__class__\n", "forbidden attribute '__class__'"),
        ("x = '{0.__class__}'.format(1)\n", "forbidden attribute 'format'"),
        ("x = __import__('os')\n", "forbidden name '__import__'"),
        ("class A:\n    pass\n", "ClassDef is not allowed"),
        ("def f(:\n", "syntax error"),
    ],
)
def test_static_check_rejects_escapes(source, message):
    with pytest.raises(ToolRejected, match=message.replace("(", r"\(")):
        check_source(source, "t.py")


def test_candidates_and_cli(root: Path, script):
    note(root, script, 1)
    note(root, script, 2)
    rows = candidate_rows(Kernel(root))
    assert [(r["runs"], r["eligible"]) for r in rows] == [(2, False)]
    dry = run_llmos("crystallize", "--dry-run", "--json", root=root)
    assert dry.returncode == 0 and json.loads(dry.stdout)[0]["reason"] == "2 of 3 runs with one step structure"
    cfg = root / "system/llmos.yaml"
    cfg.write_text(cfg.read_text().replace("min_runs: 3", "min_runs: 2"))
    git(root, "commit", "-qam", "two runs are enough here")
    now = run_llmos("crystallize", root=root)
    assert now.returncode == 0 and now.stdout.startswith("active ") and "tests passed" in now.stdout
    tools = run_llmos("tools", "--json", root=root)
    assert json.loads(tools.stdout)[0]["state"] == "active"
    listed = run_llmos("traces", "--goal", 'Save a note "7" into projects/x/y.md', "--json", root=root)
    assert [r["match"] for r in json.loads(listed.stdout)] == ["exact", "exact"]
    forced = run_llmos(
        "boot",
        'Save a note "7" into projects/x/y.md',
        "--mode",
        "learner",
        "--model",
        script(call("finish", result="by hand")),
        root=root,
    )
    assert forced.returncode == 0 and "mode=LEARNER" in forced.stderr
    assert git(root, "status", "--porcelain") == ""


def test_a_tool_needs_tests_over_two_slot_assignments(root: Path, script, tool):
    for _ in range(3):  # one goal, again and again: three runs of one shape, one slot assignment
        Kernel(root).run(
            'Keep a memo "same" in projects/memo.md',
            model=script(call("write_file", path="projects/memo.md", content="same\n"), call("finish", result="ok")),
        )
    memo = next(r for r in candidate_rows(Kernel(root)) if r["template"].startswith("keep a memo"))
    assert not memo["eligible"] and memo["reason"] == "its runs have fewer than 2 different slot assignments"
    # a person trims the tool's tests to one: verified again, it passes, and is not used
    tests = root / "crystallized" / f"test_{tool['name']}.py"
    text = tests.read_text()
    tests.write_text(text[: text.index("\n\ndef test_", text.index("def test_") + 1)] + "\n")
    res = note(root, script, 5, NEVER)
    assert res.mode == "FOLLOWER"
    row = tool_rows(Kernel(root))[0][0]
    assert row["state"] == "failed" and row["report"].endswith("but they cover 1 slot assignment(s) and 2 are needed")


def test_a_tool_runs_only_for_goals_its_runs_decide(root: Path, script, tool):
    # its runs wrote projects/nN/note.md for the note "N": {path1} and projects/n{text1}/note.md fit them alike
    res = note(root, script, 9, path="projects/elsewhere/note.md")
    d = read_trace(res.trace_path).decision
    assert res.mode == "MIXED"
    assert "fit '{path1}' and 'projects/n{text1}/note.md' alike" in d["tool_candidate"]["why_not"]
    assert (root / "projects/elsewhere/note.md").read_text() == "Note 9: remember the milk\n"
    assert note(root, script, 10, NEVER).mode == "CRYSTALLIZED"  # where they agree, the tool serves


def test_a_tool_is_not_used_for_a_slot_its_tests_never_varied(root: Path, script):
    (root / "projects/shared").mkdir(parents=True)
    for style in ("style", "other"):
        (root / f"projects/shared/{style}.md").write_text(f"{style}\n")

    def poem(word: str, style: str = "style", *replies):
        goal = f'Write a poem about "{word}" into projects/poems/{word}.md following projects/shared/{style}.md'
        default = (
            call("read_file", path=f"projects/shared/{style}.md"),
            call("write_file", path=f"projects/poems/{word}.md", content=f"{word}\n"),
            call("finish", result="done"),
        )
        return Kernel(root).run(goal, model=script(*(replies or default)))

    for word in ("ada", "bob", "cy"):
        res = poem(word)
    assert "active" in res.learned[0]
    assert tool_rows(Kernel(root))[0][0]["state"] == "active"
    other = poem("dee", "other")
    row = read_trace(other.trace_path).decision["tool_candidate"]
    assert other.mode == "MIXED" and row["why_not"] == "its tests never varied path2, which this goal changes"

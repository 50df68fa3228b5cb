"""edit_file, grep and glob: what a Claude Code agent's Edit/MultiEdit, Grep and Glob do, confined to the root."""

import os
from pathlib import Path

from llmos.syscalls import Context, SyscallTable

TABLE = SyscallTable.default()


def call(root: Path, name: str, **args):
    return TABLE.call(Context(root, "tester"), name, args)


def put(root: Path, rel: str, text: str, mtime: float | None = None) -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    if mtime is not None:
        os.utime(p, (mtime, mtime))
    return p


def test_edit_replaces_exactly_once_and_reports_missing_or_ambiguous_text(root: Path):
    p = put(root, "projects/a/app.py", "x = 1\ny = 1\n")
    assert call(root, "edit_file", path="projects/a/app.py", old_string="x = 1", new_string="x = 2").ok
    assert p.read_text() == "x = 2\ny = 1\n"
    missing = call(root, "edit_file", path="projects/a/app.py", old_string="z = 1", new_string="z")
    assert not missing.ok and "not found" in missing.output and "unchanged" in missing.output
    twice = call(root, "edit_file", path="projects/a/app.py", old_string="= ", new_string="=")
    assert not twice.ok and "occurs 2 times" in twice.output
    assert call(root, "edit_file", path="projects/a/app.py", old_string=" = ", new_string="=", replace_all=True).ok
    assert p.read_text() == "x=2\ny=1\n"
    spaced = call(root, "edit_file", path="projects/a/app.py", old_string="x=2  \n y=1", new_string="")
    assert "differs only in whitespace" in spaced.output


def test_several_edits_apply_all_or_none(root: Path):
    p = put(root, "projects/a/m.md", "one two three")
    edits = [{"old_string": "one", "new_string": "1"}, {"old_string": "absent", "new_string": "x"}]
    res = call(root, "edit_file", path="projects/a/m.md", edits=edits)
    assert not res.ok and "edit 2: old_string not found" in res.output and p.read_text() == "one two three"
    edits[1] = {"old_string": "1 two", "new_string": "1 2"}  # the second edit sees the first one's result
    assert call(root, "edit_file", path="projects/a/m.md", edits=edits).ok and p.read_text() == "1 2 three"


def test_edit_is_confined_like_write_file(root: Path):
    put(root, "agents/x.md", "a")
    assert "kernel-owned" in call(root, "edit_file", path="agents/x.md", old_string="a", new_string="b").output
    assert "outside the OS root" in call(root, "edit_file", path="../x", old_string="a", new_string="b").output
    assert "no such file" in call(root, "edit_file", path="projects/none.md", old_string="a", new_string="b").output


def test_glob_sorts_newest_first_and_skips_private_folders(root: Path):
    put(root, "projects/a/old.py", "", mtime=1_000)
    put(root, "projects/a/sub/new.py", "", mtime=2_000)
    put(root, "projects/a/notes.md", "")
    put(root, "projects/a/.git/hooks.py", "")
    res = call(root, "glob", pattern="**/*.py", path="projects")
    assert res.output.splitlines() == ["projects/a/sub/new.py", "projects/a/old.py"]
    assert call(root, "glob", pattern="*.{md,py}", path="projects/a").output.count("\n") == 2
    assert "(no files match)" in call(root, "glob", pattern="*.rs").output
    assert not call(root, "glob", pattern="*", path=".llmos").ok


def test_grep_output_modes_glob_filter_and_context(root: Path):
    put(root, "projects/a/one.py", "import os\n\ndef main():\n    return os.getcwd()\n")
    put(root, "projects/a/two.md", "def is not python here\n")
    assert call(root, "grep", pattern=r"def \w+\(", path="projects").output.splitlines() == ["projects/a/one.py"]
    content = call(root, "grep", pattern="getcwd", path="projects", output_mode="content", context=1).output
    assert content.splitlines() == ["projects/a/one.py-3-def main():", "projects/a/one.py:4:    return os.getcwd()"]
    count = call(root, "grep", pattern="os", glob="*.py", output_mode="count", path="projects").output
    assert count == "projects/a/one.py:2"
    assert call(root, "grep", pattern="DEF", case_insensitive=True, path="projects").output.count("\n") == 1
    assert "bad regular expression" in call(root, "grep", pattern="(").output


def test_grep_never_reads_outside_the_root_or_kernel_private_files(root: Path, tmp_path: Path):
    (tmp_path / "secret.txt").write_text("needle")
    (root / "projects" / "link").symlink_to(tmp_path)
    (root / ".llmos").mkdir(exist_ok=True)
    (root / ".llmos" / "x.txt").write_text("needle")
    assert call(root, "grep", pattern="needle").output == "(no matches)"
    assert "outside the OS root" in call(root, "grep", pattern="needle", path="projects/link").output


def test_without_find_and_grep_installed_the_python_walk_gives_the_same_answers(root: Path, tmp_path, monkeypatch):
    put(root, "projects/a/one.py", "needle\n", mtime=2_000)
    put(root, "projects/a/b/two.py", "hay\nneedle\n", mtime=1_000)
    put(root, "projects/a/.GIT/three.py", "needle\n")
    fast = [call(root, "glob", pattern="**/*.py").output, call(root, "grep", pattern="need+le").output]
    monkeypatch.setenv("PATH", str(tmp_path))  # no find, no grep: the Python walk answers
    slow = [call(root, "glob", pattern="**/*.py").output, call(root, "grep", pattern="need+le").output]
    assert fast == slow == ["projects/a/one.py\nprojects/a/b/two.py"] * 2

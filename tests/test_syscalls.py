"""The syscall table: schemas from signatures, allowlist, path confinement (symlinks too)."""

import os
from pathlib import Path

import pytest

from llmos.syscalls.hooks import Refused, confine
from llmos.syscalls import Context, SyscallTable, make_syscall


@pytest.fixture()
def table() -> SyscallTable:
    return SyscallTable.default()


def ctx(root: Path, allowed=None) -> Context:
    return Context(root, "tester", frozenset(allowed) if allowed is not None else None)


def test_schemas_come_from_signature_and_docstring(table: SyscallTable):
    schemas = {s["name"]: s for s in table.schemas(None)}
    assert set(schemas) >= {"read_file", "write_file", "list_dir", "finish"}
    w = schemas["write_file"]
    assert w["input_schema"]["required"] == ["path", "content"]
    assert "relative to the OS root" in w["input_schema"]["properties"]["path"]["description"]
    assert w["description"].startswith("Create or overwrite a text file")
    assert schemas["read_file"]["input_schema"]["properties"]["offset"]["type"] == "integer"


def test_undocumented_syscall_is_rejected_at_registration():
    def bare(ctx: Context, x: str) -> str:
        return x

    with pytest.raises(TypeError, match="no docstring"):
        make_syscall(bare)

    def half(ctx: Context, x: str) -> str:
        """Does something.

        Args:
            y: not x
        """

    with pytest.raises(TypeError, match="'x' is not described"):
        make_syscall(half)


def test_write_read_list_round_trip(root: Path, table: SyscallTable):
    c = ctx(root)
    out = table.call(c, "write_file", {"path": "projects/t/a.txt", "content": "héllo"})
    assert out.ok and "6 bytes" in out.output and c.written == {"projects/t/a.txt"}
    assert table.call(c, "read_file", {"path": "projects/t/a.txt"}).output == "héllo"
    assert table.call(c, "list_dir", {"path": "projects/t"}).output == "a.txt"
    listing = table.call(c, "list_dir", {}).output.split("\n")
    assert "agents/" in listing and ".git/" not in listing and ".llmos/" not in listing


def test_a_folder_path_is_not_written_as_a_file(root: Path, table: SyscallTable):
    """The bundled model wrote `projects/notes/demo/` and got a file named `demo`."""
    c = ctx(root)
    out = table.call(c, "write_file", {"path": "projects/notes/demo/", "content": "a haiku"})
    assert not out.ok and "folder path" in out.output and "projects/notes/demo/notes.md" in out.output
    assert not (root / "projects/notes/demo").exists() and c.written == set()


def test_long_file_reads_in_chunks(root: Path, table: SyscallTable):
    (root / "projects" / "big.txt").write_text("x" * 25_000)
    first = table.call(ctx(root), "read_file", {"path": "projects/big.txt"}).output
    assert "5000 more characters" in first and "offset=20000" in first
    second = table.call(ctx(root), "read_file", {"path": "projects/big.txt", "offset": 20000}).output
    assert second == "x" * 5000


@pytest.mark.parametrize(
    "path",
    [
        "../outside.txt",
        "/etc/passwd",
        "projects/../../x",
        ".llmos/ledger.jsonl",
        ".git/config",
        "HALT",
        "",
        "projects/\x00bad",
    ],
)
def test_paths_outside_or_private_are_refused(root: Path, table: SyscallTable, path: str):
    for name, args in (("read_file", {"path": path}), ("write_file", {"path": path, "content": "x"})):
        out = table.call(ctx(root), name, args)
        assert not out.ok and out.output.startswith("refused:"), (name, path, out.output)
    assert not (root.parent / "outside.txt").exists()


def test_symlinks_out_of_the_root_are_refused(root: Path, tmp_path: Path, table: SyscallTable):
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    os.symlink(secret, root / "projects" / "link.txt")
    os.symlink(tmp_path, root / "projects" / "door")
    assert "outside the OS root" in table.call(ctx(root), "read_file", {"path": "projects/link.txt"}).output
    out = table.call(ctx(root), "write_file", {"path": "projects/door/new.txt", "content": "x"})
    assert not out.ok and not (tmp_path / "new.txt").exists()
    # a symlink that stays inside the root is fine
    os.symlink(root / "agents", root / "projects" / "agents-link")
    assert table.call(ctx(root), "list_dir", {"path": "projects/agents-link"}).ok


def test_confine_absolute_path_inside_root_is_allowed(root: Path):
    assert confine(root, str(root / "projects" / "x.md")) == (root / "projects" / "x.md").resolve()
    with pytest.raises(Refused):
        confine(root, str(root.parent))


def test_allowlist_refuses_but_finish_is_always_allowed(root: Path, table: SyscallTable):
    c = ctx(root, {"read_file"})
    out = table.call(c, "write_file", {"path": "projects/x.txt", "content": "no"})
    assert not out.ok and "may not use 'write_file'" in out.output
    assert not (root / "projects" / "x.txt").exists()
    assert table.call(c, "finish", {"result": "done"}).finished


def test_model_mistakes_are_observations(root: Path, table: SyscallTable):
    c = ctx(root)
    assert "unknown tool 'rm_rf'" in table.call(c, "rm_rf", {}).output
    assert "content: Field required" in table.call(c, "write_file", {"path": "a"}).output
    assert "colour: unknown argument" in table.call(c, "list_dir", {"colour": 1}).output
    assert "must be a JSON object" in table.call(c, "list_dir", ["x"]).output
    assert table.call(c, "read_file", {"path": "projects/missing.md"}).output == "no such file: projects/missing.md"
    assert not table.call(c, "write_file", {"path": "projects", "content": "x"}).ok  # a folder

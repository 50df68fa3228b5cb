"""Kill switch: the HALT file at the OS root, and the CLI commands around it."""

from __future__ import annotations

from click.testing import CliRunner

from llmos.cli.context import Obj
import pytest

from llmos.cli.guard import halt as halt_cmd
from llmos.cli.guard import resume as resume_cmd
from llmos.errors import Halted, LlmosError
from llmos.halt import check_halt, halt, halt_path, halt_reason, resume


def test_not_halted_by_default(tmp_path):
    check_halt(tmp_path)
    assert halt_reason(tmp_path) is None
    assert resume(tmp_path) is False


def test_halt_then_check_raises_with_reason_then_resume(tmp_path):
    path = halt(tmp_path, "agent  is\nlooping")
    assert path == tmp_path / "HALT" and path.exists()
    with pytest.raises(Halted) as err:
        check_halt(tmp_path)
    assert err.value.reason == "agent is looping"
    assert isinstance(err.value, LlmosError) and "llmos resume" in str(err.value)
    assert resume(tmp_path) is True
    check_halt(tmp_path)


def test_halt_without_reason_and_hand_made_halt_files(tmp_path):
    halt(tmp_path)
    with pytest.raises(Halted, match="no reason given"):
        check_halt(tmp_path)
    halt_path(tmp_path).write_text("")  # `touch HALT` by a person also stops everything
    with pytest.raises(Halted):
        check_halt(tmp_path)
    halt_path(tmp_path).unlink()
    halt_path(tmp_path).mkdir()  # even a directory named HALT fails closed
    with pytest.raises(Halted):
        check_halt(tmp_path)


def test_halt_and_resume_commands(tmp_path):
    runner = CliRunner()
    obj = Obj(root=tmp_path)
    result = runner.invoke(halt_cmd, ["--reason", "budget review"], obj=obj)
    assert result.exit_code == 0, result.output
    assert "budget review" in result.output
    with pytest.raises(Halted, match="budget review"):
        check_halt(tmp_path)
    result = runner.invoke(resume_cmd, [], obj=obj)
    assert result.exit_code == 0 and "resumed" in result.output
    check_halt(tmp_path)
    assert "not halted" in runner.invoke(resume_cmd, [], obj=obj).output

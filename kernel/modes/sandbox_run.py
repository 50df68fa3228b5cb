"""The sandboxed side of tool verification: ``python -m llmos.modes.sandbox_run COPY NAME AGENT``.

Loads ``crystallized/NAME.py`` and ``crystallized/test_NAME.py`` from the root copy (checked,
reduced builtins), calls every ``test_*(tool, api)`` with a fresh :class:`~llmos.toolapi.Api` bound
to the real syscall table over the copy, and prints one JSON line: ``{"passed": [...], "failed": [...]}``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..syscalls import Context, SyscallTable
from ..toolapi import Api, ToolRejected, load_source, load_tool
from .toolstate import paths


def run_tests(root: Path, name: str, agent: str) -> dict:
    tool_path, test_path, _ = paths(root, name)
    try:
        tool = load_tool(tool_path)
        tests = load_source(test_path.read_text(encoding="utf-8"), str(test_path))
    except ToolRejected as exc:
        return {"error": str(exc)}
    table = SyscallTable.default()
    passed, failed = [], []
    for test_name, fn in sorted(tests.items()):
        if not (test_name.startswith("test_") and callable(fn)):
            continue
        ctx = Context(root, agent, run_id=f"verify-{name}")

        def dispatch(tool_name: str, args: dict, ctx: Context = ctx) -> tuple[bool, str]:
            out = table.call(ctx, tool_name, args)
            return out.ok, out.output

        try:
            fn(tool=tool, api=Api(dispatch))
            passed.append(test_name)
        except Exception as exc:  # a failing test, whatever it raised
            failed.append({"test": test_name, "error": f"{type(exc).__name__}: {exc}"[:500]})
    return {"passed": passed, "failed": failed}


def main(argv: list[str]) -> None:
    root, name, agent = Path(argv[0]), argv[1], argv[2]
    print(json.dumps(run_tests(root, name, agent)))


if __name__ == "__main__":
    main(sys.argv[1:])

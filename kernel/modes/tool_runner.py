"""The sandboxed side of a crystallized tool: ``python -P -m llmos.modes.tool_runner``, run in the jail.

It reads one request on stdin, loads the tool (and, to verify, its tests) through the checked loader,
runs it, and sends every syscall the tool makes to the kernel as a JSON line on its private copy of
stdout, reading the outcome back on stdin; the kernel runs it through the run's syscall table and
hooks. The tool itself reaches no file, socket or environment variable of the host. Last line out:
``{"done": {...}}``.

Requests: ``{"mode": "run", "tool": PATH, "slots": {...}}`` -> ``{"ok", "result" | "error", "failed_step"}``;
``{"mode": "verify", "tool": PATH, "tests": PATH}`` -> ``{"passed": [...], "failed": [{test, error}]}``.
"""

from __future__ import annotations

import json
import os
import sys
from ..toolapi import TYPE_CHECKING, Api, StepFailed, ToolRejected, load_source, load_tool

if TYPE_CHECKING:
    from typing import Any, Callable


def run(req: dict[str, Any], dispatch: Callable[[str, dict[str, Any]], tuple[bool, str]]) -> dict[str, Any]:
    fn = load_tool(req["tool"])
    api = Api(dispatch)
    try:
        fn(api, **req["slots"])
    except StepFailed as exc:
        return {"ok": False, "error": str(exc), "failed_step": True}
    except Exception as exc:  # a tool is code a person may have edited: any error is a failed attempt
        return {"ok": False, "error": f"tool raised {type(exc).__name__}: {exc}"}
    if api.result is None:
        return {"ok": False, "error": "the tool returned without calling finish"}
    return {"ok": True, "result": api.result}


def verify(req: dict[str, Any], dispatch: Callable[[str, dict[str, Any]], tuple[bool, str]]) -> dict[str, Any]:
    tool = load_tool(req["tool"])
    with open(req["tests"], encoding="utf-8") as fh:
        tests = load_source(fh.read(), req["tests_name"])
    passed, failed = [], []
    for name, fn in sorted(tests.items()):
        if not (name.startswith("test_") and callable(fn)):
            continue
        dispatch("__test__", {"name": name})  # the kernel gives each test a fresh context
        try:
            fn(tool=tool, api=Api(dispatch))
            passed.append(name)
        except Exception as exc:  # a failing test, whatever it raised
            failed.append({"test": name, "error": f"{type(exc).__name__}: {exc}"[:500]})
    return {"passed": passed, "failed": failed}


def main() -> None:
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # whatever the tool prints cannot forge a protocol line
    sys.stdout = sys.stderr
    req = json.loads(sys.stdin.readline())

    def dispatch(tool: str, args: dict[str, Any]) -> tuple[bool, str]:
        out.write(json.dumps({"call": tool, "args": args}) + "\n")
        out.flush()
        reply = json.loads(sys.stdin.readline() or '{"abort": true}')
        if reply.get("abort"):
            raise SystemExit(3)  # the kernel ended the run (kill switch, budget)
        return bool(reply["ok"]), str(reply["output"])

    try:
        done = run(req, dispatch) if req["mode"] == "run" else verify(req, dispatch)
    except ToolRejected as exc:
        done = {"ok": False, "error": str(exc)}
    out.write(json.dumps({"done": done}) + "\n")
    out.flush()


if __name__ == "__main__":
    main()

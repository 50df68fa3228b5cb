"""Crystallization: repeated successful traces of one template become a verified Python tool.

When a template has ``crystallize.min_runs`` successful runs with the same shape (tools and argument
names), as their runs committed them (:mod:`llmos.modes.evidence`), and its model-made runs explain every
argument from the slots or as a constant (:mod:`llmos.modes.script`, built for any value of the slots
that varied), the kernel writes ``crystallized/NAME.py`` (a typed, documented function of the slots that
performs the steps through the syscall API), ``crystallized/test_NAME.py`` (one test per recorded run:
same calls, same result, same files) and ``crystallized/NAME.yaml`` (its state). The tool is active only
once those tests pass in the sandbox (:mod:`llmos.modes.sandbox`) and cover at least
``modes.min_sources`` slot assignments; it then runs only for goals whose slots that never varied in its
tests have those values. Activation, failure, re-verification and demotion are each one git commit with
trailers, so a person reviews the tool in the diff.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import file_lock
from ..audit.commit import commit_paths, format_message
from ..blobs import BlobStore
from .config import CrystallizeConfig, ModesConfig
from .evidence import Evidence
from .explain import Slotted, Unexplained
from ..errors import DocumentError
from .follow import ORIGINS, Blobs
from .sandbox import verify
from .script import Script, build
from .slots import _FIELD, resolve_offloaded
from .traceindex import Entry, TraceIndex
from ..traces import TraceMeta, now_iso, read_trace
from . import toolstate
from .toolstate import ToolState

STOPWORDS = {"a", "an", "the", "to", "of", "and", "for", "in", "into", "on", "with", "at", "as", "by", "from"}


@dataclass
class Candidate:
    """A template whose successful runs share one shape."""

    signature: str
    template: str
    agent: str
    runs: list[Entry]  # successful runs with the winning shape, oldest first
    all_runs: int  # every run of the template
    tool: ToolState | None = None
    eligible: bool = False
    reason: str = ""
    name: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def tool_name(template: str, taken: set[str], signature: str) -> str:
    """A readable identifier from the template's words: ``write_haiku_git_path1``."""
    words = [w for w in re.findall(r"[a-z0-9]+", template.lower()) if w not in STOPWORDS]
    name = "_".join(words)[:48].strip("_") or "tool"
    if not name[0].isalpha():
        name = "t_" + name
    return name if name not in taken else f"{name[:40]}_{signature[:6]}"


def candidates(
    root: Path, index: TraceIndex, config: CrystallizeConfig, signature: str | None = None
) -> list[Candidate]:
    """Templates with successful replayable runs that are evidence, each with whether it can be
    crystallized now (the reason says why not)."""
    groups: dict[tuple[str, str], list[Entry]] = {}
    for e in index.exact(signature) if signature else index.entries.values():
        if e.ended and e.template:
            groups.setdefault((e.signature, e.agent), []).append(e)
    states = toolstate.load_all(root)[0]
    evidence = Evidence.for_root(root)
    out = []
    for (sig, agent), runs in groups.items():
        good = [e for e in evidence.trusted(runs) if e.outcome == "success" and e.replayable > 0]
        if not good:
            continue
        by_shape: dict[str, list[Entry]] = {}
        for e in good:
            by_shape.setdefault(e.shape, []).append(e)
        best = sorted(max(by_shape.values(), key=len), key=lambda e: e.id)
        tool = next((s for s in states.values() if s.signature == sig and s.agent == agent), None)
        cand = Candidate(sig, best[0].template, agent, best, len(runs), tool)
        cand.eligible = len(best) >= config.min_runs and (tool is None or tool.state != "active")
        cand.reason = (
            f"tool {tool.name} is {tool.state}"
            if tool
            else f"{len(best)} of {config.min_runs} runs with one step structure"
        )
        cand.name = tool.name if tool else tool_name(cand.template, set(states), sig)
        if cand.eligible:
            _explain(root, cand, config)
        out.append(cand)
    return sorted(out, key=lambda c: (-len(c.runs), c.template))


def _explain(root: Path, cand: Candidate, config: CrystallizeConfig) -> None:
    """Keep ``cand`` eligible only if its tests would cover enough slot assignments and its model-made
    runs explain every argument for any value of the slots that varied (the script is kept in ``extra``)."""
    tests = cand.runs[-config.max_tests :]
    if len({e.assignment for e in tests}) < config.min_assignments:
        cand.eligible = False
        cand.reason = f"its runs have fewer than {config.min_assignments} different slot assignments"
        return
    # the newest model-made runs, as many as the tests use: enough to explain the script, and a bounded
    # cost after every run (reading every run of a long family made each run-end O(family size))
    origins = [e for e in reversed(cand.runs) if e.mode in ORIGINS][: max(config.max_tests, config.min_assignments)]
    blobs = Blobs(root)
    try:
        metas = [read_trace(root / e.rel) for e in origins]
        cand.extra["script"] = build(metas, None, blobs.get, config.min_assignments)
    except (Unexplained, DocumentError) as exc:
        cand.eligible, cand.reason = False, f"not crystallized: {exc}"
    finally:
        blobs.close()


# -- code generation ------------------------------------------------------------------------
def _expr(template: str, kind: str = "str") -> str:
    """Python expression filling ``template`` from slot variables: ``'projects/' + path1 + '/x'``."""
    parts, buf, last = [], "", 0
    for m in _FIELD.finditer(template):
        buf += template[last : m.start()]
        last = m.end()
        if m.group(1) is None:
            buf += m.group(0)[0]
        else:
            if buf:
                parts.append(repr(buf))
            parts.append(m.group(1))
            buf = ""
    buf += template[last:]
    if buf:
        parts.append(repr(buf))
    expr = " + ".join(parts) or "''"
    return f"{kind}({expr})" if kind in ("int", "float") else expr


def _tree_expr(tree: Any) -> str:
    """Python expression of a derivation (see :func:`llmos.modes.explain.derive`)."""
    if isinstance(tree, Slotted):
        return _expr(tree.template, tree.kind)
    if isinstance(tree, dict):
        return "{" + ", ".join(f"{k!r}: {_tree_expr(v)}" for k, v in tree.items()) + "}"
    if isinstance(tree, list):
        return "[" + ", ".join(_tree_expr(v) for v in tree) + "]"
    return repr(tree)


def _steps(meta: TraceMeta, get_blob) -> list[tuple[str, dict[str, Any], dict[str, str]]]:
    out = []
    for s in meta.steps:
        if s.ok and s.tool:
            out.append((s.tool, resolve_offloaded(s.args, get_blob), resolve_offloaded(s.slot_args or {}, get_blob)))
    return out


def tool_source(name: str, meta: TraceMeta, script: Script, runs: list[str]) -> str:
    """The text of ``crystallized/NAME.py``: the steps of ``script``, each argument an expression of the
    slots (``meta`` is the newest run, for the template and an example of each slot)."""
    slots = list(meta.slots)
    sig = ", ".join(["api: Api"] + [f"{s}: str" for s in slots])
    lines = []
    for step in script.steps:
        kw = ", ".join(f"{k}={_tree_expr(v)}" for k, v in step.tree.items())
        lines.append(f"    return api.finish({kw})" if step.tool == "finish" else f"    api.call({step.tool!r}, {kw})")
    if not lines or not lines[-1].lstrip().startswith("return"):
        lines.append("    return api.result or ''")
    arg_doc = [f"        {s}: the {re.sub(r'[0-9]+$', '', s)} slot of the goal, e.g. {meta.slots[s]!r}" for s in slots]
    return "\n".join(
        [
            f'"""{meta.template}: a tool crystallized by llmos from {len(runs)} successful runs.',
            "",
            f"Template:  {meta.template}",
            f"Signature: {meta.goal_signature}",
            f"Agent:     {meta.agent}",
            f"Sources:   {', '.join(runs)}",
            f"Generated: {now_iso()}",
            "",
            "Every step goes through the syscall API, so policy, budget and audit apply as for an agent.",
            "Edit freely: an edited tool is verified again (test_" + name + ".py, in a sandbox) before it runs.",
            '"""',
            "from llmos.toolapi import Api",
            "",
            f"TEMPLATE = {meta.template!r}",
            f"SIGNATURE = {meta.goal_signature!r}",
            f"SLOTS = {tuple(slots)!r}",
            "",
            "",
            f"def run({sig}) -> str:",
            f'    """{_escape_doc(meta.template)}'
            + ("\n\n    Args:\n" + "\n".join(arg_doc) if arg_doc else "")
            + ("\n    " if arg_doc else "")
            + '"""',
            *lines,
            "",
        ]
    )


def _escape_doc(text: str) -> str:
    """``text`` safe inside a triple-quoted docstring (a goal may end with a quote)."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def test_source(name: str, metas: list[TraceMeta], get_blob) -> str:
    """The text of ``crystallized/test_NAME.py``: each recorded run replayed and compared."""
    out = [
        f'"""Tests of crystallized/{name}.py, generated from the runs it was learned from.',
        "",
        "Each test runs the tool with a recorded run's slots through the syscall API (in a sandboxed",
        "copy of the root) and expects that run's calls, result and files.",
        '"""',
    ]
    for meta in metas:
        steps = [(t, a) for t, a, _ in _steps(meta, get_blob)]
        finals = {a["path"]: a["content"] for t, a in steps if t == "write_file"}
        result = next((a.get("result") for t, a in steps if t == "finish"), None)
        call_args = ", ".join(["api"] + [f"{k}={v!r}" for k, v in meta.slots.items()])
        out += [
            "",
            "",
            f"def test_{re.sub(r'[^0-9a-zA-Z]', '_', meta.id)}(tool, api):",
            f'    """Run {meta.id}: {_escape_doc(meta.goal)[:200]}"""',
            f"    result = tool({call_args})",
            "    expected = [",
        ]
        out += [f"        ({t!r}, {a!r})," for t, a in steps]
        out += [
            "    ]",
            "    assert api.calls == expected, f'calls differ: {api.calls!r}'",
            f"    assert result == {result!r}, f'result differs: {{result!r}}'",
        ]
        out += [f"    assert api.read({p!r}) == {c!r}, 'content of ' + {p!r} + ' differs'" for p, c in finals.items()]
    return "\n".join(out) + "\n"


# -- lifecycle --------------------------------------------------------------------------------
def commit_tool(root: Path, state: ToolState, subject: str, source_trace: str | None = None) -> str | None:
    """Commit the tool's files with trailers a reviewer (and `llmos log`) can read."""
    trailers = {
        "Tool": state.name,
        "Tool-State": state.state,
        "Tool-Hash": state.hash or "-",
        "Template": state.template,
        "Sources": ", ".join(state.sources),
    }
    if source_trace:
        trailers["Source-Trace"] = source_trace
    message = format_message(f"llmos: {subject}", trailers, body=state.report)
    return commit_paths(root, toolstate.rel_paths(state.name), message)


def crystallize(root: Path, cand: Candidate, config: CrystallizeConfig) -> ToolState:
    """Write, verify and commit a tool for ``cand``; its state says whether it is active. Raises
    :class:`~llmos.modes.explain.Unexplained` (nothing written) when its runs do not explain every argument."""
    runs = cand.runs[-config.max_tests :]
    metas = [read_trace(root / e.rel) for e in runs]
    tool_path, test_path, _ = toolstate.paths(root, cand.name)
    if "script" not in cand.extra:
        _explain(root, cand, config)
        if "script" not in cand.extra:
            raise Unexplained(cand.reason)
    with BlobStore.open(root / ".llmos" / "blobs") as blobs:
        tool_text = tool_source(cand.name, metas[-1], cand.extra["script"], [m.id for m in metas])
        test_text = test_source(cand.name, metas, blobs.get)
    from ..atomic import atomic_write

    atomic_write(tool_path, tool_text)
    atomic_write(test_path, test_text)
    state = ToolState(
        name=cand.name,
        description=f"Crystallized: {cand.template}",
        template=cand.template,
        signature=cand.signature,
        agent=cand.agent,
        slots=list(metas[-1].slots),
        state="failed",
        sources=[m.id for m in metas],
        ambiguous=cand.extra["script"].ambiguous(),
    )
    return check_and_commit(root, state, config, verb="crystallize")


def coverage(test_text: str, slots: list[str]) -> tuple[int, dict[str, str]]:
    """(the different slot assignments the tests call the tool with, the slots with one value in all of
    them), read from the test file: every ``tool(api, name=constant, ...)`` call."""
    calls = set()
    try:
        tree = ast.parse(test_text)
    except SyntaxError:
        return 0, {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "tool":
            kw = {k.arg: k.value.value for k in node.keywords if k.arg and isinstance(k.value, ast.Constant)}
            calls.add(tuple(sorted((k, str(v)) for k, v in kw.items())))
    values: dict[str, set[str]] = {s: set() for s in slots}
    for call in calls:
        for k, v in call:
            values.setdefault(k, set()).add(v)
    return len(calls), {k: next(iter(v)) for k, v in values.items() if len(v) == 1}


def check_and_commit(root: Path, state: ToolState, config: CrystallizeConfig, verb: str) -> ToolState:
    """Verify the tool as it is on disk; record active/failed with the report; commit. Tests that pass
    but run the tool with fewer than ``crystallize.min_assignments`` slot assignments do not activate it."""
    report = verify(root, state.name, state.agent, timeout=config.timeout_s, unsandboxed=config.unsandboxed)
    try:
        tests = toolstate.paths(root, state.name)[1].read_text(encoding="utf-8")
    except OSError:
        tests = ""
    state.assignments, state.fixed = coverage(tests, state.slots)
    need = config.min_assignments
    ok = report.ok and state.assignments >= need
    state.state = "active" if ok else "failed"
    state.hash = toolstate.files_hash(root, state.name)
    state.report = report.text
    if report.ok and not ok:
        state.report += f"; but they cover {state.assignments} slot assignment(s) and {need} are needed"
    if ok:
        state.verified = now_iso()
    toolstate.save(root, state)
    commit_tool(root, state, f"{verb} tool {state.name} ({state.state})")
    return state


def ensure_verified(root: Path, state: ToolState, config: CrystallizeConfig) -> ToolState:
    """A tool whose files changed since verification is verified again (and the outcome committed)."""
    if state.state == "active" and toolstate.files_hash(root, state.name) == state.hash:
        return state
    if toolstate.files_hash(root, state.name) in ("", state.hash):
        return state  # missing files, or unchanged failed/demoted: nothing new to verify
    return check_and_commit(root, state.model_copy(), config, verb="re-verify")


def demote_if_failing(root: Path, state: ToolState, index: TraceIndex, modes: ModesConfig, trace_id: str) -> ToolState:
    """After a failed use: demote the tool when its last ``demote_after`` uses all failed."""
    since = state.verified or ""
    stats = index.tool_stats(state.name, since, modes.prior, modes.prior_weight, modes.demote_after)
    if not stats.demoted or state.state != "active":
        return state
    state = state.model_copy(
        update={"state": "demoted", "report": f"demoted: its last {modes.demote_after} uses failed (latest {trace_id})"}
    )
    toolstate.save(root, state)
    commit_tool(root, state, f"demote tool {state.name}", source_trace=trace_id)
    return state


def crystallize_due(
    root: Path, index: TraceIndex, config: CrystallizeConfig, signature: str, agent: str
) -> ToolState | None:
    """After a run: crystallize its template if it just became eligible and has no tool yet. Runs that
    end together (delegated children, threads, processes) make the tool once: the check that there is
    none is made again under a lock."""
    for cand in candidates(root, index, config, signature):
        if cand.signature == signature and cand.agent == agent and cand.eligible and cand.tool is None:
            with file_lock(Path(root) / ".llmos" / "locks" / "crystallize.lock", timeout=120):
                states = toolstate.load_all(root)[0].values()
                if any(s.signature == signature and s.agent == agent for s in states):
                    return None  # another run made it while this one was deciding
                return crystallize(root, cand, config)
    return None

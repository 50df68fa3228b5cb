"""Delegation: a run hands a sub-goal to another agent, which runs as a full child run.

Each child is a complete ``Kernel.run``: its own trace (``parent:`` set), its own mode choice and
commit, a ceiling that is its share of the parent's remaining per-run budget, and a depth one
more than its parent's. Several children run at once in threads of this process (at most
``orchestration.max_parallel``). The result of each comes back to the parent as text.

Refused before anything runs (the model sees why): an unknown or invalid agent, a cycle (an agent
already on the chain above), a run at ``max_depth``, no budget left to share, too many tasks.
A child that fails, runs out of budget or crashes is reported with its trace id; the parent goes on.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import AgentNotFound, DocumentError, LlmosError
from ..syscalls.hooks import Refused
from .lineage import Lineage

if TYPE_CHECKING:
    from .scope import RunScope

EPSILON = 1e-9
RESULT_LIMIT = 2000  # characters of a child's result shown to the parent (the rest is in its trace)


@dataclass
class Task:
    agent: str
    goal: str


@dataclass
class ChildReport:
    """How one child run ended, as the parent sees it."""

    task: Task
    trace_id: str | None
    outcome: str
    text: str
    steps: int = 0
    tokens: tuple[int, int] = (0, 0)
    cost_usd: float = 0.0

    @property
    def ok(self) -> bool:
        return self.outcome == "success"

    def render(self) -> str:
        trace = self.trace_id or "no trace: it never started"
        head = (
            f"[{self.task.agent}] trace {trace}: {self.outcome} after {self.steps} steps, "
            f"{self.tokens[0]}/{self.tokens[1]} tokens, ${self.cost_usd:.6f}"
        )
        text = self.text if len(self.text) <= RESULT_LIMIT else self.text[:RESULT_LIMIT] + " [...]"
        return f"{head}\n{text}"


def plan(scope: "RunScope", tasks: list[Task]) -> list[Lineage]:
    """Check every task and give each child its lineage; raise :class:`Refused` with the reason."""
    kernel = scope.kernel
    cfg = kernel.config.orchestration
    if not tasks:
        raise Refused("no tasks given")
    if len(tasks) > cfg.max_children:
        raise Refused(f"{len(tasks)} tasks is more than orchestration.max_children ({cfg.max_children})")
    if scope.depth + 1 > cfg.max_depth:
        raise Refused(
            f"depth limit: this run is at depth {scope.depth} and orchestration.max_depth is "
            f"{cfg.max_depth}; do the work yourself"
        )
    chain = scope.lineage.chain + (scope.agent.name,)
    models = [_check_agent(scope, t.agent, chain) for t in tasks]
    share = _share(scope, len(tasks))
    return [scope.child_lineage(ceiling=share, model=model) for model in models]


def _check_agent(scope: "RunScope", name: str, chain: tuple[str, ...]) -> str | None:
    """Refuse unknown, invalid and cyclic agents; return the model spec the child inherits."""
    try:
        agent = scope.kernel.agent(name)
    except AgentNotFound as exc:
        raise Refused(str(exc)) from None
    except DocumentError as exc:
        raise Refused(f"agent {name!r} is invalid: {exc}") from None
    if name in chain:
        raise Refused(f"delegation cycle refused: {' -> '.join(chain + (name,))}")
    return None if agent.model not in (None, "inherit") else scope.model_spec


def _share(scope: "RunScope", n: int) -> float | None:
    """Each of ``n`` children's ceiling: ``child_share`` of what the parent has left, split evenly."""
    remaining = scope.remaining()
    if remaining is None:
        return None
    share = remaining * scope.kernel.config.orchestration.child_share / n
    if share <= EPSILON:
        raise Refused(
            f"budget: this run has ${remaining:.6f} left of its ${scope.ceiling():.6f} ceiling, "
            "nothing to give a child; finish with what you have"
        )
    return share


def run_children(scope: "RunScope", tasks: list[Task], lineages: list[Lineage]) -> list[ChildReport]:
    """Run the children (in parallel threads when there are several) and report each."""
    for lin in lineages:
        scope.adopt(lin)
    try:
        if len(tasks) == 1:
            return [run_child(scope, tasks[0], lineages[0])]
        workers = min(len(tasks), scope.kernel.config.orchestration.max_parallel)
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"llmos-{scope.meta.id}")
        try:
            futures = [pool.submit(run_child, scope, t, lin) for t, lin in zip(tasks, lineages)]
            return [f.result() for f in futures]
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    finally:
        scope.children_done()


def run_child(scope: "RunScope", task: Task, lin: Lineage) -> ChildReport:
    """One child run; every way it can end becomes a report (never an exception)."""
    try:
        res = scope.kernel.run(task.goal, agent=task.agent, lineage=lin, on_event=scope.child_events)
        return ChildReport(
            task,
            res.trace_id,
            res.outcome,
            res.result or res.error or "",
            res.steps,
            (res.tokens["input"], res.tokens["output"]),
            res.cost_usd,
        )
    except LlmosError as exc:
        run = getattr(exc, "run", None)
        if run is None:
            return ChildReport(task, lin.trace_id, "failure", f"could not start: {exc}")
        return ChildReport(
            task,
            run.trace_id,
            run.outcome,
            str(exc),
            run.steps,
            (run.tokens["input"], run.tokens["output"]),
            run.cost_usd,
        )
    except Exception as exc:  # a crash inside the child: its trace says aborted, the parent goes on
        return ChildReport(task, lin.trace_id, "crashed", f"the child crashed: {type(exc).__name__}: {exc}")


def parse_tasks(raw: list[dict[str, Any]]) -> list[Task]:
    """Tasks from the model's ``[{agent, goal}, ...]``; raise :class:`Refused` naming a bad one."""
    tasks = []
    for n, item in enumerate(raw, 1):
        if not isinstance(item, dict) or set(item) != {"agent", "goal"}:
            raise Refused(f"task {n}: each task must be an object with exactly 'agent' and 'goal'")
        agent, goal = item["agent"], item["goal"]
        if not isinstance(agent, str) or not isinstance(goal, str) or not agent.strip() or not goal.strip():
            raise Refused(f"task {n}: 'agent' and 'goal' must be non-empty strings")
        tasks.append(Task(agent.strip(), goal.strip()))
    return tasks

"""Fleet runs on Ray: many goals at once, each worker in its own clone of the root.

``run_fleet`` starts (or joins) a Ray cluster and makes ``workers`` actors. Each worker clones the
root from its sync remote once, then for every goal it is given: syncs (so it sees the traces and
tools the others pushed: repeated families stay zero-token), runs the goal with the normal kernel
(modes, traces, commits) and syncs again (its commit reaches the remote). One :class:`FleetBudget`
actor, pinned to the head node, holds the fleet's ceiling: every worker's budget gate reserves there
before each model call, so the whole fleet cannot spend past it, and a HALT file in the head's root
stops every worker before its next model call. A goal whose worker died is retried once on another;
whatever that worker pushed is kept by the remote; its open reservations are counted as spent.

Ray is optional (``pip install -e '.[fleet]'``); nothing here imports it until a fleet runs.

Layer: spine (a worker runs the kernel).
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import yaml

from ..budget.gate import Budget
from ..errors import BudgetExceeded, Halted, LlmosError
from ..halt import halt_reason
from ..procs import temp_prefix
from ..team.recover import sweep_temp_dirs

EPSILON = 1e-9


class FleetError(LlmosError):
    """A fleet that cannot run: Ray missing or unreachable, no remote, a bad goals file."""


def load_goals(path: Path) -> list[dict[str, Any]]:
    """The goals of a YAML file: a list of strings, or of mappings with ``goal`` (and ``agent``, ``model``)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise FleetError(f"{path}: not YAML: {exc}".splitlines()[0], hint="a list of goals, one per line") from None
    if not isinstance(data, list) or not data:
        raise FleetError(f"{path}: expected a non-empty list of goals", hint='e.g. - "Write the weekly report"')
    goals = []
    for n, item in enumerate(data, 1):
        if isinstance(item, str) and item.strip():
            goals.append({"goal": item.strip()})
        elif isinstance(item, dict) and isinstance(item.get("goal"), str) and item["goal"].strip():
            unknown = set(item) - {"goal", "agent", "model"}
            if unknown:
                raise FleetError(f"{path}: goal {n} has unknown keys {sorted(unknown)}", hint="use goal, agent, model")
            goals.append({k: v for k, v in item.items() if v is not None})
        else:
            raise FleetError(
                f"{path}: goal {n} is not a goal: {item!r}"[:200], hint="a string, or {goal: ..., agent: ...}"
            )
    return goals


class FleetBudget:
    """The fleet's ceiling, held by one actor on the head node (see :func:`run_fleet`)."""

    def __init__(self, head_root: str, ceiling: float | None):
        self.root, self.ceiling = Path(head_root), ceiling
        self.spent = 0.0
        self.open: dict[str, tuple[float, int]] = {}  # reservation -> (worst, worker)

    def reserve(self, reservation: str, worst: float, worker: int) -> str:
        reason = halt_reason(self.root)
        if reason is not None:
            return f"halted: {reason}"
        held = self.spent + sum(w for w, _ in self.open.values())
        if self.ceiling is not None and held + worst > self.ceiling + EPSILON:
            return f"ceiling: ${held:.4f} spent or reserved of ${self.ceiling:.4f}, this call may cost ${worst:.4f}"
        self.open[reservation] = (worst, worker)
        return "ok"

    def settle(self, reservation: str, cost: float) -> None:
        self.open.pop(reservation, None)
        self.spent += cost

    def worker_died(self, worker: int) -> None:
        """The calls a dead worker had in flight may have been billed: count their worst case."""
        for rid, (worst, who) in list(self.open.items()):
            if who == worker:
                self.settle(rid, worst)

    def status(self) -> dict[str, Any]:
        return {"spent": self.spent, "open": len(self.open), "ceiling": self.ceiling}


class FleetGate(Budget):
    """A worker's budget gate: its own root's gate first (kill switch, price, local ceilings), then the
    fleet's ceiling at the :class:`FleetBudget` actor."""

    def __init__(self, root: Path, config: Any, *, actor: Any, worker: int, **kw: Any):
        super().__init__(root, config, **kw)
        self.actor, self.worker = actor, worker

    @contextlib.contextmanager
    def spend(self, **kw: Any) -> Iterator[Any]:
        import ray

        with super().spend(**kw) as charge:
            verdict = ray.get(self.actor.reserve.remote(charge.reservation_id, charge.worst_usd, self.worker))
            if verdict != "ok":
                charge.release()
                if verdict.startswith("halted"):
                    raise Halted(f"the fleet's head is halted ({verdict[8:]})", hint="llmos resume on the head")
                raise BudgetExceeded(f"fleet budget would be exceeded: {verdict[9:]}", ceiling="fleet")
            try:
                yield charge
            finally:
                cost = charge.cost_usd if charge.cost_usd is not None else (0.0 if charge.closed else charge.worst_usd)
                ray.get(self.actor.settle.remote(charge.reservation_id, cost))


class Worker:
    """One Ray actor: a clone of the root, and goals run in it one at a time."""

    def __init__(self, url: str, branch: str | None, number: int, budget: Any):
        self.number, self.budget = number, budget
        self.dir = Path(tempfile.mkdtemp(prefix=temp_prefix("fleet")))
        self.root = self.dir / "os"
        args = ["git", "clone", "--quiet", *(["--branch", branch] if branch else []), url, str(self.root)]
        proc = subprocess.run(args, capture_output=True, text=True)
        if proc.returncode != 0:
            raise FleetError(f"worker {number} cannot clone {url}: {proc.stderr.strip()[:200]}")

    def run(self, goal: dict[str, Any]) -> dict[str, Any]:
        from ..kernel import Kernel
        from ..sync import SyncError, sync
        from ..team.lineage import Lineage

        started = time.monotonic()
        # no sync first: the clone is fresh, and the sync after each goal also takes what the others pushed
        kernel = Kernel(self.root)
        gate = FleetGate(self.root, kernel.config.budget, actor=self.budget, worker=self.number)
        out: dict[str, Any] = {"goal": goal["goal"], "worker": self.number}
        try:
            res = kernel.run(
                goal["goal"], agent=goal.get("agent"), model=goal.get("model"), lineage=Lineage(budget=gate)
            )
        except LlmosError as exc:
            res = getattr(exc, "run", None)
            if res is None:
                out.update(outcome="failure", error=str(exc), mode="", tokens=0, cost_usd=0.0, trace=None)
                return out
        sync_error = None
        for attempt in range(3):  # the run's commit must reach the remote: the clone is not kept
            try:
                sync(self.root, kernel.config.sync)
                sync_error = None
                break
            except SyncError as exc:
                sync_error = f"not pushed: {exc}"
                time.sleep(0.5 * (attempt + 1))
        out.update(
            outcome=res.outcome,
            error=res.error or sync_error,
            mode=res.mode,
            tokens=res.tokens["input"] + res.tokens["output"],
            cost_usd=res.cost_usd,
            trace=res.trace_id,
            commit=res.commit,
            pushed=sync_error is None,
            seconds=round(time.monotonic() - started, 3),
        )
        return out

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def run_fleet(
    root: Path,
    config: Any,
    goals: list[dict[str, Any]],
    *,
    address: str | None = None,
    workers: int = 2,
    ceiling: float | None = None,
    on_done: Callable[[dict[str, Any]], None] = lambda r: None,
) -> dict[str, Any]:
    """Run ``goals`` on ``workers`` Ray actors (see the module doc); the summary as a dict."""
    try:
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
    except ImportError:
        raise FleetError("Ray is not installed", hint="pip install -e '.[fleet]'") from None
    from ..sync import sync

    root = Path(root)
    url = subprocess.run(
        ["git", "-C", str(root), "remote", "get-url", config.sync.remote], capture_output=True, text=True
    )
    if url.returncode != 0:
        raise FleetError(
            f"{root} has no git remote {config.sync.remote!r} for the workers to clone",
            hint=f"git remote add {config.sync.remote} URL (a bare repository the workers can reach)",
        )
    branch = (
        config.sync.branch
        or subprocess.run(
            ["git", "-C", str(root), "symbolic-ref", "--quiet", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
    )
    sync(root, config.sync)  # the workers start from everything this root has
    started_here = not ray.is_initialized()
    try:
        if started_here:
            ray.init(
                address=address,
                num_cpus=None if address else workers,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
    except Exception as exc:  # noqa: BLE001 - Ray raises many kinds: one line for the person
        raise FleetError(
            f"cannot start or join Ray at {address or 'a local cluster'}: {exc}".splitlines()[0],
            hint="check the address (ray://HOST:10001) and that `ray start --head` runs there",
        ) from None
    limit = ceiling if ceiling is not None else config.budget.per_day
    began = time.monotonic()
    try:
        here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=False)
        budget = ray.remote(FleetBudget).options(scheduling_strategy=here, num_cpus=0).remote(str(root), limit)
        actor = ray.remote(Worker).options(num_cpus=1, max_restarts=0)
        pool = {n: actor.remote(url.stdout.strip(), branch or None, n, budget) for n in range(workers)}
        results = _dispatch(ray, pool, budget, goals, on_done)
        status = ray.get(budget.status.remote())
        for handle in pool.values():
            with contextlib.suppress(Exception):
                ray.get(handle.close.remote(), timeout=30)
    finally:
        if started_here:
            ray.shutdown()
    head_sync = None
    try:
        sync(root, config.sync)  # the head sees every worker's commits
    except LlmosError as exc:
        head_sync = str(exc)  # the commits are on the remote: `llmos sync` takes them later
    sweep_temp_dirs()  # clones of workers that were killed
    seconds = time.monotonic() - began
    ok = sum(1 for r in results if r["outcome"] == "success")
    return {
        "results": results,
        "totals": {
            "goals": len(goals),
            "workers": workers,
            "seconds": round(seconds, 3),
            "goals_per_s": round(len(goals) / seconds, 3) if seconds else 0.0,
            "success": ok,
            "failed": len(results) - ok,
            "tokens": sum(r.get("tokens", 0) for r in results),
            "cost_usd": round(status["spent"], 8),
            "ceiling_usd": limit,
            "retried": sum(1 for r in results if r.get("retried")),
            "not_pushed": sum(1 for r in results if r.get("pushed") is False),
            "head_sync_error": head_sync,
        },
    }


def seeds_first(goals: list[dict[str, Any]], seeds: int = 2) -> list[int]:
    """The order to hand goals out in: the first ``seeds`` goals of every template, then the rest. A
    template's later goals can be replayed at zero tokens once two of its runs are on the remote; run
    side by side on different workers, none of them could be."""
    from ..goals import normalize

    seen: dict[str, int] = {}
    first, rest = [], []
    for i, g in enumerate(goals):
        try:
            key = normalize(g["goal"]).signature
        except LlmosError:
            key = g["goal"]
        seen[key] = seen.get(key, 0) + 1
        (first if seen[key] <= seeds else rest).append(i)
    return first + rest


def _dispatch(ray: Any, pool: dict[int, Any], budget: Any, goals: list[dict[str, Any]], on_done: Callable) -> list:
    """One goal per idle worker until every goal has a result; a goal whose worker died goes once more
    to another worker."""
    from ray.exceptions import RayActorError

    queue = [(i, goals[i], 0) for i in seeds_first(goals)]
    idle, running, results = list(pool), {}, [None] * len(goals)
    while queue or running:
        while queue and idle:
            n = idle.pop(0)
            i, goal, tries = queue.pop(0)
            running[pool[n].run.remote(goal)] = (n, i, goal, tries)
        if not running:  # every worker died
            for i, goal, _ in queue:
                results[i] = {
                    "goal": goal["goal"],
                    "outcome": "failure",
                    "error": "no worker left",
                    "mode": "",
                    "tokens": 0,
                    "worker": -1,
                }
            break
        done, _ = ray.wait(list(running), num_returns=1)
        n, i, goal, tries = running.pop(done[0])
        try:
            result = ray.get(done[0])
            idle.append(n)
        except RayActorError:
            ray.get(budget.worker_died.remote(n))
            if tries == 0:
                queue.append((i, goal, 1))
                continue
            result = {
                "goal": goal["goal"],
                "outcome": "failure",
                "error": "its worker died twice",
                "mode": "",
                "tokens": 0,
                "worker": n,
            }
        result["retried"] = tries > 0
        results[i] = result
        on_done(result)
    return results

"""One dream, end to end, in a separate git worktree; see the package docstring.

Order: snapshot when due -> worktree of HEAD -> recall score before -> promote into beta (and
lessons), merge/supersede, prune working memory, compact old traces (the "local" changes) ->
alpha/delta promotions (the "review" changes) -> recall score after (refuse if worse) -> commit
local changes and fast-forward the current branch to them; commit review changes on
``llmos/dream/<date>``. Anything that fails or is halted before the last step leaves the root as it
was: the worktree is discarded.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from ..errors import DreamError, LlmosError
from ..halt import check_halt
from ..memory.model import read_memory, write_memory
from ..memory.store import list_memories
from . import gitops, proof, souls
from .consolidate import Change, compact_traces, merge_and_supersede, prune_working
from .distill import improve, memory_of, same_evidence
from .evidence import candidates, gather


@dataclass
class DreamReport:
    started: str
    agent: str | None
    dry_run: bool
    seconds: float = 0.0
    local: list[dict[str, Any]] = field(default_factory=list)  # committed on the current branch
    review: list[dict[str, Any]] = field(default_factory=list)  # committed on the dream branch
    skipped: list[str] = field(default_factory=list)  # malformed memories, dirty files
    recall_before: float = 1.0
    recall_after: float = 1.0
    questions: int = 0
    suite_before: float = 1.0  # the recall benchmark's generated suite, before/after the rules
    suite_after: float = 1.0
    recall_lost: list[str] = field(default_factory=list)  # answered before the dream, not after
    local_commit: str | None = None
    branch: str | None = None
    model_calls: list[dict[str, Any]] = field(default_factory=list)
    snapshot: str | None = None
    blob_bytes_saved: int = 0  # by the level-19 repack of sealed blob packs

    @property
    def changed(self) -> bool:
        return bool(self.local or self.review)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        lines = [
            f"Dream of {self.started}"
            + (f" (agent {self.agent})" if self.agent else "")
            + (" (dry run: nothing committed)" if self.dry_run else ""),
            "",
            f"Recall on this root's own memories: {self.recall_before:.3f} before, "
            f"{self.recall_after:.3f} after ({self.questions} questions); recall benchmark suite: "
            f"{self.suite_before:.3f} before, {self.suite_after:.3f} after; {self.seconds:.1f} s.",
            "",
        ]
        for title, rows in (("On the current branch", self.local), ("For review (dream branch)", self.review)):
            lines.append(f"{title}: {len(rows) or 'nothing'}")
            lines += [f"- {r['what']}: {r['detail']}" for r in rows]
            lines.append("")
        if self.recall_lost:
            lines += ["Recall lost (answered before, not after):", *[f"- {s}" for s in self.recall_lost], ""]
        if self.skipped:
            lines += ["Left alone:", *[f"- {s}" for s in self.skipped], ""]
        if self.model_calls:
            cost = sum(c["cost_usd"] for c in self.model_calls)
            lines += [f"Model prose pass: {len(self.model_calls)} calls, ${cost:.4f}.", ""]
        return "\n".join(lines).rstrip() + "\n"


def _promote(wt: Path, cands, tiers: tuple[str, ...], config, model_calls: list, use_model: bool) -> list[Change]:
    changes = []
    for c in cands:
        if c.tier not in tiers:
            continue
        new = memory_of(wt, c)
        if new.path.is_file():
            try:
                if same_evidence(read_memory(new.path, wt).meta, new.meta):
                    continue
            except LlmosError:
                pass  # a damaged earlier promotion is rewritten from the evidence
        if use_model:
            check_halt(wt)
            model_calls.append(improve(wt, new, config))
        write_memory(new)
        g = c.group
        changes.append(
            Change(
                "promoted",
                [new.rel(wt)],
                f'{c.kind} "{g.template}" -> {c.tier} ({g.uses} uses, {g.rate:.0%} success, '
                f"{len(g.contexts)} agents/projects; sources: {', '.join(r.id for r in g.runs[-3:])}"
                f"{'...' if g.uses > 3 else ''})",
            )
        )
    return changes


def _working_agents(wt: Path, agent: str | None) -> list[str]:
    folder = wt / "memory" / "working"
    names = sorted(p.stem for p in folder.glob("*.md")) if folder.is_dir() else []
    return [n for n in names if agent in (None, n)]


def _rows(changes: list[Change]) -> list[dict[str, Any]]:
    return [{"what": c.what, "paths": c.paths, "detail": c.detail} for c in changes]


def dream(
    root: Path,
    config,
    *,
    agent: str | None = None,
    dry_run: bool = False,
    today: datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> DreamReport:
    """Run one dream over ``root``; see the module docstring. Raises :class:`DreamError` (refused,
    git failed, another dream running), ``Halted`` or ``BudgetExceeded`` with the root left as it was."""
    from ..atomic import file_lock
    from ..errors import LockTimeout

    lock = file_lock(Path(root) / ".llmos" / "locks" / "dream.lock", timeout=1.0)
    try:
        lock.__enter__()
    except LockTimeout:
        raise DreamError("another dream is running on this root", hint="wait for it to finish") from None
    try:
        return _dream(Path(root), config, agent, dry_run, today, progress)
    finally:
        lock.__exit__(None, None, None)


def _dream(
    root: Path, config, agent: str | None, dry_run: bool, today: datetime | None, progress: Callable[[str], None] | None
) -> DreamReport:
    say = progress or (lambda _msg: None)
    root, cfg, t0 = Path(root), config.dream, time.perf_counter()
    today = today or datetime.now(timezone.utc)
    report = DreamReport(started=today.strftime("%Y-%m-%dT%H:%M:%SZ"), agent=agent, dry_run=dry_run)
    check_halt(root)
    if cfg.snapshot and not dry_run:
        from ..vault import snapshot, snapshot_due

        if snapshot_due(root, config.vault):
            say("taking the vault snapshot that is due")
            report.snapshot = snapshot(root, "dream", config.vault).id
    dirty = gitops.dirty_paths(root)
    wt = gitops.open_worktree(root)
    try:
        say(f"dreaming in {wt.relative_to(root)}")
        memories, problems = list_memories(wt)
        report.skipped += [f"{p} (malformed: fix it, the dream leaves it alone)".replace("\n", " ") for p in problems]
        qs = proof.questions(memories, cfg.eval_questions)
        say(f"recall before: {len(qs)} questions")
        report.recall_before, missed_before = proof.score(wt, qs, config)
        groups = gather(wt, agent)
        cands = candidates(wt, cfg, groups=groups)
        use_model = cfg.model_pass and not dry_run
        say(f"{len(groups)} workflows in the traces, {len(cands)} promotions/lessons supported")
        local = _promote(wt, cands, ("beta",), config, report.model_calls, use_model)
        check_halt(root)
        local += merge_and_supersede(wt, list_memories(wt)[0], cfg)
        for name in _working_agents(wt, agent):
            if f"memory/working/{name}.md" in dirty:
                report.skipped.append(f"memory/working/{name}.md: uncommitted changes in your tree (not pruned)")
                continue
            pruned = prune_working(wt, name, config.memory.working_cap_bytes, cfg)
            for c in pruned:
                if c.what == "archived":  # the pruned text must stay findable
                    m = read_memory(wt / c.paths[0], wt)
                    text = [ln for ln in m.body.splitlines() if ln.strip() and not ln.startswith("#")]
                    qs.append(((text or [m.meta.title])[0][:200], m.id))
            local += pruned
        if not dry_run:
            local += _blob_work(root, wt, cfg, today, agent, report, say)
        check_halt(root)
        review = _promote(wt, cands, ("alpha", "delta"), config, report.model_calls, use_model)
        review += souls.propose(wt, cands, agent)
        check_halt(root)
        local, review = _drop_dirty(wt, local, dirty, report), _drop_dirty(wt, review, dirty, report)
        review = _drop_pending(root, wt, review, report)
        report.local, report.review = _rows(local), _rows(review)
        report.questions = len(qs)
        say("recall after")
        if report.changed:
            report.recall_after, missed = proof.score(wt, qs, config)
            report.recall_lost = [m for m in missed if m not in missed_before]
        else:
            report.recall_after = report.recall_before
        if cfg.eval_suite and report.changed:
            say(f"recall canary: the recall benchmark's suite of {cfg.eval_suite} memories")
            report.suite_before, report.suite_after = proof.suite_check(
                wt / ".llmos" / "dream-suite", config, cfg.eval_suite
            )
            if report.suite_after < report.suite_before:
                report.recall_lost.append(f"recall benchmark suite: {report.suite_before} -> {report.suite_after}")
        report.seconds = round(time.perf_counter() - t0, 2)
        if report.recall_after < report.recall_before or report.suite_after < report.suite_before:
            raise DreamError(
                f"the dream would make recall worse ({report.recall_before:.3f} -> "
                f"{report.recall_after:.3f}: {'; '.join(report.recall_lost[:3])}); nothing was committed",
                hint="see `llmos dream --dry-run` for what it would change",
            )
        if dry_run or not report.changed:
            return report
        _commit(root, wt, local, review, report, today)
        report.seconds = round(time.perf_counter() - t0, 2)
        return report
    finally:
        proof.close(wt)
        gitops.discard(root, wt)


def _blob_work(root: Path, wt: Path, cfg, today, agent: str | None, report: DreamReport, say) -> list[Change]:
    """Old trace bodies into the blob store, then the store's sealed packs recompressed."""
    from ..blobs import BlobStore

    with BlobStore.open(root / ".llmos" / "blobs") as blobs:
        changes = compact_traces(wt, blobs, cfg.trace_retention_days, today, agent)
        if cfg.repack_blobs:
            say("repacking sealed blob packs at zstd level 19")
            report.blob_bytes_saved = blobs.repack(max_bytes=int(cfg.repack_mb * 1e6)).saved_bytes
    return changes


def _drop_dirty(wt: Path, changes: list[Change], dirty: set[str], report: DreamReport) -> list[Change]:
    """Changes to files the person has uncommitted edits to are undone and reported, not committed."""
    keep = []
    for c in changes:
        if any(p in dirty for p in c.paths):
            gitops.restore(wt, c.paths)
            report.skipped.append(f"{', '.join(c.paths)}: uncommitted changes in your tree ({c.detail})")
        else:
            keep.append(c)
    return keep


def _drop_pending(root: Path, wt: Path, changes: list[Change], report: DreamReport) -> list[Change]:
    """Promotions already waiting, identical, on an earlier dream branch are not proposed twice."""
    keep = []
    for c in changes:
        branch = gitops.pending_has(root, wt, c.paths)
        if branch:
            gitops.restore(wt, c.paths)
            report.skipped.append(f"{', '.join(c.paths)}: already awaiting review on {branch}")
        else:
            keep.append(c)
    return keep


def _commit(
    root: Path, wt: Path, local: list[Change], review: list[Change], report: DreamReport, today: datetime
) -> None:
    from ..audit.commit import format_message

    body = report.text()
    trailers = {
        "Dream": report.started,
        "Recall-Before": str(report.recall_before),
        "Recall-After": str(report.recall_after),
        "Suite-Before": str(report.suite_before),
        "Suite-After": str(report.suite_after),
    }
    sha = gitops.commit(
        wt,
        sorted({p for c in local for p in c.paths}),
        format_message(f"llmos: dream {today:%Y-%m-%d}: {len(local)} memory changes", trailers, body),
    )
    paths = sorted({p for c in review for p in c.paths})
    review_sha = gitops.commit(
        wt, paths, format_message(f"llmos: dream {today:%Y-%m-%d}: {len(review)} promotions for review", trailers, body)
    )
    check_halt(root)  # last point at which a halt leaves the root untouched
    if sha:
        gitops.advance(root, sha)
        report.local_commit = sha
        from ..memory.index import open_index

        open_index(root).sync()
    if review_sha:
        report.branch = gitops.new_branch(root, review_sha, f"{today:%Y-%m-%d}")


def apply_dream(root: Path, branch: str) -> str:
    """Merge an approved dream branch into the current branch (and index what it brings)."""
    from ..memory.index import open_index

    check_halt(root)
    sha = gitops.apply_branch(Path(root), branch)
    open_index(Path(root)).sync()
    return sha

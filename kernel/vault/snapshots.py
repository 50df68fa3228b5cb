"""Sealed snapshots: take, list, verify, restore, prune.

A snapshot ``ID`` is three write-once objects in the store, put in this order:

* ``ID.sealed.tar.zst``      the archive (see :mod:`.archive`);
* ``ID.sealed.files.jsonl``  one line per file: path, size, mode, blake3;
* ``ID.sealed.manifest.json`` the header: commit, counts, retention, the blake3 of the two objects
  above, ``prev`` (the hash of the previous snapshot's header) and its own ``hash``.

The header is written last: a snapshot without one was cut short and is never listed (its leftovers
are removed by the next snapshot). Pruning leaves a ``ID.pruned.json`` tombstone carrying the pruned
header's hash, so the chain still verifies across the gap.

The newest manifest's hash is anchored outside the vault, in the root's ledger (see :mod:`.anchor`):
``verify`` reports a head that is missing, replaced or behind its anchor, and ``snapshot`` refuses to
run (deleting nothing) while the vault disagrees with its anchor, so the leftovers it removes are
only ever those of a snapshot that was never anchored.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import datetime, timedelta, timezone
from itertools import chain
from pathlib import Path
from typing import Any

import blake3

from ..scrub import scrub
from ..errors import LedgerBroken, VaultError
from . import anchor
from .archive import Source, git_sources, head_commit, local_sources, read_archive, write_archive
from .config import VaultConfig
from .records import SnapshotInfo, VerifyResult
from .store import LocalStore, VaultStore

FORMAT = "llmos-vault/1"
NOTICE = "SEALED llmos vault snapshot: read-only archival copy, not live data. Do not edit."
ARCHIVE, FILES, MANIFEST, TOMBSTONE = (
    ".sealed.tar.zst",
    ".sealed.files.jsonl",
    ".sealed.manifest.json",
    ".pruned.json",
)
KINDS = {"archive": ARCHIVE, "files": FILES, "manifest": MANIFEST, "tombstone": TOMBSTONE}
FOREVER = datetime(9999, 1, 1, tzinfo=timezone.utc)
REPAIR_HINT = (
    "run `llmos vault verify` to see the damage; put the missing or replaced manifest back from a backup, "
    "or move what is left of the lost snapshot out of the vault and accept the loss with "
    "`llmos vault reanchor --reason TEXT`"
)


def _canon(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def header_hash(header: dict[str, Any]) -> str:
    """blake3 of a manifest header's canonical JSON without its ``hash`` field."""
    return blake3.blake3(_canon({k: v for k, v in header.items() if k != "hash"})).hexdigest()


class Vault:
    """The vault of one OS root."""

    def __init__(self, root: Path, config: VaultConfig | None = None, store: VaultStore | None = None):
        self.root = Path(root)
        self.config = config or VaultConfig()
        self.store: VaultStore = store or LocalStore(self.config.directory(self.root))

    # -- reading -------------------------------------------------------------------------------

    def _read_json(self, name: str) -> dict[str, Any]:
        with self.store.open(name) as fh:
            return json.loads(fh.read())

    def _headers(self) -> tuple[dict[str, dict[str, Any]], list[str]]:
        """Manifest headers by id, and problems with unreadable ones."""
        headers, problems = {}, []
        for name in self.store.names():
            if name.endswith(MANIFEST):
                try:
                    headers[name[: -len(MANIFEST)]] = self._read_json(name)
                except (ValueError, OSError, VaultError) as exc:
                    problems.append(f"{name}: unreadable manifest ({exc})")
        return headers, problems

    def _tombstones(self) -> dict[int, dict[str, Any]]:
        """Pruned snapshots by sequence number."""
        out = {}
        for name in self.store.names():
            if name.endswith(TOMBSTONE):
                t = self._read_json(name)
                out[t["seq"]] = t
        return out

    def _objects(self) -> dict[str, set[str]]:
        """Snapshot id -> the kinds of its objects in the store (``archive``, ``manifest``...)."""
        out: dict[str, set[str]] = {}
        for name in self.store.names():
            for kind, suffix in KINDS.items():
                if name.endswith(suffix):
                    out.setdefault(name[: -len(suffix)], set()).add(kind)
        return out

    def _links(self, headers: dict[str, dict[str, Any]]) -> dict[int, str]:
        """Sequence number -> manifest hash of every sealed or pruned snapshot."""
        links = {h["seq"]: h["hash"] for h in headers.values() if "seq" in h}
        links.update({seq: t["hash"] for seq, t in self._tombstones().items()})
        return links

    def list(self) -> list[SnapshotInfo]:
        """Sealed snapshots, oldest first (damaged manifests are left out: see :meth:`verify`)."""
        out = []
        for header in self._headers()[0].values():
            try:
                out.append(SnapshotInfo.from_header(header))
            except (KeyError, TypeError, ValueError):
                continue
        return sorted(out, key=lambda s: s.seq)

    def resolve(self, ident: str) -> SnapshotInfo:
        """The snapshot whose id is ``ident`` or starts with it (unique)."""
        snaps = self.list()
        exact = [s for s in snaps if s.id == ident]
        found = exact or [s for s in snaps if s.id.startswith(ident)]
        if len(found) != 1:
            what = "no" if not found else "more than one"
            raise VaultError(f"{what} snapshot matches {ident!r}", hint="see `llmos vault list`")
        return found[0]

    # -- snapshot ------------------------------------------------------------------------------

    def snapshot(self, label: str | None = None) -> SnapshotInfo:
        """Seal HEAD's tree, the ledger and the blobs into a new snapshot chained to the last.

        Raises :class:`VaultError`, deleting nothing, when the vault disagrees with its anchor.
        """
        label = scrub(label) if label else label  # sealed for years: no secret goes in
        commit, commit_time = head_commit(self.root)
        with self.store.lock():
            self._check_anchor()
            self.store.clear_staging()
            self._remove_leftovers()
            seq, prev = self._chain_head()
            now = datetime.now(timezone.utc)
            ident = f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
            stage = self.store.staging()
            sources = chain(git_sources(self.root, commit), local_sources(self.root))
            records, archive_hash, archive_size = write_archive(
                sources, stage / (ident + ARCHIVE), self.config.compression_level, commit_time
            )
            listing = b"".join(_canon(r) + b"\n" for r in records)
            (stage / (ident + FILES)).write_bytes(listing)
            header = {
                "format": FORMAT,
                "sealed": True,
                "notice": NOTICE,
                "id": ident,
                "seq": seq,
                "label": label,
                "created": now.isoformat(),
                "retain_until": (now + timedelta(days=self.config.retention_days)).isoformat(),
                "commit": commit,
                "files": len(records),
                "bytes": sum(r["size"] for r in records),
                "archive": {"name": ident + ARCHIVE, "size": archive_size, "blake3": archive_hash},
                "file_list": {
                    "name": ident + FILES,
                    "size": len(listing),
                    "blake3": blake3.blake3(listing).hexdigest(),
                },
                "prev": prev,
            }
            header["hash"] = header_hash(header)
            (stage / (ident + MANIFEST)).write_bytes(json.dumps(header, indent=1).encode() + b"\n")
            retain = datetime.fromisoformat(header["retain_until"])
            for suffix in (ARCHIVE, FILES, MANIFEST):  # the manifest last: it lists the snapshot
                self.store.put(ident + suffix, stage / (ident + suffix), retain)
            anchor.record(self.root, anchor.Anchor(seq, header["hash"], ident))  # killed before: next one is
        return SnapshotInfo.from_header(header)

    def _check_anchor(self) -> None:
        """Raise :class:`VaultError` if the vault disagrees with its anchor (call under the lock)."""
        found = anchor.problems(anchor.read_anchors(self.root), self._links(self._headers()[0]), self._objects())
        if found:
            more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
            raise VaultError(f"refusing to snapshot, nothing was deleted: {found[0]}{more}", hint=REPAIR_HINT)

    def _chain_head(self) -> tuple[int, str | None]:
        """The next sequence number and the hash the new snapshot chains to."""
        links = self._links(self._headers()[0])
        if not links:
            return 0, None
        last = max(links)
        return last + 1, links[last]

    def _remove_leftovers(self) -> None:
        """Delete objects of snapshots that were cut short (no manifest): call under the lock.

        Only after :meth:`_check_anchor` passed: a snapshot the ledger anchored is never a leftover.
        """
        for ident, kinds in self._objects().items():
            if "manifest" not in kinds:
                for kind in kinds & {"archive", "files"}:
                    self.store.delete(ident + KINDS[kind])

    # -- anchor --------------------------------------------------------------------------------

    def _anchor_report(self, links: dict[int, str]) -> list[str]:
        """Where the vault disagrees with its anchor in the ledger (an unreadable ledger is one)."""
        try:
            anchors = anchor.read_anchors(self.root)
        except LedgerBroken as exc:
            return [f"cannot compare the vault with its anchor: {exc}"]
        return anchor.problems(anchors, links, self._objects())

    def reanchor(self, reason: str) -> anchor.Anchor:
        """Accept the vault as it is after damage :meth:`verify` reported: anchor its current head.

        The new anchor carries ``reason``; the ledger keeps the old ones. See :func:`.anchor.accept`.
        """
        with self.store.lock():
            headers = self._headers()[0]
            ids = {h["seq"]: i for i, h in headers.items() if "seq" in h}
            ids.update({seq: t.get("id") for seq, t in self._tombstones().items()})
            anchors = anchor.read_anchors(self.root)
            head = anchor.accept(anchors, self._links(headers), self._objects(), ids, scrub(reason))
            anchor.record(self.root, head)
        return head

    # -- verify --------------------------------------------------------------------------------

    def verify(self, ident: str | None = None) -> list[VerifyResult]:
        """Check one snapshot (``ident``) or all of them: chain, manifest, every byte of every file."""
        headers, problems = self._headers()
        links = self._links(headers)
        problems += self._anchor_report(links)
        results = [VerifyResult(id="vault", problems=problems)] if problems else []
        ids = [self.resolve(ident).id] if ident else sorted(headers, key=lambda i: headers[i]["seq"])
        for i in ids:
            results.append(self._verify_one(headers[i], links))
        return results

    def _verify_one(self, header: dict[str, Any], links: dict[int, str]) -> VerifyResult:
        result = VerifyResult(id=header.get("id", "?"))
        if header_hash(header) != header.get("hash"):
            result.problems.append("manifest was edited (its hash does not match)")
        seq = header.get("seq", 0)
        expected_prev = links.get(seq - 1) if seq else None
        if seq and seq - 1 not in links:
            result.problems.append(f"chain broken: snapshot #{seq - 1} is gone without a tombstone")
        elif header.get("prev") != expected_prev:
            result.problems.append("chain broken: prev does not match the previous snapshot")
        try:
            records = self._file_list(header)
        except VaultError as exc:
            result.problems.append(str(exc))
            return result
        self._compare_archive(header, records, result)
        return result

    def _file_list(self, header: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """The sealed file list of a snapshot, checked against its manifest."""
        meta = header["file_list"]
        with self.store.open(meta["name"]) as fh:
            raw = fh.read()
        if blake3.blake3(raw).hexdigest() != meta["blake3"]:
            raise VaultError(f"file list {meta['name']} was changed (hash differs)")
        return {r["path"]: r for r in map(json.loads, raw.splitlines())}

    def _compare_archive(
        self, header: dict[str, Any], records: dict[str, dict[str, Any]], result: VerifyResult
    ) -> None:
        expected = dict(records)
        last = "the start"
        with self.store.open(header["archive"]["name"]) as fh:
            members, hashing = read_archive(fh)
            try:
                for src in members:
                    rec = expected.pop(src.path, None)
                    if rec is None:
                        result.added.append(src.path)
                    elif not _matches(src, rec):
                        result.changed.append(src.path)
                    last = src.path
            except Exception as exc:  # zstd / tar damage: name where it starts
                result.problems.append(f"archive damaged after {last}: {type(exc).__name__}: {exc}")
        result.missing.extend(sorted(expected))
        if not result.problems and hashing.hasher.hexdigest() != header["archive"]["blake3"]:
            result.problems.append(f"archive {header['archive']['name']} bytes differ from sealed hash")

    # -- restore -------------------------------------------------------------------------------

    def restore(self, ident: str, dest: Path) -> SnapshotInfo:
        """Write the files of snapshot ``ident`` into the new or empty directory ``dest``."""
        snap = self.resolve(ident)
        header = self._headers()[0][snap.id]
        dest = Path(dest)
        if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
            raise VaultError(f"restore target {dest} is not an empty directory")
        expected = self._file_list(header)
        with self.store.open(header["archive"]["name"]) as fh:
            members, _ = read_archive(fh)
            for src in members:
                rec = expected.pop(src.path, None)
                if rec is None or not _matches(src, rec):
                    why = "is not in the manifest" if rec is None else "does not match its hash"
                    raise VaultError(
                        f"snapshot {snap.id}: {src.path} {why}; restore in {dest} is incomplete",
                        hint=f"run `llmos vault verify {snap.id}`",
                    )
                _write(dest, src)
        if expected:
            raise VaultError(
                f"snapshot {snap.id}: {len(expected)} files missing from the archive (first: {min(expected)})",
                hint=f"run `llmos vault verify {snap.id}`",
            )
        return snap

    # -- retention -----------------------------------------------------------------------------

    def prune(self, ids: list[str] | None = None, now: datetime | None = None) -> list[str]:
        """Delete expired snapshots (all, or those in ``ids``) except the ``keep_hot`` newest.

        Raises :class:`VaultError`, deleting nothing, if a named snapshot is unexpired or hot.
        """
        now = now or datetime.now(timezone.utc)
        with self.store.lock():
            snaps = self.list()
            hot = {s.id for s in snaps[len(snaps) - self.config.keep_hot :]} if self.config.keep_hot else set()
            if ids is None:
                targets = [s for s in snaps if s.expired(now) and s.id not in hot]
            else:
                targets = [self.resolve(i) for i in ids]
                for s in targets:
                    if not s.expired(now):
                        raise VaultError(
                            f"snapshot {s.id} is retained until "
                            f"{s.retain_until:%Y-%m-%d %H:%M} UTC; refusing to delete it"
                        )
                    if s.id in hot:
                        raise VaultError(
                            f"snapshot {s.id} is one of the {self.config.keep_hot} "
                            "newest (keep_hot); refusing to delete it"
                        )
            for s in targets:
                self._bury(s, now)
        return [s.id for s in targets]

    def _bury(self, snap: SnapshotInfo, now: datetime) -> None:
        """Leave a tombstone, then delete the snapshot's objects (manifest last)."""
        stone = self.store.staging() / (snap.id + TOMBSTONE)
        stone.write_bytes(
            _canon({"id": snap.id, "seq": snap.seq, "hash": snap.hash, "pruned_at": now.isoformat()}) + b"\n"
        )
        self.store.put(snap.id + TOMBSTONE, stone, FOREVER)
        for suffix in (ARCHIVE, FILES, MANIFEST):
            self.store.delete(snap.id + suffix)

    def due(self, now: datetime | None = None) -> bool:
        """Is a snapshot due by ``interval_days`` (none yet, or the newest is older)?"""
        interval = self.config.interval_days
        if not interval:
            return False
        snaps = self.list()
        now = now or datetime.now(timezone.utc)
        return not snaps or now - snaps[-1].created >= timedelta(days=interval)


def _matches(src: Source, rec: dict[str, Any]) -> bool:
    return (
        len(src.data) == rec["size"]
        and src.mode == rec["mode"]
        and blake3.blake3(src.data).hexdigest() == rec["blake3"]
    )


def _write(dest: Path, src: Source) -> None:
    """Write one restored file under ``dest``, refusing paths that escape it."""
    parts = Path(src.path).parts
    if not parts or Path(src.path).is_absolute() or ".." in parts:
        raise VaultError(f"refusing to restore unsafe path {src.path!r}")
    target = dest.joinpath(*parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    if src.mode == "120000":
        os.symlink(src.data.decode("utf-8", "surrogateescape"), target)
        return
    target.write_bytes(src.data)
    os.chmod(target, 0o755 if src.mode == "100755" else 0o644)

"""Vault throughput: snapshot, verify and restore MB/s on a generated root of 10,000 files.

Baselines measured in the same run on the same tree:
  * ``tar | zstd -3 -T0`` of the working tree (what a shell backup would cost) vs snapshot;
  * reading every file and hashing it with blake3 (the floor for any verify) vs verify.

    python bench/vault.py [--files 10000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import blake3

from llmos.vault import Vault, VaultConfig

WORDS = (
    "agent memory trace kernel budget vault goal tool step model token reply soul tier "
    "alpha beta delta gamma distil promote commit ledger snapshot verify restore"
).split()
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def generate(root: Path, files: int, seed: int = 7) -> int:
    """Write ``files`` Markdown-ish files (log-normal sizes, ~6 KB median) and commit them."""
    rng = random.Random(seed)
    total = 0
    for i in range(files):
        size = min(int(rng.lognormvariate(8.7, 1.0)), 512_000)
        words = []
        n = 0
        while n < size:
            w = rng.choice(WORDS) if rng.random() < 0.8 else f"{rng.getrandbits(48):x}"
            words.append(w)
            n += len(w) + 1
        path = root / f"d{i % 97:02d}" / f"f{i:05d}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = (" ".join(words) + "\n").encode()
        path.write_bytes(data)
        total += len(data)
    env = {**os.environ, **GIT_ENV}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "bench"]):
        subprocess.run(["git", "-C", str(root), *args], check=True, env=env)
    return total


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def tar_zstd(root: Path, out: Path) -> None:
    cmd = f"tar -C {root} --exclude=.git --exclude=.llmos -cf - . | zstd -q -3 -T0 -o {out}"
    subprocess.run(cmd, shell=True, check=True)


def read_and_hash(root: Path) -> int:
    n = 0
    for dirpath, dirnames, names in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in (".git", ".llmos")]
        for name in names:
            data = (Path(dirpath) / name).read_bytes()
            blake3.blake3(data).digest()
            n += len(data)
    return n


def run(files: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="llmos-bench-vault-"))
    try:
        root = work / "root"
        root.mkdir()
        total = generate(root, files)
        mb = total / 1e6
        v = Vault(root, VaultConfig())
        t_snap, info = timed(v.snapshot)
        t_verify, results = timed(lambda: v.verify(info.id))
        assert all(r.ok for r in results), [r.lines() for r in results]
        t_restore, _ = timed(lambda: v.restore(info.id, work / "restored"))
        t_tar, _ = timed(lambda: tar_zstd(root, work / "base.tar.zst"))
        t_hash, _ = timed(lambda: read_and_hash(root))
        return {
            "files": info.files,
            "mb": round(mb, 2),
            "archive_mb": round(info.archive_bytes / 1e6, 2),
            "baseline_tar_zstd_mb": round((work / "base.tar.zst").stat().st_size / 1e6, 2),
            "snapshot_mb_s": round(mb / t_snap, 1),
            "verify_mb_s": round(mb / t_verify, 1),
            "restore_mb_s": round(mb / t_restore, 1),
            "baseline_tar_zstd_mb_s": round(mb / t_tar, 1),
            "baseline_read_hash_mb_s": round(mb / t_hash, 1),
            "snapshot_vs_tar_zstd": round(t_tar / t_snap, 2),
            "verify_vs_read_hash": round(t_hash / t_verify, 2),
        }
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(work)], check=False)
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    fig = run(args.files)
    if args.json:
        print(json.dumps(fig, indent=2))
        return
    print(
        f"root: {fig['files']} files, {fig['mb']} MB -> archive {fig['archive_mb']} MB "
        f"(tar|zstd -3: {fig['baseline_tar_zstd_mb']} MB)"
    )
    print(
        f"snapshot  {fig['snapshot_mb_s']:>8} MB/s   baseline tar|zstd -3 -T0 "
        f"{fig['baseline_tar_zstd_mb_s']:>8} MB/s   ratio {fig['snapshot_vs_tar_zstd']}x"
    )
    print(
        f"verify    {fig['verify_mb_s']:>8} MB/s   baseline read+blake3     "
        f"{fig['baseline_read_hash_mb_s']:>8} MB/s   ratio {fig['verify_vs_read_hash']}x"
    )
    print(f"restore   {fig['restore_mb_s']:>8} MB/s")


if __name__ == "__main__":
    main()

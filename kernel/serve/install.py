"""``llmos schedule install``: the scheduler without a process kept running.

systemd (a user timer): ``llmos-schedule-<id>.service`` runs ``llmos schedule run-due`` for the
root, and ``llmos-schedule-<id>.timer`` starts it every minute (``Persistent=true``: a minute missed
while the machine was off is made up at boot, and ``run-due`` runs each missed job once). crontab:
one line per job with its own cron expression (``llmos schedule run NAME``) and an ``@reboot`` line
for what was missed, between marker comments naming the root, so installing again replaces them and
leaves the rest of the crontab alone. Both run ``python -m llmos`` with the interpreter llmos is
installed in.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from .jobs import Job


def unit_id(root: Path) -> str:
    return hashlib.blake2b(str(Path(root).resolve()).encode(), digest_size=4).hexdigest()


def command(root: Path, *args: str) -> str:
    return shlex.join([sys.executable, "-m", "llmos", "--root", str(Path(root).resolve()), *args])


def systemd_units(root: Path) -> dict[str, str]:
    """File name -> text of the service and the timer."""
    name = f"llmos-schedule-{unit_id(root)}"
    service = (
        f"[Unit]\nDescription=llmos scheduled jobs of {root}\n\n"
        f"[Service]\nType=oneshot\nWorkingDirectory={root}\nExecStart={command(root, 'schedule', 'run-due')}\n"
    )
    timer = (
        f"[Unit]\nDescription=llmos scheduled jobs of {root}, checked every minute\n\n"
        "[Timer]\nOnCalendar=*-*-* *:*:00\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n"
    )
    return {f"{name}.service": service, f"{name}.timer": timer}


def systemd_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "systemd" / "user"


def install_systemd(root: Path, folder: Path | None = None) -> list[Path]:
    folder = folder or systemd_dir()
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in systemd_units(root).items():
        (folder / name).write_text(text, encoding="utf-8")
        written.append(folder / name)
    return written


def crontab_block(root: Path, jobs: list[Job]) -> str:
    root = Path(root).resolve()
    log = shlex.quote(str(root / ".llmos" / "schedule.log"))
    lines = [f"# llmos schedule {root} begin (written by llmos schedule install)"]
    lines += [f"{job.cron} {command(root, 'schedule', 'run', job.name)} >> {log} 2>&1" for job in jobs]
    lines += [f"@reboot {command(root, 'schedule', 'run-due')} >> {log} 2>&1", f"# llmos schedule {root} end"]
    return "\n".join(lines) + "\n"


def merged_crontab(existing: str, root: Path, jobs: list[Job]) -> str:
    """``existing`` with this root's block replaced (or added); other lines untouched."""
    begin, end = f"# llmos schedule {Path(root).resolve()} begin", f"# llmos schedule {Path(root).resolve()} end"
    out, skipping = [], False
    for line in existing.splitlines():
        if line.startswith(begin):
            skipping = True
        elif skipping and line.startswith(end):
            skipping = False
        elif not skipping:
            out.append(line)
    text = "\n".join(out).rstrip("\n")
    return (text + "\n" if text else "") + crontab_block(root, jobs)


def install_crontab(root: Path, jobs: list[Job]) -> str:
    """Merge the block into the user's crontab (``crontab -l`` / ``crontab -``); returns the new text."""
    tool = shutil.which("crontab")
    if tool is None:
        from ..errors import ConfigError

        raise ConfigError("there is no crontab command here", hint="use --systemd, or install cron")
    current = subprocess.run([tool, "-l"], capture_output=True, text=True)
    text = merged_crontab(current.stdout if current.returncode == 0 else "", root, jobs)
    subprocess.run([tool, "-"], input=text, text=True, check=True, capture_output=True)
    return text


def has_systemd() -> bool:
    return Path("/run/systemd/system").is_dir() and shutil.which("systemctl") is not None

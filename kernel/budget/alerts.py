"""Budget alerts: which thresholds a spend crossed, and telling a person (stderr + a command).

An alert is identified by ``ceiling|scope|limit|threshold``; the budget records each one in the
ledger under its lock before delivering it, so a crossing fires once even across processes. The
``alert_command`` runs (shell, cwd = the OS root) with the details in ``LLMOS_ALERT_*`` variables.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol, TextIO

EPSILON = 1e-9


class _AlertSettings(Protocol):
    alert_command: str | None
    alert_timeout: float


@dataclass(frozen=True)
class Alert:
    """``spent`` reached ``threshold`` x ``limit`` of ``ceiling`` in ``scope`` (or was refused)."""

    ceiling: str
    scope: str
    threshold: float
    limit: float
    spent: float
    refused: bool = False

    @property
    def key(self) -> str:
        return f"{self.ceiling}|{self.scope}|{self.limit:g}|{self.threshold:g}"

    @property
    def message(self) -> str:
        what = "refused a call at" if self.refused else "reached"
        return (
            f"llmos budget alert: {self.ceiling} ({self.scope}) {what} {self.threshold:.0%} "
            f"of ${self.limit:.2f} (spent ${self.spent:.4f})"
        )

    def record(self) -> dict[str, Any]:
        """The fields stored in the ledger's ``alert`` entry."""
        return {"key": self.key, **asdict(self)}

    def env(self) -> dict[str, str]:
        """Environment variables handed to ``alert_command``."""
        return {
            "LLMOS_ALERT_CEILING": self.ceiling,
            "LLMOS_ALERT_SCOPE": self.scope,
            "LLMOS_ALERT_THRESHOLD": f"{self.threshold:g}",
            "LLMOS_ALERT_LIMIT_USD": f"{self.limit:.6f}",
            "LLMOS_ALERT_SPENT_USD": f"{self.spent:.6f}",
            "LLMOS_ALERT_REFUSED": "1" if self.refused else "0",
            "LLMOS_ALERT_KEY": self.key,
            "LLMOS_ALERT_MESSAGE": self.message,
        }


def crossed_thresholds(
    ceiling: str, scope: str, limit: float | None, spent: float, fractions: list[float], *, refused: bool = False
) -> list[Alert]:
    """Alerts for every fraction of ``limit`` that ``spent`` has reached.

    A refusal counts as reaching every fraction >= 1.0: the ceiling stopped a call.
    """
    if limit is None:
        return []
    out = []
    for f in fractions:
        reached = limit > 0 and spent + EPSILON >= f * limit
        if reached or (refused and f >= 1.0):
            out.append(Alert(ceiling, scope, f, limit, spent, refused=refused and not reached))
    return out


def deliver(alerts: list[Alert], settings: _AlertSettings, root: Path, stream: TextIO) -> None:
    """Print each alert to ``stream`` and run the configured command once for it."""
    for alert in alerts:
        print(alert.message, file=stream, flush=True)
        if settings.alert_command:
            problem = run_command(settings.alert_command, alert, root, settings.alert_timeout)
            if problem:
                print(f"llmos: alert command failed: {problem}", file=stream, flush=True)


def run_command(command: str, alert: Alert, root: Path, timeout: float) -> str | None:
    """Run ``command`` for ``alert``; return what went wrong, or None."""
    env = {**os.environ, **alert.env(), "LLMOS_ROOT": str(root)}
    try:
        done = subprocess.run(
            command, shell=True, cwd=root, env=env, timeout=timeout, stdin=subprocess.DEVNULL, capture_output=True
        )
    except subprocess.TimeoutExpired:
        return f"{command!r} timed out after {timeout:g}s"
    except OSError as exc:
        return f"{command!r}: {exc}"
    if done.returncode != 0:
        err = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return f"{command!r} exited {done.returncode}" + (f": {err[-1]}" if err else "")
    return None

"""``llmos check``: every problem of an OS root (errors) and what is risky about its set-up (warnings)."""

from __future__ import annotations

from pathlib import Path

from .config import load_config
from .errors import DocumentError
from .kernel import Kernel


def check_root(root: Path) -> list[DocumentError]:
    """Every problem in ``root``: config first (nothing else can load without it), then the rest."""
    from .errors import ConfigError
    from .prompts import load_prompt

    try:
        kernel = Kernel(root)
    except DocumentError as exc:
        return [exc]
    errors = kernel.check()
    for name in ("agent", "local", "handoff"):
        try:
            load_prompt(kernel.root, name)
        except (ConfigError, DocumentError) as exc:
            errors.append(exc if isinstance(exc, DocumentError) else DocumentError(name, [(None, None, str(exc))]))
    return errors


def check_warnings(root: Path) -> list[str]:
    """What ``llmos check`` warns about without failing: an unsandboxed or over-privileged setup."""
    from fnmatch import fnmatchcase

    from .modes.jail import bwrap_path

    try:
        config = load_config(root)
    except DocumentError:
        return []  # check_root reports it
    out = []
    if bwrap_path() is None:
        if config.crystallize.unsandboxed:
            out.append(
                "crystallized tools run WITHOUT a sandbox (crystallize.unsandboxed: true, and bubblewrap is "
                "missing): a tool can read, write and send anything this user can; apt-get install bubblewrap"
            )
        else:
            out.append("bubblewrap is not installed: crystallized tools will be refused (apt-get install bubblewrap)")
    elif config.crystallize.unsandboxed:
        out.append("crystallize.unsandboxed is true; bubblewrap is installed and is used anyway")
    sensitive = [
        "system/llmos.yaml",
        "system/prompts/agent.md",
        "crystallized/x.py",
        "traces/2026/01/x.md",
        ".gitignore",
        "memory/delta/x.md",
    ]
    for grant in config.protection.grants:
        own = f"agents/{grant.agent}.md"
        hits = [t for t in [*sensitive, own] if any(fnmatchcase(t, p) for p in grant.paths)]
        if hits:
            out.append(
                f"protection.grants lets agent {grant.agent!r} write {', '.join(hits)}: it can raise its own "
                "rights or forge history in later runs"
            )
    return out

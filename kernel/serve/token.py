"""The bearer token of ``llmos serve``: ``.llmos/serve-token`` (mode 0600), made on first start.

The token is shown once, when it is made; later starts say where it is. It is registered with the
scrubber, so it never reaches a trace, memory, blob or commit. Delete the file to make a new one.
"""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path

from ..atomic import atomic_write
from ..scrub import register_secret

NAME = "serve-token"


def token_path(root: Path) -> Path:
    return Path(root) / ".llmos" / NAME


def ensure_token(root: Path) -> tuple[str, bool]:
    """The root's token and whether it was made just now."""
    path = token_path(root)
    try:
        token, made = path.read_text(encoding="utf-8").strip(), False
    except FileNotFoundError:
        token, made = "", True
    if len(token) < 32:
        token, made = secrets.token_urlsafe(32), True
        atomic_write(path, token + "\n", mode=0o600)
    register_secret(token, "llmos-serve-token")
    return token, made


def matches(given: str | None, token: str) -> bool:
    """Constant-time comparison (a wrong guess takes as long as a near miss)."""
    return bool(given) and hmac.compare_digest(given.encode(), token.encode())

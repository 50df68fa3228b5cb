"""Secret scrubbing: replace anything that looks like a credential before it is written anywhere.

Two sources of secrets:

* values (8+ characters) of environment variables named like ``*_KEY``, ``*_TOKEN``, ``*_SECRET``,
  ``*_PASSWORD`` (also ``*_PASSWD``, ``*_APIKEY``, ``*_CREDENTIALS``), replaced by
  ``[secret:VARIABLE_NAME]``; plus values registered with :func:`register_secret`;
* known key formats (Anthropic, OpenAI, GitHub, AWS, Slack, Google, PEM private keys), replaced by
  ``[secret:pattern-name]``; and secrets known by where they stand: the password of a URL
  (``postgres://admin:PASSWORD@host``) and an AWS secret access key after its name.

The environment is scanned once and cached; call :func:`refresh` after it changes. Plain
substring tests run before any regex, so text without secrets costs a few fast scans. The kernel runs
:func:`scrub` over everything it writes into traces, memories, blobs, commits and the vault.
"""

from __future__ import annotations

import os
import re
import threading
from typing import Any, Mapping

MIN_SECRET_LENGTH = 8
SECRET_NAME = re.compile(r"(?:^|_)(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD|APIKEY|CREDENTIALS?)$", re.IGNORECASE)

# Order matters: the more specific formats come first in the alternation.
PATTERNS: list[tuple[str, str]] = [
    (
        "private-key",
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----"
        r"(?:[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|[\s\S]*)",
    ),
    ("anthropic-key", r"(?<![A-Za-z0-9_-])sk-ant-[A-Za-z0-9_-]{16,}"),
    ("openai-key", r"(?<![A-Za-z0-9_-])sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"),
    ("github-pat", r"(?<![A-Za-z0-9_])github_pat_[A-Za-z0-9_]{22,}"),
    ("github-token", r"(?<![A-Za-z0-9_])gh[pousr]_[A-Za-z0-9]{30,}"),
    ("aws-access-key-id", r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])"),
    ("slack-token", r"(?<![A-Za-z0-9-])xox[abposr]-[A-Za-z0-9-]{10,}"),
    ("google-api-key", r"(?<![A-Za-z0-9_-])AIza[A-Za-z0-9_-]{35}"),
]
# Every known format starts with one of these literals: a cheap ``in`` test skips the regex.
_PREFIXES = ("-----BEGIN ", "sk-", "github_pat_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "AKIA", "ASIA", "xox", "AIza")
_ALTERNATION = "|".join(f"(?P<g{i}>{rx})" for i, (_, rx) in enumerate(PATTERNS))
_PATTERN_RE = re.compile(f"(?=[-sgAx])(?:{_ALTERNATION})")  # first-char guard: 5x faster
_PATTERN_NAMES = {f"g{i}": name for i, (name, _) in enumerate(PATTERNS)}
# Secrets known by where they stand rather than by their own shape.
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^\s/:@]+:)[^\s/@]+@")
_AWS_SECRET = re.compile(
    r"((?i:aws_?secret_?access_?key|aws_?secret|secret_?access_?key)[\"']?\s*[:=]\s*[\"']?)[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])"
)


def marker(name: str) -> str:
    """The text that replaces a secret called ``name``."""
    return f"[secret:{name}]"


class Scrubber:
    """Replaces known secret values and key formats in strings, bytes and nested containers."""

    def __init__(self, secrets: Mapping[str, str]):
        """``secrets`` maps a secret value to the name its marker shows."""
        self.secrets = dict(secrets)
        ordered = sorted(self.secrets, key=len, reverse=True)  # longest first: no partial leak
        self._values_re = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str] | None = None, extra: Mapping[str, str] | None = None
    ) -> "Scrubber":
        """A scrubber for the secret-named variables of ``environ`` (default ``os.environ``)."""
        env = os.environ if environ is None else environ
        found = {v: k for k, v in sorted(env.items()) if SECRET_NAME.search(k) and len(v) >= MIN_SECRET_LENGTH}
        found.update(extra or {})
        return cls(found)

    def text(self, s: str) -> str:
        """``s`` with every secret replaced by its marker."""
        if self._values_re is not None and any(v in s for v in self.secrets):
            s = self._values_re.sub(lambda m: marker(self.secrets[m.group(0)]), s)
        if any(p in s for p in _PREFIXES):
            s = _PATTERN_RE.sub(lambda m: marker(_PATTERN_NAMES[m.lastgroup or ""]), s)
        if "://" in s and "@" in s:  # scheme://user:PASSWORD@host: the password goes, the rest stays
            s = _URL_PASSWORD.sub(lambda m: m.group(1) + marker("url-password") + "@", s)
        if "ecret" in s or "ECRET" in s:  # aws_secret_access_key = <40 characters>, in any config format
            s = _AWS_SECRET.sub(lambda m: m.group(1) + marker("aws-secret-key"), s)
        return s

    def __call__(self, obj: Any) -> Any:
        """A scrubbed copy of ``obj`` (str, bytes, dict, list, tuple, set; others returned as is)."""
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, (bytes, bytearray)):
            out = self.text(bytes(obj).decode("utf-8", "surrogateescape"))
            return type(obj)(out.encode("utf-8", "surrogateescape"))
        if isinstance(obj, dict):
            return type(obj)((self(k), self(v)) for k, v in obj.items())
        if isinstance(obj, (list, tuple, set, frozenset)):
            items = [self(v) for v in obj]
            return type(obj)(*items) if hasattr(obj, "_fields") else type(obj)(items)
        return obj


_lock = threading.Lock()
_cached: Scrubber | None = None
_registered: dict[str, str] = {}


def refresh(environ: Mapping[str, str] | None = None) -> Scrubber:
    """Re-scan the environment (or ``environ``) and make that the scrubber :func:`scrub` uses."""
    global _cached
    with _lock:
        _cached = Scrubber.from_environ(environ, extra=_registered)
        return _cached


def register_secret(value: str, name: str) -> None:
    """Also scrub ``value`` (e.g. a key read from a file), shown as ``[secret:name]``."""
    if len(value) < MIN_SECRET_LENGTH:
        raise ValueError(f"secret {name!r} is shorter than {MIN_SECRET_LENGTH} characters")
    _registered[value] = name
    refresh()


def scrubber() -> Scrubber:
    """The cached scrubber (built from ``os.environ`` on first use)."""
    return _cached if _cached is not None else refresh()


def scrub(obj: Any) -> Any:
    """A copy of ``obj`` with anything that looks like a credential replaced by a marker."""
    return scrubber()(obj)

"""Secret scrubbing: environment secrets and known key formats, in nested structures."""

from __future__ import annotations

import json
import time
from collections import namedtuple

import pytest

from llmos import scrub as scrub_mod
from llmos.scrub import Scrubber, refresh, register_secret, scrub

ANTHROPIC = "sk-ant-api03-" + "A1b2C3d4" * 8
GITHUB = "ghp_" + "x7" * 18
PRIVATE = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA\n-----END OPENSSH PRIVATE KEY-----"


@pytest.fixture(autouse=True)
def fresh_env(monkeypatch):
    """Each test sets its own environment and re-scans it (then restores the cache)."""
    yield monkeypatch
    refresh()


def test_environment_secrets_are_named(fresh_env):
    fresh_env.setenv("ANTHROPIC_API_KEY", "plain-value-without-known-format")
    fresh_env.setenv("DB_PASSWORD", "hunter2hunter2")
    fresh_env.setenv("SHORT_TOKEN", "abc")  # under 8 characters: left alone
    fresh_env.setenv("HOME_DIRECTORY", "plain-value-without-known-format-not-secret")
    refresh()
    text = "key=plain-value-without-known-format pw=hunter2hunter2 t=abc"
    assert scrub(text) == "key=[secret:ANTHROPIC_API_KEY] pw=[secret:DB_PASSWORD] t=abc"


def test_env_cache_needs_refresh(fresh_env):
    refresh()
    fresh_env.setenv("LATE_SECRET", "added-after-the-scan")
    assert scrub("added-after-the-scan") == "added-after-the-scan"
    refresh()
    assert scrub("added-after-the-scan") == "[secret:LATE_SECRET]"


@pytest.mark.parametrize(
    "secret,name",
    [
        (ANTHROPIC, "anthropic-key"),
        ("sk-proj-" + "Zz9" * 10, "openai-key"),
        (GITHUB, "github-token"),
        ("github_pat_11ABCDEFG0" + "q" * 40, "github-pat"),
        ("AKIAIOSFODNN7EXAMPLE", "aws-access-key-id"),
        ("xoxb-1234567890-abcdefghij", "slack-token"),
        (PRIVATE, "private-key"),
    ],
)
def test_known_formats(secret, name):
    assert scrub(f"before {secret} after") == f"before [secret:{name}] after"


def test_lookalikes_are_left_alone():
    text = "task-abcdefghijklmnopqrstuvwxyz risk-assessment AKIA-short ghp_short sk-ant"
    assert scrub(text) == text


def test_nested_structures_are_copied_not_mutated(fresh_env):
    fresh_env.setenv("SERVICE_SECRET", "s3cr3t-value-123")
    refresh()
    Step = namedtuple("Step", "tool args")
    obj = {
        "tool": "http",
        "args": {"headers": [f"x-api-key: {ANTHROPIC}"], "body": b"token=s3cr3t-value-123\xff"},
        "result": (1, None, "ok s3cr3t-value-123"),
        "s3cr3t-value-123": True,
        "step": Step("write", ["s3cr3t-value-123"]),
    }
    before = json.dumps(obj, default=repr)
    out = scrub(obj)
    assert json.dumps(obj, default=repr) == before  # input untouched
    assert out["args"]["headers"] == ["x-api-key: [secret:anthropic-key]"]
    assert out["args"]["body"] == b"token=[secret:SERVICE_SECRET]\xff"  # undecodable byte kept
    assert out["result"] == (1, None, "ok [secret:SERVICE_SECRET]")
    assert out["[secret:SERVICE_SECRET]"] is True
    assert out["step"] == Step("write", ["[secret:SERVICE_SECRET]"])
    assert "s3cr3t" not in json.dumps(out, default=repr)


def test_longest_value_wins_and_register_secret(fresh_env):
    fresh_env.setenv("A_TOKEN", "abcdefgh")
    fresh_env.setenv("B_TOKEN", "abcdefgh-longer")
    refresh()
    assert scrub("abcdefgh-longer abcdefgh") == "[secret:B_TOKEN] [secret:A_TOKEN]"
    register_secret("from-a-key-file-xyz", "keyfile")
    try:
        assert scrub("x from-a-key-file-xyz") == "x [secret:keyfile]"
        with pytest.raises(ValueError):
            register_secret("short", "nope")
    finally:
        scrub_mod._registered.clear()


def test_scrubber_from_explicit_environ():
    s = Scrubber.from_environ({"MY_API_KEY": "0123456789", "PATH": "0123456789abc"})
    assert s("0123456789abc") == "[secret:MY_API_KEY]abc"  # the secret part only


def test_fast_enough_for_every_write(fresh_env):
    for i in range(20):
        fresh_env.setenv(f"SVC{i}_TOKEN", f"token-value-number-{i:04d}-xyz")
    refresh()
    blob = "ordinary trace text with tool output and numbers 12345 " * 20000  # ~1.1 MB
    start = time.perf_counter()
    assert scrub(blob) == blob
    assert time.perf_counter() - start < 2.0

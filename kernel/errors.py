"""Errors a person must fix. The CLI prints ``str(err)`` on one line and exits non-zero.

Mistakes of the *model* (bad tool arguments, refused paths) are not exceptions:
they become observations in the loop. Everything here is plain data: no logging.
"""

from __future__ import annotations


class LlmosError(Exception):
    """Base of every error llmos raises on purpose. ``exit_code`` is what the CLI returns."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None):
        self.message = message
        self.hint = hint
        super().__init__(message)

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class RootError(LlmosError):
    """No OS root where one was expected, or a root in a bad state (not a git repo...)."""


class ConfigError(LlmosError):
    """A setting that cannot be used as given (flag, environment variable, llmos.yaml)."""


class DocumentError(LlmosError):
    """A document (agent, soul, config, trace, memory) failed to parse or validate.

    ``problems`` lists every ``(line, field, message)`` found in ``path``.
    """

    def __init__(self, path: str, problems: list[tuple[int | None, str | None, str]]):
        self.path = path
        self.problems = problems
        super().__init__("; ".join(self.format_problem(p) for p in problems))

    def format_problem(self, problem: tuple[int | None, str | None, str]) -> str:
        line, field, message = problem
        where = f"{self.path}:{line}" if line else self.path
        return f"{where}: {field}: {message}" if field else f"{where}: {message}"

    def lines(self) -> list[str]:
        return [self.format_problem(p) for p in self.problems]


class AgentNotFound(LlmosError):
    """The named agent has no file in the root."""


class ModelSpecError(ConfigError):
    """A model spec (``--model``, agent ``model:``, config) that does not parse."""


class BackendError(LlmosError):
    """An LLM backend could not be used: missing package, key, file, or a failed call.

    ``billed`` says whether the provider may have charged for the failed call (a reply that arrived
    and was then rejected); the budget gate releases the reservation of a call that was not billed
    (no response, or an error status the provider does not bill)."""

    billed = False


class PluginError(LlmosError):
    """Two plugins claim one name, or a plugin registers something unusable."""


class ModelWorkerError(BackendError):
    """The local model's worker process crashed, hung, was killed, or refused a request."""


class ScriptError(BackendError):
    """A scripted-backend YAML file that is malformed or has run out of replies."""


class GoalError(LlmosError):
    """A goal that cannot be run (empty, too long)."""


class LockTimeout(LlmosError):
    """A file lock was held by another process for too long."""


class BudgetExceeded(LlmosError):
    """A model call was refused because its worst case does not fit a budget ceiling.

    ``ceiling`` names the ceiling (``per_run``, ``per_agent_day``, ``per_day``, ``total`` or
    ``price`` for a model without a known price); amounts are USD.
    """

    def __init__(
        self,
        message: str,
        *,
        ceiling: str,
        limit: float | None = None,
        spent: float = 0.0,
        needed: float = 0.0,
        hint: str | None = None,
    ):
        self.ceiling = ceiling
        self.limit = limit
        self.spent = spent
        self.needed = needed
        super().__init__(message, hint=hint)


class LedgerBroken(LlmosError):
    """The spend ledger cannot be read or its hash chain is broken: spending stops (fail closed)."""


class Halted(LlmosError):
    """The kill switch (a ``HALT`` file at the OS root) is set; ``reason`` says why."""

    def __init__(self, reason: str, *, hint: str | None = "run `llmos resume` to lift it"):
        self.reason = reason
        super().__init__(f"llmos is halted: {reason}", hint=hint)


class VaultError(LlmosError):
    """A vault operation that cannot be done: unknown or damaged snapshot, unexpired prune..."""


class BlobError(LlmosError):
    """The blob store cannot do what was asked (bad id, bad store directory, blob too large)."""


class BlobNotFound(BlobError):
    """No blob with this id is in the store (never written, or collected by gc)."""


class CorruptBlob(BlobError):
    """A stored record failed its checks. Names the pack file, byte offset and blob id."""

    def __init__(
        self,
        message: str,
        *,
        pack: str | None = None,
        offset: int | None = None,
        blob_id: str | None = None,
        hint: str | None = None,
    ):
        self.pack = pack
        self.offset = offset
        self.blob_id = blob_id
        where = ", ".join(
            f"{k} {v}" for k, v in (("pack", pack), ("offset", offset), ("blob", blob_id)) if v is not None
        )
        super().__init__(
            f"{message} [{where}]" if where else message,
            hint=hint or "run `llmos blobs check --read-data` to list every damaged record",
        )


class TraceNotFound(LlmosError):
    """No trace with the given id (or id prefix) in the root."""


class MemoryNotFound(LlmosError):
    """No memory document has the given id."""


class WorkingMemoryTooLarge(LlmosError):
    """A working-memory write over the cap in system/llmos.yaml; says both sizes."""

    def __init__(self, message: str, *, size: int, cap: int, hint: str | None = None):
        self.size = size
        self.cap = cap
        super().__init__(message, hint=hint)


class DreamError(LlmosError):
    """A dream cycle that cannot go on (git refused, recall got worse, a bad dream branch); nothing
    half-done is left behind."""

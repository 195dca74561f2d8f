"""One error family: every error water raises for a user to read is here, with its exit code. The message is
exactly what the user reads; the CLI and `water-job` print it one way (one line, or one line per problem) and
exit with the code: 1 failed, 2 bad input (retrying cannot help)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

FAILED, BAD_INPUT = 1, 2


class WaterError(Exception):
    """Something failed (exit 1): the message says what, on one line."""

    exit_code = FAILED


class BadInput(WaterError):
    """What was given cannot be used (exit 2): a spec, a flag, a step's config. Retrying cannot help, so neither
    Argo nor a CronJob retries a step that exits with it."""

    exit_code = BAD_INPUT


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a spec, located in its file."""

    file: str
    line: int
    col: int
    field: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}: "
        field = f"{self.field}: " if self.field else ""
        hint = f" ({self.hint})" if self.hint else ""
        return _one_line(f"{where}{field}{self.message}{hint}")


_BREAKS = {ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t", 0x85: "\\x85", 0x2028: "\\u2028",
           0x2029: "\\u2029"}


def _one_line(text: str) -> str:
    """A problem is one line: breaks inside the user's own text (a name ending in a newline) are shown escaped."""
    return text.translate(_BREAKS)


class SpecError(BadInput):
    """The spec is invalid; carries every problem found, sorted by position."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(p) for p in self.problems))


class TooLarge(BadInput):
    """A rendered object the API server would refuse for its size."""


class UnreadableSpec(BadInput):
    """The spec cannot be read: what was given cannot be checked."""


class BadParameter(BadInput):
    """A --param that cannot be taken."""


class JobFailed(WaterError):
    """A step's job or command failed (`water-job`); the message is the service's own reason, `log` the end of the
    job's own log where there is one."""

    def __init__(self, message: str, log: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.log = list(log)


class StepFailed(WaterError):
    """A step of a local run failed; the message is the reason, `log` the path of its log."""

    def __init__(self, message: str, log: str = "") -> None:
        super().__init__(message)
        self.log = log


# --- the cluster ------------------------------------------------------------------------------------------------

class ClusterError(WaterError):
    """One line: what failed, on which context and server."""


class Unreachable(ClusterError):
    """No answer from the server; `connection`: the connection itself failed (a later try may get through)."""

    def __init__(self, message: str, connection: bool) -> None:
        super().__init__(message)
        self.connection = connection


class ApiError(ClusterError):
    """The API server's refusal, with its Status: `status` (HTTP), `reason`, `detail` (its message, without where
    it came from), `details` (what it names: `name`, `kind` as the resource's plural, `group`), `retry_after`."""

    def __init__(self, status: int, reason: str, message: str, detail: str | None = None, details: dict | None = None,
                 retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status, self.reason = status, reason
        self.detail = message if detail is None else detail
        self.details = details or {}
        self.retry_after = retry_after


class Unauthorized(ApiError):
    pass


class Forbidden(ApiError):
    pass


class NotFound(ApiError):
    pass


class AlreadyExists(ApiError):
    pass


class Conflict(ApiError):
    """A resourceVersion precondition, or fields another field manager owns."""


class ServerError(ApiError):
    """429 or a 5xx: the server's trouble, retried for idempotent calls."""


def api_error_type(status: int, reason: str) -> type:
    """The ApiError subclass for a Status: by its reason where the code is shared (409)."""
    if status == 409:
        return AlreadyExists if reason == "AlreadyExists" else Conflict
    return {401: Unauthorized, 403: Forbidden, 404: NotFound}.get(status) or (
        ServerError if status == 429 or status >= 500 else ApiError)


class NotDeployed(ClusterError):
    """The pipeline named is not on the cluster."""


class DeployError(ClusterError):
    """A deploy stopped: what was applied, what not, and how to go back."""


class InstallError(BadInput):
    """`water install` was given what it cannot use."""


class DatadogError(WaterError):
    def __init__(self, message: str, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient  # a rate limit, a 5xx or no answer: a later call may get through

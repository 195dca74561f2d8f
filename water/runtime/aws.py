"""The one place boto3 clients are made (Clients, passed in to water-job): standard retries (adaptive on
throttling), endpoints from the standard AWS_ENDPOINT_URL variables, and botocore event hooks the caller gives."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

MARKER = "_water-job.json"  # water's record of the AWS job a step started: kept beside its output, not data
# 4xx answers a later attempt of the step can get past: throttling that outlasted botocore's own retries, and
# web-identity credentials not yet usable (IRSA's token as a pod starts). Every 5xx is retryable too.
RETRYABLE = frozenset({
    "Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded", "SlowDown",
    "ProvisionedThroughputExceededException", "RequestTimeout", "RequestTimeoutException",
    "InvalidIdentityToken", "IDPCommunicationError", "ExpiredToken", "ExpiredTokenException",
})


class Clients:
    """Makes the boto3 clients of a step. `hooks`: (botocore event, handler) pairs registered on every client made,
    e.g. ("before-send.athena", f): how tests bridge what moto's server does not do (a job that keeps running, a
    lost answer) without replacing the client."""

    def __init__(self, hooks: Sequence[tuple[str, Callable[..., Any]]] = ()) -> None:
        self.hooks = hooks

    def __call__(self, service: str, region: str | None = None, *, retries: bool = True, quick: bool = False) -> Any:
        """`retries=False`: one attempt per call, for creates (the caller looks for what a lost answer may have made
        before it asks again) and stops; `quick`: short timeouts, for what must finish within a pod's grace
        period."""
        import boto3
        from botocore.config import Config

        config = Config(retries={"mode": "adaptive", "max_attempts": 10} if retries else {"total_max_attempts": 1},
                        connect_timeout=3 if quick else 10, read_timeout=10 if quick else 60)
        made = boto3.session.Session(region_name=region).client(service, config=config)
        for event, handler in self.hooks:
            made.meta.events.register(event, handler)
        return made


client = Clients()  # a pod's: no hooks


def refusal(exc: Exception) -> tuple[str, bool] | None:
    """For an error botocore raised: (what AWS or botocore said, on one line; whether retrying the step may get
    past it). None for anything else. A request AWS refuses as such (4xx) or botocore finds malformed stays so."""
    from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500)
        said = f"{exc.operation_name}: {error.get('Code', '')}: {error.get('Message', '')}"
        return _one_line(said), status >= 500 or error.get("Code") in RETRYABLE
    if isinstance(exc, BotoCoreError):  # the request itself, or no credentials, connection or endpoint
        return _one_line(str(exc)), not isinstance(exc, ParamValidationError)
    return None


def asking(what: str, call: Callable[[], Any], error: type | None = None, then: str = "") -> Any:
    """call()'s answer; what AWS (or botocore) refused raised as `error` (default WaterError) in one line after
    `what`, then `then` (what that leaves) on a line of its own."""
    from water.errors import WaterError

    try:
        return call()
    except Exception as exc:
        said = refusal(exc)
        if said is None:
            raise
        raise (error or WaterError)(f"{what}: {said[0]}" + (f"\n{then}" if then else "")) from None


def transient(exc: Exception) -> bool:
    """An error a later call may get past: throttling, a 5xx, a lost connection or answer."""
    said = refusal(exc)
    return bool(said and said[1])


def _said(exc: Exception) -> tuple[str, str]:
    """(code, message in lower case) of an AWS error answer; empty for anything else."""
    error = (getattr(exc, "response", None) or {}).get("Error", {})
    return error.get("Code", ""), str(error.get("Message", "")).lower()


# "404": S3's HeadObject of a missing key, whose answer has no body, so botocore names the error after the status
NOT_FOUND = frozenset({"EntityNotFoundException", "ResourceNotFound", "ResourceNotFoundException", "NoSuchBucket",
                       "NoSuchKey", "404"})


def not_found(exc: Exception) -> bool:
    """AWS says the thing asked about does not exist (SageMaker says so in a ValidationException: "not found",
    moto's "could not find", or for a model package group "ModelPackageGroup arn:... does not exist." as moto
    answers DescribeModelPackageGroup; Athena in an InvalidRequestException about an unknown query id)."""
    code, message = _said(exc)
    if code == "ValidationException":
        return "not found" in message or "could not find" in message or "does not exist" in message
    if code == "InvalidRequestException":
        return "not found" in message
    return code in NOT_FOUND


def already_exists(exc: Exception) -> bool:
    """AWS refused a create because the name is taken: SageMaker answers CreateTrainingJob (and the other job
    creates) with ResourceInUse "... a training job with this name already exists", CreateModel with a
    ValidationException "Cannot create already existing model"."""
    code, message = _said(exc)
    return code in ("ValidationException", "ResourceInUse", "ResourceInUseException") and "already exist" in message


def made(create: Callable[[], Any]) -> bool:
    """Call a create whose name is ours (the run's, or its content's): True if this call made it, False if it was
    there already ("already exists": an earlier call of ours made it)."""
    try:
        create()
    except Exception as exc:
        if not already_exists(exc):
            raise
        return False
    return True


def _one_line(text: str) -> str:
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


def s3_parts(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key


def data_objects(s3: Any, uri: str) -> Iterator[dict]:
    """The objects under an S3 prefix (ListObjectsV2's entries, paginated), water's own marker left out."""
    bucket, prefix = s3_parts(uri)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", ()):
            if not obj["Key"].endswith(MARKER):
                yield obj


def measure_prefix(s3: Any, uri: str) -> tuple[int, int]:
    """(bytes, objects) of the data under an S3 prefix."""
    total = count = 0
    for obj in data_objects(s3, uri):
        total += obj["Size"]
        count += 1
    return total, count

"""What a step sees in its pod: its config, the values of its expressions, where outputs go."""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import time
from datetime import datetime, timezone

from water import expressions
from water.contract import OUTPUTS_DIR
from water.runtime import aws
from water.runtime.metrics import Metrics


class BadInput(Exception):
    """The step cannot run as given (exit 2: retrying will not help)."""


class JobFailed(Exception):
    """The AWS job or the command failed; the message is the service's own reason (exit 1), `log` the end
    of the job's own log where there is one."""

    def __init__(self, message: str, log: list = ()):
        super().__init__(message)
        self.log = list(log)


class Config(dict):
    """A step config as decoded: a missing field is bad input, named, not a KeyError from deep inside."""

    def __missing__(self, key):
        raise BadInput(f"the step config has no {key!r}")


def _decoded(config: str):
    return json.loads(base64.b64decode(config, validate=True), object_hook=Config)


class Job:
    def __init__(self, config: dict, refs: dict, env: dict, shard: str = "0/1"):
        self.config, self.refs, self.env, self.shard = config, refs, env, shard
        self.outputs_dir = env.get("WATER_OUTPUTS_DIR", OUTPUTS_DIR)
        self.running = None  # (description, stop, is an AWS job) of what the step waits for: see attached()
        self.job_started = 0.0
        self.extra: dict = {}  # notify's --status, --failures, --duration
        self.metrics = Metrics([f"pipeline:{self.pipeline}", f"step:{self.step}", f"kind:{self.kind}"])

    @classmethod
    def from_arguments(cls, config: str, refs: str, env: dict, shard: str = "0/1", shared: str = "") -> "Job":
        """`config`: the step's own part (base64 JSON); `shared`: the part its template gives every step."""
        try:
            own, common = _decoded(config), _decoded(shared) if shared else {}
            parsed_refs = json.loads(refs or "{}")
        except (binascii.Error, ValueError) as exc:
            raise BadInput(f"unreadable step config: {exc}") from None
        if not all(isinstance(part, dict) for part in (own, common, parsed_refs)):
            raise BadInput("unreadable step config: expected JSON objects")
        index, _, count = shard.partition("/")
        if not (index.isdigit() and count.isdigit() and int(index) < int(count)):
            raise BadInput(f"--shard {shard!r}: expected i/n with 0 <= i < n")
        return cls(Config({**common, **own}), parsed_refs, env, shard)

    pipeline = property(lambda self: self.config.get("pipeline", ""))
    step = property(lambda self: self.config.get("step", ""))
    kind = property(lambda self: self.config.get("kind", ""))
    spec = property(lambda self: self.config.get("spec", Config()))
    timeout = property(lambda self: self.config.get("timeout", 6 * 3600))

    @property
    def run_id(self) -> str:
        return self.env.get("WATER_RUN_ID") or "manual"

    def values(self) -> dict:
        date = self.env.get("WATER_RUN_DATE") or datetime.now(timezone.utc).strftime("%Y-%m-%d")
        values = {"run.id": self.run_id, "run.date": date}
        values.update({f"params.{k[len('WATER_PARAM_'):]}": v for k, v in self.env.items()
                       if k.startswith("WATER_PARAM_")})
        values.update(self.refs)
        return values

    def resolve(self, text: str) -> str:
        try:
            return expressions.substitute(text, self.values())
        except KeyError as exc:
            raise BadInput(f"no value for {{{{{exc.args[0]}}}}} (is its parameter or upstream step missing?)") from None
        except expressions.ExpressionError as exc:  # checked when rendering: only a config made otherwise has it
            raise BadInput(f"{text!r}: {exc}") from None

    def token(self, size: int = 64) -> str:
        """An idempotency token: the same for every attempt of this step in this run."""
        return hashlib.sha256(f"{self.pipeline}/{self.step}/{self.run_id}".encode()).hexdigest()[:size]

    def client(self, service: str):
        return aws.client(service, (self.config.get("aws") or {}).get("region"))

    def attached(self, description: str, stop, aws_job: bool = True) -> None:
        """Say what the step now waits for and how to stop it: an AWS job (stopped on SIGTERM only if the run
        was ended on purpose), or a process of this pod (always stopped: it dies with the pod anyway)."""
        self.running = (description, stop, aws_job)
        self.job_started = time.monotonic()
        print(description, flush=True)

    def on_terminate(self) -> str:
        """What SIGTERM does to the AWS job: stop it if the run was stopped, terminated or deleted (asked of
        the run's Workflow; WATER_ON_TERM=stop|leave decides instead), else leave it to the retry that
        re-attaches. Returns the line to log."""
        if self.running is None:
            return "terminated before any AWS job started"
        description, stop, aws_job = self.running
        ended, why = self._run_ended() if aws_job else (True, "")
        if ended:
            stop()
            return f"terminated{why}: stopped {description}"
        return f"terminated{why}: left {description} running, to be re-attached by the next attempt"

    def _run_ended(self) -> tuple[bool, str]:
        """(whether the run is over, why, as a clause for the log line)."""
        choice = self.env.get("WATER_ON_TERM", "")
        if choice in ("stop", "leave"):
            return choice == "stop", ""
        from water.runtime import workflow

        try:
            ended = workflow.ended_on_purpose(self.run_id, self.env)
        except workflow.Unknown as exc:
            return False, f" ({exc}: cannot tell whether the run was stopped)"
        return bool(ended), f" (the run was {ended})" if ended else " (the run goes on)"

    def write_outputs(self, outputs: dict) -> None:
        os.makedirs(self.outputs_dir, exist_ok=True)
        for name, value in outputs.items():
            with open(os.path.join(self.outputs_dir, name), "w", encoding="utf-8") as f:
                f.write(str(value))


class Marker:
    """The id of the AWS job a step started, kept under its output prefix: a restarted pod reads it first
    and attaches to that job instead of starting another (services' own tokens are not always honoured)."""

    NAME = aws.MARKER

    def __init__(self, job: Job, s3, output_uri: str):
        self.s3, self.job = s3, job
        self.bucket, prefix = aws.s3_parts(output_uri)
        self.key = f"{prefix.rstrip('/')}/{self.NAME}" if prefix else self.NAME

    def read(self) -> str | None:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=self.key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None
        record = json.loads(body)
        return record["id"] if record.get("run") == self.job.run_id else None

    def write(self, job_id: str) -> None:
        body = json.dumps({"run": self.job.run_id, "step": self.job.step, "id": job_id}).encode()
        self.s3.put_object(Bucket=self.bucket, Key=self.key, Body=body)

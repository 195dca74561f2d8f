"""What a step sees in its pod: its config, the values of its expressions, where outputs go."""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from water import backoff, contract, expressions
from water.errors import BadInput, JobFailed  # noqa: F401 - the kinds' runtimes find them here
from water.runtime import aws
from water.runtime.metrics import Metrics
from water.schedule import in_zone

STOP_BUDGET = 20.0  # seconds a SIGTERM'd step spends stopping its job; step pods get contract.GRACE_PERIOD


class Config(dict):
    """A step config as decoded: a missing field is bad input, named, not a KeyError from deep inside."""

    def __missing__(self, key):
        raise BadInput(f"the step config has no {key!r}")


def _decoded(config: str):
    return json.loads(base64.b64decode(config, validate=True), object_hook=Config)


def task_of(key: str) -> str:
    """The task a pod's `{{tasks.name}}` names: a fanned-out task's pods are named `TASK(INDEX:ITEM)` by Argo
    (workflow/controller/operator.go generateNodeName), and no task of water's has a parenthesis in its name."""
    return key.partition("(")[0]


def _mounted(key: str, steps_dir: str):
    """The task's own config from the steps' ConfigMaps mounted in its pod (water.render.configs)."""
    path = os.path.join(steps_dir, task_of(key))
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f, object_hook=Config)
    except FileNotFoundError:
        raise BadInput(f"no config for task '{task_of(key)}' in {steps_dir}: the steps' ConfigMaps mounted there "
                       "hold no such task (the template and the ConfigMaps it mounts disagree)") from None


class Job:
    def __init__(self, config: dict, refs: dict, env: dict, shard: str = "0/1",
                 sleep: Callable[[float], object] | None = None, clients: aws.Clients = aws.client) -> None:
        self.config, self.refs, self.env, self.shard, self.sleep = config, refs, env, shard, sleep
        self.clients = clients
        self.outputs_dir = env.get(contract.OUTPUTS_DIR_ENV, contract.OUTPUTS_DIR)
        self.running: tuple | None = None  # (description, stop, is an AWS job) of what the step waits for: attached()
        self.job_started = 0.0
        self.extra: dict = {}  # notify's --status, --failures, --duration
        self.metrics = Metrics([f"pipeline:{self.pipeline}", f"step:{self.step}", f"kind:{self.kind}"])

    @classmethod
    def from_arguments(cls, config: str, refs: str, env: dict, shard: str = "0/1", shared: str = "",
                       sleep: Callable[[float], object] | None = None, clients: aws.Clients = aws.client,
                       key: str = "", steps_dir: str = contract.STEPS_DIR) -> "Job":
        """The step's own part of its config: under `key` (its task) in `steps_dir`, else `config` (base64 JSON,
        as the CronJob runner and templates rendered before pass it); `shared`: the part its template gives every
        step."""
        try:
            own = _mounted(key, steps_dir) if key else _decoded(config)
            common = _decoded(shared) if shared else {}
            parsed_refs = json.loads(refs or "{}")
        except (binascii.Error, ValueError) as exc:
            raise BadInput(f"unreadable step config: {exc}") from None
        if not all(isinstance(part, dict) for part in (own, common, parsed_refs)):
            raise BadInput("unreadable step config: expected JSON objects")
        index, _, count = shard.partition("/")
        if not (index.isdigit() and count.isdigit() and int(index) < int(count)):
            raise BadInput(f"--shard {shard!r}: expected i/n with 0 <= i < n")
        return cls(Config({**common, **own}), parsed_refs, env, shard, sleep, clients)

    pipeline = property(lambda self: self.config.get("pipeline", ""))
    step = property(lambda self: self.config.get("step", ""))
    kind = property(lambda self: self.config.get("kind", ""))
    spec = property(lambda self: self.config.get("spec", Config()))
    timeout = property(lambda self: self.config.get("timeout", 6 * 3600))

    @property
    def run_id(self) -> str:
        return self.env.get(contract.RUN_ID_ENV) or "manual"

    def run_date(self) -> str:
        """{{run.date}}: the date, in the schedule's time zone, of the time the run stands for — its scheduled time
        (a CronWorkflow's, or what `water run --date` set), else its creation, else now; WATER_RUN_DATE as given
        (local runs, manifests rendered before)."""
        if self.env.get(contract.RUN_DATE_ENV):
            return self.env[contract.RUN_DATE_ENV]
        instant = datetime.now(timezone.utc)
        for name in (contract.SCHEDULED_TIME_ENV, contract.CREATED_TIME_ENV):
            text = self.env.get(name, "")
            if text and not text.startswith("{{"):  # Argo leaves a variable it has no value for as written
                try:
                    instant = datetime.fromisoformat(text)
                except ValueError:
                    raise BadInput(f"{name}={text!r} is not an RFC 3339 time") from None
                break
        return in_zone(instant, self.config.get("timezone")).strftime("%Y-%m-%d")

    def tags(self) -> list:
        """What every AWS resource the step creates is tagged with: its pipeline, run and step, and the git commit
        it was deployed from (from the pod's annotation; SageMaker refuses an empty value, so none is left out)."""
        found = {"water/pipeline": self.pipeline, "water/run": self.run_id, "water/step": self.step,
                 "water/git-commit": self.env.get(contract.GIT_COMMIT_ENV, "")}
        return [{"Key": k, "Value": v} for k, v in found.items() if v]

    def values(self) -> dict:
        values = {"run.id": self.run_id, "run.date": self.run_date(),
                  "git.commit": self.env.get(contract.GIT_COMMIT_ENV, ""),
                  "git.branch": self.env.get(contract.GIT_BRANCH_ENV, "")}
        prefix = contract.PARAM_ENV_PREFIX
        values.update({f"params.{k[len(prefix):]}": v for k, v in self.env.items() if k.startswith(prefix)})
        values.update(self.refs)
        return values

    def resolve(self, text: str) -> str:
        try:
            return expressions.substitute(text, self.values())
        except KeyError as exc:
            raise BadInput(f"no value for {{{{{exc.args[0]}}}}} (is its parameter or upstream step missing?)") from None
        except expressions.ExpressionError as exc:  # checked when rendering: only a config made otherwise has it
            raise BadInput(f"{text!r}: {exc}") from None

    @property
    def attempt(self) -> int:
        """Which attempt of the step this pod is: Argo's {{retries}} (0 the first), as WATER_ATTEMPT."""
        value = self.env.get(contract.ATTEMPT_ENV, "0")
        return int(value) if value.isdigit() else 0

    def token(self, size: int = 64, attempt: int | None = None) -> str:
        """An idempotency token: the same for every call within one attempt of this step in this run, another
        for each retry."""
        key = attempt_key(self.pipeline, self.step, self.run_id, self.attempt if attempt is None else attempt)
        return hashlib.sha256(key.encode()).hexdigest()[:size]

    def client(self, service: str, **options: Any) -> Any:
        """A client of `service` in the pipeline's region, from the factory the step was given."""
        return self.clients(service, (self.config.get("aws") or {}).get("region"), **options)

    def reattach(self, find: Callable[..., Any], usable: Callable[[Any], bool]) -> Any:
        """What the step should wait for instead of starting a job: the newest job this step made in this run
        (`find(attempt)`, from this attempt back to the first), if it is this attempt's own or `usable` (still
        running or succeeded). A job an earlier attempt saw fail or stop is what the retry is for: None."""
        for attempt in range(self.attempt, -1, -1):
            found = find(attempt)
            if found is not None:
                return found if attempt == self.attempt or usable(found) else None
        return None

    def create(self, make: Callable[[], Any], find: Callable[..., Any]) -> Any:
        """Start this attempt's AWS job exactly once. `make()` runs with botocore's retries off (a retried create
        whose first answer was lost starts a second job); after an answer that did not come (a 5xx, throttling,
        a reset) `find()` looks for the job it may have made before make() is tried again, and a name already
        taken by this attempt's own job means attach. Returns what make() or find() gave."""
        def once():
            try:
                return make()
            except Exception as exc:
                if aws.already_exists(exc):
                    found = find()
                    if found is None:
                        raise
                    print("the job already exists (an earlier call made it): attaching", flush=True)
                    return found
                said = aws.refusal(exc)
                if not (said and said[1]):  # not transient: no later call gets past it
                    raise
                print(f"no answer to the create ({said[0]}): looking for the job it may have made",
                      flush=True)
                return find()

        return self.wait(once)

    def wait(self, check: Callable[[], Any], **policy: Any) -> Any:
        """poll.wait within the step's timeout, sleeping as the step was told to (tests pass a fake clock's)."""
        from water.runtime import poll

        options = {**policy, **({"sleep": self.sleep} if self.sleep else {})}
        return poll.wait(check, timeout=self.timeout, **options)

    def attached(self, description: str, stop: Callable[[], Any] | None, aws_job: bool = True) -> None:
        """Say what the step now waits for and how to stop it: an AWS job (stopped on SIGTERM only if the run
        was ended on purpose; None: it cannot be stopped), or a process of this pod (always stopped: it dies with
        the pod anyway)."""
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
        if stop is None:
            return f"terminated: left {description} to finish (it cannot be stopped); the next attempt waits for it"
        ended, why = self._run_ended() if aws_job else (True, "")
        if not ended:
            return f"terminated{why}: left {description} running, to be re-attached by the next attempt"
        budget = float(self.env.get(contract.STOP_BUDGET_ENV) or STOP_BUDGET)
        failed = stop_within(stop, budget)
        if failed:
            return (f"terminated{why}: could not stop {description} within {budget:.0f}s ({failed}); the run's "
                    "cleanup stops it if the run fails")
        return f"terminated{why}: stopped {description}"

    def _run_ended(self) -> tuple[bool, str]:
        """(whether the run is over, why, as a clause for the log line)."""
        choice = self.env.get(contract.ON_TERM_ENV, "")
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
            with open(os.path.join(self.outputs_dir, contract.output_param(name)), "w", encoding="utf-8") as f:
                f.write(str(value))


MAX_ATTEMPTS = 100  # the attempts cleanup looks through for a step's jobs: a step's retries are far fewer


def attempt_key(pipeline: str, step: str, run_id: str, attempt: int = 0) -> str:
    """What names one attempt of a step in a run (its AWS job's name, token or tag are made from it); attempt 0
    keeps the form manifests rendered before attempts had, so their jobs are found."""
    return f"{pipeline}/{step}/{run_id}" + (f"#{attempt}" if attempt else "")


def stop_within(stop: Callable[[], Any], budget: float, clock: Callable[[], float] = time.monotonic,
                sleep: Callable[[float], object] = time.sleep) -> str:
    """Call stop() (whose client makes one quick attempt per call) until it succeeds, AWS refuses it as such,
    or `budget` seconds pass: the kubelet kills the pod at its grace period, mid-call or not. Returns "" when
    stopped, else why not."""
    try:
        backoff.retry(stop, backoff.Policy(first=1.0, cap=5.0, deadline=budget, jitter=False),
                      retryable=aws.transient, sleep=sleep, clock=clock)
        return ""
    except Exception as exc:  # noqa: BLE001 - any failure to stop is reported, never raised past SIGTERM
        said = aws.refusal(exc)
        return said[0] if said else f"{type(exc).__name__}: {exc}"


class Marker:
    """The id of the AWS job a step started, kept under its output prefix: a restarted pod reads it first
    and attaches to that job instead of starting another (services' own tokens are not always honoured)."""

    NAME = aws.MARKER

    def __init__(self, job: Job, s3: Any, output_uri: str) -> None:
        self.s3, self.job = s3, job
        self.bucket, prefix = aws.s3_parts(output_uri)
        self.key = f"{prefix.rstrip('/')}/{self.NAME}" if prefix else self.NAME

    def read(self, attempt: int | None = None) -> str | None:
        """The id of the job this run's step started last, if that was in `attempt` (default: any)."""
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=self.key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None
        record = json.loads(body)
        if record.get("run") != self.job.run_id or attempt not in (None, record.get("attempt", 0)):
            return None
        return record["id"]

    def write(self, job_id: str) -> None:
        body = json.dumps({"run": self.job.run_id, "step": self.job.step, "id": job_id,
                           "attempt": self.job.attempt}).encode()
        self.s3.put_object(Bucket=self.bucket, Key=self.key, Body=body)

"""`glue`: an AWS Glue job run with the step's arguments and workers."""
from __future__ import annotations

import importlib.util
import os
import re
from typing import TYPE_CHECKING, Any

from water.errors import JobFailed, StepFailed
from water.spec.fields import Map, Model, SpecModel, as_data, field
from water.spec.types import TEXT, Enum, Int, S3Uri, Str
from water.steps.base import NUMBER, PREFIX, Kind, named_script

if TYPE_CHECKING:
    from water.local.context import StepRun
    from water.runtime.job import Job
    from water.spec.fields import Ctx
    from water.steps.base import Prepared


class GlueWorkers(SpecModel):
    """Glue worker type and count."""

    type: str = field(Enum("G.025X", "G.1X", "G.2X", "G.4X", "G.8X", "Z.2X"), "Worker type.", default="G.1X")
    count: int = field(Int(2, 1000), "Number of workers.", default=2)


class GlueSpec(SpecModel):
    """Run an AWS Glue job."""

    job: str = field(Str(r"^[\w.\- ]{1,255}$", "a Glue job name"), "Name of the Glue job.", required=True)
    arguments: dict = field(Map(Str(r"^--[A-Za-z0-9_.-]+$", "a Glue argument name (--name)"), TEXT),
                            "Job arguments (`--name: value`); values may hold expressions.", default={})
    workers: GlueWorkers = field(Model(GlueWorkers), "Worker type and count (default: the job's own).")
    output: str = field(S3Uri(), "The step's output (default: the `--output` argument, if any).")
    script: str = field(Str(r"^[\w./-]+\.py$", "a Python file in the project"), "The job's script in the project: "
                        "what local runs execute (on AWS the Glue job runs the script it is defined with).")


class Glue(Kind):
    name = "glue"
    spec = GlueSpec
    outputs = {"output": PREFIX, "bytes": NUMBER}
    stop_keys = ("job",)

    def step_outputs(self, config: Any) -> tuple:
        return tuple(self.outputs) if config.output or "--output" in config.arguments else ()

    def prepare(self, config: Any, project_dir: str, path: str, ctx: Ctx) -> Prepared:
        return named_script(config, "script", "script", project_dir, path, ctx)

    def job_config(self, config: Any, prepared: Prepared) -> dict:
        data = as_data(config)
        if not config.output and "--output" in config.arguments:
            data["output"] = config.arguments["--output"]
        return data

    def run_local(self, sr: StepRun) -> dict:
        config = sr.step.config
        if not config.script:
            raise StepFailed("set glue.script to the job's script to run this step locally")
        with open(os.path.join(sr.project_dir, config.script), encoding="utf-8") as f:
            uses_spark = re.search(r"^\s*(from|import)\s+(pyspark|awsglue)\b", f.read(), re.M)
        if uses_spark and importlib.util.find_spec("pyspark") is None:
            raise StepFailed(f"{config.script} uses Spark, and pyspark is not installed here: pip install pyspark")
        output = config.output or config.arguments.get("--output")
        outputs = {"output": sr.output_dir(output)[0]} if output else {}
        argv = [sr.python(), config.script, "--JOB_NAME", config.job]
        for name, value in config.arguments.items():
            argv += [name, sr.for_process(value)]
        sr.run_process(argv)
        return outputs


    def run_cluster(self, job: Job) -> dict:
        """Start this attempt's job run, or attach to the run an attempt of this step already started (marker,
        else the run tagged with --water-run-id) while it runs or once it succeeded; wait; every terminal state
        but SUCCEEDED fails with the run's ErrorMessage."""
        from water.runtime import aws, poll
        from water.runtime.job import Marker

        spec = job.spec
        glue = job.client("glue")
        output = job.resolve(spec["output"]) if spec.get("output") else None
        s3 = job.client("s3") if output else None
        marker = Marker(job, s3, output) if output else None
        run_id = (marker.read(job.attempt) if marker else None) or self._reattach(job, glue)
        if run_id is None:
            request = {"JobName": spec["job"], "Timeout": max(1, job.timeout // 60),
                       "Arguments": {**{k: job.resolve(v) for k, v in spec.get("arguments", {}).items()},
                                     RUN_TAG: job.token()}}
            if spec.get("workers"):
                request.update(WorkerType=spec["workers"]["type"], NumberOfWorkers=spec["workers"]["count"])
            once = job.client("glue", retries=False)
            run_id = job.create(lambda: _start(once, request),
                                lambda: _tagged_runs(glue, spec["job"]).get(job.token(), {}).get("Id"))
            if marker:
                marker.write(run_id)
        quick = job.client("glue", retries=False, quick=True)
        job.attached(f"glue job {spec['job']} run {run_id}", lambda: _stop(quick, spec["job"], run_id))
        asking = job.client("glue", retries=False)  # the poller waits out throttling itself, with its own backoff
        state = job.wait(lambda: _finished(asking, spec["job"], run_id), interval=poll.job_interval,
                         transient=aws.transient)
        if state["JobRunState"] != "SUCCEEDED":
            from water.runtime import logs

            cloudwatch = job.client("logs")
            tail = logs.tail(cloudwatch, "/aws-glue/jobs/error", run_id) or logs.tail(
                cloudwatch, "/aws-glue/jobs/output", run_id)
            raise JobFailed(f"Glue job {spec['job']} run {run_id} {state['JobRunState']}: "
                            f"{state.get('ErrorMessage', 'no error message')}", tail)
        if not output:
            return {}
        return {"output": output, "bytes": aws.measure_prefix(s3, output)[0]}

    @staticmethod
    def _reattach(job: Job, glue):
        runs = _tagged_runs(glue, job.spec["job"])
        found = job.reattach(lambda attempt: runs.get(job.token(attempt=attempt)), lambda run: glue.get_job_run(
            JobName=run["JobName"], RunId=run["Id"])["JobRun"]["JobRunState"] not in ENDED_BADLY)
        return found and found["Id"]

    def permissions(self, step: Any, scope: Any) -> list:
        """The Glue job's runs (started, watched, stopped), its log streams, and the output's marker."""
        from water import permissions as iam

        config, name = step.config, iam.sid(step.name)
        output = config.output or config.arguments.get("--output")
        return [iam.statement(f"{name}Runs", ["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns",
                                              "glue:BatchStopJobRun"], [scope.arn("glue", f"job/{config.job}")]),
                *iam.log_tail(scope, name, ["/aws-glue/jobs/error", "/aws-glue/jobs/output"]),
                *iam.s3_access(scope, name, [output] if output else [], write=True)]

    def stop_run(self, job: Job) -> str | None:
        """The run's Glue job runs (found by their --water-run-id) that have not ended, stopped; what, or None."""
        from water.runtime import aws
        from water.runtime.job import MAX_ATTEMPTS

        glue, name = job.client("glue"), job.spec["job"]
        try:
            runs = _tagged_runs(glue, name)
        except Exception as exc:
            if aws.not_found(exc):
                return None  # no such job: nothing of this run can be running
            raise
        tokens = {job.token(attempt=attempt) for attempt in range(MAX_ATTEMPTS)}
        running = [run["Id"] for tag, run in sorted(runs.items())
                   if tag in tokens and not _finished(glue, name, run["Id"])]  # the run's own answer, not the list's
        for run_id in running:
            _stop(glue, name, run_id)
        return ", ".join(f"glue job {name} run {run_id}" for run_id in running) or None


RUN_TAG = "--water-run-id"  # the argument that ties a Glue run to the step, run and attempt that started it
ENDED_BADLY = ("FAILED", "ERROR", "TIMEOUT", "STOPPED", "EXPIRED")
TERMINAL = ("SUCCEEDED", *ENDED_BADLY)


def _tagged_runs(glue, name: str) -> dict:
    """The job's runs that water started, by their --water-run-id (one per step, run and attempt)."""
    runs = {}
    for page in glue.get_paginator("get_job_runs").paginate(JobName=name):
        for run in page["JobRuns"]:
            tag = (run.get("Arguments") or {}).get(RUN_TAG)
            if tag and tag not in runs:  # newest first
                runs[tag] = run
    return runs


def _start(glue, request: dict):
    """The new run's id, or None while the job is at its concurrency limit (also for a few seconds after a
    run ends): the poller waits with backoff and tries again."""
    try:
        return glue.start_job_run(**request)["JobRunId"]
    except glue.exceptions.ConcurrentRunsExceededException:
        return None


def _stop(glue, name: str, run_id: str) -> None:
    """BatchStopJobRun answers a refusal in its Errors list, not as an error: raise it as one."""
    errors = glue.batch_stop_job_run(JobName=name, JobRunIds=[run_id]).get("Errors") or []
    if errors:
        detail = errors[0].get("ErrorDetail") or {}
        raise JobFailed(f"BatchStopJobRun: {detail.get('ErrorCode', '')}: {detail.get('ErrorMessage', '')}")


def _finished(glue, name: str, run_id: str):
    run = glue.get_job_run(JobName=name, RunId=run_id)["JobRun"]
    return run if run["JobRunState"] in TERMINAL else None


KIND = Glue()

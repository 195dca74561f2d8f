"""`glue`: an AWS Glue job run with the step's arguments and workers."""
from __future__ import annotations

import importlib.util
import os
import re

from water.spec.fields import Map, Model, SpecModel, as_data, field
from water.spec.types import TEXT, Enum, Int, S3Uri, Str
from water.steps.base import Kind, named_script


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
    stop_keys = ("job",)

    def step_outputs(self, config):
        return ("output", "bytes") if config.output or "--output" in config.arguments else ()

    def prepare(self, config, project_dir, path, ctx):
        return named_script(config, "script", "script", project_dir, path, ctx)

    def job_config(self, config, prepared):
        data = as_data(config)
        if not config.output and "--output" in config.arguments:
            data["output"] = config.arguments["--output"]
        return data

    def run_local(self, sr):
        from water.local.context import StepFailed

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


    def run_cluster(self, job):
        """Start the job run (or find the one this step started: marker, else the run tagged with
        --water-run-id), wait; every terminal state but SUCCEEDED fails with the run's ErrorMessage."""
        from water.runtime import aws, poll
        from water.runtime.job import JobFailed, Marker

        spec = job.spec
        glue = job.client("glue")
        output = job.resolve(spec["output"]) if spec.get("output") else None
        s3 = job.client("s3") if output else None
        marker = Marker(job, s3, output) if output else None
        run_id = (marker.read() if marker else None) or _tagged_run(glue, spec["job"], job.token())
        if run_id is None:
            request = {"JobName": spec["job"], "Timeout": max(1, job.timeout // 60),
                       "Arguments": {**{k: job.resolve(v) for k, v in spec.get("arguments", {}).items()},
                                     RUN_TAG: job.token()}}
            if spec.get("workers"):
                request.update(WorkerType=spec["workers"]["type"], NumberOfWorkers=spec["workers"]["count"])
            run_id = poll.wait(lambda: _start(glue, request), timeout=job.timeout)
            if marker:
                marker.write(run_id)
        job.attached(f"glue job {spec['job']} run {run_id}",
                     lambda: glue.batch_stop_job_run(JobName=spec["job"], JobRunIds=[run_id]))
        state = poll.wait(lambda: _finished(glue, spec["job"], run_id), timeout=job.timeout)
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

    def stop_run(self, job):
        """The run's Glue job run (found by its --water-run-id), stopped if not ended; what, or None."""
        glue, name = job.client("glue"), job.spec["job"]
        run_id = _tagged_run(glue, name, job.token())
        if run_id is None or _finished(glue, name, run_id):
            return None
        glue.batch_stop_job_run(JobName=name, JobRunIds=[run_id])
        return f"glue job {name} run {run_id}"


RUN_TAG = "--water-run-id"  # the argument that ties a Glue run to the step and run that started it
TERMINAL = ("SUCCEEDED", "FAILED", "ERROR", "TIMEOUT", "STOPPED", "EXPIRED")


def _tagged_run(glue, name: str, token: str):
    for page in glue.get_paginator("get_job_runs").paginate(JobName=name):
        for run in page["JobRuns"]:
            if (run.get("Arguments") or {}).get(RUN_TAG) == token:
                return run["Id"]
    return None


def _start(glue, request: dict):
    """The new run's id, or None while the job is at its concurrency limit (also for a few seconds after a
    run ends): the poller waits with backoff and tries again."""
    try:
        return glue.start_job_run(**request)["JobRunId"]
    except glue.exceptions.ConcurrentRunsExceededException:
        return None


def _finished(glue, name: str, run_id: str):
    run = glue.get_job_run(JobName=name, RunId=run_id)["JobRun"]
    return run if run["JobRunState"] in TERMINAL else None


KIND = Glue()

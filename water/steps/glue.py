"""`glue`: an AWS Glue job run with the step's arguments and workers."""
from __future__ import annotations

import hashlib
import importlib.util
import os
import posixpath
import re
from typing import TYPE_CHECKING, Any

from water.errors import JobFailed, StepFailed
from water.spec.fields import Map, Model, SpecModel, as_data, field, mark_of
from water.spec.types import PLAIN, TEXT, Enum, Int, S3Uri, Str
from water.steps.base import NUMBER, PREFIX, Defined, Kind, Lasting, named_script

if TYPE_CHECKING:
    from water.local.context import StepRun
    from water.runtime.job import Job
    from water.spec.fields import Ctx
    from water.steps.base import Prepared


class GlueWorkers(SpecModel):
    """Glue worker type and count."""

    type: str = field(Enum("G.025X", "G.1X", "G.2X", "G.4X", "G.8X", "Z.2X"), "Worker type.", default="G.1X")
    count: int = field(Int(2, 1000), "Number of workers.", default=2)


SMALLEST = {"type": "G.1X", "count": 2}  # GlueWorkers' defaults: the workers of a defined job without `workers`


ARGUMENT = Str(r"^--[A-Za-z0-9_.-]+$", "a Glue argument name (--name)")


class GlueSpec(SpecModel):
    """Run an AWS Glue job."""

    job: str = field(Str(r"^[\w.\- ]{1,255}$", "a Glue job name"), "Name of the Glue job.", required=True)
    arguments: dict = field(Map(ARGUMENT, TEXT), "Job arguments (`--name: value`); values may hold expressions.",
                            default={})
    workers: GlueWorkers = field(Model(GlueWorkers), "Worker type and count (default: the job's own).")
    output: str = field(S3Uri(), "The step's output (default: the `--output` argument, if any).")
    script: str = field(Str(r"^[\w./-]+\.py$", "a Python file in the project"), "The job's script in the project: "
                        "what local runs execute. With `spec.aws.artifacts` set, `water deploy` uploads it there by "
                        "content and defines the Glue job to run it (script, role, version, workers, default "
                        "arguments); without, the job runs the script AWS has.")
    version: str = field(Enum("2.0", "3.0", "4.0", "5.0"), "Glue version of the job water defines (default 4.0).")
    default_arguments: dict = field(Map(ARGUMENT, PLAIN), "The DefaultArguments of the job water defines: what "
                                    "every run of it gets (no expressions), under `arguments`.")


class Glue(Kind):
    name = "glue"
    priced = True
    spec = GlueSpec
    outputs = {"output": PREFIX, "bytes": NUMBER}
    stop_keys = ("job",)

    def step_outputs(self, config: Any) -> tuple:
        return tuple(self.outputs) if config.output or "--output" in config.arguments else ()

    def prepare(self, config: Any, project_dir: str, path: str, ctx: Ctx) -> Prepared:
        return named_script(config, "script", "script", project_dir, path, ctx)

    def job_config(self, config: Any, prepared: Prepared) -> dict:
        data = as_data(config)
        for defined_only in ("version", "defaultArguments"):  # the job's definition carries them, not a run
            data.pop(defined_only, None)
        if not config.output and "--output" in config.arguments:
            data["output"] = config.arguments["--output"]
        return data

    def check_settings(self, config: Any, spec: Any, path: str, ctx: Ctx) -> None:
        """A job water defines needs a role; the definition's own fields mean nothing for a job it does not."""
        if _defines(config, spec.aws):
            if not spec.aws.glue_role:
                ctx.problem(mark_of(config, "script"), f"{path}.script", f"water defines Glue job '{config.job}' "
                            "from the spec (spec.aws.artifacts is set) and needs the role it runs as",
                            "set spec.aws.glueRole")
            return
        for attr, key in (("version", "version"), ("default_arguments", "defaultArguments")):
            if getattr(config, attr) is not None:
                ctx.problem(mark_of(config, attr), f"{path}.{key}", f"{key} is part of a Glue job water defines: "
                            "set glue.script and spec.aws.artifacts (or leave it to the job's own definition)")

    def aws_definitions(self, step: Any, pipeline: Any) -> list:
        """The Glue job as the spec defines it: its script at `<artifacts>glue/<sha256 of the script>/<name>`, so
        an edit is a new object and a rollback points the job back at the old one."""
        config, aws = step.config, pipeline.spec.aws
        if not _defines(config, aws):
            return []
        text = step.prepared.named[config.script]
        digest = hashlib.sha256(text.encode()).hexdigest()
        location = f"{aws.artifacts}glue/{digest}/{posixpath.basename(config.script)}"
        workers = as_data(config.workers) if config.workers else SMALLEST
        definition = {"Role": aws.glue_role, "GlueVersion": config.version or "4.0",
                      "Command": {"Name": "glueetl", "ScriptLocation": location, "PythonVersion": "3"},
                      "WorkerType": workers["type"], "NumberOfWorkers": workers["count"],
                      "DefaultArguments": dict(config.default_arguments or {})}
        return [{"kind": self.name, "what": f"glue job {config.job}", "job": config.job, "region": aws.region,
                 "script": config.script, "definition": definition, "tags": {"water/pipeline": pipeline.name}}]

    def defined(self, definition: dict, files: dict, client: Any) -> Defined:
        """The job's definition and script (read at the location the live job names) against the spec's; applied
        by uploading the script when S3 lacks it, then CreateJob or UpdateJob (which replaces the definition
        whole: what the spec does not set goes back to Glue's defaults)."""
        from water.runtime import aws

        glue, s3 = client("glue", definition["region"]), client("s3", definition["region"])
        job, wanted, text = definition["job"], definition["definition"], files[definition["script"]]
        try:
            live = glue.get_job(JobName=job)["Job"]
        except glue.exceptions.EntityNotFoundException:
            live = None
        before = None if live is None else {**_projected(live, wanted), SCRIPT: _script(
            s3, (live.get("Command") or {}).get("ScriptLocation", ""))}
        after = {**wanted, SCRIPT: text}

        def apply() -> None:  # the script first: the job never names a script S3 does not have
            bucket, key = aws.s3_parts(wanted["Command"]["ScriptLocation"])
            s3.put_object(Bucket=bucket, Key=key, Body=text.encode(), ContentType="text/x-python")
            if live is None:
                glue.create_job(Name=job, **wanted, Tags=definition["tags"])
            else:
                glue.update_job(JobName=job, JobUpdate=wanted)

        return Defined(definition["what"], "created" if before is None else
                       "unchanged" if before == after else "configured", before, after, apply)

    def lasting(self, spec: dict, pipeline: str, client: Any) -> list:
        """The job, if a deploy of this pipeline defined it: Glue lists the jobs tagged so (ListJobs' Tags filter;
        water tags a job when it creates it), so a job made otherwise is never water's to delete."""
        if not spec.get("script"):
            return []  # a job water never defines: AWS is not asked
        glue = client("glue")
        tagged = [name for page in glue.get_paginator("list_jobs").paginate(Tags={"water/pipeline": pipeline})
                  for name in page.get("JobNames", [])]
        return [Lasting(f"glue job {spec['job']}", lambda: glue.delete_job(JobName=spec["job"]))] \
            if spec.get("job") in tagged else []

    def inputs(self, spec: dict, resolve: Any) -> list:
        """The arguments naming S3 data other than the step's output: what a Glue script is handed to read."""
        output = resolve(spec["output"]) if spec.get("output") else None
        found = [resolve(value) for _, value in sorted(spec.get("arguments", {}).items())]
        return [uri for uri in found if uri.startswith("s3://") and uri != output]

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
        from water.runtime import aws, cost, poll
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
        made = {"output": output, "bytes": aws.measure_prefix(s3, output)[0]} if output else {}
        return cost.priced(made, cost.glue(state, cost.of_job(job)))

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

    def deploy_permissions(self, definition: dict, scope: Any) -> list:
        """The job read, made, updated and tagged; its script stored under the artifacts prefix and the live one
        read (wherever the job names it: its bucket is unknown before, so any object GetObject may read is the
        deployer's own S3 access); the Glue role passed to Glue only."""
        from water import permissions as iam

        name = iam.sid(definition["job"], "Definition")
        location = definition["definition"]["Command"]["ScriptLocation"]
        stored = f"{location.rsplit('/', 2)[0]}/"  # <artifacts>glue/
        scope.note("the deployer's role reads the script the live Glue job names, to diff it: s3:GetObject on that "
                   "object is left to its own S3 access (the first deploy names no other)")
        return [iam.statement(name, ["glue:GetJob", "glue:CreateJob", "glue:UpdateJob", "glue:TagResource"],
                              [scope.arn("glue", f"job/{definition['job']}")]),
                *iam.s3_access(scope, f"{name}Script", [stored], write=True),
                iam.statement(f"{name}Role", ["iam:PassRole"], [definition["definition"]["Role"]],
                              {"StringEquals": {"iam:PassedToService": "glue.amazonaws.com"}})]

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


SCRIPT = "script (text)"  # what a reviewer sees of the script: its text, beside the definition


def _defines(config: Any, aws: Any) -> bool:
    """Whether water defines the Glue job (uploads its script, creates or updates it) on deploy."""
    return bool(config.script and aws and aws.artifacts)


def _projected(live: dict, wanted: dict) -> dict:
    """The live job's fields that the spec defines, shaped as the spec's (a field Glue leaves out is None)."""
    return {k: {sub: (live.get(k) or {}).get(sub) for sub in v} if isinstance(v, dict) and k == "Command"
            else live.get(k) or {} if isinstance(v, dict) else live.get(k) for k, v in wanted.items()}


def _script(s3: Any, location: str) -> str:
    """The text of the script a live job runs, or what stands for it when it cannot be read."""
    from water.runtime import aws

    if not location.startswith("s3://"):
        return f"(the job runs {location or 'no script'})"
    bucket, key = aws.s3_parts(location)
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8", "replace")
    except Exception as exc:
        said = aws.refusal(exc)
        if said is None:
            raise
        return f"(cannot read {location}: {said[0]})"


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

"""`train`: a SageMaker training job (plain boto3; `framework:version` images are resolved when rendering, from
water's table of SageMaker's images)."""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from water import contract
from water.conditions import plain_number
from water.errors import BadInput, JobFailed, StepFailed
from water.spec.fields import Map, Model, SpecModel, field, mark_of
from water.spec.model import IAM_ROLE, Instance
from water.spec.types import SAGEMAKER_IMAGE, Bool, Duration, S3Uri, Scalar, Str
from water.steps.base import MODEL, PREFIX, Kind, named_script

METRICS_FILE = "metrics.json"  # a metric's source instead of a regex: what the script wrote there, script mode's way
METRICS_LIMIT = 1 << 20  # the largest metrics.json read (bytes): numbers, not a data dump
METRIC_NAME = Str(r"^[A-Za-z][A-Za-z0-9_]{0,62}$", "a metric name (letters, digits, '_')")

if TYPE_CHECKING:
    from water.local.context import StepRun
    from water.runtime.job import Job
    from water.spec.fields import Ctx
    from water.steps.base import Prepared


class TrainSpec(SpecModel):
    """Run a SageMaker training job."""

    image: str = field(SAGEMAKER_IMAGE, "Training image: a full image URI, or `framework:version` (e.g. "
                       "xgboost:1.7-1), "
                       "looked up at render time for spec.aws.region.",
                       required=True)
    entry: str = field(Str(r"^[\w./-]+\.py$", "a Python file in the project"), "Script-mode entry point, "
                       "uploaded with its folder as the source dir.")
    instance: Instance = field(Model(Instance), "Training instances.", required=True)
    hyperparameters: dict = field(Map(Str(r"^[\w.-]+$", "a hyperparameter name"), Scalar(expr=True)),
                                  "Hyperparameters (strings to SageMaker); values may hold expressions.", default={})
    inputs: dict = field(Map(Str(r"^[A-Za-z0-9._-]{1,64}$", "a channel name"), S3Uri()), "Input channels: "
                         "name → S3 prefix (SM_CHANNEL_<NAME> in the container).", default={})
    content_type: str = field(Str(r"^[\w.+-]+/[\w.+-]+$|^(csv|libsvm)$", "a MIME type such as text/csv"),
                              "ContentType of every input channel, as the algorithm reads it (a built-in algorithm's "
                              "CSV: text/csv; without it, the algorithm's default: libsvm for XGBoost).")
    output: str = field(S3Uri(), "Where SageMaker writes the model artifact.", required=True)
    spot: bool = field(Bool(), "Use managed spot training (with checkpoints under the output).", default=False)
    max_runtime: int = field(Duration(), "Longest training time (SageMaker's MaxRuntimeInSeconds; default: the "
                             "step's timeout).")
    max_wait: int = field(Duration(), "Spot only: longest wait for capacity plus training (>= maxRuntime).")
    role: str = field(IAM_ROLE, "Execution role (default: spec.aws.sagemakerRole).")
    metrics: dict = field(Map(METRIC_NAME,
                              Str(r"^(.*\(.*\).*|metrics\.json)$", "a regular expression with a group for the "
                                  "value, or metrics.json")),
                          "The model's metrics, `{{steps.NAME.metrics.KEY}}` for later steps: name → a regex over "
                          "the training log (SageMaker's metric definitions; the last value logged counts), or "
                          f"`{METRICS_FILE}`: the number under that name in the {METRICS_FILE} the script writes "
                          "to SM_OUTPUT_DATA_DIR.", default={})


class Train(Kind):
    name = "train"
    priced = True
    spec = TrainSpec
    outputs = {"output": PREFIX, "model": MODEL}
    sizes = "instance"
    image_scope = "training"
    stop_keys = ()  # the job's name follows from pipeline, step and run
    lineage = True  # its training job is tagged with the commit behind it

    def step_outputs(self, config: Any) -> tuple:
        return (*self.outputs, *(f"metrics.{name}" for name in config.metrics))

    def prepare(self, config: Any, project_dir: str, path: str, ctx: Ctx) -> Prepared:
        for name, pattern in config.metrics.items():
            if pattern == METRICS_FILE:
                continue
            try:
                re.compile(pattern)
            except re.error as exc:
                ctx.problem(mark_of(config, "metrics"), f"{path}.metrics.{name}", f"not a regular expression: {exc}")
        return named_script(config, "entry", "entry script", project_dir, path, ctx)

    def check_limits(self, config: Any, timeout: int, path: str, ctx: Ctx) -> None:
        """maxRuntime defaults to the step's timeout; maxWait is for spot training, at least maxRuntime; neither
        may outlast the step."""
        if config.max_runtime is None:
            config.max_runtime = timeout
        longest = config.max_wait or config.max_runtime
        if config.max_wait and not config.spot:
            ctx.problem(mark_of(config, "max_wait"), f"{path}.maxWait", "maxWait applies to spot training only")
        if config.max_wait and config.max_wait < config.max_runtime:
            ctx.problem(mark_of(config, "max_wait"), f"{path}.maxWait", "maxWait must be at least maxRuntime")
        if longest > timeout:
            ctx.problem(mark_of(config, "max_wait" if config.max_wait else "max_runtime"), path,
                        f"the job may run {longest / 3600:g}h but the step times out after {timeout / 3600:g}h",
                        "raise the step's timeout")


    def local_entry(self, config: Any) -> str:
        """What runs this step here: its entry script, or for SageMaker's built-in XGBoost (an image without entry)
        water's stand-in for it (water.local.xgboost_builtin), which is also the model's inference code."""
        if config.entry:
            return config.entry
        if config.image.startswith("xgboost:") or "/sagemaker-xgboost:" in config.image:
            from water.local import xgboost_builtin

            return xgboost_builtin.__file__
        return ""

    def inputs(self, spec: dict, resolve: Any) -> list:
        return [resolve(uri) for _, uri in sorted(spec.get("inputs", {}).items())]

    def run_local(self, sr: StepRun) -> dict:
        """The entry script in a subprocess with SageMaker's conventions: SM_CHANNEL_<NAME> folders,
        SM_MODEL_DIR, SM_OUTPUT_DATA_DIR, SM_HPS and `--name value` hyperparameters; the model folder is
        packed as <output>/<job>/output/model.tar.gz, as SageMaker does."""
        config, name = sr.step.config, sr.step.name
        entry = self.local_entry(config)
        if not entry:
            raise StepFailed(f"locally, a train step runs its entry script: set train.entry (only SageMaker's "
                             f"built-in XGBoost runs here without one, and {config.image} is not it)")
        work = os.path.join(sr.run.run_dir, "steps", name, "sagemaker")
        model_dir, output_data = os.path.join(work, "model"), os.path.join(work, "output")
        os.makedirs(model_dir, exist_ok=True)
        os.makedirs(output_data, exist_ok=True)
        hyperparameters = {k: sr.resolve(v) for k, v in config.hyperparameters.items()}
        env = {"SM_MODEL_DIR": model_dir, "SM_OUTPUT_DATA_DIR": output_data, "SM_HPS": json.dumps(hyperparameters),
               "SM_CHANNELS": json.dumps(sorted(config.inputs)), "WATER_CONTENT_TYPE": config.content_type or ""}
        for channel, uri in config.inputs.items():
            env[f"SM_CHANNEL_{channel.upper()}"] = sr.input_prefix(uri)
        argv = [sr.python(), entry]
        for key, value in hyperparameters.items():
            argv += [f"--{key}", value]
        sr.run_process(argv, env)
        uri, folder = sr.output_dir(config.output)
        job = job_name(sr.run.pipeline.name, name, sr.run.run_id)
        os.makedirs(os.path.join(folder, job, "output"), exist_ok=True)
        pack_model(model_dir, os.path.join(folder, job, "output", "model.tar.gz"))
        written = _read_metrics_file(os.path.join(output_data, METRICS_FILE))
        sr.notes += _metrics_note(written)
        with open(sr.log_path, encoding="utf-8", errors="replace") as f:
            logged = _logged_metrics(config.metrics, f.read())
        return {"output": uri, "model": f"{uri.rstrip('/')}/{job}/output/model.tar.gz",
                **_metric_outputs(config.metrics, {**logged, **_from_file(config.metrics, written)},
                                  lambda why: StepFailed(why, sr.log_path))}


    def run_cluster(self, job: Job) -> dict:
        """A SageMaker training job named after pipeline, step and run: described first and attached to if it
        exists (a restart), else created; Failed and Stopped both fail the step with SageMaker's reason."""
        from water.runtime import aws, cost, poll
        spec = job.spec
        sagemaker = job.client("sagemaker")
        output = job.resolve(spec["output"])
        name = attach_or_create(job, sagemaker, "training", lambda name: self._create(job, name, output))
        quick = job.client("sagemaker", retries=False, quick=True)
        job.attached(f"sagemaker training job {name}", lambda: quick.stop_training_job(TrainingJobName=name))
        asking = job.client("sagemaker", retries=False)  # the poller waits out throttling itself
        done = job.wait(lambda: ended(asking.describe_training_job, "TrainingJobStatus", TrainingJobName=name),
                        interval=poll.job_interval, transient=aws.transient)
        if done["TrainingJobStatus"] != "Completed":
            from water.runtime import logs

            tail = logs.tail(job.client("logs"), "/aws/sagemaker/TrainingJobs", f"{name}/")
            raise JobFailed(f"SageMaker training job {name} {done['TrainingJobStatus']}: "
                            f"{done.get('FailureReason', 'no reason given')}", tail)
        final = {m["MetricName"]: m["Value"] for m in done.get("FinalMetricDataList", ())}
        if METRICS_FILE in spec.get("metrics", {}).values():
            final.update(_from_file(spec["metrics"], _written_metrics(job.client("s3"), done)))
        metrics = _metric_outputs(spec.get("metrics", {}), final, JobFailed)
        for key, value in metrics.items():
            job.metrics.gauge("water.train.metric", float(value), [f"metric:{key.removeprefix('metrics.')}"])
        return cost.priced({"output": output, "model": done["ModelArtifacts"]["S3ModelArtifacts"], **metrics},
                           cost.training(done, cost.of_job(job)))

    @staticmethod
    def _create(job: Job, name: str, output: str) -> None:
        """The training job (one call, no botocore retries: see attach_or_create), then its marker."""
        from water.runtime.job import Marker

        s3 = job.client("s3")
        request = _training_request(job, name, output, s3)
        job.client("sagemaker", retries=False).create_training_job(**request)
        Marker(job, s3, output).write(name)

    def stop_run(self, job: Job) -> str | None:
        return stop_if_running(job, "training")

    def permissions(self, step: Any, scope: Any) -> list:
        """Its training jobs (tagged when made), the execution role passed to SageMaker, the output prefix (the
        entry's source uploaded, the marker, metrics.json read back) and the job's log streams. The input
        channels are read by SageMaker with the execution role, not by the pod."""
        from water import permissions as iam

        config, name = step.config, iam.sid(step.name)
        artifacts = scope.artifacts if config.entry else None  # where the entry's code is stored, when set
        return [*iam.sagemaker_jobs(scope, f"{name}Jobs", "training-job", step.name, [
                    "sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob",
                    "sagemaker:AddTags"]),
                *iam.pass_role(scope, f"{name}Role", config.role),
                *iam.s3_access(scope, name, [config.output] + ([f"{artifacts}train/"] if artifacts else []),
                               write=True),
                *iam.log_tail(scope, name, ["/aws/sagemaker/TrainingJobs"])]


# per SageMaker job type: its describe and stop calls, its name and status keys, its listing's key
JOB_TYPES = {"training": ("describe_training_job", "stop_training_job", "TrainingJobName", "TrainingJobStatus",
                          "TrainingJobSummaries"),
             "transform": ("describe_transform_job", "stop_transform_job", "TransformJobName", "TransformJobStatus",
                           "TransformJobSummaries")}


def attach_or_create(job: Job, sagemaker: Any, job_type: str, create: Callable[..., Any]) -> str:
    """The name of the job this step waits for: the newest of its attempts' jobs while it is in progress or once
    it completed (or this attempt's own, whatever its state), else a new one for this attempt made by
    create(name), exactly once (water.runtime.job.Job.create)."""
    describe, _, name_key, status_key, _ = JOB_TYPES[job_type]
    found = job.reattach(lambda attempt: describe_or_none(getattr(sagemaker, describe), **{
                             name_key: job_name(job.pipeline, job.step, job.run_id, attempt)}),
                         lambda described: described[status_key] in ("InProgress", "Completed"))
    if found is not None:
        return found[name_key]
    name = job_name(job.pipeline, job.step, job.run_id, job.attempt)
    find = lambda: describe_or_none(getattr(sagemaker, describe), **{name_key: name})  # noqa: E731
    job.create(lambda: create(name) or name, lambda: find() and name)
    return name


def stop_if_running(job: Job, job_type: str) -> str | None:
    """Stop the run's SageMaker jobs of this step (any attempt) that are still in progress; what, or None.
    One listing of the jobs whose names start as this step's do, matched against its attempts' names."""
    describe, stop, name_key, status_key, summaries = JOB_TYPES[job_type]
    from water.runtime.job import MAX_ATTEMPTS

    sagemaker = job.client("sagemaker")
    names = {job_name(job.pipeline, job.step, job.run_id, attempt) for attempt in range(MAX_ATTEMPTS)}
    prefix = job_name(job.pipeline, job.step, job.run_id).rsplit("-", 1)[0]
    listed = {s[name_key] for page in sagemaker.get_paginator(f"list_{job_type}_jobs").paginate(NameContains=prefix)
              for s in page[summaries]}
    running = sorted(name for name in listed & names  # each job's own answer, not the list's
                     if getattr(sagemaker, describe)(**{name_key: name})[status_key] == "InProgress")
    for name in running:
        getattr(sagemaker, stop)(**{name_key: name})
    return ", ".join(f"sagemaker {job_type} job {name}" for name in running) or None


def image_uri(image: str) -> str:
    """A full image URI as SageMaker takes it. `framework:version` is resolved where water renders (for
    spec.aws.region); one that reaches a pod was left unresolved there."""
    if "/" not in image:
        raise BadInput(f"image '{image}' was not resolved to an image URI when rendered: set spec.aws.region, or "
                       "give the full URI")
    return image


def _training_request(job: Job, name: str, output: str, s3: Any) -> dict[str, Any]:
    spec = job.spec
    instance_type, instance_count = instances(job)
    hyperparameters = {k: job.resolve(v) for k, v in spec.get("hyperparameters", {}).items()}
    definitions = [{"Name": k, "Regex": v} for k, v in sorted(spec.get("metrics", {}).items()) if v != METRICS_FILE]
    if spec.get("entry"):
        artifacts = (job.config.get("aws") or {}).get("artifacts")
        hyperparameters.update(_upload_source(job, spec["entry"], f"{artifacts}train/" if artifacts else
                                              f"{output.rstrip('/')}/water-source/", s3))
    request: dict[str, Any] = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": image_uri(spec["image"]), "TrainingInputMode": "File",
                                   **({"MetricDefinitions": definitions} if definitions else {})},
        "RoleArn": execution_role(job),
        "HyperParameters": hyperparameters,
        "InputDataConfig": [{"ChannelName": channel, "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": job.resolve(uri), "S3DataDistributionType": "FullyReplicated"}},
            **({"ContentType": spec["contentType"]} if spec.get("contentType") else {})}
            for channel, uri in sorted(spec.get("inputs", {}).items())],
        "OutputDataConfig": {"S3OutputPath": output},
        "ResourceConfig": {"InstanceType": instance_type, "InstanceCount": instance_count, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": spec["maxRuntime"]},
        "Tags": job.tags(),
    }
    if spec.get("spot"):
        request["EnableManagedSpotTraining"] = True
        request["StoppingCondition"]["MaxWaitTimeInSeconds"] = spec.get("maxWait") or spec["maxRuntime"]
        request["CheckpointConfig"] = {"S3Uri": f"{output.rstrip('/')}/{name}/checkpoints/"}
    return request


def source_archive(folder: str) -> bytes:
    """The folder as a gzip'd tar that depends on the files' names and contents only (no times, owners or
    modes beyond executable), so that the same code is the same bytes on every machine."""
    import gzip
    import io
    import tarfile

    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as zipped, \
            tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for root, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for file in sorted(files):
                path = os.path.join(root, file)
                info = tar.gettarinfo(path, arcname=os.path.relpath(path, folder))
                info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
                info.mode = 0o755 if info.mode & 0o111 else 0o644
                with open(path, "rb") as f:
                    tar.addfile(info, f)
    return buffer.getvalue()


def execution_role(job: Job) -> str:
    """The role a SageMaker job assumes: the step's, the pipeline's, or the pod's (contract.SAGEMAKER_ROLE_ENV)."""
    role = job.spec.get("role") or (job.config.get("aws") or {}).get("sagemakerRole") or \
        job.env.get(contract.SAGEMAKER_ROLE_ENV)
    if not role:
        raise BadInput(f"no SageMaker execution role: set {job.kind}.role or spec.aws.sagemakerRole")
    return role


def instances(job: Job) -> tuple[str, int]:
    """(type, count) of a SageMaker job's instances: the size task's choice for a sized step, else the spec's."""
    instance = job.spec["instance"]
    kind, count = (job.refs.get(contract.sizing_ref(o)) for o in contract.SIZED_INSTANCE)
    return kind or instance["type"], int(count or instance.get("count", 1))


def _upload_source(job: Job, entry: str, prefix: str, s3: Any) -> dict:
    """Script mode: the entry's folder (from the step image's working directory) as sourcedir.tar.gz, stored once
    per content under `prefix`<its sha256>/ (`<artifacts>train/`, else `<output>water-source/`): runs of the same
    code share one object, and the key says which code a job ran."""
    from water.runtime import aws

    archive = source_archive(os.path.dirname(entry) or ".")
    digest = hashlib.sha256(archive).hexdigest()[:32]
    bucket, key = aws.s3_parts(f"{prefix}{digest}/sourcedir.tar.gz")
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except Exception as exc:  # botocore's ClientError: a 404 means not stored yet
        if not aws.not_found(exc):
            raise
        s3.put_object(Bucket=bucket, Key=key, Body=archive)
    return {"sagemaker_program": os.path.basename(entry), "sagemaker_submit_directory": f"s3://{bucket}/{key}",
            "sagemaker_region": s3.meta.region_name}


def describe_or_none(describe: Callable[..., Any], **name: str) -> Any:
    """A SageMaker describe call's answer, or None where the resource does not exist."""
    from water.runtime import aws

    try:
        return describe(**name)
    except Exception as exc:  # botocore's ClientError; SageMaker says "not found" in a ValidationException
        if aws.not_found(exc):
            return None
        raise


def ended(describe: Callable[..., Any], status_key: str, **name: str) -> Any:
    """The description once the job reached Completed, Failed or Stopped; None while it runs."""
    described = describe(**name)
    return described if described[status_key] in ("Completed", "Failed", "Stopped") else None


def _logged_metrics(definitions: dict, log: str) -> dict:
    """Each metric's last value in a training log, found as SageMaker finds it: its regex's first group."""
    found = {}
    for name, pattern in definitions.items():
        values = [m.group(1) for m in re.finditer(pattern, log)]
        if values:
            found[name] = values[-1]
    return found


def _metric_outputs(definitions: dict, values: dict, failure: Callable[[str], Exception]) -> dict:
    """`metrics.NAME` outputs of the declared metrics, as numbers; one never logged or written, or not a number,
    fails the step (a later step's `{{steps.X.metrics.NAME}}` would have nothing to read)."""
    outputs = {}
    for name, source in sorted(definitions.items()):
        value = values.get(name)
        try:
            number = float(value) if value is not None and not isinstance(value, bool) else None
        except (TypeError, ValueError):
            number = None
        if number is None or number != number:
            where = f"in {METRICS_FILE}" if source == METRICS_FILE else f"(regex {source!r})"
            said = ("was never written" if source == METRICS_FILE else "was never logged") if value is None \
                else f"is {value!r}, not a number"
            raise failure(f"metric {name} {said} {where}")
        outputs[f"metrics.{name}"] = plain_number(number)
    return outputs


def _from_file(definitions: dict, written: dict) -> dict:
    """The values of the metrics declared as `metrics.json`, from what the script wrote there."""
    return {name: written[name] for name, source in definitions.items() if source == METRICS_FILE and name in written}


def _read_metrics_file(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            return _metrics_object(f.read())
    except OSError:
        return {}


def _metrics_object(text: str) -> dict:
    """A metrics.json's object; anything else (not JSON, not an object) holds no metrics."""
    try:
        found = json.loads(text)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _written_metrics(s3: Any, described: dict) -> dict:
    """The metrics.json a completed job's script wrote to SM_OUTPUT_DATA_DIR (/opt/ml/output/data), which
    SageMaker uploads as one tar.gz beside the model: <S3OutputPath>/<job>/output/output.tar.gz. Read as a stream,
    stopping at the file; a job that wrote none has none."""
    import tarfile

    from water.runtime import aws

    prefix = described["OutputDataConfig"]["S3OutputPath"].rstrip("/")
    bucket, key = aws.s3_parts(f"{prefix}/{described['TrainingJobName']}/output/output.tar.gz")
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    except Exception as exc:
        if aws.not_found(exc):
            return {}
        raise
    with tarfile.open(fileobj=body, mode="r|gz") as archive:
        for member in archive:
            if member.isfile() and os.path.normpath(member.name) == METRICS_FILE and member.size <= METRICS_LIMIT:
                return _metrics_object((archive.extractfile(member) or io.BytesIO()).read().decode("utf-8", "replace"))
    return {}


def _metrics_note(metrics: dict) -> list:
    """What the script wrote to metrics.json, as one line of the local run's table."""
    if not metrics:
        return []
    return ["metrics: " + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                                    for k, v in sorted(metrics.items()))]


def job_name(pipeline: str, step: str, run_id: str, attempt: int = 0) -> str:
    """The SageMaker job name of a step in a run's attempt: the same for every call of that attempt, another
    for each retry (attempt 0 keeps the form names had before attempts), <= 63 chars."""
    from water.runtime.job import attempt_key

    digest = hashlib.sha256(attempt_key(pipeline, step, run_id, attempt).encode()).hexdigest()[:10]
    return f"{pipeline[:26]}-{step[:26]}-{digest}".replace("_", "-")


def pack_model(model_dir: str, target: str) -> None:
    """model.tar.gz of a folder, byte-identical for identical files (sorted, no times or owners)."""
    import gzip
    import tarfile

    def clean(info):
        info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
        return info

    with open(target, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as zipped, \
            tarfile.open(fileobj=zipped, mode="w") as tar:
        for root, dirs, files in os.walk(model_dir):
            dirs.sort()
            for file in sorted(files):
                path = os.path.join(root, file)
                tar.add(path, arcname=os.path.relpath(path, model_dir), filter=clean)


KIND = Train()

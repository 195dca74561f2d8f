"""`transform`: a SageMaker batch transform of `input` with a model (usually the
`{{steps.NAME.model}}` of an upstream train step)."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from water.errors import JobFailed, StepFailed
from water.spec.fields import Model, SpecModel, field
from water.spec.model import IAM_ROLE, Instance
from water.spec.types import SAGEMAKER_IMAGE, TEXT, Enum, S3Uri, Str
from water.steps.base import NUMBER, PREFIX, Kind, image_of_model, trained_entry

if TYPE_CHECKING:
    from water.local.context import StepRun
    from water.runtime.job import Job
    from water.spec.fields import Ctx


class TransformSpec(SpecModel):
    """Run a SageMaker batch transform."""

    model: str = field(TEXT, "Model artifact: `{{steps.TRAIN.model}}` or an s3:// URI of a model.tar.gz.",
                       required=True)
    image: str = field(SAGEMAKER_IMAGE, "Inference image (default: the image of the train step named in `model`).")
    input: str = field(S3Uri(), "Prefix of the files to transform.", required=True)
    output: str = field(S3Uri(), "Where the predictions go (one file per input file).", required=True)
    instance: Instance = field(Model(Instance), "Transform instances.", required=True)
    content_type: str = field(Str(r"^[\w.+-]+/[\w.+-]+$", "a MIME type"), "Content type of the input.",
                              default="text/csv")
    split_type: str = field(Enum("None", "Line", "RecordIO", "TFRecord"), "How input files are split into "
                            "records.", default="Line")
    strategy: str = field(Enum("MultiRecord", "SingleRecord"), "Records per request.", default="MultiRecord")
    role: str = field(IAM_ROLE, "Execution role (default: spec.aws.sagemakerRole).")


class Transform(Kind):
    name = "transform"
    priced = True
    spec = TransformSpec
    outputs = {"output": PREFIX, "bytes": NUMBER}
    sizes = "instance"
    image_scope = "inference"
    stop_keys = ()  # the job's name follows from pipeline, step and run
    lineage = True  # its model and job are tagged with the commit behind them

    def take_from(self, config: Any, by_name: dict, path: str, ctx: Ctx) -> None:
        image_of_model(config, by_name, path, ctx)

    def inputs(self, spec: dict, resolve: Any) -> list:
        return [resolve(spec["model"]), resolve(spec["input"])]

    def run_local(self, sr: StepRun) -> dict:
        """The model's inference code (SageMaker's model_fn / input_fn / predict_fn / output_fn, from the
        entry script of the train step that made it) over every input file, one output file per input."""
        import tarfile

        config = sr.step.config
        entry = trained_entry(sr, config.model)
        if not entry:
            raise StepFailed("locally, transform runs the inference code of the train step whose model it uses "
                             "(its entry script): set model to {{steps.TRAIN.model}}")
        model_tar = sr.for_process(config.model)
        model_dir = os.path.join(sr.run.run_dir, "steps", sr.step.name, "model")
        os.makedirs(model_dir, exist_ok=True)
        with tarfile.open(model_tar) as tar:
            tar.extractall(model_dir, filter="data")
        uri, folder = sr.output_dir(config.output)
        sr.run_process([sr.python(), "-m", "water.local.inference", entry, model_dir, sr.input_prefix(config.input),
                        folder, config.content_type])
        return {"output": uri}


    def run_cluster(self, job: Job) -> dict:
        """A SageMaker model (created if needed) and a batch transform job, both named after pipeline, step
        and run, described before created; Failed and Stopped fail the step with SageMaker's reason."""
        from water.runtime import aws, cost, poll
        from water.steps.train import attach_or_create, ended

        sagemaker, s3 = job.client("sagemaker"), job.client("s3")
        output = job.resolve(job.spec["output"])
        name = attach_or_create(job, sagemaker, "transform", lambda name: self._create(job, name, output, s3))
        quick = job.client("sagemaker", retries=False, quick=True)
        job.attached(f"sagemaker transform job {name}", lambda: quick.stop_transform_job(TransformJobName=name))
        asking = job.client("sagemaker", retries=False)  # the poller waits out throttling itself
        done = job.wait(lambda: ended(asking.describe_transform_job, "TransformJobStatus",
                                       TransformJobName=name), interval=poll.job_interval,
                         transient=aws.transient)
        if done["TransformJobStatus"] != "Completed":
            raise JobFailed(f"SageMaker transform job {name} {done['TransformJobStatus']}: "
                            f"{done.get('FailureReason', 'no reason given')}")
        return cost.priced({"output": output, "bytes": aws.measure_prefix(s3, output)[0]},
                           cost.transform(done, cost.of_job(job)))

    @staticmethod
    def _create(job: Job, name: str, output: str, s3: Any) -> None:
        """The model (made once: "already exists" is our own, from a call whose answer was lost) and the job."""
        from water.runtime import aws
        from water.runtime.job import Marker
        from water.steps.train import execution_role, image_uri, instances

        spec, once = job.spec, job.client("sagemaker", retries=False)
        aws.made(lambda: once.create_model(ModelName=name, ExecutionRoleArn=execution_role(job), PrimaryContainer={
            "Image": image_uri(spec["image"]), "ModelDataUrl": job.resolve(spec["model"])}, Tags=job.tags()))
        instance_type, instance_count = instances(job)
        once.create_transform_job(
            TransformJobName=name, ModelName=name, BatchStrategy=spec.get("strategy", "MultiRecord"),
            TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                            "S3Uri": job.resolve(spec["input"])}},
                            "ContentType": spec.get("contentType", "text/csv"),
                            "SplitType": spec.get("splitType", "Line")},
            TransformOutput={"S3OutputPath": output},
            TransformResources={"InstanceType": instance_type, "InstanceCount": instance_count}, Tags=job.tags())
        Marker(job, s3, output).write(name)

    def permissions(self, step: Any, scope: Any) -> list:
        """Its models and transform jobs (named as the job), the execution role, the output prefix (marker,
        measure). SageMaker reads the input with the execution role."""
        from water import permissions as iam

        config, name = step.config, iam.sid(step.name)
        return [*iam.sagemaker_jobs(scope, f"{name}Jobs", "transform-job", step.name, [
                    "sagemaker:CreateTransformJob", "sagemaker:DescribeTransformJob", "sagemaker:StopTransformJob",
                    "sagemaker:AddTags"]),
                iam.sagemaker_named(scope, f"{name}Models", "model", step.name, ["sagemaker:CreateModel",
                                                                                  "sagemaker:AddTags"]),
                *iam.pass_role(scope, f"{name}Role", config.role),
                *iam.s3_access(scope, name, [config.output], write=True)]

    def stop_run(self, job: Job) -> str | None:
        from water.steps.train import stop_if_running

        return stop_if_running(job, "transform")


KIND = Transform()

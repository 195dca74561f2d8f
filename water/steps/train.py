"""`train`: a SageMaker training job (plain boto3; the sagemaker SDK only resolves
`framework:version` images, and only where the water[sagemaker] extra is installed)."""
from __future__ import annotations

import os

from water.spec.fields import Map, Model, SpecModel, as_data, field, mark_of
from water.spec.model import IAM_ROLE, Instance
from water.spec.types import IMAGE, Bool, Duration, S3Uri, Scalar, Str
from water.steps.base import Kind, Prepared


class TrainSpec(SpecModel):
    """Run a SageMaker training job."""

    image: str = field(IMAGE, "Training image: `framework:version` (e.g. xgboost:1.7-1) or a full image URI.",
                       required=True)
    entry: str = field(Str(r"^[\w./-]+\.py$", "a Python file in the project"), "Script-mode entry point, "
                       "uploaded with its folder as the source dir.")
    instance: Instance = field(Model(Instance), "Training instances.", required=True)
    hyperparameters: dict = field(Map(Str(r"^[\w.-]+$", "a hyperparameter name"), Scalar(expr=True)),
                                  "Hyperparameters (strings to SageMaker); values may hold expressions.", default={})
    inputs: dict = field(Map(Str(r"^[A-Za-z0-9._-]{1,64}$", "a channel name"), S3Uri()), "Input channels: "
                         "name → S3 prefix (SM_CHANNEL_<NAME> in the container).", default={})
    output: str = field(S3Uri(), "Where SageMaker writes the model artifact.", required=True)
    spot: bool = field(Bool(), "Use managed spot training (with checkpoints under the output).", default=False)
    max_runtime: int = field(Duration(), "Longest training time (SageMaker's MaxRuntimeInSeconds; default: the "
                             "step's timeout).")
    max_wait: int = field(Duration(), "Spot only: longest wait for capacity plus training (>= maxRuntime).")
    role: str = field(IAM_ROLE, "Execution role (default: spec.aws.sagemakerRole).")


class Train(Kind):
    name = "train"
    spec = TrainSpec
    outputs = ("output", "model")
    sizes = "instance"

    def prepare(self, config, project_dir, path, ctx):
        if config.entry and not os.path.isfile(os.path.join(project_dir, config.entry)):
            ctx.problem(mark_of(config, "entry"), f"{path}.entry", f"entry script '{config.entry}' not found in "
                        "the project")
        return Prepared()

    def job_config(self, config, prepared):
        return as_data(config)


KIND = Train()

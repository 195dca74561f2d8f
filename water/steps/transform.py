"""`transform`: a SageMaker batch transform of `input` with a model (usually the
`{{steps.NAME.model}}` of an upstream train step)."""
from __future__ import annotations

import os
import tarfile

from water import expressions
from water.spec.fields import Model, SpecModel, as_data, field
from water.spec.model import IAM_ROLE, Instance
from water.spec.types import IMAGE, TEXT, Enum, S3Uri, Str
from water.steps.base import Kind


class TransformSpec(SpecModel):
    """Run a SageMaker batch transform."""

    model: str = field(TEXT, "Model artifact: `{{steps.TRAIN.model}}` or an s3:// URI of a model.tar.gz.",
                       required=True)
    image: str = field(IMAGE, "Inference image (default: the image of the train step named in `model`).")
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
    spec = TransformSpec
    sizes = "instance"

    def step_outputs(self, config):
        return ("output", "bytes")

    def job_config(self, config, prepared):
        return as_data(config)


    def run_local(self, sr):
        """The model's inference code (SageMaker's model_fn / input_fn / predict_fn / output_fn, from the
        entry script of the train step that made it) over every input file, one output file per input."""
        from water.local.context import StepFailed

        config = sr.step.config
        trained = [r.name for r in expressions.refs(config.model) if r.root == "steps" and r.attr == "model"]
        entry = trained and sr.run.pipeline.step(trained[0]).config.entry
        if not entry:
            raise StepFailed("locally, transform runs the inference code of the train step whose model it uses "
                             "(its entry script): set model to {{steps.TRAIN.model}}")
        model_tar = sr.for_process(config.model)
        model_dir = os.path.join(sr.run.run_dir, "steps", sr.step.name, "model")
        os.makedirs(model_dir, exist_ok=True)
        with tarfile.open(model_tar) as tar:
            tar.extractall(model_dir, filter="data")
        uri, folder = sr.output_dir(config.output)
        sr.run_process([sr.python(), "-m", "water.local.inference", entry, model_dir, sr.for_process(config.input),
                        folder, config.content_type])
        return {"output": uri}


KIND = Transform()

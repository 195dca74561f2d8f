"""`transform`: a SageMaker batch transform of `input` with a model (usually the
`{{steps.NAME.model}}` of an upstream train step)."""
from __future__ import annotations

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


KIND = Transform()

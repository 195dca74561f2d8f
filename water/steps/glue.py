"""`glue`: an AWS Glue job run with the step's arguments and workers."""
from __future__ import annotations

from water.spec.fields import Map, Model, SpecModel, as_data, field
from water.spec.types import TEXT, Enum, Int, S3Uri, Str
from water.steps.base import Kind


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


class Glue(Kind):
    name = "glue"
    spec = GlueSpec

    def step_outputs(self, config):
        return ("output", "bytes") if config.output or "--output" in config.arguments else ()

    def job_config(self, config, prepared):
        data = as_data(config)
        if not config.output and "--output" in config.arguments:
            data["output"] = config.arguments["--output"]
        return data


KIND = Glue()

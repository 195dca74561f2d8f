"""`framework:version` images of train and transform steps (xgboost:1.7-1) → their registry URIs, through the
sagemaker SDK's own lookup (`water[sagemaker]`), at render time. The SDK takes seconds to import, so it loads
only when a spec names such an image — never for other pipelines, other commands or the step runtime."""
from __future__ import annotations

import copy
import dataclasses
import os
from typing import TYPE_CHECKING

from water.errors import Problem, SpecError
from water.spec.fields import is_set, mark_of

if TYPE_CHECKING:
    from water.pipeline import Pipeline, PipelineStep


CPU_INSTANCE = "ml.m5.large"


def resolved(pipeline: Pipeline, strict: bool = False) -> tuple:
    """(the pipeline with framework images resolved, warnings). Without spec.aws.region or without the SDK the
    images stay as written with a warning (`water render`), or, when `strict` (deploy), that is an error at
    each image's line. An unknown framework or version is a spec error at its line."""
    wanted = [s for s in pipeline.steps if s.kind.image_scope and s.config.image and "/" not in s.config.image]
    if not wanted:
        return pipeline, []
    region = pipeline.spec.aws.region
    why = "" if region else "framework:version images are looked up for spec.aws.region, which is not set"
    retrieve = None
    if region:
        try:
            retrieve = _retrieve()
        except ImportError:
            why = "framework:version images need the sagemaker SDK (pip install 'water[sagemaker]')"
    if why and strict:
        raise SpecError(_problems(pipeline, [(step, why) for step in wanted]))
    if why:
        names = ", ".join(f"{s.name} ({s.config.image})" for s in wanted)
        return pipeline, [f"{names}: {why}; they stay as written and those steps would fail on the cluster"]
    steps, problems = [], []
    for step in pipeline.steps:
        if step in wanted:
            try:
                step = _with_image(step, _lookup(retrieve, step, region))
            except (ValueError, OSError) as exc:  # the SDK's answers for an unknown version or framework
                reason = str(exc).split(". You may need")[0] if isinstance(exc, ValueError) else "unknown framework"
                problems.append((step, f"'{step.config.image}' is not a SageMaker image for {region}: {reason}"))
        steps.append(step)
    if problems:
        raise SpecError(_problems(pipeline, problems))
    return dataclasses.replace(pipeline, steps=tuple(steps)), []


def _retrieve():
    import logging

    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    logging.getLogger("sagemaker.config").setLevel(logging.WARNING)  # its INFO lines on every import
    from sagemaker import image_uris

    return image_uris.retrieve


def _lookup(retrieve, step: PipelineStep, region: str) -> str:
    framework, _, version = step.config.image.partition(":")
    # a step without instances of its own (a model version, served later) gets the CPU image
    instance = getattr(step.config, "instance", None)
    return retrieve(framework, region, version or None, instance_type=instance.type if instance else CPU_INSTANCE,
                    image_scope=step.kind.image_scope)  # a framework's inference image may differ


def _with_image(step: PipelineStep, uri: str):
    config = copy.copy(step.config)
    config.image = uri
    return dataclasses.replace(step, config=config)


def _problems(pipeline: Pipeline, found: list) -> list:
    """Each (step, message) at its image's line, from one re-read of the spec with marks."""
    from water.pipeline import marked

    with_marks = marked(pipeline)
    problems = []
    for step, message in found:
        config = with_marks.step(step.name).config
        line, col = mark_of(config, "image") if is_set(config, "image") else mark_of(config)  # else: inherited
        problems.append(Problem(pipeline.file, line, col, f"{step.path}.{step.kind.name}.image", message))
    return problems

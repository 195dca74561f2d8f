"""`framework:version` images of SageMaker steps (xgboost:1.7-1) → their registry URIs, at render time, from
water's table of SageMaker's images (sagemaker-images.json, made from the sagemaker SDK's own lookup by
`python -m water.render.images`): no SDK needed, nothing slow to import, the same answer with or without it. A test
holds the table to the installed SDK's answers."""
from __future__ import annotations

import copy
import dataclasses
import functools
import json
import os
import sys
from typing import TYPE_CHECKING

from water.errors import Problem, SpecError
from water.spec.fields import is_set, mark_of

if TYPE_CHECKING:
    from water.pipeline import Pipeline, PipelineStep


CPU_INSTANCE = "ml.m5.large"
GPU_INSTANCE = "ml.p3.2xlarge"
TABLE = os.path.join(os.path.dirname(__file__), "sagemaker-images.json")
# the SDK's frameworks and built-in algorithms that train or serve (its image_uri_config/<name>.json)
FRAMEWORKS = ("autogluon", "blazingtext", "factorization-machines", "forecasting-deepar", "huggingface",
              "image-classification", "ipinsights", "kmeans", "knn", "lda", "linear-learner", "mxnet", "ntm",
              "object-detection", "object2vec", "pca", "pytorch", "randomcutforest", "semantic-segmentation",
              "seq2seq", "sklearn", "tensorflow", "xgboost")


def resolved(pipeline: Pipeline, strict: bool = False) -> tuple:
    """(the pipeline with framework images resolved, warnings). Without spec.aws.region the images stay as written
    with a warning (`water render`), or, when `strict` (deploy), that is an error at each image's line. An unknown
    framework or version is a spec error at its line."""
    wanted = [s for s in pipeline.steps if s.kind.image_scope and s.config.image and "/" not in s.config.image]
    if not wanted:
        return pipeline, []
    region = pipeline.spec.aws.region
    if not region:
        why = "framework:version images are looked up for spec.aws.region, which is not set"
        if strict:
            raise SpecError(_problems(pipeline, [(step, why) for step in wanted]))
        names = ", ".join(f"{s.name} ({s.config.image})" for s in wanted)
        return pipeline, [f"{names}: {why}; they stay as written and those steps would fail on the cluster"]
    steps, problems = [], []
    for step in pipeline.steps:
        if step in wanted:
            try:
                step = _with_image(step, _lookup(step, region))
            except LookupError as exc:
                problems.append((step, f"'{step.config.image}' is not a SageMaker image for {region}: {exc.args[0]}"))
        steps.append(step)
    if problems:
        raise SpecError(_problems(pipeline, problems))
    return dataclasses.replace(pipeline, steps=tuple(steps)), []


@functools.cache
def _table() -> dict:
    with open(TABLE, encoding="utf-8") as f:
        return json.load(f)


def _lookup(step: PipelineStep, region: str) -> str:
    # a step without instances of its own (a model version, served later) gets the CPU image
    instance = getattr(step.config, "instance", None)
    return image_uri(step.config.image, region, instance.type if instance else CPU_INSTANCE, step.kind.image_scope)


def image_uri(image: str, region: str, instance_type: str, scope: str) -> str:
    """The registry URI of `framework:version` for a scope (training or inference) on an instance type, in a
    region; LookupError saying what is known instead."""
    table = _table()
    framework, _, version = image.partition(":")
    scopes = table["images"].get(framework)
    if scopes is None:
        raise LookupError(f"no framework '{framework}' (known: {', '.join(sorted(table['images']))})")
    versions = scopes.get(scope, {})
    if version not in versions:
        raise LookupError(f"no {scope} image of {framework} {version or '(no version)'} (known: "
                          f"{', '.join(versions) or 'none'})")
    processor = "gpu" if instance_type.split(".")[1][:1] in ("p", "g") else "cpu"
    found = versions[version].get(processor)
    if found is None:
        raise LookupError(f"{framework} {version} has no {processor} image for {instance_type}")
    repository, registries = found
    account = table["registries"][registries].get(region)
    if account is None:
        raise LookupError(f"{framework} {version} is not published in {region}")
    return f"{account}.dkr.ecr.{region}.{table['domains'].get(region, 'amazonaws.com')}/{repository}"


def generate() -> dict:
    """The table, asked of the installed sagemaker SDK (image_uris.retrieve, as water looked images up before):
    for every framework, scope, version (and alias), processor and region it knows. Minutes: the SDK answers one
    image in a few milliseconds, and there are some 100,000."""
    import logging

    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    logging.getLogger("sagemaker.config").setLevel(logging.WARNING)
    import sagemaker
    from sagemaker import image_uris

    config_dir = os.path.join(os.path.dirname(image_uris.__file__), "image_uri_config")
    table: dict = {"sdk": sagemaker.__version__, "images": {}, "registries": {}, "domains": {}}
    for framework in FRAMEWORKS:
        with open(os.path.join(config_dir, f"{framework}.json"), encoding="utf-8") as f:
            config = json.load(f)
        for scope in ("training", "inference"):
            part = config.get(scope) or (config if scope in config.get("scope", ()) else None)
            if not part or "versions" not in part:
                continue
            versions = table["images"].setdefault(framework, {}).setdefault(scope, {})
            for version, entry in _versions(part):
                for processor, instance in (("cpu", CPU_INSTANCE), ("gpu", GPU_INSTANCE)):
                    _add(table, versions, framework, scope, version, entry, processor, instance, image_uris)
    table["images"] = {fw: {s: v for s, v in scopes.items() if v} for fw, scopes in table["images"].items()}
    table["images"] = {fw: scopes for fw, scopes in table["images"].items() if scopes}
    return table


def _versions(part: dict) -> list:
    """(version, its config) of a scope, its aliases too: the SDK tags `pytorch:2.1` 2.1-..., not 2.1.0-..."""
    aliases = part.get("version_aliases") or {}
    return list(part["versions"].items()) + [(alias, part["versions"][target]) for alias, target in aliases.items()
                                             if target in part["versions"]]


def _add(table: dict, versions: dict, framework: str, scope: str, version: str, entry: dict, processor: str,
         instance: str, image_uris) -> None:
    """One (version, processor)'s repository:tag and its registries, from the SDK's answer in each region."""
    accounts, repository = {}, None
    for region, account in sorted((entry.get("registries") or {}).items()):
        try:
            uri = image_uris.retrieve(framework, region, version, instance_type=instance, image_scope=scope)
        except (ValueError, KeyError):
            continue  # the SDK cannot answer without more (a py_version): water could not either
        registry, _, repository = uri.partition("/")
        domain = registry.split(f".dkr.ecr.{region}.", 1)[1]
        if domain != "amazonaws.com":
            table["domains"][region] = domain
        accounts[region] = registry.split(".", 1)[0]
    if not accounts or repository is None:
        return
    key = registry_key(accounts)
    table["registries"][key] = accounts
    versions.setdefault(version, {})[processor] = [repository, key]


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


def registry_key(accounts: dict) -> str:
    """The name of a set of registries (region → account) in the table: the same set, the same name."""
    import hashlib

    return hashlib.sha256(json.dumps(accounts, sort_keys=True).encode()).hexdigest()[:12]


if __name__ == "__main__":  # python -m water.render.images: the table made again from the installed SDK
    with open(TABLE, "w", encoding="utf-8") as out:
        json.dump(generate(), out, sort_keys=True, separators=(",", ":"))
        out.write("\n")
    print(f"wrote {TABLE}", file=sys.stderr)

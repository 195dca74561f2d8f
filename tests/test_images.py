"""framework:version images resolved at render time from water's table of SageMaker's images, which holds what the
sagemaker SDK's own lookup (image_uris.retrieve) answers."""
from __future__ import annotations

import sys

import pytest
from sagemaker import image_uris

from conftest import step_configs

from water import pipeline as pipeline_mod
from water import render as render_mod
from water.render import images
from water.errors import SpecError


def step_specs(path) -> tuple:
    """(each step's kind fields as its pod reads them, the render's warnings)."""
    rendered = render_mod.render(pipeline_mod.load(path))
    return {task: config["spec"] for task, config in step_configs(rendered.objects).items()
            if "spec" in config}, rendered.warnings


def test_a_framework_image_becomes_the_sdks_uri_for_the_region_and_scope(project):
    configs, warnings = step_specs(project("babyweight"))
    assert warnings == []
    assert configs["train"]["image"] == image_uris.retrieve("xgboost", "ap-northeast-1", "1.7-1",
                                                            instance_type="ml.m5.xlarge", image_scope="training")
    assert configs["train"]["image"].startswith("354813040037.dkr.ecr.ap-northeast-1.amazonaws.com/")


def test_a_transform_serving_a_pytorch_model_gets_the_inference_image(project):
    path = project("babyweight", lambda t: t.replace("image: xgboost:1.7-1", "image: pytorch:2.1"))
    configs, _ = step_specs(path)
    assert "/pytorch-training:2.1-cpu-py310" in configs["train"]["image"]
    assert "/pytorch-inference:2.1-cpu-py310" in configs["predict"]["image"]


def test_an_unknown_version_is_a_spec_error_at_its_line(project, runner):
    from water.cli import cli

    path = project("babyweight", lambda t: t.replace("image: xgboost:1.7-1", "image: xgboost:9.9"))
    result = runner.invoke(cli, ["render", str(path)])
    assert result.exit_code == 2
    train, predict = [line.split("babyweight/", 1)[1] for line in result.output.strip().splitlines()]
    assert train == ("water.yaml:42:16: spec.steps[2].train.image: 'xgboost:9.9' is not a SageMaker image for "
                     "ap-northeast-1: no training image of xgboost 9.9 (known: 0.90-1, 0.90-2, 1, 1.0-1, 1.2-1, 1.2-2, "
                     "1.3-1, 1.5-1, 1.7-1, latest)")
    assert predict.startswith("water.yaml:53:9: spec.steps[3].transform.image: ")  # serves with train's image


def test_without_a_region_render_warns_and_deploy_refuses(project):
    path = project("babyweight", lambda t: t.replace("  aws: {region: ap-northeast-1}", ""))
    configs, warnings = step_specs(path)
    assert configs["train"]["image"] == "xgboost:1.7-1"
    assert warnings == ["train (xgboost:1.7-1), predict (xgboost:1.7-1): framework:version images are looked up "
                        "for spec.aws.region, which is not set; they stay as written and those steps would fail "
                        "on the cluster"]
    with pytest.raises(SpecError) as err:
        render_mod.render(pipeline_mod.load(path), strict=True)
    assert [p.field for p in err.value.problems] == ["spec.steps[2].train.image", "spec.steps[3].transform.image"]


def test_without_the_sdk_render_resolves_the_same_images(project, monkeypatch):
    path = project("babyweight")
    with_sdk, _ = step_specs(path)
    monkeypatch.setitem(sys.modules, "sagemaker", None)  # import sagemaker now raises ImportError
    without, warnings = step_specs(path)
    assert warnings == [] and without == with_sdk


@pytest.mark.parametrize("framework", images.FRAMEWORKS)
def test_the_table_answers_what_the_sdk_answers(framework):
    """For each framework and scope: its newest and oldest versions (an alias among them where there is one), on
    CPU and GPU, in three regions of three partitions' kinds. The table was made from the SDK
    (`python -m water.render.images`); an SDK whose answers moved fails here until it is made again."""
    import json

    with open(images.TABLE) as f:
        table = json.load(f)
    assert table["sdk"] == __import__("sagemaker").__version__
    for scope, versions in table["images"].get(framework, {}).items():
        for version in {list(versions)[0], list(versions)[-1]}:
            for processor, instance in (("cpu", images.CPU_INSTANCE), ("gpu", images.GPU_INSTANCE)):
                if processor not in versions[version]:
                    continue
                registries = table["registries"][versions[version][processor][1]]
                for region in [r for r in ("us-east-1", "eu-west-1", "cn-north-1") if r in registries]:
                    assert images.image_uri(f"{framework}:{version}", region, instance, scope) == image_uris.retrieve(
                        framework, region, version, instance_type=instance, image_scope=scope), (scope, version)

"""framework:version images (train, transform) resolved at render time through the sagemaker SDK's lookup."""
from __future__ import annotations

import base64
import json
import sys

import pytest
from sagemaker import image_uris

from water import pipeline as pipeline_mod
from water import render as render_mod
from water.errors import SpecError


def step_configs(path) -> dict:
    rendered = render_mod.render(pipeline_mod.load(path))
    template = rendered.objects[0]
    configs = {}
    for task in template["spec"]["templates"][0]["dag"]["tasks"]:
        for param in task.get("arguments", {}).get("parameters", []):
            if param["name"] == "config":
                config = json.loads(base64.b64decode(param["value"]))
                if "spec" in config:
                    configs[config["step"]] = config["spec"]
    return configs, rendered.warnings


def test_a_framework_image_becomes_the_sdks_uri_for_the_region_and_scope(project):
    configs, warnings = step_configs(project("babyweight"))
    assert warnings == []
    assert configs["train"]["image"] == image_uris.retrieve("xgboost", "ap-northeast-1", "1.7-1",
                                                            instance_type="ml.m5.xlarge", image_scope="training")
    assert configs["train"]["image"].startswith("354813040037.dkr.ecr.ap-northeast-1.amazonaws.com/")


def test_a_transform_serving_a_pytorch_model_gets_the_inference_image(project):
    path = project("babyweight", lambda t: t.replace("image: xgboost:1.7-1", "image: pytorch:2.1"))
    configs, _ = step_configs(path)
    assert "/pytorch-training:2.1-cpu-py310" in configs["train"]["image"]
    assert "/pytorch-inference:2.1-cpu-py310" in configs["predict"]["image"]


def test_an_unknown_version_is_a_spec_error_at_its_line(project, runner):
    from water.cli import cli

    path = project("babyweight", lambda t: t.replace("image: xgboost:1.7-1", "image: xgboost:9.9"))
    result = runner.invoke(cli, ["render", str(path)])
    assert result.exit_code == 2
    train, predict = [line.split("babyweight/", 1)[1] for line in result.output.strip().splitlines()]
    assert train == ("water.yaml:42:16: spec.steps[2].train.image: 'xgboost:9.9' is not a SageMaker image for "
                     "ap-northeast-1: Unsupported xgboost version: 9.9")
    assert predict.startswith("water.yaml:53:9: spec.steps[3].transform.image: ")  # serves with train's image


def test_without_a_region_render_warns_and_deploy_refuses(project):
    path = project("babyweight", lambda t: t.replace("  aws: {region: ap-northeast-1}", ""))
    configs, warnings = step_configs(path)
    assert configs["train"]["image"] == "xgboost:1.7-1"
    assert warnings == ["train (xgboost:1.7-1), predict (xgboost:1.7-1): framework:version images are looked up "
                        "for spec.aws.region, which is not set; they stay as written and those steps would fail "
                        "on the cluster"]
    with pytest.raises(SpecError) as err:
        render_mod.render(pipeline_mod.load(path), strict=True)
    assert [p.field for p in err.value.problems] == ["spec.steps[2].train.image", "spec.steps[3].transform.image"]


def test_without_the_sdk_render_says_how_to_get_it(project, monkeypatch):
    monkeypatch.setitem(sys.modules, "sagemaker", None)  # import sagemaker now raises ImportError
    _, warnings = step_configs(project("babyweight"))
    assert "need the sagemaker SDK (pip install 'water[sagemaker]')" in warnings[0]

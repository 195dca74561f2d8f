"""The `endpoint` kind and `water promote`: a registered version served on a SageMaker endpoint, updated with the
guardrails, restart-safe, rolled back by SageMaker or by the user. moto's SageMaker has CreateModel,
CreateEndpointConfig, CreateEndpoint and DescribeEndpoint but no UpdateEndpoint, and its endpoints are InService at
once: the steps talk to moto through tests/sagemakerapi.py, a recording stand-in that keeps endpoints Creating and
Updating as SageMaker does and implements the update."""
from __future__ import annotations

import json
import os
import shutil

import pytest
from conftest import JOB_HOOKS, TESTS, pod_argv, water_job
from sagemakerapi import SageMakerStandIn

from water import pipeline as pipeline_mod
from water import render as render_mod
from water.errors import SpecError
from water.runtime import aws

PIPELINE = os.path.join(TESTS, "registry-pipeline", "serving.yaml")
VERSION_ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/wines/{}"
TRAINED = {"train": {"model": "s3://lake-results/models/x/output/model.tar.gz", "metrics-accuracy": "0.9722"}}


@pytest.fixture
def sagemaker(aws_env, moto_endpoint, monkeypatch):
    stand_in = SageMakerStandIn(moto_endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL", stand_in.url)
    yield stand_in
    stand_in.close()


def _outputs(env) -> dict:
    folder = env["WATER_OUTPUTS_DIR"]
    return {name: open(os.path.join(folder, name)).read() for name in sorted(os.listdir(folder))}


def _run(monkeypatch, env, run_id: str, **options) -> int:
    """One run's register and serve pods, the version register made passed on as Argo passes outputs."""
    monkeypatch.setenv("WATER_RUN_ID", run_id)
    assert water_job(pod_argv("register", upstream=TRAINED, pipeline_file=PIPELINE)) == 0
    version = _outputs(env)["output"]
    return water_job(pod_argv("serve", upstream={"register": {"output": version}}, pipeline_file=PIPELINE,
                              **options), sleep=lambda s: None)


def _serving(endpoint: str = "wines") -> str:
    """The model package the endpoint's model runs, asked of SageMaker (moto) as a user would."""
    sm = aws.client("sagemaker")
    config = sm.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    (variant,) = sm.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"]
    return sm.describe_model(ModelName=variant["ModelName"])["PrimaryContainer"]["ModelPackageName"]


def test_two_runs_serve_version_1_then_2_the_second_through_one_guarded_update(sagemaker, aws_env, monkeypatch,
                                                                              argo_errors):
    assert _run(monkeypatch, aws_env, "wines-run-1") == 0
    assert _serving() == VERSION_ARN.format(1)
    assert _outputs(aws_env)["output"] == "arn:aws:sagemaker:us-east-1:123456789012:endpoint/wines"
    assert _run(monkeypatch, aws_env, "wines-run-2") == 0
    assert _serving() == VERSION_ARN.format(2)
    (created,) = sagemaker.bodies("CreateEndpoint")
    (update,) = sagemaker.bodies("UpdateEndpoint")
    assert update["DeploymentConfig"] == {
        "BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {
            "Type": "CANARY", "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10}, "WaitIntervalInSeconds": 600}},
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "wines-5xx"}]}}
    first, second = sagemaker.bodies("CreateEndpointConfig")
    assert (created["EndpointConfigName"], update["EndpointConfigName"]) == (first["EndpointConfigName"],
                                                                           second["EndpointConfigName"])
    assert second["ProductionVariants"] == [{"VariantName": "AllTraffic", "InstanceType": "ml.m5.large",
                                             "InitialInstanceCount": 2, "InitialVariantWeight": 1.0,
                                             "ModelName": second["EndpointConfigName"]}]
    assert {t["Key"]: t["Value"] for t in created["Tags"]} == {"water/pipeline": "wines", "water/run": "wines-run-1",
                                                           "water/step": "serve"}
    (template,) = [o for o in render_mod.render(pipeline_mod.load(PIPELINE)).objects if o["kind"] ==
                   "WorkflowTemplate"]
    assert argo_errors(template) == []


def test_a_run_that_serves_what_already_serves_changes_nothing(sagemaker, aws_env, monkeypatch):
    assert _run(monkeypatch, aws_env, "wines-run-1") == 0
    argv = pod_argv("serve", upstream={"register": {"output": VERSION_ARN.format(1)}}, pipeline_file=PIPELINE)
    assert water_job(argv, sleep=lambda s: None) == 0
    assert len(sagemaker.bodies("CreateEndpoint")) == 1 and sagemaker.bodies("UpdateEndpoint") == []


def test_a_restarted_step_waits_for_the_update_under_way_instead_of_asking_again(sagemaker, aws_env, monkeypatch,
                                                                                capsys):
    assert _run(monkeypatch, aws_env, "wines-run-1") == 0

    def killed(**_):  # the pod dies right after SageMaker took the update
        raise SystemExit(137)

    sagemaker.busy_polls = 3
    JOB_HOOKS.append(("after-call.sagemaker.UpdateEndpoint", killed))
    with pytest.raises(SystemExit):
        _run(monkeypatch, aws_env, "wines-run-2")
    JOB_HOOKS.clear()
    monkeypatch.setenv("WATER_ATTEMPT", "1")
    argv = pod_argv("serve", upstream={"register": {"output": VERSION_ARN.format(2)}}, pipeline_file=PIPELINE)
    assert water_job(argv, sleep=lambda s: None) == 0
    assert len(sagemaker.bodies("UpdateEndpoint")) == 1 and _serving() == VERSION_ARN.format(2)
    assert "is under way (an earlier attempt asked): waiting" in capsys.readouterr().out


def test_an_update_sagemaker_rolled_back_fails_the_step_and_the_old_version_still_serves(sagemaker, aws_env,
                                                                                          monkeypatch, capsys):
    assert _run(monkeypatch, aws_env, "wines-run-1") == 0
    old = aws.client("sagemaker").describe_endpoint(EndpointName="wines")["EndpointConfigName"]
    sagemaker.rollback = True
    assert _run(monkeypatch, aws_env, "wines-run-2") == 1
    assert capsys.readouterr().err.strip().endswith(
        f"failed: SageMaker rolled the update of endpoint wines back to {old}: an alarm fired or the new fleet failed")
    assert _serving() == VERSION_ARN.format(1)


def test_a_serverless_endpoint_of_a_train_model_takes_the_train_image(sagemaker, aws_env, monkeypatch):
    monkeypatch.setenv("WATER_RUN_ID", "wines-run-1")
    argv = pod_argv("serve", spec={"model": "{{steps.train.model}}", "instance": None, "deployment": None,
                                   "serverless": {"memory": 2048}}, step_fields={"after": ["train"]},
                    upstream=TRAINED, pipeline_file=PIPELINE)
    assert water_job(argv, sleep=lambda s: None) == 0
    (config,) = sagemaker.bodies("CreateEndpointConfig")
    assert config["ProductionVariants"][0]["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
    (model,) = sagemaker.bodies("CreateModel")
    assert model["PrimaryContainer"] == {
        "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
        "ModelDataUrl": TRAINED["train"]["model"]}
    assert model["ExecutionRoleArn"] == "arn:aws:iam::123456789012:role/sm"


@pytest.mark.parametrize("change, message", [
    ("instance: {type: ml.m5.large, count: 2}", "endpoint: an endpoint serves on exactly one of: instance, serverless"),
    ("instance: {type: ml.m5.large}\n        serverless: {memory: 2048}", "exactly one of: instance, serverless"),
    ("serverless: {memory: 1500}", "endpoint.serverless.memory: a serverless endpoint's memory is 1024, 2048"),
    ("instance: {type: ml.m5.large}\n        deployment: {canary: 10%, linear: 1}",
     "endpoint.deployment: a deployment shifts traffic by canary or by linear steps, not both"),
    ("instance: {type: ml.m5.large}\n        deployment: {canary: 150%}", "endpoint.deployment.canary: '150%' is not "
     "a share of the capacity"),
    ("instance: {type: ml.m5.large}\n        deployment: {bake: 2h}", "endpoint.deployment.bake: SageMaker watches"),
    ("instance: {type: ml.m5.large}\n        model: s3://b/m.tar.gz", "endpoint.image: image is required when model "
     "is not a train step's model"),
])
def test_an_endpoint_written_wrong_is_a_located_error(tmp_path, change, message):
    text = open(PIPELINE).read()
    head, _, _ = text.partition("        instance: {type: ml.m5.large, count: 2}")
    if "model: s3" in change:
        head = head.replace('        model: "{{steps.register.output}}"\n', "")
    (tmp_path / "water.yaml").write_text(head + "        " + change.replace("instance: {type: ml.m5.large, count: 2}",
                                                                           "") + "\n")
    (tmp_path / "train.py").write_text("")
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")) as found:
        pipeline_mod.load(str(tmp_path))
    assert "water.yaml:" in str(found.value)


# --- water promote, water models ------------------------------------------------------------------------------

def test_promote_version_1_points_the_endpoint_back_and_models_shows_what_serves(sagemaker, aws_env, monkeypatch,
                                                                                runner):
    from water.cli import cli

    for run_id in ("wines-run-1", "wines-run-2"):
        assert _run(monkeypatch, aws_env, run_id) == 0
    result = runner.invoke(cli, ["promote", "wines", "--version", "1", "-y"], obj={"sleep": lambda s: None})
    assert result.exit_code == 0, result.output
    assert "endpoint wines: version 2 → version 1 (wines-" in result.output
    assert _serving() == VERSION_ARN.format(1)
    update = sagemaker.bodies("UpdateEndpoint")[-1]
    assert update["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"] == "CANARY"
    (approved,) = sagemaker.bodies("UpdateModelPackage")
    assert approved["ModelPackageArn"] == VERSION_ARN.format(1) and approved["ModelApprovalStatus"] == "Approved"
    rows = json.loads(runner.invoke(cli, ["models", "wines", "-o", "json"]).output)
    assert [(r["version"], r["serves"]) for r in rows] == [(1, "wines"), (2, "")]
    assert rows[0]["promoted"].endswith("on wines from version 2")


def test_promote_without_an_endpoint_serving_the_group_says_to_name_one(sagemaker, aws_env, monkeypatch, runner):
    from water.cli import cli

    monkeypatch.setenv("WATER_RUN_ID", "wines-run-1")
    assert water_job(pod_argv("register", upstream=TRAINED, pipeline_file=PIPELINE)) == 0
    result = runner.invoke(cli, ["promote", "wines", "--version", "1", "-y"])
    assert result.exit_code == 1 and result.output.strip() == (
        "no endpoint serves a version of model group 'wines': name one with --endpoint")
    assert sagemaker.bodies("UpdateModelPackage") == []


# --- locally ----------------------------------------------------------------------------------------------------

def test_locally_the_endpoint_serves_the_registered_version_and_serve_answers_from_it(tmp_path):
    from water.local import runner
    from water.steps import registry

    shutil.copytree(os.path.dirname(PIPELINE), tmp_path, dirs_exist_ok=True)
    (tmp_path / "water.yaml").write_text(open(PIPELINE).read())
    (tmp_path / "train.py").write_text('print("accuracy=0.95")\n')
    for _ in range(2):
        done = runner.run(pipeline_mod.load(str(tmp_path)), jobs=1)
        assert done.status == "succeeded", done.steps
    assert done.steps["serve"].outputs == {"output": "arn:aws:sagemaker:local:000000000000:endpoint/wines"}
    record = json.loads((tmp_path / ".water/endpoints/wines.json").read_text())
    assert (record["group"], record["version"]) == ("wines", 2) and done.run_id in record["by"]
    assert [(r["version"], r["live"]) for r in registry.local_versions(str(tmp_path))] == [(1, False), (2, True)]


# --- water delete, water-job cleanup ----------------------------------------------------------------------------

def _deployed(tmp_path, water_memory) -> str:
    shutil.copy(os.path.join(TESTS, "registry-pipeline", "train.py"), tmp_path / "train.py")
    (tmp_path / "water.yaml").write_text(open(PIPELINE).read())
    water_memory("deploy", tmp_path)
    return str(tmp_path)


def test_delete_removes_the_endpoint_it_made_unless_kept(sagemaker, aws_env, monkeypatch, tmp_path, water_memory):
    assert _run(monkeypatch, aws_env, "wines-run-1") == 0
    path = _deployed(tmp_path, water_memory)
    out = water_memory("delete", "wines", "-y", "--keep-endpoint")
    assert "SageMaker endpoint" not in out
    assert aws.client("sagemaker").describe_endpoint(EndpointName="wines")["EndpointStatus"] == "InService"
    water_memory("deploy", path)
    out = water_memory("delete", "wines", "-y")
    assert out.splitlines()[0] == "SageMaker endpoint wines deleted"
    assert aws.client("sagemaker").list_endpoints()["Endpoints"] == []


def test_delete_leaves_an_endpoint_the_pipeline_did_not_make(sagemaker, aws_env, monkeypatch, tmp_path, water_memory):
    sm = aws.client("sagemaker")
    sm.create_model(ModelName="theirs", ExecutionRoleArn="arn:aws:iam::123456789012:role/sm",
                    PrimaryContainer={"Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/x:1"})
    sm.create_endpoint_config(EndpointConfigName="theirs", ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": "theirs", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}])
    sm.create_endpoint(EndpointName="wines", EndpointConfigName="theirs")
    assert _run(monkeypatch, aws_env, "wines-run-1") == 0  # updated to serve version 1: still not made by water
    _deployed(tmp_path, water_memory)
    assert "SageMaker endpoint" not in water_memory("delete", "wines", "-y")
    assert _serving() == VERSION_ARN.format(1)


def test_a_failed_run_s_cleanup_leaves_the_endpoint_alone():
    from conftest import pod_config, task_argv

    config = pod_config(task_argv(render_mod.render(pipeline_mod.load(PIPELINE)).objects, "stop-aws-jobs"))
    assert [s["step"] for s in config["steps"]] == ["train"]


# --- {{models.GROUP.live.metrics.NAME}}: better than what serves ------------------------------------------------

BETTER = "{{steps.train.metrics.accuracy}} >= {{models.wines.live.metrics.accuracy}}"


def _better_than_live(text: str) -> str:
    return text.replace('when: "{{steps.train.metrics.accuracy}} >= 0.9"', f'when: "{BETTER}"')


def test_a_gate_on_the_live_model_is_decided_by_a_task_asking_sagemaker(sagemaker, aws_env, monkeypatch, tmp_path,
                                                                       argo_errors, capsys):
    """None serves: the gate holds (nothing to beat); once version 1 (0.9722) serves, a 0.95 model is not
    registered and a 0.99 one is."""
    (tmp_path / "water.yaml").write_text(_better_than_live(open(PIPELINE).read()))
    shutil.copy(os.path.join(TESTS, "registry-pipeline", "train.py"), tmp_path / "train.py")
    (template,) = [o for o in render_mod.render(pipeline_mod.load(str(tmp_path))).objects
                   if o["kind"] == "WorkflowTemplate"]
    assert argo_errors(template) == []
    tasks = {t["name"]: t for t in next(b for b in template["spec"]["templates"] if "dag" in b)["dag"]["tasks"]}
    assert tasks["register"]["when"] == "{{tasks.water-when-register.outputs.parameters.holds}} == true"

    def decided(accuracy: str) -> str:
        argv = pod_argv("register", task="water-when-register", pipeline_file=str(tmp_path / "water.yaml"),
                        upstream={"train": {**TRAINED["train"], "metrics-accuracy": accuracy}})
        assert water_job(argv) == 0
        return _outputs(aws_env)["holds"]

    assert decided("0.5") == "true"
    assert "when: 0.5 >= (wines: none serves) is true" in capsys.readouterr().out
    assert _run(monkeypatch, aws_env, "wines-run-1") == 0  # version 1, accuracy 0.9722, serves
    assert (decided("0.95"), decided("0.99")) == ("false", "true")
    assert "when: 0.95 >= 0.9722 is false" in capsys.readouterr().out


def test_locally_a_model_worse_than_the_live_one_is_not_registered_nor_served(tmp_path):
    from water.local import runner

    (tmp_path / "water.yaml").write_text(_better_than_live(open(PIPELINE).read()))
    for accuracy, registered in (("0.95", "done"), ("0.93", "skipped"), ("0.97", "done")):
        (tmp_path / "train.py").write_text(f'print("accuracy={accuracy}")\n')
        done = runner.run(pipeline_mod.load(str(tmp_path)), jobs=1)
        assert (done.status, done.steps["register"].status, done.steps["serve"].status) == (
            "succeeded", registered, registered), done.steps
    assert done.steps["register"].outputs["version"] == "2"
    skipped = json.loads((tmp_path / ".water/endpoints/wines.json").read_text())
    assert skipped["version"] == 2


def test_models_is_read_in_conditions_only(tmp_path):
    text = open(PIPELINE).read().replace('metrics: {accuracy: "{{steps.train.metrics.accuracy}}"}',
                                         'metrics: {accuracy: "{{models.wines.live.metrics.accuracy}}"}')
    (tmp_path / "water.yaml").write_text(text)
    (tmp_path / "train.py").write_text("")
    with pytest.raises(SpecError, match=r"register.metrics.accuracy: \{\{models...\}\} is read in when: conditions "
                       "only"):
        pipeline_mod.load(str(tmp_path))

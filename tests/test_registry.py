"""The `register` kind: a model becomes a new version of its group with its metrics and lineage — in the pod
against moto's SageMaker model registry (CreateModelPackageGroup, CreateModelPackage, ListModelPackages and
DescribeModelPackage, all of which moto's server implements), locally under .water/models/; one version per run
however often its step is restarted or its answer lost; a false gate registers nothing."""
from __future__ import annotations

import json
import os
import shutil

import pytest

from conftest import JOB_HOOKS, TESTS, pod_argv, water_job
from water import pipeline as pipeline_mod
from water import render as render_mod
from water.errors import SpecError
from water.local import runner
from water.runtime import aws

PIPELINE = os.path.join(TESTS, "registry-pipeline", "water.yaml")
MODEL = "s3://lake-results/models/wines-train-x/output/model.tar.gz"
TRAINED = {"train": {"model": MODEL, "metrics-accuracy": "0.9722"}}


def _argv(**options) -> list:
    return pod_argv("register", upstream=TRAINED, pipeline_file=PIPELINE, **options)


def _pod_env(monkeypatch, run_id: str) -> dict:
    """The register pod's environment as the kubelet makes it: the spec hash and commit through the downward API,
    from the annotations the rendered WorkflowTemplate gives every pod of the run."""
    p = pipeline_mod.load(PIPELINE)
    (template,) = [o for o in render_mod.render(p, git_commit="0123abcd").objects if o["kind"] == "WorkflowTemplate"]
    annotations = template["spec"]["podMetadata"]["annotations"]
    body = next(t for t in template["spec"]["templates"] if t["name"] == "register")
    for env in body["container"]["env"]:
        path = (env.get("valueFrom") or {}).get("fieldRef", {}).get("fieldPath", "")
        if path.startswith("metadata.annotations["):
            monkeypatch.setenv(env["name"], annotations.get(path[len("metadata.annotations['"):-2], ""))
    monkeypatch.setenv("WATER_RUN_ID", run_id)
    return {"specHash": p.source_hash}


def _versions() -> list:
    sagemaker = aws.client("sagemaker")
    found = sagemaker.list_model_packages(ModelPackageGroupName="wines")["ModelPackageSummaryList"]
    return sorted((sagemaker.describe_model_package(ModelPackageName=s["ModelPackageArn"]) for s in found),
                  key=lambda d: d["ModelPackageVersion"])


def _outputs(env) -> dict:
    folder = env["WATER_OUTPUTS_DIR"]
    return {name: open(os.path.join(folder, name)).read() for name in sorted(os.listdir(folder))}


def test_two_runs_register_versions_1_and_2_with_their_metrics_and_lineage(aws_env, monkeypatch):
    sent: list = []
    JOB_HOOKS.append(("before-send.sagemaker.CreateModelPackage", lambda request, **_: sent.append(
        json.loads(request.body))))
    lineage = _pod_env(monkeypatch, "wines-run-1")
    assert water_job(_argv()) == 0
    assert _outputs(aws_env) == {"output": "arn:aws:sagemaker:us-east-1:123456789012:model-package/wines/1",
                                 "version": "1"}
    _pod_env(monkeypatch, "wines-run-2")
    assert water_job(_argv()) == 0
    first, second = _versions()
    assert (first["ModelPackageVersion"], second["ModelPackageVersion"]) == (1, 2)
    assert second["CustomerMetadataProperties"] == {
        "water/pipeline": "wines", "water/run": "wines-run-2", "water/step": "register",
        "water/spec-hash": lineage["specHash"], "water/git-commit": "0123abcd", "metric/accuracy": "0.9722"}
    assert second["ModelApprovalStatus"] == "Approved"
    assert second["ModelPackageDescription"] == "the nightly wines model"
    (container,) = second["InferenceSpecification"]["Containers"]
    assert container["ModelDataUrl"] == MODEL
    assert container["Image"] == "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    # the same lineage as tags (as sent: moto's ListTags cannot parse a versioned model package's ARN)
    assert {t["Key"]: t["Value"] for t in sent[1]["Tags"]} == {
        k: v for k, v in second["CustomerMetadataProperties"].items() if k.startswith("water/")}
    assert sent[0]["ClientToken"] != sent[1]["ClientToken"]
    group = aws.client("sagemaker").describe_model_package_group(ModelPackageGroupName="wines")
    assert group["ModelPackageGroupName"] == "wines"


def test_a_restarted_register_finds_its_run_s_version_instead_of_making_another(aws_env, monkeypatch, capsys):
    _pod_env(monkeypatch, "wines-run-1")
    assert water_job(_argv()) == 0
    monkeypatch.setenv("WATER_ATTEMPT", "1")  # the retry of a pod killed after its call went through
    assert water_job(_argv()) == 0
    assert [v["ModelPackageVersion"] for v in _versions()] == [1]
    assert "version 1 was registered by an earlier attempt of this run" in capsys.readouterr().out


def test_a_create_whose_answer_was_lost_is_looked_for_not_made_again(aws_env, monkeypatch):
    from test_runtime import _forward_then_lose

    _pod_env(monkeypatch, "wines-run-1")
    calls: list = []
    JOB_HOOKS.append(("before-send.sagemaker.CreateModelPackage", _forward_then_lose(calls)))
    assert water_job(_argv()) == 0
    assert len(calls) == 1 and [v["ModelPackageVersion"] for v in _versions()] == [1]
    assert _outputs(aws_env)["version"] == "1"


def test_a_metric_that_is_not_a_number_fails_the_step(aws_env, monkeypatch, capsys):
    _pod_env(monkeypatch, "wines-run-1")
    argv = pod_argv("register", upstream={"train": {**TRAINED["train"], "metrics-accuracy": "high"}},
                    pipeline_file=PIPELINE)
    assert water_job(argv) == 1
    assert capsys.readouterr().err.strip().endswith("failed: metric accuracy is 'high', not a number")
    assert aws.client("sagemaker").list_model_packages(ModelPackageGroupName="wines")["ModelPackageSummaryList"] == []


def test_the_rendered_register_pod_reads_the_lineage_from_its_annotations(argo_errors):
    (template,) = [o for o in render_mod.render(pipeline_mod.load(PIPELINE), git_commit="0123abcd").objects
                   if o["kind"] == "WorkflowTemplate"]
    assert argo_errors(template) == []
    assert template["spec"]["podMetadata"]["annotations"]["water/git-commit"] == "0123abcd"
    env = {e["name"]: e for e in next(t for t in template["spec"]["templates"]
                                      if t["name"] == "register")["container"]["env"]}
    assert env["WATER_GIT_COMMIT"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.annotations['water/git-commit']"}}
    train = next(t for t in template["spec"]["templates"] if t["name"] == "train")
    assert "WATER_GIT_COMMIT" in {e["name"] for e in train["container"]["env"]}  # its training job is tagged with it
    notify = [t for t in template["spec"]["templates"] if t["name"] in ("notify", "cleanup", "size", "when")]
    assert all("WATER_GIT_COMMIT" not in {e["name"] for e in t["container"]["env"]} for t in notify)


# --- locally: .water/models/<group>/ ------------------------------------------------------------------------------

def _project(tmp_path, accuracy: str):
    shutil.copytree(os.path.dirname(PIPELINE), tmp_path, dirs_exist_ok=True)
    (tmp_path / "train.py").write_text(f'print("accuracy={accuracy}")\n')
    return tmp_path


def _local_versions(path) -> list:
    folder = path / ".water" / "models" / "wines" / "versions"
    return [json.loads((folder / name).read_text()) for name in sorted(os.listdir(folder))] if folder.exists() else []


def test_locally_two_runs_make_versions_1_and_2_and_a_false_gate_none(tmp_path):
    path = _project(tmp_path, "0.95")
    first = runner.run(pipeline_mod.load(str(path)), jobs=1)
    second = runner.run(pipeline_mod.load(str(path)), jobs=1)
    assert first.steps["register"].outputs == {"output": "arn:aws:sagemaker:local:000000000000:model-package/wines/1",
                                               "version": "1"}
    assert second.steps["register"].outputs["version"] == "2"
    one, two = _local_versions(path)
    assert (one["version"], two["version"]) == (1, 2)
    assert two["metrics"] == {"accuracy": "0.95"} and two["approval"] == "Approved"
    assert two["lineage"]["water/run"] == second.run_id and two["lineage"]["water/step"] == "register"
    assert two["model"].endswith("/output/model.tar.gz")
    _project(tmp_path, "0.5")
    gated = runner.run(pipeline_mod.load(str(path)), jobs=1)
    assert gated.status == "succeeded" and gated.steps["register"].status == "skipped"
    assert len(_local_versions(path)) == 2


@pytest.mark.parametrize("change, message", [
    (("group: wines", "group: wines_v1"), "register.group: 'wines_v1' is not a model package group name"),
    (("approval: Approved", "approval: Yes"), "register.approval: 'Yes' is not one of: Approved"),
    (('model: "{{steps.train.model}}"', "model: s3://b/m.tar.gz"),
     "register.image: image is required when model is not a train step's model"),
])
def test_a_register_written_wrong_is_a_located_error(tmp_path, change, message):
    path = _project(tmp_path, "0.95")
    (path / "water.yaml").write_text((path / "water.yaml").read_text().replace(*change))
    with pytest.raises(SpecError, match=message):
        pipeline_mod.load(str(path))


# --- water models ----------------------------------------------------------------------------------------------

def test_water_models_lists_the_group_s_versions_from_sagemaker(aws_env, monkeypatch, runner):
    from water.cli import cli

    for run_id in ("wines-run-1", "wines-run-2"):
        _pod_env(monkeypatch, run_id)
        assert water_job(_argv()) == 0
    result = runner.invoke(cli, ["models", "wines", "-o", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["version"], r["approval"], r["metrics"], r["run"], r["commit"]) for r in rows] == [
        (1, "Approved", "accuracy 0.9722", "wines-run-1", "0123abcd"),
        (2, "Approved", "accuracy 0.9722", "wines-run-2", "0123abcd")]


def test_water_models_says_in_one_line_what_aws_refused(aws_env, runner):
    from water.cli import cli

    result = runner.invoke(cli, ["models", "nowhere"])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert result.output.startswith("cannot list the versions of model group 'nowhere': DescribeModelPackageGroup: "
                                 "ValidationException: ModelPackageGroup arn:aws:sagemaker:us-east-1:123456789012:"
                                 "model-package-group/nowhere does not exist.")


def test_water_models_local_lists_the_project_s_registry(tmp_path, runner):
    from water.cli import cli

    from water.local import runner as local_runner

    path = _project(tmp_path, "0.95")
    first = local_runner.run(pipeline_mod.load(str(path)), jobs=1)
    result = runner.invoke(cli, ["models", "--local", str(path)])
    assert result.exit_code == 0, result.output
    header, row = result.output.splitlines()
    assert header.split() == ["GROUP", "VERSION", "LIVE", "SERVES", "CREATED", "APPROVAL", "METRICS", "RUN", "COMMIT",
                              "PROMOTED"]
    assert row.split()[:4] == ["wines", "1", "no", "-"] and f"accuracy 0.95   {first.run_id}" in row


def test_locally_a_metric_that_is_not_a_number_fails_the_step_in_one_line(tmp_path):
    path = _project(tmp_path, "0.95")
    (path / "water.yaml").write_text((path / "water.yaml").read_text().replace(
        'metrics: {accuracy: "{{steps.train.metrics.accuracy}}"}', 'metrics: {accuracy: "high"}'))
    result = runner.run(pipeline_mod.load(str(path)), jobs=1)
    assert result.steps["register"].error == "metric accuracy is 'high', not a number"
    assert _local_versions(path) == []


def test_promote_local_moves_the_live_version_records_it_and_serve_takes_it(tmp_path, runner):
    """Promote version 1 back after 2 (the model rollback): the pointer moves, each promotion is recorded from → to,
    a pending version becomes Approved, and what `water serve --local` picks is the live one."""
    from water.cli import cli
    from water.local import runner as local_runner
    from water.steps import registry

    path = _project(tmp_path, "0.95")
    (path / "water.yaml").write_text((path / "water.yaml").read_text().replace("approval: Approved",
                                                                               "approval: PendingManualApproval"))
    for _ in range(2):
        local_runner.run(pipeline_mod.load(str(path)), jobs=1)
    with pytest.raises(Exception, match="group 'wines' has no Approved version: name one with --version"):
        registry.local_model(str(path), None, None)
    for version, was in ((2, "none"), (1, "version 2")):
        result = runner.invoke(cli, ["promote", "--local", str(path), "--version", str(version)])
        assert result.exit_code == 0, result.output
        assert result.output.startswith(f"wines: version {version} is live (was {was}); recorded in ")
    rows = json.loads(runner.invoke(cli, ["models", "--local", str(path), "-o", "json"]).output)
    assert [(r["version"], r["live"], r["approval"]) for r in rows] == [(1, True, "Approved"), (2, False, "Approved")]
    history = [json.loads(line) for line in (path / ".water/models/wines/promotions.jsonl").read_text().splitlines()]
    assert [(h["from"], h["to"]) for h in history] == [(None, 2), (2, 1)] and all(h["by"] for h in history)
    record, _, _ = registry.local_model(str(path), None, None)
    assert record["version"] == 1
    missing = runner.invoke(cli, ["promote", "--local", str(path), "--version", "9"])
    assert missing.exit_code == 1 and missing.output == "group 'wines' has no version 9\n"

"""Lineage you can query: each step records the S3 objects it read (with their ETags) and what it made; `water
lineage` walks a model version back to the objects it was trained on and the commit, and finds the runs that read
an object. On a cluster the pods write the records to S3 under spec.aws.artifacts (moto over HTTP), the spec comes
from the deployed revision (the test API server); locally from run.json."""
from __future__ import annotations

import hashlib
import json
import os
import shutil

from conftest import RUN_ID, example_path, pod_argv, water_job

from water.runtime import aws

COMMIT = "4f1c2b9e0d7a6c5b4a3928171605f4e3d2c1b0a9"
SPEC = """apiVersion: water/v1
kind: Pipeline
metadata: {name: traced, namespace: ml}
spec:
  image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/traced:1.0.0
  aws:
    region: us-east-1
    sagemakerRole: arn:aws:iam::123456789012:role/sm
    artifacts: s3://lake-results/water/
  steps:
    - name: train
      train:
        image: 683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1
        instance: {type: ml.m5.large}
        inputs: {train: "s3://lake-results/data/train/"}
        output: s3://lake-results/models/
    - name: register
      after: [train]
      register: {model: "{{steps.train.model}}", group: traced, approval: Approved}
"""


def _outputs(env) -> dict:
    folder = env["WATER_OUTPUTS_DIR"]
    return {name: open(os.path.join(folder, name)).read() for name in sorted(os.listdir(folder))}


def _record(step: str) -> dict:
    return json.loads(aws.client("s3").get_object(Bucket="lake-results", Key=f"water/lineage/traced/{RUN_ID}/"
                                                  f"{step}.json")["Body"].read())


def _etag(key: str) -> str:
    return aws.client("s3").head_object(Bucket="lake-results", Key=key)["ETag"].strip('"')


def test_pods_record_what_they_read_and_lineage_walks_a_model_back_to_its_data_and_commit(
        tmp_path, aws_env, monkeypatch, water):
    spec = tmp_path / "water.yaml"
    spec.write_text(SPEC)
    s3 = aws.client("s3")
    for i in range(2):
        s3.put_object(Bucket="lake-results", Key=f"data/train/part-{i}.csv", Body=f"{i},1\n".encode())
    # every pod of a pipeline keeping lineage is told the commit and spec hash (the kubelet resolves these fieldRefs
    # from the run's pod annotations)
    monkeypatch.setenv("WATER_GIT_COMMIT", COMMIT)
    monkeypatch.setenv("WATER_SPEC_HASH", "5" * 64)
    assert water_job(pod_argv("train", pipeline_file=str(spec))) == 0
    trained = _outputs(aws_env)
    model_key = aws.s3_parts(trained["model"])[1]
    s3.put_object(Bucket="lake-results", Key=model_key, Body=b"model")  # SageMaker writes it; moto's job does not
    shutil.rmtree(aws_env["WATER_OUTPUTS_DIR"])
    assert water_job(pod_argv("register", pipeline_file=str(spec), upstream={"train": trained})) == 0

    train = _record("train")
    (read,) = train["inputs"]
    assert read["uri"] == "s3://lake-results/data/train/" and read["count"] == 2
    assert [(o["uri"], o["etag"]) for o in read["objects"]] == [
        (f"s3://lake-results/data/train/part-{i}.csv", _etag(f"data/train/part-{i}.csv")) for i in range(2)]
    assert (train["commit"], train["outputs"]["model"]) == (COMMIT, trained["model"])
    assert _record("register")["inputs"][0]["objects"][0]["etag"] == _etag(model_key)

    water("deploy", spec, "-y")  # the revision tells `water lineage` where the records are
    chain = json.loads(water("lineage", "traced", "-n", "ml", "--model", "traced:1", "-o", "json"))
    assert (chain["run"], chain["commit"], [s["step"] for s in chain["steps"]]) == (RUN_ID, COMMIT,
                                                                                    ["train", "register"])
    assert chain["steps"][0]["inputs"][0]["objects"] == read["objects"]
    assert chain["serves"] == []
    # without NAME: the version's own metadata in SageMaker names the pipeline it came from
    assert json.loads(water("lineage", "-n", "ml", "--model", "traced:1", "-o", "json"))["run"] == RUN_ID
    assert "is not GROUP:VERSION" in water("lineage", "--model", "traced", code=2)
    shown = water("lineage", "traced", "-n", "ml", "--model", "traced:1")
    assert f"made by run {RUN_ID} of traced, commit {COMMIT}" in shown and _etag("data/train/part-1.csv") in shown

    users = json.loads(water("lineage", "traced", "-n", "ml", "--object", "s3://lake-results/data/train/part-1.csv",
                             "-o", "json"))
    assert [(u["run"], u["step"]) for u in users] == [(RUN_ID, "train")]
    assert "no recorded run of traced read" in water("lineage", "traced", "-n", "ml", "--object",
                                                     "s3://lake-results/elsewhere.csv")


def test_a_pipeline_without_artifacts_records_nothing_and_lineage_says_why(tmp_path, aws_env, water):
    spec = tmp_path / "water.yaml"
    spec.write_text(SPEC.replace("    artifacts: s3://lake-results/water/\n", ""))
    aws.client("s3").put_object(Bucket="lake-results", Key="data/train/part-0.csv", Body=b"0,1\n")
    assert water_job(pod_argv("train", pipeline_file=str(spec))) == 0
    assert "Contents" not in aws.client("s3").list_objects_v2(Bucket="lake-results", Prefix="water/")
    water("deploy", spec, "-y")
    out = water("lineage", "traced", "-n", "ml", code=1)
    assert "records no lineage: its deployed spec has no spec.aws.artifacts" in out


def test_a_local_run_records_its_inputs_and_lineage_answers_both_ways(tmp_path, water):
    project = tmp_path / "demo"
    shutil.copytree(example_path("demo"), project)
    water("run", "--local", project)
    water("run", "--local", project)
    runs = sorted((project / ".water" / "runs").glob("*/run.json"))
    first, second = (json.loads(p.read_text()) for p in runs)
    (read,) = first["steps"]["validate-features"]["inputs"]
    (obj,) = read["objects"]
    local_file = project / ".water" / "s3" / obj["uri"][len("s3://"):]
    assert obj["etag"] == hashlib.md5(local_file.read_bytes()).hexdigest() and obj["size"] == local_file.stat().st_size
    assert first["spec_hash"] and first["spec_hash"] == second["spec_hash"]

    chain = json.loads(water("lineage", "--local", project, "--model", "water-demo:1", "-o", "json"))
    assert chain["run"] == first["run_id"]
    assert [s["step"] for s in chain["steps"]] == ["extract", "features", "train", "register"]
    assert chain["serves"] == []  # version 2 serves now
    assert json.loads(water("lineage", "--local", project, "--model", "water-demo:2", "-o", "json"))["serves"] == [
        "water-demo"]
    users = json.loads(water("lineage", "--local", project, "--object", obj["uri"], "-o", "json"))
    assert {(u["run"], u["step"]) for u in users} == {(first["run_id"], "validate-features"),
                                                      (first["run_id"], "train")}
    latest = water("lineage", "--local", project)
    assert f"run {second['run_id']} of demo" in latest.splitlines()[0]
    assert "no lineage recorded for run 'nope'" in water("lineage", "--local", project, "nope", code=1)


def test_with_artifacts_every_step_s_pod_is_told_the_commit_its_record_carries(tmp_path):
    from water import pipeline, render

    spec = SPEC.replace("  steps:\n", "  steps:\n    - {name: plain, container: {command: [echo, hi]}}\n")
    (tmp_path / "water.yaml").write_text(spec)
    for text, told in ((spec, True), (spec.replace("    artifacts: s3://lake-results/water/\n", ""), False)):
        (tmp_path / "water.yaml").write_text(text)
        (template,) = [o for o in render.render(pipeline.load(str(tmp_path)), COMMIT).objects
                       if o["kind"] == "WorkflowTemplate"]
        by_name = {t["name"]: t for t in template["spec"]["templates"]}
        task = next(t for t in by_name["main"]["dag"]["tasks"] if t["name"] == "plain")
        env = {e["name"] for e in by_name[task["template"]]["container"]["env"]}
        assert ("WATER_GIT_COMMIT" in env) is told


def test_the_lineage_of_one_run_reads_only_that_runs_records(tmp_path, aws_env, water):
    """`water lineage NAME [RUN]` lists the records and reads the chosen run's alone: a run's record that cannot be
    read (cut short, written by hand) troubles no other run's lineage."""
    from water.runtime.lineage import record, record_key

    spec = tmp_path / "water.yaml"
    spec.write_text(SPEC)
    s3 = aws.client("s3")
    for run, body in (("traced-broken", b"{cut sh"), (RUN_ID, json.dumps(record(
            "traced", RUN_ID, "train", "train", {"model": "s3://lake-results/m.tar.gz"}, [], {"commit": COMMIT})))):
        bucket, key = aws.s3_parts(record_key("s3://lake-results/water/", "traced", run, "train"))
        s3.put_object(Bucket=bucket, Key=key, Body=body if isinstance(body, bytes) else body.encode())
    water("deploy", spec, "-y")
    shown = json.loads(water("lineage", "traced", RUN_ID, "-n", "ml", "-o", "json"))
    assert (shown["run"], shown["commit"], [s["step"] for s in shown["steps"]]) == (RUN_ID, COMMIT, ["train"])
    assert "no lineage recorded for run 'nope' of 'traced' (recorded: " in water("lineage", "traced", "nope", "-n",
                                                                                  "ml", code=1)

"""Train metrics: SageMaker's metric definitions from `train.metrics`, read back from DescribeTrainingJob's
FinalMetricDataList in the pod and from the training log locally, as `{{steps.NAME.metrics.KEY}}` outputs."""
from __future__ import annotations

import datetime
import json
import os
import textwrap

import pytest

from conftest import JOB_HOOKS, pod_argv, water_job
from water import pipeline as pipeline_mod
from water import render as render_mod
from water.errors import SpecError
from water.local import runner

UPSTREAM = {"features": {"output": "s3://lake-results/x/features/"}}
METRICS = {"accuracy": "accuracy=([0-9.]+)", "loss": "loss: ([0-9.e-]+)"}


def _final_metrics(values: dict):
    """An after-call hook giving DescribeTrainingJob the FinalMetricDataList SageMaker returns once a job with
    metric definitions completed (botocore's sagemaker service model: MetricName, Value as a float, Timestamp);
    moto returns none."""
    def handler(parsed, **_):
        if parsed.get("TrainingJobStatus") == "Completed":
            parsed["FinalMetricDataList"] = [
                {"MetricName": k, "Value": v, "Timestamp": datetime.datetime(2026, 12, 2, tzinfo=datetime.timezone.utc)}
                for k, v in values.items()]
    return ("after-call.sagemaker.DescribeTrainingJob", handler)


def _sent_definitions(sent: list):
    def handler(request, **_):
        sent.append(json.loads(request.body)["AlgorithmSpecification"].get("MetricDefinitions"))
    return ("before-send.sagemaker.CreateTrainingJob", handler)


def test_in_the_pod_the_definitions_go_to_sagemaker_and_its_final_values_become_outputs(aws_env, agent):
    sent: list = []
    JOB_HOOKS.extend([_sent_definitions(sent), _final_metrics({"accuracy": 0.9722, "loss": 0.0813})])
    assert water_job(pod_argv("train", spec={"metrics": METRICS}, upstream=UPSTREAM)) == 0
    assert sent == [[{"Name": "accuracy", "Regex": "accuracy=([0-9.]+)"}, {"Name": "loss", "Regex": "loss: ([0-9.e-]+)"}]]
    folder = aws_env["WATER_OUTPUTS_DIR"]
    assert {n: open(os.path.join(folder, n)).read() for n in ("metrics-accuracy", "metrics-loss")} == {
        "metrics-accuracy": "0.9722", "metrics-loss": "0.0813"}
    packets = []
    while not any(p.startswith("water.step.runs") for p in packets):
        packets += agent.recv(65535).decode().splitlines()
    assert sorted(p for p in packets if p.startswith("water.train.metric")) == [
        "water.train.metric:0.0813|g|#pipeline:demo,step:train,kind:train,metric:loss",
        "water.train.metric:0.9722|g|#pipeline:demo,step:train,kind:train,metric:accuracy"]


def test_a_metric_sagemaker_never_saw_fails_the_step_naming_it(aws_env, capsys):
    JOB_HOOKS.append(_final_metrics({"accuracy": 0.9}))
    assert water_job(pod_argv("train", spec={"metrics": METRICS}, upstream=UPSTREAM)) == 1
    assert capsys.readouterr().err.strip().endswith("failed: metric loss was never logged (regex 'loss: ([0-9.e-]+)')")


def test_a_later_task_reads_the_metric_through_its_argo_parameter():
    """The rendered DAG: the train template declares metrics-KEY (Argo's parameter names hold no dots) and a later
    task's refs read {{tasks.train.outputs.parameters.metrics-KEY}}."""
    import yaml

    from conftest import POD_PIPELINE

    with open(POD_PIPELINE) as f:
        doc = yaml.safe_load(f)
    train = next(s for s in doc["spec"]["steps"] if s["name"] == "train")
    train["train"]["metrics"] = METRICS
    publish = next(s for s in doc["spec"]["steps"] if s["name"] == "publish")
    publish["container"]["command"] = ["echo", "{{steps.train.metrics.accuracy}}"]
    publish["after"] = ["predict", "train"]
    folder = os.path.dirname(POD_PIPELINE)
    p = pipeline_mod.load_text(yaml.safe_dump(doc), os.path.join(folder, "water.yaml"), folder)
    (template,) = [o for o in render_mod.render(p).objects if o["kind"] == "WorkflowTemplate"]
    body = next(t for t in template["spec"]["templates"] if t["name"] == "train")
    assert {"name": "metrics-accuracy", "valueFrom": {"path": "/tmp/water/outputs/metrics-accuracy"}} in \
        body["outputs"]["parameters"]
    task = next(t for t in template["spec"]["templates"][0]["dag"]["tasks"] if t["name"] == "publish")
    refs = json.loads(next(a["value"] for a in task["arguments"]["parameters"] if a["name"] == "refs"))
    assert refs["steps.train.metrics.accuracy"] == "{{tasks.train.outputs.parameters.metrics-accuracy}}"


HEAD = """apiVersion: water/v1
kind: Pipeline
metadata: {name: t}
spec:
  image: registry.example.com/t:1.0.0
  steps:
"""


def _project(tmp_path, steps: str, script: str):
    (tmp_path / "water.yaml").write_text(HEAD + textwrap.indent(textwrap.dedent(steps), "    "))
    (tmp_path / "train.py").write_text(textwrap.dedent(script))
    return tmp_path


TRAIN = """\
    - name: train
      train:
        image: xgboost:1.7-1
        entry: train.py
        instance: {type: ml.m5.large}
        output: s3://bucket/model/
        metrics: {accuracy: "accuracy=([0-9.]+)"}
    - name: report
      after: [train]
      container: {command: [sh, -c, 'echo "accuracy was $0"', "{{steps.train.metrics.accuracy}}"]}
"""


def test_locally_the_last_value_the_script_logs_is_the_metric_and_a_later_step_gets_it(tmp_path):
    path = _project(tmp_path, TRAIN, 'print("epoch 1 accuracy=0.81")\nprint("epoch 2 accuracy=0.93")\n')
    result = runner.run(pipeline_mod.load(str(path)), jobs=1)
    assert result.status == "succeeded", [s.error for s in result.steps.values()]
    assert result.steps["train"].outputs["metrics.accuracy"] == "0.93"
    with open(result.steps["report"].log) as f:
        assert "accuracy was 0.93" in f.read()


def test_locally_a_metric_never_logged_fails_the_train_step(tmp_path):
    result = runner.run(pipeline_mod.load(str(_project(tmp_path, TRAIN, 'print("done")\n'))), jobs=1)
    assert result.steps["train"].error == "metric accuracy was never logged (regex 'accuracy=([0-9.]+)')"
    assert result.steps["report"].status == "skipped"


@pytest.mark.parametrize("change, message", [
    (("{{steps.train.metrics.accuracy}}", "{{steps.train.metrics.loss}}"),
     "step 'train' (train) has no metrics.loss (its outputs: output, model, metrics.accuracy)"),
    (('"accuracy=([0-9.]+)"', '"accuracy=[0-9.]+"'), "train.metrics.accuracy: 'accuracy=[0-9.]+' is not a regular "
     "expression with a group for the value"),
    (('"accuracy=([0-9.]+)"', '"accuracy=(([0-9.]+)"'), "train.metrics.accuracy: not a regular expression"),
])
def test_metrics_written_wrong_are_located_errors(tmp_path, change, message):
    path = _project(tmp_path, TRAIN.replace(*change), "print('x')\n")
    with pytest.raises(SpecError) as err:
        pipeline_mod.load(str(path))
    assert message in str(err.value), str(err.value)


# --- script mode's metrics.json --------------------------------------------------------------------------------

WRITES_METRICS = """\
import json, os
print("accuracy=0.88")
with open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "metrics.json"), "w") as f:
    f.write(METRICS)
"""


def _json_train(written) -> str:
    return WRITES_METRICS.replace("METRICS", repr(json.dumps(written)))


def test_locally_a_metric_can_come_from_the_metrics_json_the_script_writes(tmp_path):
    steps = TRAIN.replace('metrics: {accuracy: "accuracy=([0-9.]+)"}',
                          'metrics: {accuracy: "accuracy=([0-9.]+)", f1: metrics.json}')
    path = _project(tmp_path, steps, _json_train({"f1": 0.912, "epochs": 3}))
    result = runner.run(pipeline_mod.load(str(path)), jobs=1)
    assert result.status == "succeeded", [s.error for s in result.steps.values()]
    outputs = result.steps["train"].outputs
    assert (outputs["metrics.accuracy"], outputs["metrics.f1"]) == ("0.88", "0.912")
    assert "metrics: epochs 3, f1 0.9120" in result.steps["train"].notes


@pytest.mark.parametrize("written, said", [
    ({"epochs": 3}, "metric f1 was never written in metrics.json"),
    ({"f1": "high"}, "metric f1 is 'high', not a number in metrics.json"),
    ({"f1": True}, "metric f1 is True, not a number in metrics.json"),
    ([0.9], "metric f1 was never written in metrics.json"),  # not an object: no metrics
])
def test_locally_a_metric_missing_from_metrics_json_or_not_a_number_fails_the_step(tmp_path, written, said):
    path = _project(tmp_path, TRAIN.replace('{accuracy: "accuracy=([0-9.]+)"}', "{f1: metrics.json}").replace(
        "metrics.accuracy", "metrics.f1"), _json_train(written))
    assert runner.run(pipeline_mod.load(str(path)), jobs=1).steps["train"].error == said


def _output_tar(members: dict) -> bytes:
    """What SageMaker uploads of /opt/ml/output/data: one gzipped tar of the folder's files."""
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, body in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            archive.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


def _uploads_output_data(members: dict):
    """An after-call hook that, once the training job completes, puts its output data where SageMaker does:
    <S3OutputPath>/<job>/output/output.tar.gz beside model.tar.gz (SageMaker's "How SageMaker AI Processes
    Training Output"); moto runs no training."""
    from water.runtime import aws

    def handler(parsed, **_):
        if parsed.get("TrainingJobStatus") == "Completed":
            bucket, key = aws.s3_parts(f"{parsed['OutputDataConfig']['S3OutputPath'].rstrip('/')}/"
                                       f"{parsed['TrainingJobName']}/output/output.tar.gz")
            aws.client("s3").put_object(Bucket=bucket, Key=key, Body=_output_tar(members))
    return ("after-call.sagemaker.DescribeTrainingJob", handler)


def test_in_the_pod_a_metrics_json_metric_is_read_from_the_job_s_output_data(aws_env):
    sent: list = []
    JOB_HOOKS.extend([_sent_definitions(sent), _final_metrics({"accuracy": 0.9722}),
                      _uploads_output_data({"checkpoint.bin": b"\0" * 4096,
                                            "./metrics.json": json.dumps({"f1": 0.9311}).encode()})])
    spec = {"metrics": {"accuracy": "accuracy=([0-9.]+)", "f1": "metrics.json"}}
    assert water_job(pod_argv("train", spec=spec, upstream=UPSTREAM)) == 0
    assert sent == [[{"Name": "accuracy", "Regex": "accuracy=([0-9.]+)"}]]  # SageMaker gets only the regexes
    folder = aws_env["WATER_OUTPUTS_DIR"]
    assert {n: open(os.path.join(folder, n)).read() for n in ("metrics-accuracy", "metrics-f1")} == {
        "metrics-accuracy": "0.9722", "metrics-f1": "0.9311"}


def test_in_the_pod_a_job_that_wrote_no_metrics_json_fails_naming_the_metric(aws_env, capsys):
    assert water_job(pod_argv("train", spec={"metrics": {"f1": "metrics.json"}}, upstream=UPSTREAM)) == 1
    assert capsys.readouterr().err.strip().endswith("failed: metric f1 was never written in metrics.json")

"""What each run cost: a priced kind's pod prices its AWS job from the billable figures of the description it
polled, says it as its `cost` output and as water.step.cost; `water status NAME` and the exit handler's Slack
message show it per step and per run; `water cost NAME` sums the recorded runs. Against moto over HTTP: moto gives
Athena's Statistics (DataScannedInBytes 0), Glue's ExecutionTime (123 s) and a transform's start and end (the same
instant), but no BillableTimeInSeconds: the tests inject what moto leaves out through botocore's after-call hook,
where they say so."""
from __future__ import annotations

import datetime
import json
import os

import pytest
from conftest import JOB_HOOKS, pod_argv, water_job
from test_runtime import UPSTREAM

from water.runtime import aws, cost

STEP_OF = {"athena": "extract", "glue": "features", "train": "train", "transform": "predict"}  # tests/pod-pipeline


def _billable(parsed, **_):
    """moto has no BillableTimeInSeconds and ends a transform the instant it starts: the fields as botocore parses
    SageMaker's answer (data/sagemaker/2017-07-24/service-2.json: DescribeTrainingJobResponse's
    BillableTimeInSeconds an integer of seconds, DescribeTransformJobResponse's TransformStartTime/EndTime
    timestamps, which botocore makes datetimes)."""
    if "TrainingJobStatus" in parsed:
        parsed["BillableTimeInSeconds"] = 3600
    if "TransformJobStatus" in parsed and parsed.get("TransformStartTime"):
        parsed["TransformEndTime"] = parsed["TransformStartTime"] + datetime.timedelta(minutes=30)


# tests/pod-pipeline: us-east-1; glue 4 G.1X workers; train one ml.m5.xlarge; transform one ml.m5.large
EXPECTED = {"athena": "0.000048",  # 0 bytes scanned: Athena's 10 MB minimum at $5/TB
            "glue": "0.060133",  # moto's 123 s × 4 DPU at $0.44/DPU-hour
            "train": "0.23",  # 3,600 billable s × 1 instance at $0.23/hour
            "transform": "0.0575"}  # 1,800 s × 1 instance at $0.115/hour


def _glue_job(region: str = "us-east-1") -> None:
    aws.client("glue", region).create_job(Name="features-job", Role="arn:aws:iam::123456789012:role/glue",
                                  Command={"Name": "glueetl", "ScriptLocation": "s3://lake-results/f.py"})


def _metric(agent, name: str) -> str:
    """The first DogStatsD line for `name` the step sent (it sends a handful as it ends)."""
    for _ in range(20):
        for line in agent.recv(65535).decode().splitlines():
            if line.startswith(f"{name}:"):
                return line
    raise AssertionError(f"no {name} received")


@pytest.mark.parametrize("kind", sorted(STEP_OF))
def test_each_aws_job_is_priced_from_its_billable_figures(aws_env, agent, kind):
    _glue_job()
    JOB_HOOKS.extend((event, _billable) for event in ("after-call.sagemaker.DescribeTrainingJob",
                                                      "after-call.sagemaker.DescribeTransformJob"))
    assert water_job(pod_argv(STEP_OF[kind], upstream=UPSTREAM)) == 0
    assert open(os.path.join(aws_env["WATER_OUTPUTS_DIR"], "cost")).read() == EXPECTED[kind]
    metric = _metric(agent, "water.step.cost")
    assert metric.startswith(f"water.step.cost:{float(EXPECTED[kind])}|g|") and f"kind:{kind}" in metric


def test_a_job_the_table_cannot_price_has_no_cost_and_spec_prices_win(aws_env, tmp_path):
    _glue_job("eu-west-1")
    spec = tmp_path / "water.yaml"
    source = open(os.path.join(os.path.dirname(__file__), "pod-pipeline", "water.yaml")).read()
    spec.write_text(source.replace("region: us-east-1", "region: eu-west-1"))
    assert water_job(pod_argv("features", upstream=UPSTREAM, pipeline_file=str(spec))) == 0
    assert not os.path.exists(os.path.join(aws_env["WATER_OUTPUTS_DIR"], "cost"))  # unpriced, not guessed
    spec.write_text(source.replace("region: us-east-1", "region: eu-west-1\n    prices: {gluePerDpuHour: 0.52}"))
    assert water_job(pod_argv("features", upstream=UPSTREAM, pipeline_file=str(spec))) == 0
    assert open(os.path.join(aws_env["WATER_OUTPUTS_DIR"], "cost")).read() == cost.glue(
        {"ExecutionTime": 123, "WorkerType": "G.1X", "NumberOfWorkers": 4}, {"gluePerDpuHour": 0.52})


def test_the_rendered_priced_templates_declare_a_cost_output_argo_defaults_to_empty():
    from conftest import POD_PIPELINE

    from water import pipeline, render

    (template,) = [o for o in render.render(pipeline.load(POD_PIPELINE)).objects if o["kind"] == "WorkflowTemplate"]
    for t in template["spec"]["templates"]:
        args = (t.get("container") or {}).get("args") or []
        params = {p["name"]: p for p in (t.get("outputs") or {}).get("parameters") or ()}
        if args and args[0] in STEP_OF:
            # argo-workflows workflow/executor/executor.go SaveParameters: a missing file takes valueFrom.default
            assert params["cost"]["valueFrom"] == {"path": "/tmp/water/outputs/cost", "default": ""}
        else:
            assert "cost" not in params


def _priced_run(name: str) -> dict:
    """A finished Workflow whose pods said what they cost, as Argo keeps their outputs in the node status: the
    template's output parameters with the value the executor read from the file, or valueFrom.default when there
    is none (argo-workflows workflow/executor/executor.go SaveParameters), exitCode a string (NodeStatus.Outputs,
    pkg/apis/workflow/v1alpha1/workflow_types.go)."""
    at = "2026-12-03T03:00:00Z"

    def node(i, step, usd):
        outputs = {"parameters": [{"name": "output", "value": f"s3://lake-results/{step}/"}]
                   + ([{"name": "cost", "value": usd, "valueFrom": {"path": "/tmp/water/outputs/cost", "default": ""}}]
                      if usd is not None else []), "exitCode": "0"}
        return {"id": f"{name}-{i}", "name": f"{name}.{step}", "displayName": step, "type": "Pod",
                "phase": "Succeeded", "startedAt": at, "finishedAt": at, "templateName": step, "outputs": outputs}

    nodes = [node(1, "extract", "0.000048"), node(2, "train", "1.84"), node(3, "publish", None)]
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"name": name, "namespace": "ml", "creationTimestamp": at,
                         "labels": {"water/pipeline": "demo", "workflows.argoproj.io/phase": "Succeeded"}},
            "spec": {"workflowTemplateRef": {"name": "demo"}},
            "status": {"phase": "Succeeded", "startedAt": at, "finishedAt": at, "nodes": {n["id"]: n for n in nodes}}}


def test_status_shows_each_step_s_cost_and_the_run_s(water_memory, memory_cluster):
    from conftest import POD_PIPELINE

    water_memory("deploy", POD_PIPELINE, "-y")
    memory_cluster.create(_priced_run("demo-x1"))
    out = water_memory("status", "demo", "-n", "ml")
    assert "$1.84" in out.split("steps of")[0]  # the run's total: extract's is under a cent
    rows = {line.split()[0]: line.split() for line in out.split("steps of demo-x1:")[1].splitlines() if line.strip()}
    assert (rows["train"][3], rows["extract"][3], rows["publish"][3]) == ("$1.84", "$4.8e-05", "-")
    steps = json.loads(water_memory("status", "demo", "-n", "ml", "-o", "json"))["steps"]
    assert {s["step"]: s["cost"] for s in steps} == {"extract": "$4.8e-05", "train": "$1.84", "publish": ""}


def test_the_exit_handler_s_slack_message_says_what_the_run_cost(monkeypatch, pod_account):
    from test_notify import notified_success

    body = notified_success(monkeypatch, pod_account, _priced_run("babyweight-29123"))
    assert body["blocks"][2]["text"]["text"] == "*AWS cost* $1.84 (train $1.84, extract $4.8e-05)"


def test_water_cost_sums_the_recorded_runs_per_run_and_step(aws_env, water, tmp_path, monkeypatch):
    from test_lineage_records import SPEC

    spec = tmp_path / "water.yaml"
    spec.write_text(SPEC)
    s3 = aws.client("s3")
    now = datetime.datetime.now(datetime.timezone.utc)
    for run, days, usd in (("traced-a", 2, "0.5"), ("traced-b", 1, "0.25"), ("traced-old", 40, "9")):
        at = (now - datetime.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
        for step, kind, outputs in (("train", "train", {"model": "s3://x/m.tar.gz", "cost": usd}),
                                    ("register", "register", {"version": "1"})):
            s3.put_object(Bucket="lake-results", Key=f"water/lineage/traced/{run}/{step}.json", Body=json.dumps(
                {"pipeline": "traced", "run": run, "step": step, "kind": kind, "outputs": outputs, "inputs": [],
                 "at": at}).encode())
    water("deploy", spec, "-y")
    summary = json.loads(water("cost", "traced", "-n", "ml", "-o", "json"))
    assert ([r["run"] for r in summary["runs"]], summary["usd"], summary["steps"]) == (
        ["traced-b", "traced-a"], 0.75, {"train": 0.75})
    assert json.loads(water("cost", "traced", "-n", "ml", "--since", "60d", "-o", "json"))["usd"] == 9.75
    assert "$0.75 over 2 runs since" in water("cost", "traced", "-n", "ml")
    assert "is not a number of days or hours" in water("cost", "traced", "-n", "ml", "--since", "month", code=2)


def test_the_shipped_table_says_its_source_and_date():
    table = json.load(open(os.path.join(os.path.dirname(cost.__file__), "prices.json")))
    assert table["asOf"] and "aws.amazon.com" in table["source"]
    assert cost.prices("us-west-2") == cost.prices("us-east-1") != {}

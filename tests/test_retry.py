"""`water retry`: the failed part of a run again, with what succeeded reused — on the cluster (test API server, the
failed run's status written as Argo's controller writes it) and locally."""
from __future__ import annotations

import json

import pytest

from water import runs

WORKFLOWS = "argoproj.io/v1alpha1/workflows"
FEATURES = "s3://ml-bucket/babyweight/babyweight-x1/features/"
EXTRACT = "s3://ml-bucket/babyweight/babyweight-x1/extract/"


@pytest.fixture(autouse=True)
def _datadog(datadog):
    """babyweight keeps Datadog monitors: its deploys talk to the local Datadog API."""
    return datadog


def _fail_at_train(apiserver, kube, name: str) -> dict:
    """The run's status as Argo writes it when train failed: the DAG's root node (id = the Workflow's name), a Retry
    node per task with retries over its attempts TASK(N), each with the outputs of its last attempt (argo-workflows
    operator.go), the steps after train omitted (type Skipped, phase Omitted: dag.go), and the spec the run ran in
    storedWorkflowTemplateSpec (operator.go setStoredWfSpec: the template's spec joined with the run's)."""
    from kubernetes import client

    custom = client.CustomObjectsApi(kube)
    run = custom.get_namespaced_custom_object("argoproj.io", "v1alpha1", "ml", "workflows", name)
    template = custom.get_namespaced_custom_object("argoproj.io", "v1alpha1", "ml", "workflowtemplates", "babyweight")
    stored = {**template["spec"], **run["spec"]}

    def node(task, kind, phase, outputs=None, attempt=None):
        shown = task if attempt is None else f"{task}({attempt})"
        found = {"id": f"{name}-{shown}", "name": f"{name}.{shown}", "displayName": shown, "type": kind,
                 "phase": phase, "boundaryID": name, "templateName": task, "startedAt": "2026-11-30T03:00:00Z"}
        if outputs:
            found["outputs"] = {"parameters": [{"name": k, "value": v} for k, v in outputs.items()]}
        return found

    extract_out = {"output": EXTRACT, "bytes": "1024"}
    features_out = {"output": FEATURES, "bytes": "2048"}
    nodes = [{"id": name, "name": name, "displayName": name, "type": "DAG", "templateName": "main", "phase": "Failed"},
             node("extract", "Retry", "Succeeded", extract_out), node("extract", "Pod", "Failed", attempt=0),
             node("extract", "Pod", "Succeeded", extract_out, attempt=1),
             node("features", "Retry", "Succeeded", features_out),
             node("features", "Pod", "Succeeded", features_out, attempt=0),
             node("train", "Retry", "Failed"), node("train", "Pod", "Failed", attempt=0),
             node("predict", "Skipped", "Omitted"), node("water-size-publish", "Skipped", "Omitted"),
             node("publish", "Skipped", "Omitted"),
             {"id": f"{name}-exit", "name": f"{name}.onExit", "displayName": "notify-failure", "type": "Pod",
              "phase": "Succeeded", "boundaryID": f"{name}.onExit"}]
    custom.patch_namespaced_custom_object("argoproj.io", "v1alpha1", "ml", "workflows", name, {"status": {
        "phase": "Failed", "startedAt": "2026-11-30T03:00:00Z", "finishedAt": "2026-11-30T03:20:00Z",
        "nodes": {n["id"]: n for n in nodes}, "storedWorkflowTemplateSpec": stored}})
    return stored


def _started(water, apiserver) -> str:
    out = water("run", "babyweight", "--param", "limit=9", "--date", "2026-11-30")
    return out.split()[0].split("/")[1]


def _tasks(workflow: dict) -> dict:
    main = next(t for t in workflow["spec"]["templates"] if t["name"] == "main")
    return {t["name"]: t for t in main["dag"]["tasks"]}


def test_retry_reruns_train_and_what_follows_on_the_failed_runs_upstream_outputs(water, apiserver, kube, project,
                                                                                 argo_errors):
    water("deploy", project("babyweight"))
    name = _started(water, apiserver)
    stored = _fail_at_train(apiserver, kube, name)
    out = water("retry", "babyweight")
    assert out.startswith("workflow/babyweight-retry-") and f"retries {name}, reusing extract, features" in out
    retried = [o for k, o in apiserver.api.objects.items() if k[0] == WORKFLOWS and o["metadata"]["name"] != name]
    (workflow,) = retried
    assert argo_errors(workflow) == []
    tasks = _tasks(workflow)
    assert list(tasks) == ["train", "predict", "water-size-publish", "publish"]
    assert "dependencies" not in tasks["train"] and "depends" not in tasks["train"]  # features is done
    refs = json.loads(next(p["value"] for p in tasks["train"]["arguments"]["parameters"] if p["name"] == "refs"))
    assert refs == {"steps.features.output": FEATURES}  # the value, where Argo read the task's output
    assert tasks["predict"]["dependencies"] == ["train"]
    original = _tasks({"spec": stored})
    assert tasks["predict"] == original["predict"] and tasks["publish"] == original["publish"]  # unchanged
    meta = workflow["metadata"]
    assert meta["labels"]["water/retry-of"] == name and meta["labels"]["water/pipeline"] == "babyweight"
    # the same logical date: {{run.date}} of the retry is the failed run's
    run = apiserver.api.objects[(WORKFLOWS, "ml", name)]
    assert meta["annotations"][runs.SCHEDULED_TIME] == run["metadata"]["annotations"][runs.SCHEDULED_TIME]
    assert meta["annotations"][runs.SCHEDULED_TIME].startswith("2026-11-30T00:00:00")
    assert workflow["spec"]["arguments"] == {"parameters": [{"name": "limit", "value": "9"}]}
    assert "workflowTemplateRef" not in workflow["spec"]
    assert workflow["spec"]["onExit"] == stored["onExit"]  # alerts and cleanup as the run had them


def test_retry_refuses_what_it_cannot_retry(water, apiserver, kube, project):
    from kubernetes import client

    water("deploy", project("babyweight"))
    assert "pipeline 'babyweight' has no failed run to retry" in water("retry", "babyweight", code=1)
    name = _started(water, apiserver)
    assert f"run '{name}' is Pending: retry it once it has ended" in water("retry", "babyweight", name, code=1)
    client.CustomObjectsApi(kube).patch_namespaced_custom_object("argoproj.io", "v1alpha1", "ml", "workflows", name,
                                                                {"status": {"phase": "Succeeded"}})
    assert f"run '{name}' succeeded: nothing to retry" in water("retry", "babyweight", name, code=1)
    assert "run 'nope' of pipeline 'babyweight' not found" in water("retry", "babyweight", "nope", code=1)
    assert [k for k in apiserver.api.objects if k[0] == WORKFLOWS] == [(WORKFLOWS, "ml", name)]  # none created


def test_retry_wait_follows_the_new_run_to_its_end(water, apiserver, kube, project):
    import threading
    import time

    from kubernetes import client

    water("deploy", project("babyweight"))
    name = _started(water, apiserver)
    _fail_at_train(apiserver, kube, name)

    def succeed():
        custom = client.CustomObjectsApi(kube)
        for _ in range(200):
            found = [o for k, o in apiserver.api.objects.items() if k[0] == WORKFLOWS and o["metadata"]["name"] != name]
            if found:
                custom.patch_namespaced_custom_object("argoproj.io", "v1alpha1", "ml", "workflows",
                                                      found[0]["metadata"]["name"], {"status": {"phase": "Succeeded"}})
                return
            time.sleep(0.02)
    threading.Thread(target=succeed).start()
    assert "Succeeded" in water("retry", "babyweight", "--wait")
    # retried: no longer what a retry without RUN picks
    assert "pipeline 'babyweight' has no failed run to retry" in water("retry", "babyweight", code=1)


LOCAL = """apiVersion: water/v1
kind: Pipeline
metadata: {name: t}
spec:
  image: registry.example.com/t:1.0.0
  params: {who: world}
  steps:
    - name: a
      container:
        command: [sh, -c, 'echo a >> ran.txt; echo "$0 {{run.date}}" > "$1/a.txt"', "{{params.who}}", "s3://bkt/a/"]
        output: s3://bkt/a/
    - name: b
      after: [a]
      container:
        command: [sh, -c, 'echo b >> ran.txt; test -e fixed && cat "$0/a.txt" > said.txt', "{{steps.a.output}}"]
    - name: c
      after: [b]
      container: {command: [sh, -c, "echo c >> ran.txt"]}
"""


def test_local_retry_runs_the_failed_step_and_what_follows_with_the_same_params_and_date(tmp_path, runner):
    from water.cli import cli

    (tmp_path / "water.yaml").write_text(LOCAL)
    first = runner.invoke(cli, ["run", "--local", str(tmp_path), "--param", "who=you", "--date", "2026-11-30"])
    assert first.exit_code == 1
    (tmp_path / "fixed").write_text("")
    again = runner.invoke(cli, ["retry", "--local", str(tmp_path)])
    assert again.exit_code == 0, again.output
    assert (tmp_path / "ran.txt").read_text().split() == ["a", "b", "b", "c"]  # a not again
    assert (tmp_path / "said.txt").read_text() == "you 2026-11-30\n"  # a's output, its params and date
    records = sorted((json.loads(p.read_text()) for p in (tmp_path / ".water" / "runs").glob("*/run.json")),
                     key=lambda r: r["started"])
    failed, retried = records if records[0]["status"] == "failed" else records[::-1]
    assert retried["retry_of"] == failed["run_id"] and retried["status"] == "succeeded"
    assert retried["params"] == {"who": "you"} and retried["date"] == "2026-11-30"
    assert {n: s["status"] for n, s in retried["steps"].items()} == {"a": "reused", "b": "done", "c": "done"}
    nothing = runner.invoke(cli, ["retry", "--local", str(tmp_path)])
    assert nothing.exit_code == 1 and "has no failed local run to retry" in nothing.output
    named = runner.invoke(cli, ["retry", "--local", str(tmp_path), retried["run_id"]])
    assert named.exit_code == 1 and f"run '{retried['run_id']}' succeeded: nothing to retry" in named.output


@pytest.mark.parametrize("args, message", [
    (["retry"], "name the deployed pipeline to retry (or --local PATH)"),
    (["retry", "babyweight", "--jobs", "2"], "--jobs needs --local"),
    (["retry", "--local", ".", "--wait"], "--wait and --follow are for cluster runs, not --local"),
])
def test_retry_usage_errors(runner, args, message):
    from water.cli import cli

    result = runner.invoke(cli, args)
    assert result.exit_code == 2 and message in result.output


def test_a_recorded_output_argo_would_read_is_refused_and_nothing_is_created(water, apiserver, kube, project):
    """An upstream value is written into the retry as a plain value: one holding `{{` would be Argo's to read."""
    water("deploy", project("babyweight"))
    name = _started(water, apiserver)
    _fail_at_train(apiserver, kube, name)
    run = apiserver.api.objects[(WORKFLOWS, "ml", name)]
    for node in run["status"]["nodes"].values():
        for parameter in (node.get("outputs") or {}).get("parameters", []):
            if node["displayName"] == "features" and parameter["name"] == "output":
                parameter["value"] = "s3://ml-bucket/{{workflow.name}}/features/"
    out = water("retry", "babyweight", code=1)
    assert "output output of features holds '{{', which Argo would read" in out
    assert [k for k in apiserver.api.objects if k[0] == WORKFLOWS] == [(WORKFLOWS, "ml", name)]

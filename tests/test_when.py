"""`when:` conditions: parsed and checked at their line, evaluated locally (a false one skips the step with the
values it was decided on, and every step after it), and rendered to Argo's `when` with `depends` on Succeeded
for what follows (Argo's plain `dependencies` would run after a Skipped task)."""
from __future__ import annotations

import os

import pytest

from water import conditions
from water import pipeline as pipeline_mod
from water import render as render_mod
from water.errors import SpecError
from water.local import runner

SPEC = """\
apiVersion: water/v1
kind: Pipeline
metadata: {name: gated}
spec:
  image: registry.example.com/gated:1.0.0
  params: {mode: full}
  steps:
    - name: train
      train:
        image: xgboost:1.7-1
        entry: train.py
        instance: {type: ml.m5.large}
        output: s3://bucket/model/
        metrics: {accuracy: "accuracy=([0-9.]+)", loss: "loss=([0-9.]+)"}
    - name: register
      after: [train]
      when: "WHEN"
      container: {command: ["true"]}
    - name: serve
      after: [register]
      container: {command: ["true"]}
    - name: report
      after: [train]
      container: {command: ["true"]}
"""


def _project(tmp_path, when: str):
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "water.yaml").write_text(SPEC.replace("WHEN", when))
    (tmp_path / "train.py").write_text('print("accuracy=0.85 loss=0.4")\n')
    return tmp_path


@pytest.mark.parametrize("when, decided", [
    ("{{steps.train.metrics.accuracy}} >= 0.8", True),
    ("{{steps.train.metrics.accuracy}} >= 0.9", False),
    ("{{steps.train.metrics.accuracy}} >= 0.8 and {{steps.train.metrics.loss}} < 0.3", False),
    ("{{steps.train.metrics.accuracy}} >= 0.9 or not ({{steps.train.metrics.loss}} > 0.5)", True),
])
def test_locally_a_false_condition_skips_the_step_and_what_follows_and_the_run_succeeds(tmp_path, when, decided):
    result = runner.run(pipeline_mod.load(str(_project(tmp_path, when))), jobs=1)
    assert result.status == "succeeded" and result.steps["report"].status == "done"
    if decided:
        assert [result.steps[s].status for s in ("register", "serve")] == ["done", "done"]
    else:
        assert result.steps["register"].status == "skipped"
        assert result.steps["register"].error.startswith("when: 0.85 >= 0.9") or "0.4 < 0.3" in \
            result.steps["register"].error
        assert result.steps["register"].error.endswith(" is false")
        assert (result.steps["serve"].status, result.steps["serve"].error) == ("skipped", "register was skipped")


def test_the_dag_gates_the_task_and_what_follows_waits_on_success(tmp_path, argo_errors):
    p = pipeline_mod.load(str(_project(tmp_path, "{{steps.train.metrics.accuracy}} >= 0.9 and not "
                                                 "({{steps.train.metrics.loss}} > 1e-3)")))
    (template,) = [o for o in render_mod.render(p).objects if o["kind"] == "WorkflowTemplate"]
    assert argo_errors(template) == []
    tasks = {t["name"]: t for t in template["spec"]["templates"][0]["dag"]["tasks"]}
    assert tasks["register"]["when"] == ("({{tasks.train.outputs.parameters.metrics-accuracy}} >= 0.9) && "
                                         "(!({{tasks.train.outputs.parameters.metrics-loss}} > 0.001))")
    assert tasks["register"]["dependencies"] == ["train"]  # the gate itself waits as any task does
    assert tasks["serve"]["depends"] == "register.Succeeded" and "dependencies" not in tasks["serve"]
    assert tasks["report"]["dependencies"] == ["train"] and "depends" not in tasks["report"]


@pytest.mark.parametrize("when, message", [
    ("{{steps.train.metrics.accuracy}} >=", "spec.steps[1].when: expected a number, a quoted text or "
     "{{steps.NAME.OUTPUT}}, got the end"),
    ("{{steps.train.metrics.accuracy}}", "expected a comparison (== != < <= > >=) after the value, got the end"),
    ("{{steps.train.metrics.accuracy}} > 'high'", "{{steps.train.metrics.accuracy}} > 'high' compares a text with "
     "a number"),
    ("'abc' > 3", "spec.steps[1].when: compares a text with a number"),
    ("'abc' < 'abd'", "texts compare with == and != only, not <"),
    ("{{params.mode}} > 1", "{{params.mode}} > 1 compares a text with a number"),
    ("{{params.mode}} >= 'full'", "{{params.mode}} >= 'full': texts compare with == and != only"),
    ("{{run.date}} == '2026-01-01'", "{{run.date}}: a condition compares what steps produce"),
    ("{{params.nope}} == 'x'", "unknown parameter 'nope'"),
    ("{{steps.train.output}} > 1", "spec.steps[1].when: {{steps.train.output}} is an S3 prefix, not a number"),
    ("{{steps.train.metrics.f1}} > 1", "step 'train' (train) has no metrics.f1"),
    ("{{steps.serve.metrics.x}} > 1", "step 'serve' is not upstream of 'register'"),
    ("({{steps.train.metrics.loss}} > 1", "'(' is not closed"),
    ("1 > 0 and", "expected a number, a quoted text or {{steps.NAME.OUTPUT}}, got the end"),
])
def test_a_condition_written_wrong_is_a_located_error(tmp_path, when, message):
    with pytest.raises(SpecError) as err:
        pipeline_mod.load(str(_project(tmp_path, when)))
    text = str(err.value)
    assert text.startswith(f"{tmp_path}/water.yaml:17:") and message.replace("\\\"", '"') in text, text


def test_numbers_reach_argo_without_exponents():
    assert [conditions.plain_number(v) for v in (1e-5, 0.9722, 3.0, -0.0, 12345678.5)] == [
        "0.00001", "0.9722", "3", "0", "12345678.5"]


# --- on the cluster: why a step was skipped, from the run's Workflow as Argo's controller writes it -------------

RUN = "gated-x7k2p"


def _argo_run(tmp_path, outputs: dict) -> dict:
    """The Workflow of a run of the gated pipeline whose train produced `outputs` and whose gate was false, its
    nodes as Argo's controller makes them (workflow/controller/dag.go; shapes as in its testdata, e.g.
    operator_test.go's dag-primay-branch and testdata/dag-exhausted-retries-xfail.yaml): train a Retry node over
    its pod train(0), which links to the tasks after it; register a Skipped node whose message is the task's
    rendered `when` with the parameters substituted; serve Omitted; report done."""
    (template,) = [o for o in render_mod.render(pipeline_mod.load(str(_project(tmp_path, WHEN_FALSE)))).objects
                   if o["kind"] == "WorkflowTemplate"]
    when = next(t for t in template["spec"]["templates"][0]["dag"]["tasks"] if t["name"] == "register")["when"]
    for name, value in outputs.items():
        when = when.replace("{{tasks.train.outputs.parameters.%s}}" % name, value)
    at = "2026-12-02T03:00:00Z"

    def node(i, name, kind, phase, children=(), message=""):
        found = {"id": f"{RUN}-{i}", "name": f"{RUN}.{name}", "displayName": name, "type": kind, "phase": phase,
                 "startedAt": at, "finishedAt": at, "templateName": name, "boundaryID": RUN}
        return {**found, **({"children": [f"{RUN}-{c}" for c in children]} if children else {}),
                **({"message": message} if message else {})}

    nodes = [node(1, "train", "Retry", "Succeeded", [2]), node(2, "train(0)", "Pod", "Succeeded", [3, 5]),
             node(3, "register", "Skipped", "Skipped", [4], f"when '{when}' evaluated false"),
             node(4, "serve", "Skipped", "Omitted", message="omitted: depends condition not met"),
             node(5, "report", "Pod", "Succeeded")]
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"name": RUN, "namespace": "ml", "labels": {"water/pipeline": "gated",
                                                                   "workflows.argoproj.io/phase": "Succeeded"},
                         "creationTimestamp": at},
            "spec": {"workflowTemplateRef": {"name": "gated"}},
            "status": {"phase": "Succeeded", "startedAt": at, "finishedAt": at,
                       "nodes": {n["id"]: n for n in nodes}}}


WHEN_FALSE = "{{steps.train.metrics.accuracy}} >= 0.9 and not ({{steps.train.metrics.loss}} > 1e-3)"
TRAINED = {"metrics-accuracy": "0.85", "metrics-loss": "0.4"}
SAID = {"register": "when: (0.85 >= 0.9) and (not (0.4 > 0.001)) is false", "serve": "register was skipped"}


def test_status_says_why_each_step_was_skipped(tmp_path, water_memory, memory_cluster):
    path = _project(tmp_path / "deployed", WHEN_FALSE)
    spec = path / "water.yaml"  # deployed, framework:version images are looked up for the region
    spec.write_text(spec.read_text().replace("  steps:", "  aws: {region: us-east-1}\n  steps:"))
    water_memory("deploy", path)
    memory_cluster.create(_argo_run(tmp_path / "rendered", TRAINED))
    out = water_memory("status", "gated", "-n", "ml")
    rows = {line.split()[0]: line for line in out.split(f"steps of {RUN}:")[1].splitlines() if line.strip()}
    assert rows["register"].split(None, 4)[1:] == ["Skipped", "0s", "-", SAID["register"]]  # COST, MESSAGE
    assert rows["serve"].split(None, 4)[1:] == ["Omitted", "0s", "-", SAID["serve"]]
    assert rows["report"].split()[1:] == ["Succeeded", "0s", "-", "-"]
    steps = __import__("json").loads(water_memory("status", "gated", "-n", "ml", "-o", "json"))["steps"]
    assert {s["step"]: s["reason"] for s in steps if s["reason"]} == SAID


def test_the_exit_handler_s_slack_message_says_which_steps_were_skipped_and_why(tmp_path, monkeypatch,
                                                                                 pod_account):
    """The notify pod reads its run's Workflow from the API server (as a pod does: token, CA) and lists the skipped
    steps in the success message."""
    from test_notify import notified_success

    body = notified_success(monkeypatch, pod_account, _argo_run(tmp_path, TRAINED))  # mrkdwn: < > & as entities
    assert body["blocks"][2]["text"]["text"] == "\n".join(f"*{step}* skipped: {why.replace('>', '&gt;')}"
                                                          for step, why in SAID.items())


def test_without_api_access_the_exit_handler_posts_without_the_skipped_steps_and_says_why(monkeypatch, capsys):
    from test_notify import Receiver, _notify

    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    slack = Receiver([])
    try:
        assert _notify(monkeypatch, slack.url, status="Succeeded", failures="", on=("success",)) == 0
    finally:
        slack.close()
    assert [b["type"] for b in slack.bodies[0]["blocks"]] == ["header", "section", "context"]
    assert "cannot say which steps were skipped or what they cost: no in-cluster API access" in capsys.readouterr().out


# --- conditions over texts: decided by water-job, never by Argo ---------------------------------------------------

TEXT_WHEN = "{{params.mode}} == 'full' and {{steps.train.metrics.accuracy}} >= 0.8"


@pytest.mark.parametrize("mode, decided", [("full", True), ("quick", False), ("x' || 'a' == 'a", False)])
def test_locally_a_condition_over_texts_compares_the_parameter_as_text(tmp_path, mode, decided):
    result = runner.run(pipeline_mod.load(str(_project(tmp_path, TEXT_WHEN))), params={"mode": mode}, jobs=1)
    assert result.status == "succeeded"
    assert result.steps["register"].status == ("done" if decided else "skipped")
    if not decided:
        assert result.steps["register"].error == f"when: {mode!r} == 'full' and 0.85 >= 0.8 is false"


def _text_gated(tmp_path, argo_errors) -> list:
    objects = render_mod.render(pipeline_mod.load(str(_project(tmp_path, TEXT_WHEN)))).objects
    (template,) = [o for o in objects if o["kind"] == "WorkflowTemplate"]
    assert argo_errors(template) == []
    return objects


def test_a_condition_over_texts_is_decided_by_a_task_and_argo_reads_only_its_answer(tmp_path, argo_errors):
    (template,) = [o for o in _text_gated(tmp_path, argo_errors) if o["kind"] == "WorkflowTemplate"]
    tasks = {t["name"]: t for t in template["spec"]["templates"][0]["dag"]["tasks"]}
    decider = tasks["water-when-register"]
    assert decider["dependencies"] == ["train"]
    assert tasks["register"]["when"] == "{{tasks.water-when-register.outputs.parameters.holds}} == true"
    assert tasks["register"]["dependencies"] == ["train", "water-when-register"]
    # no parameter reaches any `when` Argo evaluates
    assert all("params" not in t.get("when", "") and "workflow.parameters" not in t.get("when", "")
               for t in tasks.values())


@pytest.mark.parametrize("mode, holds", [("full", "true"), ("quick", "false"), ("x' || 'a' == 'a", "false")])
def test_the_decider_task_compares_with_the_parameter_as_its_pod_gets_it(tmp_path, argo_errors, aws_env,
                                                                         monkeypatch, mode, holds):
    from conftest import task_argv, water_job

    objects = _text_gated(tmp_path, argo_errors)
    monkeypatch.setenv("WATER_PARAM_mode", mode)  # {{workflow.parameters.mode}} in the pod's env, as rendered
    upstream = {"train": {"metrics-accuracy": "0.85", "model": "s3://b/m.tar.gz", "output": "s3://b/"}}
    assert water_job(task_argv(objects, "water-when-register", upstream)) == 0
    folder = aws_env["WATER_OUTPUTS_DIR"]
    outputs = {n: open(os.path.join(folder, n)).read() for n in sorted(os.listdir(folder))}
    assert outputs == {"holds": holds, "said": f"when: {mode!r} == 'full' and 0.85 >= 0.8 is {holds}"}


def test_status_says_what_the_decider_task_decided():
    from water import argonodes

    said = "when: 'quick' == 'full' and 0.85 >= 0.8 is false"
    nodes = {"n1": {"id": "n1", "displayName": "water-when-register", "type": "Pod", "phase": "Succeeded",
                    "outputs": {"parameters": [{"name": "holds", "value": "false"}, {"name": "said", "value": said}]},
                    "children": ["n2"]},
             "n2": {"id": "n2", "displayName": "register", "type": "Skipped", "phase": "Skipped",
                    "message": "when 'false == true' evaluated false"}}
    run = {"status": {"nodes": nodes}}
    assert argonodes.skipped(run) == [("register", said)]

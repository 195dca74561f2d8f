"""`when:` conditions: parsed and checked at their line, evaluated locally (a false one skips the step with the
values it was decided on, and every step after it), and rendered to Argo's `when` with `depends` on Succeeded
for what follows (Argo's plain `dependencies` would run after a Skipped task)."""
from __future__ import annotations

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
    ("{{steps.train.metrics.accuracy}} >=", "spec.steps[1].when: expected a number or {{steps.NAME.OUTPUT}}, got the end"),
    ("{{steps.train.metrics.accuracy}}", "expected a comparison (== != < <= > >=) after the value, got the end"),
    ("{{steps.train.metrics.accuracy}} > 'high'", "got \\\"'high'\\\" (a condition compares numbers: no strings)"),
    ("{{params.x}} > 1", "{{params.x}}: a condition compares numbers steps produce"),
    ("{{steps.train.output}} > 1", "spec.steps[1].when: {{steps.train.output}} is an S3 prefix, not a number"),
    ("{{steps.train.metrics.f1}} > 1", "step 'train' (train) has no metrics.f1"),
    ("{{steps.serve.metrics.x}} > 1", "step 'serve' is not upstream of 'register'"),
    ("({{steps.train.metrics.loss}} > 1", "'(' is not closed"),
    ("1 > 0 and", "expected a number or {{steps.NAME.OUTPUT}}, got the end"),
])
def test_a_condition_written_wrong_is_a_located_error(tmp_path, when, message):
    with pytest.raises(SpecError) as err:
        pipeline_mod.load(str(_project(tmp_path, when)))
    text = str(err.value)
    assert text.startswith(f"{tmp_path}/water.yaml:16:") and message.replace("\\\"", '"') in text, text


def test_numbers_reach_argo_without_exponents():
    assert [conditions.plain_number(v) for v in (1e-5, 0.9722, 3.0, -0.0, 12345678.5)] == [
        "0.00001", "0.9722", "3", "0", "12345678.5"]

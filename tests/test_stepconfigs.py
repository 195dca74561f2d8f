"""The steps' own configs out of the template: ConfigMaps named by their content's hash, created before the template
that mounts them, reviewed as one object, kept for the last revisions and for the runs still there, pruned after;
and the pod reading its own under its task's name."""
from __future__ import annotations

import pytest

from conftest import water_job
from water import pipeline as pipeline_mod
from water import render as render_mod
from water.render import configs

SPEC = """apiVersion: water/v1
kind: Pipeline
metadata: {{name: nightly, namespace: ml}}
spec:
  image: registry.example.com/nightly:1.0.0
  steps:
    - name: extract
      container: {{command: [echo, "{version}"]}}
    - name: report
      after: [extract]
      container: {{command: [echo, report]}}
"""
CONFIGMAPS = "v1/configmaps"


def _write(path, version: str) -> str:
    """The spec at `version`; the hash naming its steps' configs."""
    (path / "water.yaml").write_text(SPEC.format(version=version))
    return configs.hash_of(render_mod.render(pipeline_mod.load(str(path))).objects[0])


def _step_sets(apiserver) -> dict:
    """The steps' ConfigMaps in the cluster: name → hash."""
    return {name: o["metadata"]["labels"]["water/steps"] for (kind, _, name), o in apiserver.api.objects.items()
            if kind == CONFIGMAPS and "water/steps" in o["metadata"].get("labels", {})}


def _template(apiserver) -> dict:
    return apiserver.api.objects[("argoproj.io/v1alpha1/workflowtemplates", "ml", "nightly")]


def test_a_config_change_is_a_new_configmap_the_template_mounts_and_a_diff_of_its_lines(water, apiserver, tmp_path):
    first = _write(tmp_path, "v1")
    out = water("deploy", tmp_path)
    assert out.index(f"configmap/nightly-steps-{first} created") < out.index("workflowtemplate.argoproj.io/nightly "
                                                                             "created")  # before what mounts it
    second = _write(tmp_path, "v2")
    diff = water("diff", tmp_path, code=1)
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert "--- live/configmap/nightly-steps" in diff and "-      - v1" in changed and "+      - v2" in changed
    assert all(line in ("-      - v1", "+      - v2") or first in line or second in line or "spec-hash" in line
               for line in changed), changed
    water("deploy", tmp_path)
    assert set(_step_sets(apiserver).values()) == {first, second}  # the first kept for the runs that have it
    spec = _template(apiserver)["spec"]
    assert spec["workflowMetadata"]["labels"]["water/steps"] == second  # each run says which set it reads
    volume = next(v for v in spec["volumes"] if v["name"] == configs.VOLUME)
    assert volume == {"name": "water-steps", "projected": {"sources": [{"configMap": {"name":
                                                                                     f"nightly-steps-{second}"}}]}}
    stored = apiserver.api.objects[(CONFIGMAPS, "ml", f"nightly-steps-{second}")]
    assert stored["immutable"] is True and '"command":["echo","v2"]' in stored["data"]["extract"]


def test_sets_past_the_kept_revisions_are_pruned_unless_a_run_still_has_them(water, apiserver, kube, tmp_path):
    from kubernetes import client

    hashes = []
    for n in range(12):
        hashes.append(_write(tmp_path, f"v{n}"))
        out = water("deploy", tmp_path)
        if n == 0:  # a run started now (Argo labels it from workflowMetadata) and still there at the end
            client.CustomObjectsApi(kube).create_namespaced_custom_object("argoproj.io", "v1alpha1", "ml", "workflows", {
                "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {
                    "name": "nightly-run0", "labels": {"water/pipeline": "nightly", "water/steps": hashes[0]}},
                "spec": {"workflowTemplateRef": {"name": "nightly"}}})
    # revisions 3..12 are kept (revisions.KEEP), and with them their sets; revision 2's went with it, unless a run
    # had it: the one started on revision 1 keeps that set
    assert sorted(_step_sets(apiserver).values()) == sorted([hashes[0], *hashes[2:]])
    assert f"configmap/nightly-steps-{hashes[1]} pruned" in out
    client.CustomObjectsApi(kube).delete_namespaced_custom_object("argoproj.io", "v1alpha1", "ml", "workflows",
                                                                  "nightly-run0")
    _write(tmp_path, "v12")
    out = water("deploy", tmp_path)
    assert f"configmap/nightly-steps-{hashes[0]} pruned" in out and hashes[0] not in _step_sets(apiserver).values()


def test_new_labels_reach_the_set_whose_configs_did_not_change(water, apiserver, tmp_path):
    digest = _write(tmp_path, "v1")
    water("deploy", tmp_path)
    spec = tmp_path / "water.yaml"
    spec.write_text(spec.read_text().replace("metadata: {name: nightly, namespace: ml}",
                                             "metadata: {name: nightly, namespace: ml, labels: {team: ml}}"))
    out = water("deploy", tmp_path)
    assert f"configmap/nightly-steps-{digest} configured" in out and "+    team: ml\n" in out
    assert apiserver.api.objects[(CONFIGMAPS, "ml", f"nightly-steps-{digest}")]["metadata"]["labels"]["team"] == "ml"


def test_a_set_deleted_by_hand_is_made_again_by_the_next_deploy(water, apiserver, kube, tmp_path):
    from kubernetes import client

    digest = _write(tmp_path, "v1")
    water("deploy", tmp_path)
    client.CoreV1Api(kube).delete_namespaced_config_map(f"nightly-steps-{digest}", "ml")
    out = water("deploy", tmp_path)
    assert f"configmap/nightly-steps-{digest} created" in out and digest in _step_sets(apiserver).values()


def test_a_deploy_whose_template_write_fails_leaves_runs_on_the_old_set_and_the_next_one_finishes(water, apiserver,
                                                                                                 tmp_path):
    first = _write(tmp_path, "v1")
    water("deploy", tmp_path)
    second = _write(tmp_path, "v2")
    apiserver.api.inject(500, method="PATCH", path="workflowtemplates/nightly", times=-1,
                         when=lambda request: request.params.get("dryRun") != "All")
    out = water("deploy", tmp_path, code=1)
    assert f"applied: configmap/nightly-steps-{second} (created)" in out
    assert "not applied: workflowtemplate.argoproj.io/nightly" in out and "water rollback nightly --to 1" in out
    assert _template(apiserver)["spec"]["workflowMetadata"]["labels"]["water/steps"] == first  # runs start as before
    assert set(_step_sets(apiserver).values()) == {first, second}
    apiserver.api.faults.clear()
    out = water("deploy", tmp_path)
    assert f"configmap/nightly-steps-{second} unchanged" in out and "revision 2 recorded" in out
    assert _template(apiserver)["spec"]["workflowMetadata"]["labels"]["water/steps"] == second


def test_a_template_rendered_before_the_configmaps_is_followed_by_a_set_shown_whole(water, apiserver, kube, tmp_path):
    """A pipeline deployed by a water that passed configs as task arguments: its template has no steps label, so the
    new set is shown as created in full, and its runs (reading their --config) are left alone."""
    from kubernetes import client

    digest = _write(tmp_path, "v1")
    water("deploy", tmp_path)
    api = client.CustomObjectsApi(kube)
    template = api.get_namespaced_custom_object("argoproj.io", "v1alpha1", "ml", "workflowtemplates", "nightly")
    del template["spec"]["workflowMetadata"]["labels"]["water/steps"]
    api.replace_namespaced_custom_object("argoproj.io", "v1alpha1", "ml", "workflowtemplates", "nightly", template)
    client.CoreV1Api(kube).delete_namespaced_config_map(f"nightly-steps-{digest}", "ml")
    out = water("deploy", tmp_path)
    assert "--- live/configmap/nightly-steps\n+++ water/configmap/nightly-steps\n@@ -0,0 +1," in out
    assert "+  extract:\n" in out and f"configmap/nightly-steps-{digest} created" in out
    assert _template(apiserver)["spec"]["workflowMetadata"]["labels"]["water/steps"] == digest


def test_a_rollback_mounts_the_set_of_the_revision_it_goes_back_to(water, apiserver, tmp_path):
    first = _write(tmp_path, "v1")
    water("deploy", tmp_path)
    _write(tmp_path, "v2")
    water("deploy", tmp_path)
    water("rollback", "nightly", "-n", "ml", "-y")
    spec = _template(apiserver)["spec"]
    assert spec["workflowMetadata"]["labels"]["water/steps"] == first
    assert next(v for v in spec["volumes"] if v["name"] == configs.VOLUME)["projected"]["sources"] == [
        {"configMap": {"name": f"nightly-steps-{first}"}}]


def test_history_diff_pairs_the_two_revisions_sets_whatever_their_names(water, apiserver, tmp_path):
    _write(tmp_path, "v1")
    water("deploy", tmp_path)
    _write(tmp_path, "v2")
    water("deploy", tmp_path)
    out = water("history", "nightly", "-n", "ml", "--diff", "1", "2")
    assert "+++ revision-2/configmap/nightly-steps" in out and "-      - v1\n+      - v2\n" in out


# --- in the pod ----------------------------------------------------------------------------------------------------

def test_a_pod_whose_configmap_lacks_its_task_fails_as_bad_input_naming_it(tmp_path, capsys):
    assert water_job(["container", "--config-key", "extract", "--steps-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"water-job: no config for task 'extract' in {tmp_path}: the steps' ConfigMaps mounted there hold no such "
        "task (the template and the ConfigMaps it mounts disagree)")


@pytest.mark.parametrize("given", ["[1, 2]", "{not json"])
def test_a_config_that_is_not_a_json_object_is_bad_input(tmp_path, capsys, given):
    (tmp_path / "extract").write_text(given)
    assert water_job(["container", "--config-key", "extract", "--steps-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err.splitlines()[-1].startswith("water-job: unreadable step config")

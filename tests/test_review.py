"""What a reviewer reads in `water diff`, `deploy`, `edit` and `history --diff`: each step's config decoded, SQL
line by line, a huge change summarized."""
from __future__ import annotations

import json

import pytest

from water import pipeline as pipeline_mod
from water import render as render_mod
from water import review


@pytest.fixture(autouse=True)
def _datadog(datadog):
    """babyweight keeps Datadog monitors: its deploys talk to the local Datadog API."""
    return datadog


def _changed_lines(out: str) -> list:
    return [line for line in out.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def test_a_one_line_sql_edit_is_a_one_line_sql_diff(water, apiserver, project):
    path = project("babyweight")
    water("deploy", path)
    sql = path / "sql" / "extract.sql"
    sql.write_text(sql.read_text().replace("WHERE weight_pounds > 0", "WHERE weight_pounds > 1"))
    out = water("diff", path, code=1)
    changed = _changed_lines(out)
    sql_lines = [line for line in changed if "WHERE weight_pounds" in line]
    assert [line[0] for line in sql_lines] == ["-", "+"] and sql_lines[1].endswith(
        "WHERE weight_pounds > 1 AND mother_age > 0 AND plurality > 0 AND gestation_weeks > 0")
    others = [line for line in changed if line not in sql_lines]
    before, after = (_steps_hash(apiserver), _steps_hash_rendered(path))
    # and the hashes that follow from it: the spec's, and the one naming the steps' configs (their ConfigMap, the
    # template's volume of it, the label each run gets), nothing else
    assert others and all("water/spec-hash" in line or before in line or after in line for line in others), others
    assert "eyJ" not in out  # no base64 blob


def _steps_hash(apiserver) -> str:
    (cm,) = [o for (kind, _, _), o in apiserver.api.objects.items() if kind == "v1/configmaps"
             and "water/steps" in o["metadata"].get("labels", {})]
    return cm["metadata"]["labels"]["water/steps"]


def _steps_hash_rendered(path) -> str:
    from water.render import configs

    return configs.hash_of(render_mod.render(pipeline_mod.load(str(path))).objects[0])


def test_a_readable_view_is_never_what_is_applied(water, apiserver, project):
    path = project("babyweight")
    water("deploy", path)
    configmap = next(o for (kind, _, name), o in apiserver.api.objects.items() if kind == "v1/configmaps"
                     and name.startswith("babyweight-steps-"))
    assert json.loads(configmap["data"]["extract"])["step"] == "extract"  # stored as JSON text, applied as is
    shown = review.readable(configmap)
    assert "data" not in shown
    decoded = shown["data (decoded)"]["extract"]
    assert decoded["step"] == "extract" and "SELECT weight_pounds" in decoded["spec"]["query"]
    template = apiserver.api.objects[("argoproj.io/v1alpha1/workflowtemplates", "ml", "babyweight")]
    shared = next(t for t in template["spec"]["templates"] if t["name"] == "athena")["container"]["args"][2]
    assert shared.startswith("eyJ") and review.readable(template) != template  # base64 applied, decoded shown


def test_a_huge_change_is_summarized_unless_full(water, apiserver, project):
    path = project("babyweight")
    water("deploy", path)
    sql = path / "sql" / "extract.sql"
    sql.write_text(sql.read_text() + "".join(f"-- note {i}\n" for i in range(300)))
    out = water("diff", path, code=1)
    assert "more diff lines (" in out and "--full shows them" in out
    assert len(out.splitlines()) < 120
    full = water("diff", path, "--full", code=1)
    assert "-- note 299" in full and "--full shows them" not in full


def test_history_diff_shows_what_changed_between_two_revisions(water, apiserver, project):
    path = project("babyweight")
    water("deploy", path)
    sql = path / "sql" / "extract.sql"
    sql.write_text(sql.read_text().replace("LIMIT {{params.limit}}", "LIMIT {{params.limit}} -- capped"))
    water("deploy", path)
    out = water("history", "babyweight", "--diff", "1", "2")
    changed = _changed_lines(out)
    assert "-LIMIT {{params.limit}}" in changed and "+LIMIT {{params.limit}} -- capped" in changed  # the file itself
    assert any(line.startswith("+") and line.strip("+ ").endswith("-- capped") for line in changed
               if "LIMIT" in line and not line.startswith("+LIMIT"))  # and the step's config in the manifests
    assert "eyJ" not in out
    assert "pipeline 'babyweight' has no revision 3 (kept: 2, 1)" in water("history", "babyweight", "--diff", "1", "3",
                                                                           code=1)


def test_summaries_count_what_they_leave_out():
    text = "--- a\n+++ b\n@@ -1 +1 @@\n" + "".join(f"-old {i}\n+new {i}\n" for i in range(150))
    shown = review.summarized(text, limit=200, head=40)
    assert shown.splitlines()[-1] == "... 263 more diff lines (150 added, 150 removed in all): --full shows them"
    assert review.summarized("--- a\n+++ b\n-x\n+y\n") == "--- a\n+++ b\n-x\n+y\n"


def _wide(tmp_path, steps: int):
    """A pipeline of `steps` container steps with names of 39 characters, each after the 5 before it: a DAG as large
    as a template gets per step (the steps' own configs are in ConfigMaps)."""
    names = [f"step-{i:05d}-{'x' * 28}" for i in range(steps)]
    lines = ["apiVersion: water/v1", "kind: Pipeline", "metadata: {name: wide, namespace: ml}", "spec:",
             "  image: registry.example.com/wide:1.0.0", "  steps:"]
    lines += [f"    - {{name: {name}, after: [{', '.join(names[max(0, i - 5):i])}], container: {{command: [echo, 's{i}']}}}}"
              for i, name in enumerate(names)]
    (tmp_path / "water.yaml").write_text("\n".join(lines) + "\n")
    return tmp_path


def _template_size(tmp_path) -> int:
    from water import pipeline, render

    (template,) = [o for o in render.render(pipeline.load(str(tmp_path))).objects if o["kind"] == "WorkflowTemplate"]
    return len(render.to_json(template))


def test_an_object_etcd_would_refuse_is_refused_by_validate_and_deploy_before_any_write(tmp_path, water, apiserver,
                                                                                       runner):
    from water.cli import cli

    path = _wide(tmp_path, 6000)
    assert _template_size(path) > 1536 * 1024
    result = runner.invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2
    assert result.output.startswith("WorkflowTemplate wide is 1.") and "MiB: the API server stores at most 1.5 MiB " \
        "per object (etcd's limit)" in result.output
    out = water("deploy", path, "-y", code=2)
    assert "WorkflowTemplate wide is 1." in out and apiserver.api.written() == {}


def test_an_object_over_a_mib_deploys_as_the_real_server_takes_it(tmp_path, water, apiserver):
    """Under the API server's 3 MiB body limit and etcd's 1.5 MiB: a real server stores it (the test server, like
    aiohttp's default, once refused bodies over 1 MiB)."""
    path = _wide(tmp_path, 4500)
    assert 1024 * 1024 < _template_size(path) < 1536 * 1024 - 16 * 1024
    out = water("deploy", path, "-y")
    assert "revision 1 recorded" in out
    # stored, but its runs would not be: each run's Workflow holds the template's spec, past Argo's 1 MiB
    assert "warning: WorkflowTemplate wide is 1.29 MiB: each run stores it, and Argo fails a run whose Workflow " \
        "passes 1 MiB (the controller's MAX_WORKFLOW_SIZE)" in out
    assert ("argoproj.io/v1alpha1/workflowtemplates", "ml", "wide") in apiserver.api.objects


def test_the_test_server_refuses_as_etcd_and_the_body_limit_do(tmp_path, kube, apiserver):
    """What the real server does with sizes, so that the tests above mean something: a dry run of a 2 MiB object
    passes (it never reaches etcd), the write fails; a 4 MiB body is refused outright."""
    from kubernetes import client

    api = client.CoreV1Api(kube)

    def config_map(size):
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"big-{size}"},
                "data": {"x": "y" * size}}
    api.create_namespaced_config_map("ml", config_map(2 * 1024 * 1024), dry_run="All")
    with pytest.raises(client.ApiException) as caught:
        api.create_namespaced_config_map("ml", config_map(2 * 1024 * 1024))
    assert caught.value.status == 500 and "etcdserver: request is too large" in caught.value.body
    with pytest.raises(client.ApiException) as caught:
        api.create_namespaced_config_map("ml", config_map(4 * 1024 * 1024))
    assert caught.value.status == 413


def test_a_large_part_the_same_on_both_sides_is_one_line_and_a_changed_one_is_shown_whole():
    tasks = [{"name": f"s{i}", "template": "container"} for i in range(60)]
    before = {"kind": "WorkflowTemplate", "metadata": {"name": "x", "labels": {"water/steps": "aaa"}},
              "spec": {"templates": [{"name": "main", "dag": {"tasks": tasks}}]}}
    after = {**before, "metadata": {"name": "x", "labels": {"water/steps": "bbb"}}}
    shown = review.diff("workflowtemplate/x", before, after, source="live")
    assert "-    water/steps: aaa\n+    water/steps: bbb\n" in shown
    assert "s59" not in shown and "(60 items, unchanged)" not in shown  # far from the change: not even context
    edited = {**after, "spec": {"templates": [{"name": "main", "dag": {"tasks": tasks[:-1] + [
        {"name": "s59", "template": "container-2"}]}}]}}
    shown = review.diff("workflowtemplate/x", before, edited, source="live")
    assert "-        template: container\n+        template: container-2\n" in shown


def test_a_folded_part_reads_as_one_line_where_it_is_context():
    before = {"data": list(range(60)), "note": "a"}
    shown = review.diff("configmap/x", before, {**before, "note": "b"}, source="live")
    assert shown.splitlines()[3:] == [" data:", " - (60 items, unchanged)", "-note: a", "+note: b"]


@pytest.mark.parametrize("edited, shown", [("1, 2", "1, 2"), ("{not json", "{not json"), ("", "")])
def test_a_steps_configmap_edited_by_hand_shows_each_value_it_cannot_decode_as_it_is(edited, shown):
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x-steps-1", "labels": {
        "water/pipeline": "x", "water/steps": "1"}}, "data": {"a": '{"step": "a"}', "b": edited, "c": "[3]"}}
    assert review.readable(configmap)["data (decoded)"] == {"a": {"step": "a"}, "b": shown, "c": [3]}

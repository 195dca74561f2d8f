"""What deploy, diff, rollback, history and edit decide, through the CLI on the in-memory cluster
(water.cluster.MemoryCluster, passed in as the CLI's cluster). What needs a real API server's HTTP semantics —
field managers, retries of 5xx answers, the client's errors — is tested end to end in test_deploy.py."""
from __future__ import annotations

import json
import re
import sys

import pytest
import yaml

from water.errors import ApiError, Forbidden, ServerError

WT = ("WorkflowTemplate", "ml", "babyweight")
CW = ("CronWorkflow", "ml", "babyweight")


@pytest.fixture(autouse=True)
def _datadog(datadog):
    """babyweight keeps Datadog monitors: every deploy here talks to the local Datadog API."""
    return datadog


def written(cluster) -> dict:
    """What deploys wrote (the namespaces the cluster started with are not theirs)."""
    return {k: v for k, v in cluster.objects.items() if k[0] != "Namespace"}


def revisions(cluster) -> list:
    return sorted(int(o["metadata"]["labels"]["water/revision"]) for k, o in cluster.objects.items()
                  if k[0] == "ConfigMap" and "water/revision" in o["metadata"].get("labels", {}))


def refuse(cluster, verb: str, kind: str, error: ApiError, times: int = -1) -> None:
    """The cluster refuses `verb` ('apply', 'dry-run', 'create', 'delete', ...) on `kind` with `error`."""
    left = [times]

    def fault(v, k, name):
        if v == verb and k == kind and left[0] != 0:
            left[0] -= 1
            return error
        return None

    cluster.faults.append(fault)


def test_a_changed_spec_shows_the_diff_and_applies_only_the_change(water_memory, memory_cluster, project):
    path = project("babyweight")
    water_memory("deploy", path)
    cron_version = memory_cluster.objects[CW]["metadata"]["resourceVersion"]
    out = water_memory("deploy", path, "--param", "limit=500")
    assert '-      value: "100000"' in out and '+      value: "500"' in out
    assert "workflowtemplate.argoproj.io/babyweight configured" in out
    assert "cronworkflow.argoproj.io/babyweight unchanged" in out and "revision 2 recorded" in out
    assert memory_cluster.objects[CW]["metadata"]["resourceVersion"] == cron_version
    assert memory_cluster.objects[WT]["spec"]["arguments"]["parameters"] == [{"name": "limit", "value": "500"}]
    assert memory_cluster.objects[WT]["metadata"]["generation"] == 2


def test_removed_schedules_are_pruned(water_memory, memory_cluster, project):
    path = project("babyweight")
    water_memory("deploy", path)
    spec = path / "water.yaml"
    spec.write_text(re.sub(r"(?ms)^  schedule:.*?(?=^  params:)", "", spec.read_text()))
    assert "cronworkflow.argoproj.io/babyweight pruned" in water_memory("deploy", path)
    assert CW not in memory_cluster.objects and WT in memory_cluster.objects


def test_a_step_removed_leaves_the_live_dag(water_memory, memory_cluster, tmp_path):
    from water.scaffold import create

    path = create("recsys", str(tmp_path))
    key = ("WorkflowTemplate", "ml", "recsys")

    def tasks():
        return [t["name"] for t in memory_cluster.objects[key]["spec"]["templates"][0]["dag"]["tasks"]]

    water_memory("deploy", path, "-n", "ml")
    doc = yaml.safe_load(open(f"{path}/water.yaml"))
    last = doc["spec"]["steps"].pop()["name"]
    assert last in tasks()
    with open(f"{path}/water.yaml", "w") as f:
        yaml.safe_dump(doc, f, sort_keys=False)
    water_memory("deploy", path, "-n", "ml")
    assert last not in tasks()


def test_a_rejected_dry_run_applies_nothing(water_memory, memory_cluster, project):
    message = 'CronWorkflow.argoproj.io "babyweight" is invalid: spec.schedules: Invalid value'
    refuse(memory_cluster, "dry-run", "CronWorkflow", ApiError(422, "Invalid", message))
    out = water_memory("deploy", project("babyweight"), code=1)
    assert "the server rejected the dry run; nothing was applied" in out
    assert f"cronworkflow.argoproj.io/babyweight: {message}" in out
    assert written(memory_cluster) == {}


def test_a_pipeline_whose_namespace_does_not_exist_is_refused_whole(water_memory, memory_cluster, project):
    out = water_memory("deploy", project("nightly-report"), code=1)  # its spec says namespace: analytics
    assert "the server rejected the dry run; nothing was applied" in out
    assert ('cronjob.batch/nightly-report: namespaces "analytics" not found (water install -n analytics creates '
            "it with the service accounts water's pods run as)") in out
    assert written(memory_cluster) == {}


def test_a_half_failed_deploy_says_what_was_applied_and_how_to_go_back(water_memory, memory_cluster, project):
    path = project("babyweight")
    water_memory("deploy", path)
    refuse(memory_cluster, "apply", "CronWorkflow", ServerError(500, "InternalError", "etcdserver: request timed out"))
    spec = path / "water.yaml"
    spec.write_text(spec.read_text().replace('"0 3 * * *"', '"0 4 * * *"').replace('limit: "100000"', 'limit: "7"'))
    out = water_memory("deploy", path, code=1)
    assert "applying cronworkflow.argoproj.io/babyweight failed: etcdserver: request timed out" in out
    assert "applied: workflowtemplate.argoproj.io/babyweight (configured)" in out
    assert "not applied: cronworkflow.argoproj.io/babyweight" in out
    assert "to go back: water rollback babyweight --to 1 -n ml" in out
    assert revisions(memory_cluster) == [1]
    assert memory_cluster.objects[CW]["spec"]["schedules"] == ["0 3 * * *"]


def test_diff_exit_code(water_memory, project):
    path = project("babyweight")
    assert "+kind: WorkflowTemplate" in water_memory("diff", path, code=1)
    water_memory("deploy", path)
    assert "unchanged" in water_memory("diff", path, code=0)


def test_history_and_rollback_restore_the_exact_rendered_bytes(water_memory, memory_cluster, project):
    path = project("babyweight")
    first = water_memory("render", path)
    water_memory("deploy", path)
    water_memory("deploy", path, "--param", "limit=5")
    out = water_memory("rollback", "babyweight")
    assert "workflowtemplate.argoproj.io/babyweight configured" in out and "revision 3 recorded" in out
    rows = json.loads(water_memory("history", "babyweight", "-o", "json"))
    assert [r["number"] for r in rows] == [3, 2, 1]
    assert rows[0]["note"] == "rollback to revision 1" and rows[0]["hash"] == rows[2]["hash"] != rows[1]["hash"]
    assert memory_cluster.objects[("ConfigMap", "ml", "babyweight-water-rev-3")]["data"]["manifests.yaml"] == first
    assert memory_cluster.objects[WT]["spec"] == next(d for d in yaml.safe_load_all(first) if d)["spec"]
    assert "REVISION" in water_memory("history", "babyweight")
    assert "has no revision 9 (kept: 3, 2, 1)" in water_memory("rollback", "babyweight", "--to", "9", code=1)


def test_revisions_keep_the_last_ten(water_memory, memory_cluster, project):
    path = project("babyweight")
    for limit in range(12):
        water_memory("deploy", path, "--param", f"limit={limit}")
    assert revisions(memory_cluster) == list(range(3, 13))


def test_large_revisions_are_compressed_and_read_back(water_memory, memory_cluster, project):
    path = project("babyweight")
    sql = path / "sql" / "extract.sql"
    sql.write_text(sql.read_text() + "".join(f"-- padding line {i}\n" for i in range(12000)))
    first = water_memory("render", path)
    water_memory("deploy", path)
    water_memory("deploy", path, "--param", "limit=3")
    stored = memory_cluster.objects[("ConfigMap", "ml", "babyweight-water-rev-1")]
    assert set(stored["binaryData"]) == {"water.yaml.gz", "manifests.yaml.gz", "files.json.gz", "monitors.json.gz"}
    assert "data" not in stored and len(json.dumps(stored)) < len(first) / 2
    water_memory("rollback", "babyweight")
    assert memory_cluster.objects[("ConfigMap", "ml", "babyweight-water-rev-3")]["binaryData"] == stored["binaryData"]


def test_a_deploy_racing_another_takes_the_next_revision_instead_of_overwriting_it(water_memory, memory_cluster,
                                                                                   project):
    """Two deploys planned against revision 1: the other records revision 2 between this one's plan and its
    record."""
    path = project("babyweight")
    water_memory("deploy", path)
    other = memory_cluster.objects[("ConfigMap", "ml", "babyweight-water-rev-1")]

    def other_deploy_recorded_first(verb, kind, name):
        if verb == "create" and name == "babyweight-water-rev-2":
            taken = json.loads(json.dumps(other))
            taken["metadata"].update(name=name, labels={**taken["metadata"]["labels"], "water/revision": "2"})
            memory_cluster.objects[("ConfigMap", "ml", name)] = taken
        return None

    memory_cluster.faults.append(other_deploy_recorded_first)
    spec = path / "water.yaml"
    spec.write_text(spec.read_text().replace('limit: "100000"', 'limit: "7"'))
    assert "revision 3 recorded" in water_memory("deploy", path)
    assert revisions(memory_cluster) == [1, 2, 3]
    kept = {n: memory_cluster.objects[("ConfigMap", "ml", f"babyweight-water-rev-{n}")]["data"]["water.yaml"]
            for n in (2, 3)}
    assert 'limit: "7"' in kept[3] and 'limit: "7"' not in kept[2]  # this deploy's spec, the other's intact


def test_a_failed_revision_write_says_what_was_applied_and_how_to_go_back(water_memory, memory_cluster, project):
    path = project("babyweight")
    water_memory("deploy", path)
    refuse(memory_cluster, "create", "ConfigMap", Forbidden(403, "Forbidden", 'forbidden: configmaps is forbidden: '
                                                           'User "dev" cannot create resource "configmaps"'))
    spec = path / "water.yaml"
    spec.write_text(spec.read_text().replace('limit: "100000"', 'limit: "7"'))
    out = water_memory("deploy", path, code=1)
    assert "recording the revision failed: forbidden: configmaps is forbidden" in out
    assert "applied: workflowtemplate.argoproj.io/babyweight (configured)" in out
    assert "to go back: water rollback babyweight --to 1 -n ml" in out
    assert revisions(memory_cluster) == [1]


def test_a_failed_prune_is_worded_as_a_prune(water_memory, memory_cluster, project):
    path = project("babyweight")
    water_memory("deploy", path)
    refuse(memory_cluster, "delete", "CronWorkflow", Forbidden(403, "Forbidden", "forbidden: cronworkflows is "
                                                               "forbidden"))
    spec = path / "water.yaml"
    spec.write_text(re.sub(r"(?ms)^  schedule:.*?(?=^  params:)", "", spec.read_text()))
    out = water_memory("deploy", path, code=1)
    assert "pruning cronworkflow.argoproj.io/babyweight failed: forbidden" in out
    assert CW in memory_cluster.objects


# --- water edit: kubectl edit's loop -----------------------------------------------------------------------------

def _editor(tmp_path, monkeypatch, *edits):
    """$EDITOR as a script applying one (old, new) replacement per invocation."""
    queue = tmp_path / "edits.json"
    queue.write_text(json.dumps(list(edits)))
    script = tmp_path / "editor.py"
    script.write_text(
        "import json, sys\n"
        f"q = json.load(open({str(queue)!r}))\n"
        "old, new = q.pop(0)\n"
        f"json.dump(q, open({str(queue)!r}, 'w'))\n"
        "text = open(sys.argv[1]).read()\n"
        f"open({str(tmp_path / 'seen.txt')!r}, 'a').write(text + '\\n=====\\n')\n"
        "open(sys.argv[1], 'w').write(text.replace(old, new))\n")
    monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")
    monkeypatch.delenv("VISUAL", raising=False)
    return queue


def test_edit_deploys_a_valid_change(water_memory, memory_cluster, project, tmp_path, monkeypatch):
    water_memory("deploy", project("babyweight"))
    _editor(tmp_path, monkeypatch, ['"0 3 * * *"', '"15 3 * * *"'])
    out = water_memory("edit", "babyweight")
    assert "+  - 15 3 * * *" in out and "revision 2 recorded" in out
    assert memory_cluster.objects[CW]["spec"]["schedules"] == ["15 3 * * *"]
    assert json.loads(water_memory("history", "babyweight", "-o", "json"))[0]["note"] == "edit of revision 1"


def test_edit_reopens_with_the_errors_on_top_until_fixed(water_memory, memory_cluster, project, tmp_path,
                                                         monkeypatch):
    water_memory("deploy", project("babyweight"))
    queue = _editor(tmp_path, monkeypatch, ["Asia/Tokyo", "Mars/Olympus"], ["Mars/Olympus", "Asia/Seoul"])
    out = water_memory("edit", "babyweight")
    assert json.loads(queue.read_text()) == []  # opened twice
    second = (tmp_path / "seen.txt").read_text().split("\n=====\n")[1]
    assert second.startswith("# water: fix what is below and save") and "Mars/Olympus" in second.split("\n")[1]
    assert memory_cluster.objects[CW]["spec"]["timezone"] == "Asia/Seoul" and "revision 2 recorded" in out


def test_edit_with_errors_left_in_gives_up_and_deploys_nothing(water_memory, memory_cluster, project, tmp_path,
                                                               monkeypatch):
    water_memory("deploy", project("babyweight"))
    _editor(tmp_path, monkeypatch, ["Asia/Tokyo", "Mars/Olympus"], ["nothing", "nothing"])
    assert "still has the errors" in water_memory("edit", "babyweight", code=1)
    assert revisions(memory_cluster) == [1]
    assert memory_cluster.objects[CW]["spec"]["timezone"] == "Asia/Tokyo"


def test_edit_without_change_is_cancelled(water_memory, memory_cluster, project, tmp_path, monkeypatch):
    water_memory("deploy", project("babyweight"))
    _editor(tmp_path, monkeypatch, ["nothing-to-replace", "x"])
    assert "Edit cancelled, no changes made." in water_memory("edit", "babyweight")
    assert revisions(memory_cluster) == [1]

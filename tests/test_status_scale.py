"""`water status` at namespace scale: a constant number of list requests whatever the number of pipelines, the
runs' metadata only (never their nodes), pages of the server's size; `status NAME` reads the latest run alone."""
from __future__ import annotations

import json

import pytest

from water.kube import PAGE

WORKFLOWS = "argoproj.io/v1alpha1/workflows"
METADATA_ONLY = "as=PartialObjectMetadataList"


def _nodes(name: str, count: int) -> dict:
    return {f"{name}-{i}": {"id": f"{name}-{i}", "name": f"{name}.s{i}", "displayName": f"s{i}", "type": "Pod",
                            "phase": "Succeeded", "startedAt": "2026-12-01T03:00:00Z",
                            "finishedAt": "2026-12-01T03:00:30Z"} for i in range(count)}


def _pipelines(apiserver, count: int, runs: int, nodes: int = 20) -> None:
    """`count` deployed pipelines (a WorkflowTemplate and CronWorkflow each) with `runs` finished runs each, their
    status as Argo writes it: the phase in status and in the label the controller keeps (operator.go)."""
    labels = {"app.kubernetes.io/managed-by": "water"}
    for p in range(count):
        name = f"p{p:02d}"
        meta = {"name": name, "labels": {**labels, "water/pipeline": name}}
        apiserver.api.put("argoproj.io/v1alpha1/workflowtemplates", "ml", {"metadata": meta, "spec": {"templates": []}})
        apiserver.api.put("argoproj.io/v1alpha1/cronworkflows", "ml", {"metadata": meta, "spec": {
            "schedules": ["0 3 * * *"], "timezone": "Asia/Tokyo", "workflowSpec": {}}})
        for r in range(runs):
            run = f"{name}-{r:05d}"
            phase = "Failed" if r == runs - 1 else "Succeeded"
            apiserver.api.put(WORKFLOWS, "ml", {"metadata": {"name": run, "labels": {
                **labels, "water/pipeline": name, "workflows.argoproj.io/phase": phase}},
                "spec": {"workflowTemplateRef": {"name": name}},
                "status": {"phase": phase, "startedAt": "2026-12-01T03:00:00Z", "finishedAt": "2026-12-01T03:05:00Z",
                           "nodes": _nodes(run, nodes)}})


def _asked(apiserver, since: int) -> list:
    return [r for r in apiserver.api.requests[since:] if not r[1].startswith(("/api?", "/apis?")) and
            r[1] not in ("/api", "/apis") and "/v1alpha1?" not in r[1] and not r[1].endswith("/v1alpha1")]


@pytest.mark.parametrize("pipelines", [2, 12])
def test_the_namespace_costs_the_same_requests_for_2_or_12_pipelines(water, apiserver, pipelines):
    _pipelines(apiserver, pipelines, runs=3)
    since = len(apiserver.api.requests)
    rows = json.loads(water("status", "-o", "json"))
    asked = _asked(apiserver, since)
    assert [r["name"] for r in rows] == [f"p{p:02d}" for p in range(pipelines)]
    assert {r["phase"] for r in rows} == {"Failed"} and all(r["lastRun"].endswith("-00002") for r in rows)
    assert all(method == "GET" and "/namespaces/ml/" in path and "labelSelector=" in path for method, path, _, _ in asked)
    assert len(asked) == 5, asked  # templates, schedules, CronJobs, runs, Jobs: one list each, whatever the count
    (runs_request,) = [r for r in asked if "/workflows?" in r[1]]
    assert METADATA_ONLY in runs_request[2]  # metadata only: no run's nodes cross the wire


def test_runs_come_in_pages_of_the_servers_limit(water, apiserver):
    _pipelines(apiserver, 1, runs=PAGE + 20, nodes=1)
    since = len(apiserver.api.requests)
    (row,) = json.loads(water("status", "-o", "json"))
    pages = [path for _, path, _, _ in _asked(apiserver, since) if "/workflows?" in path]
    assert len(pages) == 2 and f"limit={PAGE}" in pages[0] and "continue=" in pages[1]
    assert row["lastRun"] == f"p00-{PAGE + 19:05d}" and row["phase"] == "Failed"


def test_status_of_a_pipeline_reads_the_latest_run_alone(water, apiserver):
    _pipelines(apiserver, 1, runs=30, nodes=1000)
    since = len(apiserver.api.requests)
    found = json.loads(water("status", "p00", "-o", "json"))
    asked = _asked(apiserver, since)
    full_reads = [path for _, path, accept, _ in asked if "/workflows" in path and METADATA_ONLY not in accept]
    assert full_reads == ["/apis/argoproj.io/v1alpha1/namespaces/ml/workflows/p00-00029"]  # one run's nodes
    assert len(found["steps"]) == 1000 and found["runs"][0]["phase"] == "Failed"
    assert found["runs"][0]["duration"] == 300.0 and len(found["runs"]) == 10
    assert [r["name"] for r in found["runs"][:2]] == ["p00-00029", "p00-00028"]

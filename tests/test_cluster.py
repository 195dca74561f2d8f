"""The two clusters behind water.cluster.Cluster answer alike: the same calls on the in-memory cluster and on
the official client against the API server emulator (tests/kubeapi.py) give the same results and errors, so
what deploy decides on the memory cluster holds on a server."""
from __future__ import annotations

import dataclasses

import pytest

from water import errors
from water.cluster import MemoryCluster


@pytest.fixture(params=["memory", "kube"])
def cluster(request):
    if request.param == "memory":
        yield MemoryCluster(namespaces=("default", "ml"), namespace="ml")
        return
    from water.kube import RETRIES, KubeCluster, Target

    request.getfixturevalue("apiserver")
    made = KubeCluster(Target(), retries=dataclasses.replace(RETRIES, first=0.0, cap=0.0))
    yield made
    made.close()


def _configmap(name: str, labels: dict | None = None, namespace: str = "ml", **data) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace, "labels": labels or {}}, "data": data}


def test_get_create_and_a_taken_name(cluster):
    assert cluster.get("ConfigMap", "a") is None
    made = cluster.create(_configmap("a", x="1"))
    assert made["metadata"]["uid"] and made["metadata"]["resourceVersion"]
    assert cluster.get("ConfigMap", "a")["data"] == {"x": "1"}
    with pytest.raises(errors.AlreadyExists) as taken:
        cluster.create(_configmap("a", x="2"))
    assert taken.value.status == 409 and taken.value.details["name"] == "a"
    assert taken.value.details["kind"] == "configmaps"
    assert cluster.get("ConfigMap", "a")["data"] == {"x": "1"}


def test_nothing_is_made_in_a_namespace_that_does_not_exist(cluster):
    for write in (lambda: cluster.create(_configmap("a", namespace="nowhere")),
                  lambda: cluster.apply(_configmap("a", namespace="nowhere"), dry_run=True)):
        with pytest.raises(errors.NotFound) as missing:
            write()
        assert (missing.value.details["kind"], missing.value.details["name"]) == ("namespaces", "nowhere")


def test_apply_creates_then_changes_the_same_object(cluster):
    first = cluster.apply(_configmap("a", x="1"))
    changed = cluster.apply(_configmap("a", x="2"))
    assert changed["metadata"]["resourceVersion"] != first["metadata"]["resourceVersion"]
    assert changed["metadata"]["uid"] == first["metadata"]["uid"]
    assert cluster.get("ConfigMap", "a")["data"] == {"x": "2"}


def test_dry_runs_persist_nothing(cluster):
    cluster.apply(_configmap("a", x="1"), dry_run=True)
    assert cluster.get("ConfigMap", "a") is None
    cluster.apply(_configmap("a", x="1"))
    assert cluster.delete("ConfigMap", "a", dry_run=True) is True
    assert cluster.get("ConfigMap", "a") is not None


def test_list_by_label_and_delete(cluster):
    cluster.create(_configmap("a", {"water/pipeline": "p", "water/revision": "1"}))
    cluster.create(_configmap("b", {"water/pipeline": "p"}))
    cluster.create(_configmap("c", {"water/pipeline": "q", "water/revision": "1"}))
    assert sorted(o["metadata"]["name"] for o in cluster.list("ConfigMap", "water/pipeline=p")) == ["a", "b"]
    assert [o["metadata"]["name"] for o in cluster.list("ConfigMap", "water/pipeline=p,water/revision")] == ["a"]
    assert cluster.list("ConfigMap", "water/pipeline=p", "default") == []
    assert cluster.delete("ConfigMap", "a") is True and cluster.delete("ConfigMap", "a") is False


def test_merge_patch(cluster):
    cluster.create(_configmap("a", x="1", y="2"))
    cluster.merge_patch("ConfigMap", "a", {"data": {"x": None, "z": "3"}})
    assert cluster.get("ConfigMap", "a")["data"] == {"y": "2", "z": "3"}


def test_require_names_what_is_missing(cluster):
    cluster.require("WorkflowTemplate")
    assert cluster.serves("CronJob")

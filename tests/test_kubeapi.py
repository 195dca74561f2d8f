"""The API server emulator's semantics, each checked with the official client over HTTP (tests/kubeapi.py)."""
from __future__ import annotations

import json
import threading
import time

import pytest
from kubernetes import client as k8s
from kubernetes import dynamic
from kubernetes.client.rest import ApiException

CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "labels": {"app": "x", "tier": "web"}},
      "data": {"k": "v"}}


def configmap(name, **labels):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}, "data": {}}


@pytest.fixture
def core(kube):
    return k8s.CoreV1Api(kube)


@pytest.fixture
def templates(kube):
    return dynamic.DynamicClient(kube).resources.get(api_version="argoproj.io/v1alpha1", kind="WorkflowTemplate")


def test_create_is_201_with_server_fields_and_generation(core):
    data, code, _ = core.create_namespaced_config_map_with_http_info("ml", CM)
    assert code == 201
    assert data.metadata.uid and data.metadata.resource_version and data.metadata.creation_timestamp
    assert data.metadata.generation == 1
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("ml", CM)
    assert err.value.status == 409
    changed = core.patch_namespaced_config_map("a", "ml", {"data": {"k": "w"}})
    assert changed.metadata.generation == 2 and changed.metadata.uid == data.metadata.uid
    assert int(changed.metadata.resource_version) > int(data.metadata.resource_version)
    same = core.patch_namespaced_config_map("a", "ml", {"metadata": {"labels": {"new": "1"}}})
    assert same.metadata.generation == 2  # metadata alone does not bump the generation


def test_namespaces_are_cluster_scoped_objects(core):
    # by name only, as water uses them: kmock cannot parse the collection path /api/v1/namespaces
    created = core.patch_namespace("data", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "data"}},
                                   field_manager="test", _content_type="application/apply-patch+yaml")
    assert created.metadata.name == "data" and created.metadata.namespace is None
    core.patch_namespace("data", {"metadata": {"labels": {"team": "ml"}}})
    assert core.read_namespace("data").metadata.labels == {"team": "ml"}
    with pytest.raises(ApiException) as err:
        core.read_namespace("absent")
    assert err.value.status == 404


def test_objects_are_refused_in_a_namespace_until_it_exists_even_on_a_dry_run(core):
    for dry_run in ("All", None):
        with pytest.raises(ApiException) as err:
            core.create_namespaced_config_map("data", configmap("a"), dry_run=dry_run)
        assert err.value.status == 404 and json.loads(err.value.body)["message"] == 'namespaces "data" not found'
    core.patch_namespace("data", {"metadata": {"name": "data"}}, field_manager="test",
                         _content_type="application/apply-patch+yaml")
    assert core.create_namespaced_config_map("data", configmap("a")).metadata.namespace == "data"


def test_list_is_typed_and_filters_by_label_selector(core):
    for name, labels in [("a", {"app": "x", "tier": "web"}), ("b", {"app": "x"}), ("c", {"app": "y"})]:
        core.create_namespaced_config_map("ml", configmap(name, **labels))
    listed = core.list_namespaced_config_map("ml", label_selector="app=x")
    assert listed.kind == "ConfigMapList" and listed.api_version == "v1" and listed.metadata.resource_version
    assert [i.metadata.name for i in listed.items] == ["a", "b"]
    names = {sel: [i.metadata.name for i in core.list_namespaced_config_map("ml", label_selector=sel).items]
             for sel in ("app!=x", "tier", "!tier", "app in (x,y),tier notin (db)", "app=x,tier=web")}
    assert names == {"app!=x": ["c"], "tier": ["a"], "!tier": ["b", "c"], "app in (x,y),tier notin (db)":
                     ["a", "b", "c"], "app=x,tier=web": ["a"]}
    with pytest.raises(ApiException) as err:
        core.list_namespaced_config_map("ml", label_selector="app=(x")
    assert err.value.status == 400


def test_dry_run_persists_nothing(core, kube, templates):
    created = core.create_namespaced_config_map("ml", CM, dry_run="All")
    assert created.metadata.name == "a"
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("a", "ml")
    assert err.value.status == 404
    body = {"apiVersion": "argoproj.io/v1alpha1", "kind": "WorkflowTemplate", "metadata": {"name": "t"},
            "spec": {"entrypoint": "main"}}
    templates.server_side_apply(body=body, namespace="ml", field_manager="water", dry_run="All")
    assert templates.get(namespace="ml").items == []
    core.create_namespaced_config_map("ml", CM)
    core.delete_namespaced_config_map("a", "ml", dry_run="All")
    assert core.read_namespaced_config_map("a", "ml").data == {"k": "v"}


def test_apply_creates_then_updates_and_requires_a_field_manager(templates):
    body = {"apiVersion": "argoproj.io/v1alpha1", "kind": "WorkflowTemplate",
            "metadata": {"name": "t", "labels": {"a": "1", "b": "2"}}, "spec": {"entrypoint": "main"}}
    created = templates.server_side_apply(body=body, namespace="ml", field_manager="water")
    assert created.metadata.name == "t" and created.metadata.generation == 1  # 201 still returns the object
    del body["metadata"]["labels"]["b"]
    body["spec"]["arguments"] = {"parameters": [{"name": "p", "value": "1"}]}
    updated = templates.server_side_apply(body=body, namespace="ml", field_manager="water")
    assert dict(updated.metadata.labels) == {"a": "1"}  # what the manager stopped applying is removed
    assert updated.spec.arguments.parameters[0].name == "p" and updated.metadata.generation == 2
    assert [m.manager for m in updated.metadata.managedFields] == ["water"]
    with pytest.raises(ApiException) as err:
        templates.server_side_apply(body=body, namespace="ml", field_manager="")
    assert err.value.status == 400 and "fieldManager" in err.value.body


def test_apply_conflict_names_the_other_manager_unless_forced(templates):
    body = {"apiVersion": "argoproj.io/v1alpha1", "kind": "WorkflowTemplate", "metadata": {"name": "t"},
            "spec": {"entrypoint": "main"}}
    templates.server_side_apply(body=body, namespace="ml", field_manager="water")
    templates.patch(body={"spec": {"entrypoint": "other"}}, name="t", namespace="ml", field_manager="kubectl-edit",
                    content_type="application/merge-patch+json")
    with pytest.raises(ApiException) as err:
        templates.server_side_apply(body=body, namespace="ml", field_manager="water")
    assert err.value.status == 409
    assert json.loads(err.value.body)["message"] == ('Apply failed with 1 conflict: conflict with "kubectl-edit" '
                                                     'using argoproj.io/v1alpha1: .spec.entrypoint')
    forced = templates.server_side_apply(body=body, namespace="ml", field_manager="water", force_conflicts=True)
    assert forced.spec.entrypoint == "main"
    assert [m.manager for m in forced.metadata.managedFields] == ["water"]


def test_put_replaces_with_resource_version_precondition(core):
    created = core.create_namespaced_config_map("ml", CM)
    body = configmap("a", app="z")
    body["metadata"]["resourceVersion"] = created.metadata.resource_version
    replaced = core.replace_namespaced_config_map("a", "ml", body)
    assert dict(replaced.metadata.labels) == {"app": "z"} and not replaced.data
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_config_map("a", "ml", body)  # the resourceVersion is stale now
    assert err.value.status == 409
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_config_map("nope", "ml", configmap("nope"))
    assert err.value.status == 404


def test_watch_filters_by_label_and_ends_at_timeout_seconds(core):
    from kubernetes import watch

    core.create_namespaced_config_map("ml", configmap("old", app="x"))
    seen = []

    def later():
        time.sleep(0.3)
        core.create_namespaced_config_map("ml", configmap("new", app="x"))
        core.create_namespaced_config_map("ml", configmap("other", app="y"))
        core.delete_namespaced_config_map("new", "ml")

    threading.Thread(target=later).start()
    started = time.monotonic()
    for event in watch.Watch().stream(core.list_namespaced_config_map, "ml", label_selector="app=x",
                                      timeout_seconds=1):
        seen.append((event["type"], event["object"].metadata.name))
    assert seen == [("ADDED", "old"), ("ADDED", "new"), ("DELETED", "new")]
    assert 0.9 < time.monotonic() - started < 5


def test_pod_logs_and_injected_faults(apiserver, core):
    core.create_namespaced_pod("ml", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                                      "spec": {"containers": [{"name": "main", "image": "x"}]}})
    apiserver.api.logs[("ml", "p")] = "one\ntwo\n"
    assert core.read_namespaced_pod_log("p", "ml", container="main") == "one\ntwo\n"
    apiserver.api.inject(503, method="GET", path="/configmaps", times=2)
    for _ in range(2):
        with pytest.raises(ApiException) as err:
            core.list_namespaced_config_map("ml")
        assert err.value.status == 503
    assert core.list_namespaced_config_map("ml").items == []


def test_unknown_api_group_is_404(kube):
    with pytest.raises(ApiException) as err:
        k8s.CustomObjectsApi(kube).list_namespaced_custom_object("nothing.example", "v1", "ml", "things")
    assert err.value.status == 404

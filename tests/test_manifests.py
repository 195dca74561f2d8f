"""manifests/: the cluster add-ons validate against Kubernetes' schemas and keep their security promises."""
from __future__ import annotations

import hashlib
import json
import os

import pytest
import yaml
from conftest import ROOT

MANIFESTS = os.path.join(ROOT, "manifests")
KUSTOMIZATIONS = ("", "events")  # manifests/ and its optional part, `water install --events`


def _files(folder: str) -> list:
    return sorted(os.path.join(folder, f) for f in os.listdir(os.path.join(MANIFESTS, folder))
                  if f.endswith(".yaml") and f != "kustomization.yaml")


FILES = [f for folder in KUSTOMIZATIONS for f in _files(folder)]


def documents(name=None):
    return [d for f in ([name] if name else FILES) for d in yaml.safe_load_all(open(os.path.join(MANIFESTS, f)))
            if d]


@pytest.mark.parametrize("folder", KUSTOMIZATIONS)
def test_kustomization_lists_every_file(folder):
    kustomization = yaml.safe_load(open(os.path.join(MANIFESTS, folder, "kustomization.yaml")))
    assert sorted(os.path.join(folder, f) for f in kustomization["resources"]) == _files(folder)


@pytest.mark.parametrize("doc", documents(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_every_object_validates_against_kubernetes_schemas(doc, k8s_errors):
    assert k8s_errors(doc) == []


def test_rbac_is_least_privilege():
    roles = [d for d in documents() if d["kind"] in ("Role", "ClusterRole")]
    assert {r["kind"] for r in roles} == {"Role"}  # namespace-scoped only
    for role in roles:
        for rule in role["rules"]:
            for key in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule[key], (role["metadata"]["name"], key)
            assert not {"escalate", "bind", "impersonate"} & set(rule["verbs"])
    bound = {b["roleRef"]["name"]: b["subjects"] for b in documents() if b["kind"] == "RoleBinding"}
    assert all(s == [{"kind": "ServiceAccount", "name": name}] for name, s in bound.items())


def test_step_pods_may_report_results_and_read_their_run_and_nothing_more():
    from conftest import example_path, render_objects

    role = next(d for d in documents("water-runner.yaml") if d["kind"] == "Role")
    grants = {(group, resource, verb) for rule in role["rules"] for group in rule["apiGroups"]
              for resource in rule["resources"] for verb in rule["verbs"]}
    assert grants == {("argoproj.io", "workflowtaskresults", "create"), ("argoproj.io", "workflowtaskresults", "patch"),
                      ("argoproj.io", "workflows", "get")}  # water-job reads spec.shutdown on SIGTERM
    template = next(o for o in render_objects(example_path("babyweight")) if o["kind"] == "WorkflowTemplate")
    assert template["spec"].get("automountServiceAccountToken", True)  # the read needs the pod's token


def test_no_secret_values_anywhere():
    text = "".join(open(os.path.join(top, f)).read() for top, _, names in os.walk(MANIFESTS) for f in names)
    assert "hooks.slack.com" not in text and "AKIA" not in text
    assert not [d for d in documents() if d["kind"] == "Secret"]
    container = next(d for d in documents() if d["kind"] == "Deployment")["spec"]["template"]["spec"][
        "containers"][0]
    url = next(e for e in container["env"] if e["name"] == "KW_SLACK_WEBHOOK_URL")
    assert set(url) == {"name", "valueFrom"} and "secretKeyRef" in url["valueFrom"]


def test_kubewatch_config_uses_its_real_keys_and_one_handler():
    config_map = next(d for d in documents("kubewatch.yaml") if d["kind"] == "ConfigMap")
    config = yaml.safe_load(config_map["data"][".kubewatch.yaml"])
    assert config["namespace"] == "ml" and list(config["handler"]) == ["slackwebhook"]
    assert config["handler"]["slackwebhook"]["slackwebhookurl"] == ""  # from KW_SLACK_WEBHOOK_URL
    assert config["resource"] == {"job": True}  # full lower-case names; Jobs, not every pod
    deployment = next(d for d in documents("kubewatch.yaml") if d["kind"] == "Deployment")
    checksum = deployment["spec"]["template"]["metadata"]["annotations"]["water/config-checksum"]
    assert checksum == hashlib.sha256(json.dumps(config_map["data"], sort_keys=True).encode()).hexdigest()


def test_the_kubewatch_pod_is_hardened():
    spec = next(d for d in documents() if d["kind"] == "Deployment")["spec"]["template"]["spec"]
    assert spec["securityContext"]["runAsNonRoot"] and spec["securityContext"]["seccompProfile"] == {
        "type": "RuntimeDefault"}
    for container in spec["containers"]:
        ctx = container["securityContext"]
        assert ctx["readOnlyRootFilesystem"] and not ctx["allowPrivilegeEscalation"]
        assert ctx["capabilities"] == {"drop": ["ALL"]} and container["resources"]["limits"]

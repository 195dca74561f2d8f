"""`water install`: the add-ons of manifests/ with the user's values, applied like a deploy (emulator over HTTP)."""
from __future__ import annotations

import base64
import hashlib
import json

import pytest
import yaml
from test_manifests import documents

from water.cli import cli

pytestmark = pytest.mark.namespaces("default")  # a new cluster: `water install` makes 'ml'

ROLE_ARN = "arn:aws:iam::123456789012:role/water-runner"
WEBHOOK = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"


def printed(runner, *args, input=None) -> list:
    result = runner.invoke(cli, ["install", "--dry-run", "-o", "yaml", *args], input=input)
    assert result.exit_code == 0, result.output
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def by_kind(objects: list, kind: str, name: str | None = None) -> dict:
    return next(o for o in objects if o["kind"] == kind and name in (None, o["metadata"]["name"]))


def test_dry_run_yaml_needs_no_cluster_and_is_what_kustomize_makes_of_manifests(runner, monkeypatch, tmp_path):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    objects = printed(runner)
    expected = documents_in_kustomization_order()
    for obj in expected:
        if obj["kind"] != "Namespace":
            obj["metadata"]["namespace"] = "ml"  # what `namespace: ml` in kustomization.yaml does
    assert objects == expected


def documents_in_kustomization_order() -> list:
    from water.install import addon_objects

    objects = addon_objects()
    assert sorted(map(json.dumps, objects)) == sorted(map(json.dumps, [d for d in documents()
                                                                       if d["metadata"]["name"] != "water-events"]))
    return objects


def test_every_printed_document_validates_and_carries_the_users_values(runner, k8s_errors):
    objects = printed(runner, "-n", "data", "--aws-role-arn", ROLE_ARN, "--slack-secret", "team-hook",
                      "--slack-webhook-file", "-", "--argo-url", "https://argo.example.com", input=WEBHOOK + "\n")
    for obj in objects:
        assert k8s_errors(obj) == [], obj["metadata"]["name"]
    assert by_kind(objects, "Namespace")["metadata"]["name"] == "data"
    assert {o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"} == {"data"}
    runner_sa = by_kind(objects, "ServiceAccount", "water-runner")
    assert runner_sa["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": ROLE_ARN}
    assert by_kind(objects, "ConfigMap", "water-settings")["data"] == {"argo-url": "https://argo.example.com"}
    config_map = by_kind(objects, "ConfigMap", "kubewatch-config")
    config = yaml.safe_load(config_map["data"][".kubewatch.yaml"])
    assert config == {"namespace": "data", "handler": {"slackwebhook": {"slackwebhookurl": ""}},
                      "resource": {"job": True}}
    deployment = by_kind(objects, "Deployment")
    pod = deployment["spec"]["template"]
    assert pod["metadata"]["annotations"]["water/config-checksum"] == hashlib.sha256(
        json.dumps(config_map["data"], sort_keys=True).encode()).hexdigest()
    env = {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}
    assert env["KW_SLACK_WEBHOOK_URL"]["valueFrom"]["secretKeyRef"] == {"name": "team-hook", "key": "url"}
    secret = by_kind(objects, "Secret")
    assert secret["metadata"]["name"] == "team-hook" and secret["data"] == {"url": "<redacted>"}


def test_printed_documents_hold_no_secret_and_no_wildcard_rbac(runner):
    result = runner.invoke(cli, ["install", "--dry-run", "-o", "yaml", "--slack-webhook-file", "-"],
                           input=WEBHOOK)
    assert WEBHOOK not in result.output and base64.b64encode(WEBHOOK.encode()).decode() not in result.output
    for role in [o for o in yaml.safe_load_all(result.stdout) if o and o["kind"] in ("Role", "ClusterRole")]:
        assert role["kind"] == "Role"
        assert all("*" not in rule[k] for rule in role["rules"] for k in ("apiGroups", "resources", "verbs"))


@pytest.mark.parametrize("args, error", [
    (["--aws-role-arn", "arn:aws:iam::12:user/bob"], "--aws-role-arn: 'arn:aws:iam::12:user/bob' is not an IAM "
                                                     "role ARN"),
    (["-n", "ML"], "--namespace: 'ML' is not a valid name"),
    (["--slack-secret", "hook_url"], "--slack-secret: 'hook_url' is not a valid name"),
    (["--datadog-url", "app.datadoghq.com"], "--datadog-url: 'app.datadoghq.com' is not an http(s) URL"),
])
def test_bad_flags_are_one_line_errors_and_nothing_reaches_the_cluster(water, apiserver, args, error):
    out = water("install", *args, code=2)
    assert out.startswith(error) and len(out.strip().splitlines()) == 1
    assert apiserver.api.written() == {}


def test_a_webhook_file_that_is_not_a_url_is_refused_without_showing_it(water, apiserver):
    out = water("install", "--slack-webhook-file", "-", code=2, input="xoxb-not-a-url SECRET\n")
    assert "--slack-webhook-file" in out and "SECRET" not in out
    assert apiserver.api.written() == {}


def test_install_creates_the_namespace_first_then_everything_and_is_unchanged_after(water, apiserver):
    out = water("install", "--aws-role-arn", ROLE_ARN, "--slack-webhook-file", "-", "--argo-url",
                "https://argo.example.com", input=WEBHOOK)
    lines = out.splitlines()
    assert lines.index("namespace/ml created") < lines.index("deployment.apps/kubewatch created")
    assert WEBHOOK not in out
    objects = apiserver.api.objects
    assert objects[("v1/namespaces", None, "ml")]["metadata"]["labels"][
        "pod-security.kubernetes.io/enforce"] == "restricted"
    secret = objects[("v1/secrets", "ml", "slack-webhook")]
    assert base64.b64decode(secret["data"]["url"]).decode() == WEBHOOK
    assert objects[("v1/serviceaccounts", "ml", "water-runner")]["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": ROLE_ARN}
    assert objects[("v1/configmaps", "ml", "water-settings")]["data"] == {"argo-url": "https://argo.example.com"}
    assert {m for owners in apiserver.api.owners.values() for m in owners} == {"water"}
    before = {k: v["metadata"]["resourceVersion"] for k, v in objects.items()}
    again = water("install", "--aws-role-arn", ROLE_ARN, "--slack-webhook-file", "-", "--argo-url",
                  "https://argo.example.com", input=WEBHOOK)
    assert all(line.endswith(" unchanged") for line in again.splitlines()), again
    assert {k: v["metadata"]["resourceVersion"] for k, v in apiserver.api.objects.items()} == before


def test_a_new_webhook_url_is_diffed_masked_and_applied(water, apiserver):
    water("install", "--slack-webhook-file", "-", input=WEBHOOK)
    out = water("install", "--slack-webhook-file", "-", input=WEBHOOK + "-rotated")
    assert '-  url: "*** (before)"' in out and '+  url: "*** (after)"' in out
    assert "secret/slack-webhook configured" in out and "XXXXSECRET" not in out
    stored = apiserver.api.objects[("v1/secrets", "ml", "slack-webhook")]["data"]["url"]
    assert base64.b64decode(stored).decode() == WEBHOOK + "-rotated"


def test_a_role_arn_change_configures_only_the_service_account(water, apiserver):
    water("install")
    out = water("install", "--aws-role-arn", ROLE_ARN)
    changed = [line for line in out.splitlines() if line.endswith((" configured", " created"))]
    assert changed == ["serviceaccount/water-runner configured"]
    assert "+    eks.amazonaws.com/role-arn: " + ROLE_ARN in out


def test_dry_run_on_a_new_namespace_writes_nothing_and_says_what_the_server_could_not_check(water, apiserver):
    out = water("install", "--dry-run")
    assert "namespace/ml created (server dry run)" in out
    assert "deployment.apps/kubewatch created (not sent to the server: namespace 'ml' does not exist yet)" in out
    assert apiserver.api.written() == {}


def test_a_rejected_dry_run_applies_nothing_but_the_namespace_and_says_so(water, apiserver):
    apiserver.api.inject(422, method="PATCH", path="deployments", when=lambda r: r.params.get("dryRun") == "All",
                         message='Deployment.apps "kubewatch" is invalid: spec.replicas: must be >= 0')
    out = water("install", code=1)
    assert "the server rejected the dry run; only namespace/ml (created) was applied:" in out
    assert "deployment.apps/kubewatch: Deployment.apps \"kubewatch\" is invalid" in out
    assert list(apiserver.api.written()) == [("v1/namespaces", None, "ml")]


def test_a_half_failed_install_says_what_landed_and_a_second_run_finishes_it(water, apiserver):
    apiserver.api.inject(500, method="PATCH", path="roles/water-submitter", when=lambda r: "dryRun" not in r.params,
                         times=4)
    out = water("install", code=1)
    assert "applying role.rbac.authorization.k8s.io/water-submitter failed" in out
    assert "applied: namespace/ml (created), serviceaccount/water-runner (created)" in out
    assert "not applied: role.rbac.authorization.k8s.io/water-submitter" in out
    assert "run the same `water install` again" in out
    again = water("install")
    assert "role.rbac.authorization.k8s.io/water-submitter created" in again
    assert "serviceaccount/water-runner unchanged" in again
    assert ("apps/v1/deployments", "ml", "kubewatch") in apiserver.api.objects


def test_applying_with_yaml_output_keeps_stdout_to_the_objects(runner, apiserver):
    result = runner.invoke(cli, ["install", "-o", "yaml"])
    assert result.exit_code == 0, result.output
    objects = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert [o["kind"] for o in objects][0] == "Namespace" and len(objects) == len(documents_in_kustomization_order())
    assert "namespace/ml created" in result.stderr and "+++ water/namespace/ml" in result.stderr
    assert ("v1/namespaces", None, "ml") in apiserver.api.objects


def test_install_without_a_webhook_says_nothing_reaches_slack_until_the_secret_is_there(water, apiserver):
    warning = ("warning: Secret 'slack-webhook' (--slack-secret) is not in namespace 'ml': nothing reaches Slack, "
               "from kubewatch or the pipelines' alerts, until it is there (water install --slack-webhook-file FILE "
               "makes it)")
    assert warning in water("install").splitlines()
    water("install", "--slack-webhook-file", "-", input=WEBHOOK)
    assert "warning:" not in water("install")


def test_events_adds_the_argo_events_identity_with_create_workflows_only(runner, water, apiserver, k8s_errors):
    role_arn = "arn:aws:iam::123456789012:role/water-events"
    assert not [o for o in printed(runner) if o["metadata"]["name"] == "water-events"]
    objects = printed(runner, "--events", "--events-role-arn", role_arn)
    added = [o for o in objects if o["metadata"]["name"] == "water-events"]
    assert [o["kind"] for o in added] == ["ServiceAccount", "Role", "RoleBinding"]
    for obj in added:
        assert k8s_errors(obj) == [], obj["kind"]
    assert by_kind(added, "ServiceAccount")["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": role_arn}
    assert by_kind(added, "Role")["rules"] == [{"apiGroups": ["argoproj.io"], "resources": ["workflows"],
                                               "verbs": ["create"]}]
    out = water("install", "--events", "-y")
    assert "serviceaccount/water-events created" in out and "role.rbac.authorization.k8s.io/water-events created" in out
    result = runner.invoke(cli, ["install", "--dry-run", "-o", "yaml", "--events-role-arn", role_arn])
    assert result.exit_code != 0 and "--events-role-arn: is the role of water-events, which only --events installs" \
        in result.output

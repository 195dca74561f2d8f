"""The water-deployer Role (manifests/water-deployer.yaml): what whoever runs water's pipeline commands from CI
needs, and nothing those commands do not use. Every request the commands make of the test API server is read as
the API server's authorizer reads it (k8s.io/apiserver pkg/endpoints/request/requestinfo.go: the verb from the
method, `list`/`watch` for collections, a subresource as `pods/log`) and checked against the Role's rules."""
from __future__ import annotations

import os
import re
import threading
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from conftest import ROOT

ROLE_FILE = os.path.join(ROOT, "manifests", "water-deployer.yaml")
RESOURCE_PATH = re.compile(r"^/(?:api/v1|apis/(?P<group>[^/]+)/[^/]+)/namespaces/[^/]+/(?P<resource>[^/]+)"
                           r"(?:/(?P<name>[^/]+)(?:/(?P<sub>[^/]+))?)?$")
VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}


def authorized_as(method: str, url: str) -> tuple | None:
    """(API group, resource, verb) as RBAC sees the request; None for discovery and what no Role grants."""
    parts = urlsplit(url)
    found = RESOURCE_PATH.match(parts.path)
    if not found:
        return None  # discovery (/api, /apis/GROUP/VERSION): every authenticated user's (system:discovery)
    resource = found["resource"] + (f"/{found['sub']}" if found["sub"] else "")
    query = parse_qs(parts.query)
    if method == "GET":
        verb = "watch" if query.get("watch") == ["true"] else "get" if found["name"] else "list"
    elif method == "DELETE":
        verb = "delete" if found["name"] else "deletecollection"
    else:
        verb = VERBS[method]
    return found["group"] or "", resource, verb


def granted(role: dict) -> set:
    return {(group, resource, verb) for rule in role["rules"] for group in rule["apiGroups"]
            for resource in rule["resources"] for verb in rule["verbs"]}


@pytest.fixture(autouse=True)
def _datadog(datadog):
    """babyweight keeps Datadog monitors: its deploys talk to the local Datadog API."""
    return datadog


def _role() -> dict:
    with open(ROLE_FILE, encoding="utf-8") as f:
        return next(o for o in yaml.safe_load_all(f) if o["kind"] == "Role")


def _by_water(request) -> bool:
    return request.headers.get("User-Agent", "").startswith("water/")  # not the test's own client


@pytest.fixture
def enforced(apiserver):
    """The test API server refusing water whatever the Role does not grant, as the real one's RBAC does (403 and its
    message); returns the (group, resource, verb) of each request it let through."""
    rules = granted(_role())
    allowed: list = []

    def refused(request) -> bool:
        if not _by_water(request):
            return False
        asked = authorized_as(request.method, str(request.url.relative()))
        if asked is None or asked in rules:
            allowed.append(asked)
            return False
        return True

    apiserver.api.inject(403, when=refused, times=-1, message=forbidden)
    yield allowed


def forbidden(request) -> str:
    """The API server's own words for a request RBAC refused: k8s.io/apiserver pkg/endpoints/handlers/responsewriters
    errors.go forbiddenMessage, wrapped by apimachinery's errors.NewForbidden (`RESOURCE[.GROUP] "NAME" is
    forbidden: ...`)."""
    group, resource, verb = authorized_as(request.method, str(request.url.relative()))
    found = RESOURCE_PATH.match(urlsplit(str(request.url.relative())).path)
    namespace = request.url.path.split("/namespaces/")[1].split("/")[0]
    qualified = f"{found['resource']}.{group}" if group else found["resource"]
    return (f'{qualified} "{found["name"] or ""}" is forbidden: User "system:serviceaccount:ml:water-deployer" '
            f'cannot {verb} resource "{resource}" in API group "{group}" in the namespace "{namespace}"')


@pytest.mark.namespaces("default", "ml", "analytics")  # nightly-report's namespace
def test_water_s_pipeline_commands_need_the_deployer_role_and_nothing_more(water, apiserver, kube, project,
                                                                          enforced):
    from test_deploy import _finish

    path = project("babyweight")
    out = water("deploy", path)
    # Secrets are not the deployer's to read: deploy says so, in the API server's words, and goes on
    assert ("warning: cannot tell whether Secret 'slack-webhook' (spec.alerts.slack.webhookSecret) is in namespace "
            "'ml': forbidden: secrets \"slack-webhook\" is forbidden: User \"system:serviceaccount:ml:water-deployer\" "
            'cannot get resource "secrets" in API group "" in the namespace "ml"') in out
    water("diff", path, "--param", "limit=3", code=1)
    water("deploy", path, "--param", "limit=3")
    threading.Thread(target=_finish, args=(apiserver, kube, "Succeeded", [("train", "loss 0.1\n")])).start()
    water("run", "babyweight", "--follow")
    water("logs", "babyweight", "--step", "train")
    for command in (["status"], ["status", "babyweight"], ["history", "babyweight"],
                    ["history", "babyweight", "--diff", "1", "2"], ["suspend", "babyweight"],
                    ["resume", "babyweight"], ["rollback", "babyweight", "-y"], ["delete", "babyweight", "-y"]):
        water(*command)
    for name, namespace in (("arrivals", "ml"), ("nightly-report", "analytics")):  # triggers; a plain CronJob
        water("deploy", project(name))
        started = water("run", name, "-n", namespace).split()[0].split("/")[1]
        # a run by its name: a Workflow's or Job's get (none of its pods has started on this server)
        assert "no started pods" in water("logs", name, started, "-n", namespace, code=1)
        water("delete", name, "-y", "-n", namespace)
    assert set(enforced) - {None} == granted(_role())  # every rule used: none granted for nothing


def test_a_command_the_role_does_not_cover_fails_on_one_line_naming_the_refusal(water, apiserver, project, enforced):
    apiserver.api.faults.clear()
    apiserver.api.inject(403, method="PATCH", path="workflowtemplates", times=-1, message='User "ci" cannot patch '
                         'resource "workflowtemplates" in API group "argoproj.io" in the namespace "ml"')
    out = water("deploy", project("babyweight"), code=1)
    assert 'cannot patch resource "workflowtemplates"' in out and "Traceback" not in out

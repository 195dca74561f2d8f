"""`water install`: the cluster add-ons of manifests/ (shipped in the package as water/addons) rendered with the
user's namespace, Slack Secret and IRSA role, and applied through deploy's path — a server-side dry run of every
change, then server-side apply. Nothing secret comes from a flag: the webhook URL only from a file or stdin."""
from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

from water import deploy
from water.cluster import CLUSTER_SCOPED, Cluster
from water.console import Console
from water.contract import EVENTS_SERVICE_ACCOUNT, SETTINGS_CONFIGMAP, SETTINGS_KEYS
from water.errors import InstallError
from water.render.pods import MANAGED_BY
from water.spec.fields import Ctx
from water.spec.model import IAM_ROLE, URL
from water.spec.types import DNS_SUBDOMAIN, Name

ADDONS = os.path.join(os.path.dirname(__file__), "addons")  # a link to manifests/ in a checkout
KUBEWATCH_CONFIG = ("ConfigMap", "kubewatch-config")
KUBEWATCH_FILE = ".kubewatch.yaml"
CHECKSUM_ANNOTATION = "water/config-checksum"
IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"
RUNNER = "water-runner"
EVENTS_ADDON = "events"
SLACK_KEY = "url"
REDACTED = "<redacted>"  # not base64: a printed Secret cannot be applied by mistake with a wrong value


@dataclass(frozen=True)
class Settings:
    namespace: str = "ml"
    slack_secret: str = "slack-webhook"
    aws_role_arn: str | None = None
    slack_webhook: str | None = None  # the URL itself, read from --slack-webhook-file
    argo_url: str | None = None  # links in failure messages (water-settings)
    datadog_url: str | None = None
    events: bool = False  # spec.triggers' add-on (manifests/events)
    events_role_arn: str | None = None  # IRSA of water-events: its EventSource reads SQS


def addon_objects(events: bool = False) -> list:
    """The add-ons exactly as manifests/ has them, in the kustomization's order; `events`: with manifests/events."""
    return _kustomized(ADDONS) + (_kustomized(os.path.join(ADDONS, EVENTS_ADDON)) if events else [])


def _kustomized(folder: str) -> list:
    import yaml

    with open(os.path.join(folder, "kustomization.yaml"), encoding="utf-8") as f:
        resources = yaml.safe_load(f)["resources"]
    objects = []
    for name in resources:
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            objects += [o for o in yaml.safe_load_all(f) if o]
    return objects


def render(settings: Settings) -> list:
    """The add-ons with the user's values; every flag checked first, each error naming its flag."""
    _check("--namespace", settings.namespace, Name(63))
    _check("--slack-secret", settings.slack_secret, DNS_SUBDOMAIN)
    for flag, value, kind in (("--aws-role-arn", settings.aws_role_arn, IAM_ROLE), ("--argo-url", settings.argo_url,
                              URL), ("--datadog-url", settings.datadog_url, URL),
                              ("--events-role-arn", settings.events_role_arn, IAM_ROLE)):
        if value is not None:
            _check(flag, value, kind)
    if settings.events_role_arn and not settings.events:
        raise InstallError("--events-role-arn: is the role of water-events, which only --events installs")
    objects = copy.deepcopy(addon_objects(settings.events))
    for obj in objects:
        _customise(obj, settings)
    config = next(o for o in objects if (o["kind"], o["metadata"]["name"]) == KUBEWATCH_CONFIG)
    for obj in objects:
        template = obj["spec"]["template"] if obj["kind"] == "Deployment" else None
        if template and CHECKSUM_ANNOTATION in template["metadata"].get("annotations", {}):
            template["metadata"]["annotations"][CHECKSUM_ANNOTATION] = config_checksum(config)
    if settings.slack_webhook is not None:
        objects.append(_slack_secret(settings, settings.slack_webhook))
    return objects


def _customise(obj: dict, settings: Settings) -> None:
    meta = obj["metadata"]
    if obj["kind"] == "Namespace":
        meta["name"] = settings.namespace
        return
    obj["metadata"] = meta = {"name": meta["name"], "namespace": settings.namespace, **meta}
    if (obj["kind"], meta["name"]) == KUBEWATCH_CONFIG:
        obj["data"][KUBEWATCH_FILE] = _kubewatch_config(obj["data"][KUBEWATCH_FILE], settings.namespace)
    elif (obj["kind"], meta["name"]) == ("ConfigMap", SETTINGS_CONFIGMAP):
        urls = {"argo": settings.argo_url, "datadog": settings.datadog_url}
        obj["data"] = {key: urls[link] for link, key in SETTINGS_KEYS.items() if urls[link]}
    elif obj["kind"] == "ServiceAccount" and meta["name"] == RUNNER and settings.aws_role_arn:
        meta.setdefault("annotations", {})[IRSA_ANNOTATION] = settings.aws_role_arn
    elif obj["kind"] == "ServiceAccount" and meta["name"] == EVENTS_SERVICE_ACCOUNT and settings.events_role_arn:
        meta.setdefault("annotations", {})[IRSA_ANNOTATION] = settings.events_role_arn
    elif obj["kind"] == "Deployment":
        for container in obj["spec"]["template"]["spec"]["containers"]:
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref and env["name"] == "KW_SLACK_WEBHOOK_URL":
                    ref["name"] = settings.slack_secret


def _kubewatch_config(text: str, namespace: str) -> str:
    import yaml

    config = yaml.safe_load(text)
    config["namespace"] = namespace
    return yaml.safe_dump(config, sort_keys=False)


def config_checksum(config_map: dict) -> str:
    """What the Deployment's pod template carries so that a config change rolls the pod."""
    return hashlib.sha256(json.dumps(config_map["data"], sort_keys=True).encode()).hexdigest()


def _slack_secret(settings: Settings, webhook: str) -> dict:
    url = webhook.strip()
    if not url.startswith("https://") or any(c.isspace() for c in url):
        raise InstallError("--slack-webhook-file: the file does not hold one https:// URL (its content is not "
                           "shown: it is a secret)")
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": settings.slack_secret, "namespace": settings.namespace, "labels": dict(MANAGED_BY)},
            "data": {SLACK_KEY: base64.b64encode(url.encode()).decode()}}


def _check(flag: str, value: str, kind: Any) -> None:
    ctx = Ctx(flag)
    kind.parse(value, (0, 0), flag, ctx)
    if ctx.problems:
        problem = ctx.problems[0]
        raise InstallError(f"{flag}: {problem.message}{f' ({problem.hint})' if problem.hint else ''}")


def redacted(objects: list) -> list:
    """The objects as water prints them: Secret values replaced."""
    return [dict(o, data={k: REDACTED for k in o["data"]}) if o["kind"] == "Secret" else o for o in objects]


def install(cluster: Cluster, settings: Settings, *, dry_run: bool = False, force: bool = False,
            console: Console = Console()) -> list:
    """Diff, then deploy's dry-run-then-apply; returns the objects. A namespace that does not exist yet is created
    first: the server checks nothing inside a namespace it does not have."""
    echo = console.echo
    objects = render(settings)
    changes = deploy.changes_for(cluster, objects)
    deploy.review([c for c in changes if c.action != "unchanged"], settings.namespace, "install", dry_run=dry_run,
                  console=console)
    first = [c for c in changes if c.obj["kind"] in CLUSTER_SCOPED and c.action == "created"]
    rest = [c for c in changes if c not in first]
    undo = "run the same `water install` again: it applies only what is missing"
    if first:
        deploy.apply_changes(cluster, first, dry_run=dry_run, force=force, echo=echo, undo=undo)
        if dry_run:
            for change in rest:
                echo(f"{change.ref} {change.action} (not sent to the server: namespace '{settings.namespace}' "
                     "does not exist yet)")
            return objects
    deploy.apply_changes(cluster, rest, dry_run=dry_run, force=force, echo=echo, undo=undo, applied=first)
    if settings.slack_webhook is None:
        for line in deploy.missing_secrets(cluster, [[settings.slack_secret, "--slack-secret"]], settings.namespace,
                                           "nothing reaches Slack, from kubewatch or the pipelines' alerts, until it "
                                           "is there (water install --slack-webhook-file FILE makes it)"):
            echo(f"warning: {line}")
    return objects

"""What every pod water renders has: hardening, labels, Datadog wiring, the /tmp volume."""
from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING

from water import __version__, contract

if TYPE_CHECKING:
    from water.pipeline import Pipeline, PipelineStep


RUN_AS = 10001  # numeric and >= 10000: runAsNonRoot can be verified, checkov's high-UID check passes
MANAGED_BY = {"app.kubernetes.io/managed-by": "water"}
PIPELINE_LABEL = "water/pipeline"

POD_SECURITY = {
    "runAsNonRoot": True,
    "runAsUser": RUN_AS,
    "runAsGroup": RUN_AS,
    "fsGroup": RUN_AS,
    "seccompProfile": {"type": "RuntimeDefault"},
}
CONTAINER_SECURITY = {
    "allowPrivilegeEscalation": False,
    "privileged": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "runAsUser": RUN_AS,
    "runAsGroup": RUN_AS,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
TMP_VOLUME = {"name": "tmp", "emptyDir": {}}
GRACE_PATCH = json.dumps({"terminationGracePeriodSeconds": contract.GRACE_PERIOD}, separators=(",", ":"))
TMP_MOUNT = {"name": "tmp", "mountPath": "/tmp"}
DD_TAGS = "tags.datadoghq.com/"
# water-job writes its reason and the job's log end as the termination message (Argo's node message, and so
# {{workflow.failures}}); anything else that dies, e.g. a container step's own crash, leaves the end of its log
TERMINATION_MESSAGE_POLICY = "FallbackToLogsOnError"


def labels(pipeline: Pipeline) -> dict:
    """Labels of every object water deploys for a pipeline (prune and delete find them by these)."""
    return {**pipeline.doc.metadata.labels, **MANAGED_BY, PIPELINE_LABEL: pipeline.name}


def object_annotations(pipeline: Pipeline, git_commit: str | None) -> dict:
    out = {"water/spec-hash": pipeline.source_hash, "water/version": __version__}
    if git_commit:
        out["water/git-commit"] = git_commit
    return out


def image_version(image: str) -> str:
    """The tag of an image (or the start of its digest), as a label value."""
    if "@sha256:" in image:
        return image.split("@sha256:")[1][:12]
    last = image.rsplit("/", 1)[-1]
    # a tag may start with `_` or `.`, end with `-` and run to 128 characters; a label value may not
    return (last.split(":", 1)[1][:63].strip("_.-") or "latest") if ":" in last else "latest"


def datadog_tags(pipeline: Pipeline) -> dict:
    """Unified service tagging labels: env (if set), service, version."""
    dd = pipeline.spec.alerts.datadog
    tags = {"service": (dd and dd.service) or pipeline.name, "version": image_version(pipeline.spec.image)}
    if dd and dd.env:
        tags["env"] = dd.env
    return {DD_TAGS + k: v for k, v in sorted(tags.items())}


def pod_labels(pipeline: Pipeline) -> dict:
    return {**labels(pipeline), **datadog_tags(pipeline)}


def pod_annotations(pipeline: Pipeline, git_commit: str | None = None, lineage: bool = False,
                    git_branch: str | None = None) -> dict:
    """The annotations of every pod of a run; `lineage`: also the spec hash, commit and branch, which the pods of
    kinds that record them (and of steps reading {{git...}}) read through the downward API (LINEAGE_ENV)."""
    service = datadog_tags(pipeline)[DD_TAGS + "service"]
    logs = json.dumps([{"source": "water", "service": service}], separators=(",", ":"))
    if not lineage:
        return {"ad.datadoghq.com/main.logs": logs}
    found = {k: v for k, v in object_annotations(pipeline, git_commit).items() if k != "water/version"}
    return {"ad.datadoghq.com/main.logs": logs, **found, **({GIT_BRANCH: git_branch} if git_branch else {})}


GIT_BRANCH = "water/git-branch"


# an annotation the pod lacks (no git commit) reads as an empty value
LINEAGE_ENV = [{"name": env, "valueFrom": {"fieldRef": {"fieldPath": f"metadata.annotations['{key}']"}}}
               for env, key in ((contract.SPEC_HASH_ENV, "water/spec-hash"),
                                (contract.GIT_COMMIT_ENV, "water/git-commit"), (contract.GIT_BRANCH_ENV, GIT_BRANCH))]


def datadog_env(pipeline: Pipeline) -> list:
    """Where DogStatsD metrics go (alerts.datadog.statsd), the spec's tags for every metric, and the unified
    service tags read from the pod's own labels."""
    dd = pipeline.spec.alerts.datadog
    statsd = dd.statsd if dd else "hostPort"
    env = []
    if statsd == "hostPort":
        env.append({"name": "DD_AGENT_HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}})
    elif statsd != "none":
        host, _, port = statsd.partition(":")
        env.append({"name": "DD_AGENT_HOST", "value": host})
        if port:
            env.append({"name": "DD_DOGSTATSD_PORT", "value": port})
    if dd and dd.tags:
        env.append({"name": "DATADOG_TAGS", "value": ",".join(dd.tags)})
    for key in datadog_tags(pipeline):
        name = "DD_" + key[len(DD_TAGS):].upper()
        env.append({"name": name, "valueFrom": {"fieldRef": {"fieldPath": f"metadata.labels['{key}']"}}})
    return env


def secret_env(step: PipelineStep) -> list:
    return [{"name": name, "valueFrom": {"secretKeyRef": {"name": ref.secret, "key": ref.key}}}
            for name, ref in sorted(step.secret_env.items())]


def resources(res: dict) -> dict:
    """Requests equal limits: the pod gets what it asked for and no more (Guaranteed QoS)."""
    amounts = {"cpu": res["cpu"], "memory": res["memory"]}
    if res.get("gpu"):
        amounts["nvidia.com/gpu"] = res["gpu"]
    return {"requests": dict(amounts), "limits": dict(amounts)}


def pull_policy(image: str) -> str:
    return "IfNotPresent" if "@sha256:" in image else "Always"


# sorted keys, no spaces: the same data is the same text (one encoder, made once: thousands of steps use it);
# rendered data is a tree, never cyclic, so the encoder need not track what it entered
COMPACT_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, check_circular=False)


def encode(config: dict) -> str:
    """A step's config as it travels to `water-job`: base64 JSON, so Argo never reads user text."""
    return base64.b64encode(COMPACT_JSON.encode(config).encode()).decode()


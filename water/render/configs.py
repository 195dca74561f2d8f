"""The steps' own configs out of the WorkflowTemplate: immutable ConfigMaps named by the hash of what they hold (as
kustomize's configMapGenerator names its ConfigMaps), mounted into every step pod as one projected volume, a file
per task. The template then carries only the DAG; a run keeps reading the configs it started with, since Argo
stores the template it started from (status.storedWorkflowTemplateSpec) and with it these names; a deploy that
changes a config makes new ConfigMaps and leaves the old ones to the runs still using them (water.deploy prunes)."""
from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from water import contract
from water.render import pods

if TYPE_CHECKING:
    from water.pipeline import Pipeline

VOLUME = "water-steps"
# Argo gives a pod each workflow-level volume its containers mount (argo-workflows workflow/controller/workflowpod.go,
# addVolumeReferences): the exit handler's and hooks' pods as well as the DAG's
MOUNT = {"name": VOLUME, "mountPath": contract.STEPS_DIR, "readOnly": True}
# the API server refuses a ConfigMap whose values pass 1 MiB in all (kubernetes pkg/apis/core/validation
# ValidateConfigMap: the bytes of each value, against core.MaxSecretSize); past SHARD_BYTES of keys and values, the
# configs go to several, so that no ConfigMap passes 1 MiB as JSON either (its values' quotes escaped)
CONFIGMAP_LIMIT = 1024 * 1024
# a GitOps controller applying `water render --dir` would delete the previous set when its file leaves the folder,
# under the runs still mounting it: Argo CD and Flux leave an object so annotated to water's pruning (Argo CD's
# sync option Prune=false, its docs user-guide/sync-options.md "No Prune Resources"; Flux kustomize-controller's
# prune: disabled, its Kustomization docs on garbage collection); `water deploy` prunes them itself
KEPT_BY_GITOPS = {"argocd.argoproj.io/sync-options": "Prune=false", "kustomize.toolkit.fluxcd.io/prune": "disabled"}
SHARD_BYTES = 640 * 1024


def _steps_hash(texts: dict) -> str:
    """The hash naming a set of configs (task → JSON text): the same configs, the same name."""
    digest = hashlib.sha256()
    for key in sorted(texts):
        digest.update(f"{len(key)}:{key}{len(texts[key])}:{texts[key]}".encode())
    return digest.hexdigest()[:10]


def configmaps(pipeline: Pipeline, texts: dict) -> list:
    """The ConfigMaps holding each task's own config (task → JSON text), as few as fit SHARD_BYTES each."""
    digest = _steps_hash(texts)
    shards: list[dict] = [{}]
    size = 0
    for key, text in texts.items():
        entry = len(key) + _size(text)
        if size and size + entry > SHARD_BYTES:
            shards.append({})
            size = 0
        shards[-1][key] = text
        size += entry
    base = f"{pipeline.name}-steps-{digest}"
    meta: dict = {"labels": {**pods.labels(pipeline), contract.STEPS_LABEL: digest},
                  "annotations": dict(KEPT_BY_GITOPS)}
    if pipeline.doc.metadata.namespace:
        meta["namespace"] = pipeline.doc.metadata.namespace
    return [{"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": base if len(shards) == 1 else f"{base}-{n}", **meta},
             "immutable": True, "data": shard} for n, shard in enumerate(shards)]


def _size(text: str) -> int:
    return len(text.encode())  # as the API server counts it: a value's bytes


def oversized(maps: list) -> list:
    """(name, bytes) of each ConfigMap past the API server's 1 MiB: one task's config alone is that large."""
    sizes = [(m["metadata"]["name"], sum(_size(v) for v in m["data"].values())) for m in maps]
    return [(name, size) for name, size in sizes if size > CONFIGMAP_LIMIT]


def volume(maps: list) -> dict:
    """The pods' volume: every ConfigMap of the set in one directory, a file per task."""
    return {"name": VOLUME, "projected": {"sources": [{"configMap": {"name": m["metadata"]["name"]}} for m in maps]}}


def is_steps_configmap(obj: dict) -> bool:
    return obj.get("kind") == "ConfigMap" and contract.STEPS_LABEL in ((obj.get("metadata") or {}).get("labels") or {})


def hash_of(obj: dict) -> str:
    """The steps hash an object carries: a steps ConfigMap's label, a WorkflowTemplate's (and so its runs') label."""
    if obj.get("kind") == "WorkflowTemplate":
        obj = obj.get("spec", {}).get("workflowMetadata") or {}
    return str(((obj.get("metadata") or obj).get("labels") or {}).get(contract.STEPS_LABEL, ""))

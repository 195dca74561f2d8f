"""The cluster as water uses it: the few verbs its commands need on any kind, behind one interface. Two
implementations: water.kube.KubeCluster (the official client over HTTP, for real clusters) and MemoryCluster
(objects in memory with the API server's bookkeeping, for deciding and testing what deploy, rollback, history,
edit and delete do without a server)."""
from __future__ import annotations

import copy
import itertools
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

from water.errors import AlreadyExists, ApiError, ClusterError, NotFound

KINDS = {  # kind → (group/version, plural)
    "WorkflowTemplate": ("argoproj.io/v1alpha1", "workflowtemplates"),
    "CronWorkflow": ("argoproj.io/v1alpha1", "cronworkflows"),
    "Workflow": ("argoproj.io/v1alpha1", "workflows"),
    "EventSource": ("argoproj.io/v1alpha1", "eventsources"),  # Argo Events: spec.triggers
    "Sensor": ("argoproj.io/v1alpha1", "sensors"),
    "CronJob": ("batch/v1", "cronjobs"),
    "Job": ("batch/v1", "jobs"),
    "ConfigMap": ("v1", "configmaps"),
    "Pod": ("v1", "pods"),
    "ServiceAccount": ("v1", "serviceaccounts"),
    "Secret": ("v1", "secrets"),
    "Namespace": ("v1", "namespaces"),
    "Deployment": ("apps/v1", "deployments"),
    "Role": ("rbac.authorization.k8s.io/v1", "roles"),
    "RoleBinding": ("rbac.authorization.k8s.io/v1", "rolebindings"),
}
CLUSTER_SCOPED = {"Namespace"}
ARGO_EVENTS = ("EventSource", "Sensor")
FIELD_MANAGER = "water"
SERVER_SET = ("uid", "resourceVersion", "creationTimestamp", "generation")  # metadata the server keeps


class Cluster:
    """The verbs; `namespace` is where a call without one goes, `where` names the cluster in messages."""

    namespace: str = "default"

    @property
    def where(self) -> str:
        raise NotImplementedError

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict | None:
        """The object, or None when there is none."""
        raise NotImplementedError

    def list_metadata(self, kind: str, selector: str, namespace: str | None = None) -> list:
        """As list(), each object's metadata only ({"metadata": ...}): what a status of thousands of runs reads."""
        raise NotImplementedError

    def list(self, kind: str, selector: str, namespace: str | None = None) -> list:
        """The objects of `kind` whose labels match `selector` (`k=v` and `k` terms, comma-separated)."""
        raise NotImplementedError

    def apply(self, obj: dict, *, dry_run: bool = False, force: bool = False) -> dict:
        """Server-side apply as field manager water; creates what is missing."""
        raise NotImplementedError

    def create(self, obj: dict) -> dict:
        """Create, never replace: AlreadyExists when the name is taken."""
        raise NotImplementedError

    def merge_patch(self, kind: str, name: str, patch: dict) -> dict:
        raise NotImplementedError

    def delete(self, kind: str, name: str, *, namespace: str | None = None, dry_run: bool = False) -> bool:
        """False when it was already gone."""
        raise NotImplementedError

    def serves(self, kind: str) -> bool:
        """Whether the cluster has `kind`'s API."""
        raise NotImplementedError

    def pod_log(self, name: str, *, follow: bool = False) -> Any:
        """The `main` container's log: text, or a stream of byte lines when following."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    def require(self, kind: str) -> None:
        """A one-line error when the cluster does not serve `kind` (e.g. Argo's CRDs are not installed)."""
        if not self.serves(kind):
            group_version, plural = KINDS[kind]
            product = ("Argo Events" if kind in ARGO_EVENTS else "Argo Workflows") if group_version.startswith(
                "argoproj.io/") else group_version
            raise ClusterError(f"the cluster has no {kind} API ({group_version}/{plural}): is {product} installed? "
                               f"({self.where})")


def resource(kind: str) -> str:
    """`plural.group` as the API server names a resource in its messages (`workflowtemplates.argoproj.io`)."""
    group_version, plural = KINDS[kind]
    group = group_version.rpartition("/")[0]
    return f"{plural}.{group}" if group else plural


def matches(labels: dict, selector: str) -> bool:
    """Whether labels satisfy an equality-based label selector (`k=v`, `k==v`, `k!=v`, `k`, `!k`)."""
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


Fault = Callable[[str, str, str], "ApiError | None"]  # (verb, kind, name) → the refusal to raise, or None


class MemoryCluster(Cluster):
    """Objects in memory with what water relies on the API server for: namespaces that must exist, create that
    refuses a taken name (409 AlreadyExists), uid, resourceVersion, creationTimestamp and generation kept by the
    server, dry runs that persist nothing, label selectors, pod logs, and refusals injected per call (`faults`).
    Apply replaces the object's fields (one field manager: water); what it cannot check is a real server's
    admission, schemas and other field managers — the HTTP tests against tests/kubeapi.py cover those."""

    def __init__(self, namespaces: tuple = ("default",), namespace: str = "default",
                 served: frozenset | None = None) -> None:
        self.objects: dict = {}  # (kind, namespace or "", name) → object
        self.logs: dict = {}  # pod name → its main container's log
        self.faults: list[Fault] = []
        self.served = set(KINDS) if served is None else set(served)
        self.namespace = namespace
        self._versions: Iterator[int] = itertools.count(1)
        for name in namespaces:
            self.objects[("Namespace", "", name)] = {"apiVersion": "v1", "kind": "Namespace",
                                                     "metadata": {"name": name}}

    def at(self, namespace: str | None) -> MemoryCluster:
        """The same cluster, with `namespace` (if given) where calls without one go: a context's namespace."""
        view = copy.copy(self)
        view.namespace = namespace or self.namespace
        return view

    @property
    def where(self) -> str:
        return "context 'memory', server memory://"

    def _key(self, kind: str, name: str, namespace: str | None) -> tuple:
        if kind not in self.served:
            raise NotFound(404, "NotFound", f"the server could not find the requested resource ({self.where})",
                           "the server could not find the requested resource")
        return kind, "" if kind in CLUSTER_SCOPED else (namespace or self.namespace), name

    def _refuse(self, verb: str, kind: str, name: str) -> None:
        for fault in self.faults:
            refusal = fault(verb, kind, name)
            if refusal is not None:
                raise refusal

    def _namespace_exists(self, key: tuple) -> None:
        if key[1] and ("Namespace", "", key[1]) not in self.objects:
            raise self._not_found(("Namespace", "", key[1]))

    def _not_found(self, key: tuple) -> NotFound:
        message = f'{resource(key[0])} "{key[2]}" not found'
        return NotFound(404, "NotFound", f"{message} ({self.where})", message,
                        {"name": key[2], "kind": KINDS[key[0]][1]})

    def _store(self, key: tuple, obj: dict, live: dict | None, dry_run: bool) -> dict:
        """`obj` as the server keeps it: its own metadata fields carried over from `live`; the resourceVersion
        moves only when something changed, as a no-op apply leaves it (and a dry run keeps nothing)."""
        stored = copy.deepcopy(obj)
        meta = stored.setdefault("metadata", {})
        if key[1]:
            meta["namespace"] = key[1]
        kept = (live or {}).get("metadata", {})
        for field in SERVER_SET:
            meta.pop(field, None)
        if live is not None and "status" in live:
            stored["status"] = live["status"]
        unchanged = live is not None and _without_server_fields(live) == stored
        changed_spec = live is None or _content(live) != _content(stored)
        meta["uid"] = kept.get("uid") or str(uuid.uuid4())
        meta["creationTimestamp"] = kept.get("creationTimestamp") or datetime.now(timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
        meta["generation"] = kept.get("generation", 0) + (1 if changed_spec else 0)
        meta["resourceVersion"] = kept["resourceVersion"] if unchanged or (dry_run and live) else (
            "0" if dry_run else str(next(self._versions)))
        if not dry_run:
            self.objects[key] = stored
        return copy.deepcopy(stored)

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict | None:
        key = self._key(kind, name, namespace)
        self._refuse("get", kind, name)
        found = self.objects.get(key)
        return copy.deepcopy(found) if found is not None else None

    def list_metadata(self, kind: str, selector: str, namespace: str | None = None) -> list:
        return [{"metadata": obj["metadata"]} for obj in self.list(kind, selector, namespace)]

    def list(self, kind: str, selector: str, namespace: str | None = None) -> list:
        key = self._key(kind, "", namespace)
        self._refuse("list", kind, "")
        return [copy.deepcopy(obj) for (k, ns, _), obj in sorted(self.objects.items(), key=lambda item: item[0])
                if k == kind and ns == key[1] and matches(obj["metadata"].get("labels") or {}, selector)]

    def apply(self, obj: dict, *, dry_run: bool = False, force: bool = False) -> dict:
        key = self._key(obj["kind"], obj["metadata"]["name"], obj["metadata"].get("namespace"))
        self._refuse("dry-run" if dry_run else "apply", key[0], key[2])
        self._namespace_exists(key)
        return self._store(key, obj, self.objects.get(key), dry_run)

    def create(self, obj: dict) -> dict:
        meta = obj["metadata"]
        key = self._key(obj["kind"], meta.get("name") or "", meta.get("namespace"))
        if not key[2] and meta.get("generateName"):
            key = key[:2] + (meta["generateName"] + uuid.uuid4().hex[:5],)
            obj = dict(obj, metadata={**meta, "name": key[2]})
        self._refuse("create", key[0], key[2])
        self._namespace_exists(key)
        if key in self.objects:
            message = f'{resource(key[0])} "{key[2]}" already exists'
            raise AlreadyExists(409, "AlreadyExists", message, message, {"name": key[2], "kind": KINDS[key[0]][1]})
        return self._store(key, obj, None, False)

    def merge_patch(self, kind: str, name: str, patch: dict) -> dict:
        key = self._key(kind, name, None)
        self._refuse("patch", kind, name)
        live = self.objects.get(key)
        if live is None:
            raise self._not_found(key)
        return self._store(key, _merged(live, patch), live, False)

    def delete(self, kind: str, name: str, *, namespace: str | None = None, dry_run: bool = False) -> bool:
        key = self._key(kind, name, namespace)
        self._refuse("dry-run" if dry_run else "delete", kind, name)
        if key not in self.objects:
            return False
        if not dry_run:
            del self.objects[key]
        return True

    def serves(self, kind: str) -> bool:
        return kind in self.served

    def pod_log(self, name: str, *, follow: bool = False) -> Any:
        key = self._key("Pod", name, None)
        if key not in self.objects:
            raise self._not_found(key)
        text = self.logs.get(name, "")
        return iter(line.encode() for line in text.splitlines(True)) if follow else text


def _content(obj: dict) -> dict:
    """What a change of moves an object's generation: all but its metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def _without_server_fields(obj: dict) -> dict:
    return dict(obj, metadata={k: v for k, v in obj["metadata"].items() if k not in SERVER_SET})


def _merged(live: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: objects merge key by key, null removes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    merged = dict(live) if isinstance(live, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = _merged(merged.get(key), value)
    return merged

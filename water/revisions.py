"""The revisions of a deployed pipeline: what each deploy applied (the spec, the files it names, the exact
manifests, the Datadog monitors) and who, when, from which commit. Behind a store: ConfigMapStore keeps them in
the cluster (a ConfigMap each, the last KEEP, gzip'd past 256 KiB), so history, rollback and edit need nothing
but the cluster; MemoryStore keeps them in memory, for tests of what is decided on them."""
from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from water import backoff
from water.errors import AlreadyExists, DeployError, WaterError
from water.render.pods import MANAGED_BY, PIPELINE_LABEL

if TYPE_CHECKING:
    from water.cluster import Cluster


KEEP = 10  # revisions kept per pipeline
COMPRESS_OVER = 256 * 1024  # bytes of payload past which a ConfigMap holds it gzip'd in binaryData
LABEL = "water/revision"
# a number taken by a deploy running at the same time: the next one at once, five numbers in all
NEXT_NUMBER = backoff.Policy(first=0.0, cap=0.0, attempts=5, jitter=False)


@dataclass
class Revision:
    number: int  # 0 until a store adds it
    spec: str = ""
    manifests: str = ""
    files: dict = field(default_factory=dict)  # the project files the spec names: path → text
    monitors: list = field(default_factory=list)  # Datadog monitor definitions
    params: dict = field(default_factory=dict)  # --param overrides the manifests were rendered with
    info: dict = field(default_factory=dict)  # hash, user, time, note, git-commit, git-branch, git-dirty
    stored_as: str = ""  # what the store keeps it as (a ConfigMap's name)
    unreadable: str = ""  # why what is stored cannot be read as a revision, if it cannot

    @property
    def hash(self) -> str:
        return self.info.get("hash", "")

    @property
    def git(self) -> dict:
        return {k.removeprefix("git-"): v for k, v in self.info.items() if k.startswith("git-")}

    def summary(self) -> dict:
        """What `water history` shows of it."""
        return {"number": self.number, "configmap": self.stored_as, "params": self.params, **self.info}


def manifest_objects(manifests: str) -> list:
    """The objects of a revision's manifests (YAML documents), read with libyaml where PyYAML has it."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return [o for o in yaml.load_all(manifests or "", Loader=loader) if o]


def deployed_spec(store: "ConfigMapStore | MemoryStore", name: str) -> dict:
    """The `spec` of the pipeline's latest revision as written ({} when it has none)."""
    import yaml

    found = store.list(name)
    return (yaml.safe_load(found[0].spec) or {}).get("spec", {}) if found and found[0].spec else {}


def pick(found: list, name: str, namespace: str, number: int | None) -> Revision:
    """Revision `number` (default: the latest) of those found, newest first; one that cannot be read is refused."""
    if not found:
        raise WaterError(f"pipeline '{name}' has no revisions in namespace '{namespace}' (deploy it first)")
    match = [r for r in found if r.number == number] if number is not None else found[:1]
    if not match:
        raise WaterError(f"pipeline '{name}' has no revision {number} (kept: "
                         f"{', '.join(str(r.number) for r in found)})")
    if match[0].unreadable:
        raise WaterError(f"revision {match[0].number} of '{name}' cannot be read ({match[0].stored_as}: "
                         f"{match[0].unreadable})")
    return match[0]


class MemoryStore:
    """Revisions in memory, by pipeline: the same numbering and keeping as in the cluster."""

    def __init__(self) -> None:
        self.kept: dict = {}  # pipeline → {number: Revision}

    def list(self, pipeline: str) -> list:
        """Newest first."""
        return sorted(self.kept.get(pipeline, {}).values(), key=lambda r: r.number, reverse=True)

    def add(self, pipeline: str, revision: Revision, after: int) -> int:
        kept = self.kept.setdefault(pipeline, {})
        number = max([after, *kept]) + 1
        kept[number] = Revision(**{**revision.__dict__, "number": number, "stored_as": f"{pipeline}#{number}"})
        for old in self.list(pipeline)[KEEP:]:
            del kept[old.number]
        return number


class ConfigMapStore:
    """Revisions as ConfigMaps `NAME-water-rev-N` in the pipeline's namespace, labelled with the pipeline and N."""

    def __init__(self, cluster: Cluster, namespace: str) -> None:
        self.cluster, self.namespace = cluster, namespace

    def list(self, pipeline: str) -> list:
        """Newest first; a ConfigMap that cannot be read as a revision (edited by hand, cut short) is listed with
        why, so that one bad object hides none of the others."""
        found = self.cluster.list("ConfigMap", f"{PIPELINE_LABEL}={pipeline},{LABEL}", self.namespace)
        return sorted((_read_or_say_why(cm) for cm in found), key=lambda r: r.number, reverse=True)

    def add(self, pipeline: str, revision: Revision, after: int) -> int:
        """Create the revision after number `after`; never overwrite one: a deploy that ran at the same time and
        took the number first (409 AlreadyExists) leaves this one the next. Keeps the last KEEP."""
        number = after + 1

        def create_next() -> None:
            nonlocal number
            try:
                self.cluster.create(_configmap(pipeline, revision, self.namespace, number))
            except AlreadyExists:
                number = max([number, *(r.number for r in self.list(pipeline))]) + 1
                raise

        try:
            backoff.retry(create_next, NEXT_NUMBER, retryable=lambda exc: isinstance(exc, AlreadyExists))
        except AlreadyExists:
            raise DeployError(f"revision numbers up to {number - 1} were all taken by deploys running at the same "
                              "time; no revision was recorded for this one (deploy again)") from None
        found = self.cluster.list_metadata("ConfigMap", f"{PIPELINE_LABEL}={pipeline},{LABEL}", self.namespace)
        numbered = sorted(((_number(cm), cm["metadata"]["name"]) for cm in found), reverse=True)
        for _, name in numbered[KEEP:]:  # by their labels: their payloads are not read again
            self.cluster.delete("ConfigMap", name, namespace=self.namespace)
        return number


def configmap_name(pipeline: str, number: int) -> str:
    return f"{pipeline}-water-rev-{number}"


def _configmap(pipeline: str, revision: Revision, namespace: str, number: int) -> dict:
    payload = {"water.yaml": revision.spec, "manifests.yaml": revision.manifests,
               "files.json": json.dumps(revision.files, sort_keys=True),
               "monitors.json": json.dumps(revision.monitors, sort_keys=True)}
    large = sum(len(v) for v in payload.values()) > COMPRESS_OVER
    data = ({"binaryData": {k + ".gz": base64.b64encode(gzip.compress(v.encode(), mtime=0)).decode()
                            for k, v in payload.items()}} if large else {"data": payload})
    info = {**revision.info, "params": json.dumps(revision.params, sort_keys=True)}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": configmap_name(pipeline, number), "namespace": namespace,
        "labels": {**MANAGED_BY, PIPELINE_LABEL: pipeline, LABEL: str(number)},
        "annotations": {f"water/{k}": v for k, v in info.items()}}, **data}


def _number(cm: dict) -> int:
    """A revision ConfigMap's number, from its label (-1: not a number)."""
    label = str(((cm.get("metadata") or {}).get("labels") or {}).get(LABEL, ""))
    return int(label) if label.isdigit() else -1


def _read_or_say_why(cm: dict) -> Revision:
    try:
        return _read(cm)
    except (KeyError, ValueError, TypeError, AttributeError, OSError, EOFError) as exc:  # gzip, base64, json
        meta = cm.get("metadata") or {}
        return Revision(_number(cm), stored_as=meta.get("name", "?"),
                        info={"note": f"unreadable ({type(exc).__name__})"}, unreadable=f"{type(exc).__name__}: {exc}")


def _read(cm: dict) -> Revision:
    meta = cm["metadata"]
    payload = dict(cm.get("data") or {})
    for key, value in (cm.get("binaryData") or {}).items():
        payload[key.removesuffix(".gz")] = gzip.decompress(base64.b64decode(value)).decode()
    info = {k.removeprefix("water/"): v for k, v in (meta.get("annotations") or {}).items()}
    params = json.loads(info.pop("params", "{}"))
    return Revision(int(meta["labels"][LABEL]), payload.get("water.yaml", ""), payload.get("manifests.yaml", ""),
                    json.loads(payload.get("files.json", "{}")), json.loads(payload.get("monitors.json", "[]")),
                    params, info, meta["name"])

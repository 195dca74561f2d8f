"""`water delete NAME`: the pipeline's Datadog monitors, then every object water made for it in the namespace (its
definition, schedule, runs and revisions), found by the label `water/pipeline=NAME`."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from water import monitors
from water.cluster import Cluster
from water.deploy import Change, selector, served_kinds
from water.errors import WaterError
from water.revisions import ConfigMapStore, deployed_spec


def labelled(cluster: Cluster, name: str, namespace: str) -> list:
    """Every object water made for the pipeline: its definition, runs and revisions."""
    served = served_kinds(cluster)
    kinds = served + (["Workflow"] if "WorkflowTemplate" in served else []) + ["Job", "ConfigMap"]
    return [obj | {"kind": kind} for kind in kinds for obj in cluster.list(kind, selector(name), namespace)]


def lasting(cluster: Cluster, name: str, namespace: str, clients: Callable[..., Any]) -> list:
    """What the pipeline's steps made in AWS that outlives it (water.steps.base.Lasting: an endpoint), as its
    latest revision's spec names them; clients(service, region) makes AWS clients."""
    from water.steps import KINDS

    spec = deployed_spec(ConfigMapStore(cluster, namespace), name)
    region = (spec.get("aws") or {}).get("region")
    return [item for step in spec.get("steps") or [] for key, fields in step.items() if key in KINDS
            for item in KINDS[key].lasting(fields, name, lambda service: clients(service, region))]


def delete(cluster: Cluster, name: str, namespace: str, echo: Callable[[str], object] = print,
           datadog: Any = monitors.Datadog) -> int:
    """The pipeline's Datadog monitors (when its latest revision has them: keys are checked before anything
    goes), then every object water made for it."""
    found = ConfigMapStore(cluster, namespace).list(name)
    api = datadog() if found and found[0].monitors else None
    objects = labelled(cluster, name, namespace)
    if not objects:
        raise WaterError(f"nothing labelled {selector(name)} in namespace '{namespace}'")
    if api:
        monitors.delete_all(api, name, echo)
    for obj in objects:
        if cluster.delete(obj["kind"], obj["metadata"]["name"], namespace=namespace):
            echo(f"{Change(obj, 'deleted').ref} deleted")
    return len(objects)

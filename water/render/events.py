"""spec.triggers → Argo Events: one EventSource reading each trigger's SQS queue, one Sensor whose triggers create
a Workflow of the pipeline's WorkflowTemplate per new object, its parameters computed from the event
(water.events). The Sensor uses Argo Events' Kubernetes trigger (`k8s`, operation create: a dynamic-client
create, argo-events pkg/sensors/triggers/standard-k8s): a name that exists is refused, so a redelivered message
starts no second run. Both pods run as the `water-events` ServiceAccount that `water install --events` makes."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from water import contract, events
from water.render import pods
from water.render.argo import ARGO_API, metadata

if TYPE_CHECKING:
    from water.pipeline import Pipeline

SQS_WAIT_SECONDS = 20  # SQS long polling's longest wait: the fewest empty receives
RUN_ANNOTATION = "water/event"  # the object that started the run, s3://BUCKET/KEY (decoded)
TRIGGER_LABEL = "water/trigger"


def trigger_name(index: int) -> str:
    return f"s3-{index + 1}"


def _pod_template() -> dict:
    """Hardened as water's own pods (read-only root filesystem included): Argo Events' controller mounts an emptyDir
    on /tmp in every EventSource and Sensor pod itself (argo-events pkg/reconciler/sensor/resource.go and
    pkg/reconciler/eventsource/resource.go, volume `tmp`), where its code writes temporary files."""
    return {"serviceAccountName": contract.EVENTS_SERVICE_ACCOUNT, "securityContext": pods.POD_SECURITY,
            "container": {"securityContext": pods.CONTAINER_SECURITY}}


def event_source(pipeline: Pipeline, git_commit: str | None = None) -> dict:
    region = pipeline.doc.spec.aws.region
    queues = {trigger_name(i): {"region": t.s3.region or region, "queue": t.s3.queue,
                                "waitTimeSeconds": SQS_WAIT_SECONDS, "jsonBody": True}
              for i, t in enumerate(pipeline.doc.spec.triggers)}
    return {"apiVersion": ARGO_API, "kind": "EventSource", "metadata": metadata(pipeline, git_commit),
            "spec": {"template": _pod_template(), "sqs": queues}}


def sensor(pipeline: Pipeline, git_commit: str | None = None) -> dict:
    triggers = pipeline.doc.spec.triggers
    return {"apiVersion": ARGO_API, "kind": "Sensor", "metadata": metadata(pipeline, git_commit), "spec": {
        "template": _pod_template(),
        "dependencies": [_dependency(pipeline, i, t) for i, t in enumerate(triggers)],
        "triggers": [_trigger(pipeline, i, t) for i, t in enumerate(triggers)]}}


def _dependency(pipeline: Pipeline, index: int, trigger: Any) -> dict:
    """Only objects created in the bucket under the prefix with the suffix: S3's `s3:TestEvent` (sent when a
    notification is configured) has no Records, and a filter on a path that is missing does not pass."""
    record = "body.Records.0."
    return {"name": trigger_name(index), "eventSourceName": pipeline.name, "eventName": trigger_name(index),
            "filters": {"data": [
                {"path": record + "eventName", "type": "string", "value": ["^ObjectCreated:"]},
                {"path": record + "s3.bucket.name", "type": "string", "value": [events.exact_pattern(trigger.s3.bucket)]},
                {"path": record + "s3.object.key", "type": "string", "template": events.key_filter_template(),
                 "value": [events.key_pattern(trigger.s3.prefix, trigger.s3.suffix)]},
            ]}}


def _trigger(pipeline: Pipeline, index: int, trigger: Any) -> dict:
    name = trigger_name(index)
    params = sorted(trigger.params.items())
    labels = {**pods.labels(pipeline), TRIGGER_LABEL: name}
    workflow: dict[str, Any] = {"apiVersion": ARGO_API, "kind": "Workflow",
                "metadata": {"name": pipeline.name, "labels": labels, "annotations": {RUN_ANNOTATION: ""}},
                "spec": {"workflowTemplateRef": {"name": pipeline.name}}}
    if params:
        workflow["spec"]["arguments"] = {"parameters": [{"name": k, "value": ""} for k, _ in params]}
    def source(template: str) -> dict:
        return {"dependencyName": name, "dataTemplate": template}
    parameters = [{"src": source(events.run_name_template(pipeline.name)), "dest": "metadata.name"},
                  {"src": source(events.go_template("s3://{{event.bucket}}/{{event.key}}")),
                   "dest": f"metadata.annotations.{RUN_ANNOTATION}"}]  # sjson paths: only . * ? are special
    parameters += [{"src": source(events.go_template(text)), "dest": f"spec.arguments.parameters.{i}.value"}
                   for i, (_, text) in enumerate(params)]
    return {"template": {"name": name, "k8s": {"operation": "create", "source": {"resource": workflow},
                                               "parameters": parameters}}}

"""Validated pipeline → Kubernetes objects (plain dicts), serialized once, deterministically."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from water.errors import TooLarge
from water.render import configs, images
from water.render.argo import cron_workflow, workflow_template
from water.render.cronjob import plain_cronjob, submitter_cronjob
from water.render.events import event_source, sensor
from water.render.yamlout import to_yaml

if TYPE_CHECKING:
    from water.pipeline import Pipeline

__all__ = ["Rendered", "file_name", "render", "to_json", "to_json_list", "to_yaml"]

LARGE_OBJECT = 512 * 1024  # warned of well before the limit
# etcd stores at most 1.5 MiB per object (its --max-request-bytes default): the write fails, though a server-side
# dry run (which stops before etcd) passes; the server adds its metadata to what water sends, hence the margin
OBJECT_LIMIT = 1536 * 1024 - 16 * 1024
# a run copies its template's spec into its own status (storedWorkflowTemplateSpec) beside its nodes, and Argo's
# controller fails a Workflow whose JSON passes MAX_WORKFLOW_SIZE, 1 MiB unless set, even with its nodes compressed
# (argo-workflows workflow/packer/packer.go, compressWorkflow: "workflow is longer than maximum allowed size")
RUN_LIMIT = 1024 * 1024


@dataclass
class Rendered:
    objects: list
    warnings: list = field(default_factory=list)
    too_large: list = field(default_factory=list)  # what the API server would refuse for its size

    def refuse_too_large(self) -> None:
        """TooLarge naming each object over the limit and its size (validate and deploy: nothing is sent)."""
        if self.too_large:
            raise TooLarge("\n".join(self.too_large))


AWS_DEFINITIONS = "water/aws-definitions"  # what `water deploy` defines in AWS (Kind.aws_definitions), as JSON


def defined_in_aws(pipeline: Pipeline) -> list:
    """What deploying the pipeline defines in AWS, as its steps' kinds say (Kind.aws_definitions)."""
    return [d for step in pipeline.steps for d in step.kind.aws_definitions(step, pipeline)]


def aws_definitions(objects: list) -> list:
    """The AWS definitions rendered objects carry (none for a pipeline that defines nothing in AWS)."""
    for obj in objects[:1]:
        text = ((obj.get("metadata") or {}).get("annotations") or {}).get(AWS_DEFINITIONS)
        if text:
            return json.loads(text)
    return []


PLACEHOLDER_ACCOUNT = "123456789012"  # AWS's documentation account, in every example (and `water new`)


def placeholder_accounts(pipeline: Pipeline) -> list:
    """Where the spec still names the documentation's AWS account (an image registry, a role): a pod pointed at an
    account that is not yours."""
    lines = [n for n, line in enumerate(pipeline.text.splitlines(), 1)
             if PLACEHOLDER_ACCOUNT in line.split("#", 1)[0]]
    if not lines:
        return []
    where = f"line {lines[0]} names" if len(lines) == 1 else f"lines {', '.join(map(str, lines))} name"
    return [f"{pipeline.file}: {where} AWS account {PLACEHOLDER_ACCOUNT}, the documentation's placeholder: put your "
            "account there"]


def render(pipeline: Pipeline, git_commit: str | None = None, strict: bool = False,
           git_branch: str | None = None) -> Rendered:
    """The objects a pipeline deploys as: the one that defines it first (what `water deploy` reads back from a
    revision), its steps' ConfigMaps last (deploy applies them first). `strict`: what would only be warned about (an
    image left unresolved) is an error, as deploying it would fail."""
    pipeline, warnings = images.resolved(pipeline, strict)
    steps: list = []
    if pipeline.spec.runner == "cronjob":
        objects = [plain_cronjob(pipeline, git_commit)]
    else:
        template, steps = workflow_template(pipeline, git_commit, git_branch)
        objects = [template]
        schedule = pipeline.spec.schedule
        if schedule and schedule.via == "cronjob":
            objects.append(submitter_cronjob(pipeline, git_commit))
        elif schedule:
            objects.append(cron_workflow(pipeline, git_commit))
        if pipeline.doc.spec.triggers:
            objects += [event_source(pipeline, git_commit), sensor(pipeline, git_commit)]
        objects += steps
    definitions = defined_in_aws(pipeline)
    if definitions:  # on the pipeline's definition object, so its revision defines the same on a rollback
        objects[0]["metadata"]["annotations"][AWS_DEFINITIONS] = json.dumps(definitions, sort_keys=True,
                                                                            separators=(",", ":"))
    large, too_large = _sizes(objects, steps)
    return Rendered(objects, warnings + large + too_large, too_large)


def _sizes(objects: list, steps: list) -> tuple[list, list]:
    """(what to warn of, what the API server would refuse) for the objects' sizes."""
    warnings = []
    too_large = [f"ConfigMap {name} holds {size / 1024 / 1024:.2f} MiB: the API server takes at most 1 MiB of data "
                 "per ConfigMap, and one task's config is that large; shorten its inline texts (a query or script in a "
                 "file of the project is uploaded, not inlined)" for name, size in configs.oversized(steps)]
    for obj in objects:
        if configs.is_steps_configmap(obj):
            continue  # split to fit by construction
        what, size = f"{obj['kind']} {obj['metadata']['name']}", len(to_json(obj))
        if size > OBJECT_LIMIT:
            too_large.append(f"{what} is {size / 1024 / 1024:.2f} MiB: the API server stores at most 1.5 MiB per "
                             "object (etcd's limit); split the pipeline")
        elif obj["kind"] == "WorkflowTemplate" and size > RUN_LIMIT:
            warnings.append(f"{what} is {size / 1024 / 1024:.2f} MiB: each run stores it, and Argo fails a run "
                            "whose Workflow passes 1 MiB (the controller's MAX_WORKFLOW_SIZE): raise that on the "
                            "controller or split the pipeline")
        elif size > LARGE_OBJECT:
            warnings.append(f"{what} is {size // 1024} KiB; the API server rejects objects near 1.5 MiB and Argo "
                            "runs of templates near 1 MiB: split the pipeline")
    return warnings, too_large


def to_json(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, check_circular=False)  # objects are trees


def to_json_list(objects: list) -> str:
    """Several objects as kubectl prints them: a List."""
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}, indent=2, ensure_ascii=False) + "\n"


def file_name(obj: dict) -> str:
    return f"{obj['kind'].lower()}-{obj['metadata']['name']}"

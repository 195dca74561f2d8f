"""Validated pipeline → Kubernetes objects (plain dicts), serialized once, deterministically."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import yaml

from water.render.argo import cron_workflow, workflow_template
from water.render.cronjob import plain_cronjob, submitter_cronjob

LARGE_OBJECT = 512 * 1024  # etcd rejects requests near 1.5 MiB; warn well before
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@dataclass
class Rendered:
    objects: list
    warnings: list = field(default_factory=list)


def render(pipeline, git_commit: str | None = None) -> Rendered:
    """The objects a pipeline deploys as, in apply order."""
    if pipeline.spec.runner == "cronjob":
        objects = [plain_cronjob(pipeline, git_commit)]
    else:
        objects = [workflow_template(pipeline, git_commit)]
        schedule = pipeline.spec.schedule
        if schedule and schedule.via == "cronjob":
            objects.append(submitter_cronjob(pipeline, git_commit))
        elif schedule:
            objects.append(cron_workflow(pipeline, git_commit))
    warnings = []
    for obj in objects:
        size = len(to_json(obj))
        if size > LARGE_OBJECT:
            warnings.append(f"{obj['kind']} {obj['metadata']['name']} is {size // 1024} KiB; the API server "
                            "rejects objects near 1.5 MiB: split the pipeline or shorten inline texts")
    return Rendered(objects, warnings)


def to_yaml(objects: list) -> str:
    return yaml.dump_all(objects, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1 << 20,
                         allow_unicode=True, explicit_start=True)


def to_json(obj) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def to_json_list(objects: list) -> str:
    """Several objects as kubectl prints them: a List."""
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}, indent=2, ensure_ascii=False) + "\n"


def file_name(obj: dict) -> str:
    return f"{obj['kind'].lower()}-{obj['metadata']['name']}"

"""`water retry NAME [RUN]`: a new run of the same pipeline, parameters and logical date as a failed one, that runs
only what did not succeed. With the Kubernetes API alone (no Argo Server, no editing of the old run's status): the
new Workflow carries the DAG the old run ran — Argo stores it in `status.storedWorkflowTemplateSpec` (argo-workflows
workflow/controller/operator.go setStoredWfSpec: the WorkflowTemplate's spec joined with the run's own) — without
the tasks that succeeded, their outputs written into the tasks that read them as plain values."""
from __future__ import annotations

import json
import re
from water.cluster import Cluster
from water.errors import WaterError
from water.pipeline import RESERVED_STEP_PREFIX
from water.render import pods
from water.render.argo import ARGO_API
from water.render.pods import MANAGED_BY, PIPELINE_LABEL
from water.runs import ENDED, SCHEDULED_TIME, phase, runs
from water.spec.types import EXPR_OPEN

RETRY_OF = "water/retry-of"  # label of a retry: the run it retries
TASK_OUTPUT = re.compile(r"\{\{tasks\.([a-z0-9][-a-z0-9]*)\.outputs\.parameters\.([-A-Za-z0-9_]+)\}\}")
# a step's own tasks are named after it (water.render.argo: size_task, when_task)
OWN_TASK = re.compile("^" + re.escape(RESERVED_STEP_PREFIX) + r"(?:size|when)-(.+)$")


def failed_run(cluster: Cluster, name: str, run_name: str | None) -> dict:
    """RUN, or the pipeline's latest run that failed and has no retry that succeeded; a run still going or one
    that succeeded is refused."""
    found = runs(cluster, name)
    if run_name is None:
        done = {r["metadata"].get("labels", {}).get(RETRY_OF) for r in found if phase(r) == "Succeeded"}
        failed = [r for r in found if phase(r) in ("Failed", "Error") and r["metadata"]["name"] not in done]
        if not failed:
            raise WaterError(f"pipeline '{name}' has no failed run to retry in namespace '{cluster.namespace}'")
        return failed[0]
    run = next((r for r in found if r["metadata"]["name"] == run_name), None)
    if run is None:
        raise WaterError(f"run '{run_name}' of pipeline '{name}' not found in namespace '{cluster.namespace}'")
    if run["kind"] != "Workflow":
        raise WaterError(f"run '{run_name}' is a Job of a plain CronJob: it has one step, run it again with "
                         "`water run`")
    if phase(run) not in ENDED:
        raise WaterError(f"run '{run_name}' is {phase(run)}: retry it once it has ended")
    if phase(run) == "Succeeded":
        raise WaterError(f"run '{run_name}' succeeded: nothing to retry")
    return run


def succeeded_steps(run: dict) -> dict:
    """Step → its recorded outputs (name → value), for each step of the run's main DAG that succeeded: the task's
    node (a Pod, or the Retry node over its attempts, which Argo gives the last attempt's outputs: operator.go,
    `node.Outputs = lastChildNode.Outputs.DeepCopy()`; a TaskGroup for a fan-out)."""
    nodes = (run.get("status") or {}).get("nodes") or {}
    root = next((n["id"] for n in nodes.values() if n.get("type") == "DAG" and n.get("templateName") == "main"),
                None)
    found = {}
    for node in nodes.values():
        name = node.get("displayName") or ""
        if node.get("boundaryID") != root or name.startswith(RESERVED_STEP_PREFIX) or node.get("phase") != "Succeeded":
            continue
        if node.get("type") in ("Pod", "Retry", "TaskGroup"):
            found[name] = {p["name"]: p.get("value", "") for p in (node.get("outputs") or {}).get("parameters") or ()}
    return found


def retry_workflow(cluster: Cluster, name: str, run: dict) -> tuple[dict, list]:
    """(the Workflow that retries `run`, the steps it reuses)."""
    spec = (run.get("status") or {}).get("storedWorkflowTemplateSpec")
    if spec is None:  # an Argo that stores none (before v3): the template as it is now, with the run's arguments
        template = cluster.get("WorkflowTemplate", name)
        if template is None:
            raise WaterError(f"pipeline '{name}' is not deployed: run '{run['metadata']['name']}' cannot be retried")
        spec = {**template["spec"], **({"arguments": run["spec"]["arguments"]} if run["spec"].get("arguments")
                                        else {})}
    spec = json.loads(json.dumps(spec))
    spec.pop("workflowTemplateRef", None)
    main = next(t for t in spec["templates"] if t["name"] == spec.get("entrypoint", "main"))
    tasks = {t["name"] for t in main["dag"]["tasks"]}
    reused = {step: outputs for step, outputs in succeeded_steps(run).items() if step in tasks}
    main["dag"]["tasks"] = without_reused(main["dag"]["tasks"], reused, run["metadata"]["name"])
    if not main["dag"]["tasks"]:
        raise WaterError(f"every step of run '{run['metadata']['name']}' succeeded (what failed ran after them: "
                         "its exit handler): nothing to retry")
    meta = run["metadata"]
    when = (meta.get("annotations") or {}).get(SCHEDULED_TIME) or meta.get("creationTimestamp")
    workflow = {"apiVersion": ARGO_API, "kind": "Workflow", "metadata": {
        "generateName": f"{name}-retry-",
        "labels": {**MANAGED_BY, PIPELINE_LABEL: name, RETRY_OF: meta["name"]},
        "annotations": {SCHEDULED_TIME: when} if when else {}}, "spec": spec}
    return workflow, sorted(reused)


def without_reused(tasks: list, reused: dict, run_name: str) -> list:
    """The DAG's tasks without those of the reused steps (each step's own size and when tasks with it); what the
    rest read of them becomes the recorded value."""
    def owner(task: str) -> str:
        found = OWN_TASK.match(task)
        return found.group(1) if found else task

    gone = {t["name"] for t in tasks if owner(t["name"]) in reused}
    def value(task: str, param: str) -> str:
        outputs = reused[owner(task)]
        if param not in outputs:
            raise WaterError(f"run '{run_name}' recorded no output {param} of {task}: it cannot be reused")
        if EXPR_OPEN in outputs[param]:
            raise WaterError(f"output {param} of {task} holds '{{{{', which Argo would read: run the pipeline again")
        return outputs[param]

    kept = []  # the tasks are the caller's copy (retry_workflow's), changed in place
    for task in (t for t in tasks if t["name"] not in gone):
        if "dependencies" in task:
            task["dependencies"] = [d for d in task["dependencies"] if d not in gone]
            if not task["dependencies"]:
                del task["dependencies"]
        if "depends" in task:
            terms = [t for t in task["depends"].split(" && ") if t.split(".")[0] not in gone]
            if terms:
                task["depends"] = " && ".join(terms)
            else:
                del task["depends"]
        for parameter in task.get("arguments", {}).get("parameters", []):
            if parameter["name"] == "refs":  # JSON of upstream values, each an Argo variable (render.argo.refs_param)
                refs = json.loads(parameter["value"])
                for key, text in refs.items():
                    found = TASK_OUTPUT.fullmatch(text)
                    if found and found.group(1) in gone:
                        refs[key] = value(found.group(1), found.group(2))
                parameter["value"] = pods.COMPACT_JSON.encode(refs)
        if "when" in task:  # numbers, as govaluate reads them (conditions.to_argo)
            task["when"] = TASK_OUTPUT.sub(lambda m: value(m.group(1), m.group(2)) if m.group(1) in gone
                                           else m.group(0), task["when"])
        left = [m.group(1) for m in TASK_OUTPUT.finditer(json.dumps(task)) if m.group(1) in gone]
        if left:
            raise WaterError(f"task {task['name']} reads {left[0]} in a way water cannot fill in: run the pipeline "
                             "again")
        kept.append(task)
    return kept


def start(cluster: Cluster, name: str, run_name: str | None) -> tuple[dict, dict, list]:
    """(the failed run, the retry created, the steps it reuses)."""
    run = failed_run(cluster, name, run_name)
    workflow, reused = retry_workflow(cluster, name, run)
    return run, cluster.create(workflow), reused

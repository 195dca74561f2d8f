"""A deployed pipeline's runs on the cluster: start one (a Workflow from the WorkflowTemplate, or a Job from a
plain CronJob, as `kubectl create job --from` does), wait for it, its steps' logs, status, suspend/resume.
Everything reads Kubernetes objects only; nothing needs the Argo Server."""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone

from water import argonodes, backoff, contract
from water.cluster import Cluster
from water.errors import ApiError, BadParameter, NotDeployed, WaterError
from water.pipeline import check_overrides
from water.render.argo import ARGO_API
from water.render.pods import MANAGED_BY, PIPELINE_LABEL

POLL = backoff.Policy(first=2.0, cap=2.0, jitter=False)  # how often `water run --wait` asks about the run
ENDED = {"Succeeded", "Failed", "Error"}
WORKFLOW_LABEL = "workflows.argoproj.io/workflow"
NODE_NAME = "workflows.argoproj.io/node-name"


def definition(cluster: Cluster, name: str) -> dict:
    """The pipeline's WorkflowTemplate, or its plain CronJob (runner: cronjob)."""
    found = (cluster.serves("WorkflowTemplate") and cluster.get("WorkflowTemplate", name)) or cluster.get(
        "CronJob", name)
    if not found or (found["kind"] == "CronJob" and found["metadata"].get("labels", {}).get(PIPELINE_LABEL) != name):
        raise NotDeployed(f"pipeline '{name}' is not deployed in namespace '{cluster.namespace}' ({cluster.where})")
    return found


SCHEDULED_TIME = "workflows.argoproj.io/scheduled-time"  # what a CronWorkflow's runs carry (Argo's common.go)


def start(cluster: Cluster, name: str, params: dict, date: str | None = None) -> dict:
    """`date` (YYYY-MM-DD): the day the run stands for, as {{run.date}} (default: today in the schedule's zone)."""
    found = definition(cluster, name)
    labels = {**MANAGED_BY, PIPELINE_LABEL: name}
    if found["kind"] == "CronJob":
        if params:
            raise BadParameter(f"pipeline '{name}' runs as a plain CronJob, which takes no --param")
        spec = found["spec"]["jobTemplate"]["spec"]
        if date:
            spec = json.loads(json.dumps(spec))
            container = spec["template"]["spec"]["containers"][0]
            container["env"] = [*container.get("env", []), {"name": contract.RUN_DATE_ENV, "value": date}]
        job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {
            "generateName": f"{name}-manual-", "labels": labels,
            "annotations": {"cronjob.kubernetes.io/instantiate": "manual"},
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": name,
                                 "uid": found["metadata"]["uid"], "controller": True}]},
            "spec": spec}
        return cluster.create(job)
    return cluster.create(template_run(found, params, _scheduled_time(cluster, name, date), {"generateName": f"{name}-"}))


def template_run(template: dict, params: dict, scheduled_time: str, naming: dict, labels: dict | None = None) -> dict:
    """A Workflow of the WorkflowTemplate with `params` (each declared, none that Argo would evaluate), standing
    for `scheduled_time` (RFC 3339), named as `naming` says (name or generateName)."""
    name = template["metadata"]["name"]
    check_overrides(params)
    declared = [p["name"] for p in template["spec"].get("arguments", {}).get("parameters", [])]
    for key in params:
        if key not in declared:
            raise BadParameter(f"unknown parameter '{key}' (declared: {', '.join(declared) or 'none'})")
    spec: dict = {"workflowTemplateRef": {"name": name}}
    if params:
        spec["arguments"] = {"parameters": [{"name": k, "value": v} for k, v in sorted(params.items())]}
    # as `argo submit --scheduled-time` does (cmd/argo/commands/submit.go): the run's {{workflow.scheduledTime}}
    return {"apiVersion": ARGO_API, "kind": "Workflow", "metadata": {
        **naming, "labels": {**MANAGED_BY, PIPELINE_LABEL: name, **(labels or {})},
        "annotations": {SCHEDULED_TIME: scheduled_time}}, "spec": spec}


def _scheduled_time(cluster: Cluster, name: str, date: str | None) -> str:
    """RFC 3339: now, or the start of `date` in the schedule's time zone (the CronWorkflow's; UTC without one)."""
    if not date:
        return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    from zoneinfo import ZoneInfo

    cron = cluster.serves("CronWorkflow") and cluster.get("CronWorkflow", name)
    zone = ((cron or {}).get("spec") or {}).get("timezone") or "UTC"
    return datetime.fromisoformat(date).replace(tzinfo=ZoneInfo(zone)).isoformat()


def phase(run: dict) -> str:
    """Argo's phase for a Workflow; the same words for a Job."""
    if run["kind"] == "Workflow":
        return run.get("status", {}).get("phase") or "Pending"
    status = run.get("status", {})
    for condition in status.get("conditions") or []:
        if condition.get("status") == "True" and condition.get("type") in ("Complete", "Failed"):
            return "Succeeded" if condition["type"] == "Complete" else "Failed"
    return "Running" if status.get("active") else "Pending"


def steps(run: dict) -> list:
    """(step, phase, seconds, why, USD) of a run's steps, in start order: its pods, and the steps Argo skipped (a
    false `when`) or omitted (after a skipped or failed step), with the reason, and what each priced AWS job cost."""
    if run["kind"] != "Workflow":
        return [(run["metadata"]["labels"].get(PIPELINE_LABEL, run["metadata"]["name"]), phase(run), duration(run),
                 "", None)]
    why = argonodes.reasons(run)
    return [(n.get("displayName") or n.get("name"), n.get("phase", "Pending"),
             _seconds(n.get("startedAt"), n.get("finishedAt")), why.get(n.get("id"), ""), argonodes.cost(n))
            for n in argonodes.step_nodes(run)]


def duration(run: dict) -> float | None:
    status = run.get("status", {})
    if run["kind"] == "Workflow":
        return _seconds(status.get("startedAt"), status.get("finishedAt"))
    return _seconds(status.get("startTime"), status.get("completionTime"))


def run_kind(cluster: Cluster, name: str) -> str:
    """What the pipeline's runs are: Workflows of its template, or Jobs of its plain CronJob."""
    return "Workflow" if definition(cluster, name)["kind"] == "WorkflowTemplate" else "Job"


def runs(cluster: Cluster, name: str) -> list:
    """The pipeline's runs, newest first."""
    kind = run_kind(cluster, name)
    found = [r | {"kind": kind} for r in cluster.list(kind, f"{PIPELINE_LABEL}={name}")]
    return sorted(found, key=lambda r: (r["metadata"].get("creationTimestamp", ""), r["metadata"]["name"]),
                  reverse=True)


def get_run(cluster: Cluster, name: str, run_name: str | None) -> dict:
    if run_name is None:
        found = runs(cluster, name)
        if not found:
            raise WaterError(f"pipeline '{name}' has no runs in namespace '{cluster.namespace}'")
        return found[0]
    kind = run_kind(cluster, name)
    run = cluster.get(kind, run_name)
    if run is None:
        raise WaterError(f"run '{run_name}' of pipeline '{name}' not found in namespace '{cluster.namespace}'")
    return run | {"kind": kind}


def wait(cluster: Cluster, run: dict, *, follow: bool = False, step: str | None = None,
         echo: Callable[[str], object] = print, progress: Callable[[str], object] = print, every: backoff.Policy = POLL,
         sleep: Callable[[float], object] = time.sleep) -> str:
    """Poll until the run ends, `every` as the policy says, saying each change of phase and step count; stream
    step logs if `follow`."""
    logs = _Follower(cluster, echo, step) if follow else None
    said, n = None, 0
    while True:
        current = phase(run)
        done = steps(run)
        line = f"{run['metadata']['name']}: {current} ({sum(s[1] == 'Succeeded' for s in done)}/{len(done)} steps)"
        if line != said:
            progress(line)
            said = line
        if logs:
            logs.poll(run)
        if current in ENDED:
            if logs:
                logs.finish()
            return current
        sleep(every.pause(n))
        n += 1
        found = cluster.get(run["kind"], run["metadata"]["name"])
        if found is None:
            raise WaterError(f"run '{run['metadata']['name']}' was deleted while water waited for it")
        run = found | {"kind": run["kind"]}


def pods(cluster: Cluster, run: dict) -> list:
    """(step, pod) of a run, in start order."""
    selector = f"{WORKFLOW_LABEL}={run['metadata']['name']}" if run["kind"] == "Workflow" else \
        f"job-name={run['metadata']['name']}"
    found = cluster.list("Pod", selector)
    found.sort(key=lambda p: (p.get("status", {}).get("startTime") or "", p["metadata"]["name"]))
    return [(_step_of(run, p), p) for p in found]


def _step_of(run: dict, pod: dict) -> str:
    node = (pod["metadata"].get("annotations") or {}).get(NODE_NAME, "")
    prefix = run["metadata"]["name"] + "."
    if node.startswith(prefix):
        return node[len(prefix):]
    return run["metadata"].get("labels", {}).get(PIPELINE_LABEL, pod["metadata"]["name"]) if run["kind"] == "Job" \
        else pod["metadata"]["name"]


def print_logs(cluster: Cluster, run: dict, step: str | None, echo: Callable[[str], object] = print) -> int:
    """Each step's log lines, prefixed by the step; returns how many pods were shown."""
    shown = 0
    for name, pod in pods(cluster, run):
        if step and name != step:
            continue
        if pod.get("status", {}).get("phase") == "Pending":
            continue
        try:
            text = cluster.pod_log(pod["metadata"]["name"])
        except ApiError as exc:  # a pod gone or not started: the others' logs are still worth showing
            text = f"(no log: {exc.detail})"
        for line in text.splitlines():
            echo(f"[{name}] {line}")
        shown += 1
    return shown


class _Follower:
    """Streams the log of each pod of a run as it starts, a thread per pod, lines prefixed by the step."""

    def __init__(self, cluster: Cluster, echo: Callable[[str], object], step: str | None) -> None:
        self.cluster, self.echo, self.step = cluster, echo, step
        self.threads: dict = {}
        self.lock = threading.Lock()

    def poll(self, run: dict) -> None:
        for name, pod in pods(self.cluster, run):
            pod_name = pod["metadata"]["name"]
            if pod_name in self.threads or (self.step and name != self.step) or pod.get("status", {}).get(
                    "phase") == "Pending":
                continue
            thread = threading.Thread(target=self._stream, args=(name, pod_name), daemon=True)
            self.threads[pod_name] = thread
            thread.start()

    def _stream(self, step: str, pod_name: str) -> None:
        stream = self.cluster.pod_log(pod_name, follow=True)
        pending = b""
        for chunk in stream.stream(4096, decode_content=True):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            self._say(step, lines)
        self._say(step, [pending] if pending else [])

    def _say(self, step: str, lines: list) -> None:
        with self.lock:
            for line in lines:
                self.echo(f"[{step}] {line.decode('utf-8', 'replace')}")

    def finish(self) -> None:
        for thread in self.threads.values():
            thread.join(30)


# --- status and schedule ---------------------------------------------------------------------------------

PHASE_LABEL = "workflows.argoproj.io/phase"  # Argo's controller keeps the run's phase in it (operator.go)
PIPELINES = ",".join([f"{k}={v}" for k, v in MANAGED_BY.items()] + [PIPELINE_LABEL])  # what water made, per pipeline


def summaries(cluster: Cluster) -> list:
    """Each pipeline of the namespace: schedule, latest run (its phase, when it started) and next run. A constant
    number of list requests, whatever the number of pipelines; the runs' metadata only, never their nodes. A
    pipeline whose objects cannot be read shows why in its row."""
    selector = PIPELINES
    argo = cluster.serves("WorkflowTemplate")
    templates = cluster.list_metadata("WorkflowTemplate", selector) if argo else []
    crons = {c["metadata"]["name"]: c for c in cluster.list("CronWorkflow", selector)} if argo else {}
    cronjobs = {c["metadata"]["name"]: c for c in cluster.list("CronJob", selector)}
    latest: dict = {}  # pipeline → its newest run
    for kind, found in (("Workflow", cluster.list_metadata("Workflow", selector) if argo else []),
                        ("Job", cluster.list("Job", selector))):
        for run in found:
            owner = run["metadata"]["labels"].get(PIPELINE_LABEL)
            if owner and _created(run) >= _created(latest.get(owner, {})):
                latest[owner] = run
                run["kind"] = kind  # a list's items have none (PartialObjectMetadata's are not the run's)
    names = {o["metadata"]["labels"][PIPELINE_LABEL] for o in [*templates, *cronjobs.values()]}
    rows = []
    for name in sorted(names):
        try:
            rows.append(_row(name, _schedule(name, crons.get(name), cronjobs.get(name)), latest.get(name)))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            rows.append({"name": name, "schedule": "", "timezone": "", "suspended": False, "lastRun": "",
                         "phase": f"unreadable ({type(exc).__name__}: {exc})", "started": "", "nextRun": ""})
    return rows


def _created(obj: dict) -> tuple:
    meta = obj.get("metadata") or {}
    return meta.get("creationTimestamp", ""), meta.get("name", "")


def listed_phase(run: dict) -> str:
    """A run's phase from what a list gives: a Job's status, a Workflow's phase label (of its metadata only)."""
    if run["kind"] == "Job" or "status" in run:
        return phase(run)
    return (run["metadata"].get("labels") or {}).get(PHASE_LABEL) or "Pending"


def _row(name: str, sched: dict | None, last: dict | None) -> dict:
    return {"name": name, "schedule": sched["cron"] if sched else "", "timezone": sched["timezone"] if sched else "",
            "suspended": bool(sched and sched["suspended"]),
            "lastRun": last["metadata"]["name"] if last else "", "phase": listed_phase(last) if last else "",
            "started": last["metadata"].get("creationTimestamp", "") if last else "",
            "nextRun": _next_run(sched) if sched and not sched["suspended"] else ""}


def schedule_of(cluster: Cluster, name: str) -> dict | None:
    """{kind, cron, timezone, suspended} of what schedules the pipeline, if anything does."""
    cron_workflow = cluster.serves("CronWorkflow") and cluster.get("CronWorkflow", name)
    return _schedule(name, cron_workflow or None, None if cron_workflow else cluster.get("CronJob", name))


def _schedule(name: str, cron_workflow: dict | None, cronjob: dict | None) -> dict | None:
    if cron_workflow:
        spec = cron_workflow["spec"]
        crons = spec.get("schedules") or [spec.get("schedule", "")]
        return {"kind": "CronWorkflow", "cron": crons[0], "timezone": spec.get("timezone") or "UTC",
                "suspended": bool(spec.get("suspend"))}
    if cronjob and cronjob["metadata"].get("labels", {}).get(PIPELINE_LABEL) == name:
        spec = cronjob["spec"]
        return {"kind": "CronJob", "cron": spec["schedule"], "timezone": spec.get("timeZone") or "UTC",
                "suspended": bool(spec.get("suspend"))}
    return None


def set_suspended(cluster: Cluster, name: str, suspended: bool) -> str:
    definition(cluster, name)
    found = schedule_of(cluster, name)
    if found is None:
        raise WaterError(f"pipeline '{name}' has no schedule to {'suspend' if suspended else 'resume'}")
    cluster.merge_patch(found["kind"], name, {"spec": {"suspend": suspended}})
    return found["kind"]


def _next_run(sched: dict) -> str:
    """The next fire time; for a cron that never fires or cannot be read (deployed by hand, or by an older water),
    what is wrong with it: shown in its row, so that one object does not break the namespace's status."""
    from water.schedule import next_time

    try:
        return next_time(sched["cron"], sched["timezone"]).isoformat()
    except Exception as exc:  # noqa: BLE001 - croniter's and zoneinfo's errors alike
        return f"never ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else sched['cron']})"


def pipeline_names(cluster: Cluster) -> list:
    selector = PIPELINES
    kinds = (["WorkflowTemplate"] if cluster.serves("WorkflowTemplate") else []) + ["CronJob"]
    return sorted({o["metadata"]["labels"][PIPELINE_LABEL] for kind in kinds
                   for o in cluster.list_metadata(kind, selector)})


def detail(cluster: Cluster, name: str, limit: int = 10) -> dict:
    """The pipeline's schedule, its recent runs (their metadata: name, phase, start) and the latest run in full:
    its duration and steps. Only the latest run's nodes are read, however large the others."""
    kind = run_kind(cluster, name)
    listed = cluster.list_metadata(kind, f"{PIPELINE_LABEL}={name}") if kind == "Workflow" else cluster.list(
        kind, f"{PIPELINE_LABEL}={name}")
    recent = sorted((r | {"kind": kind} for r in listed), key=_created, reverse=True)[:limit]
    latest = (cluster.get(kind, recent[0]["metadata"]["name"]) if kind == "Workflow" else recent[0]) if recent \
        else None
    latest = latest | {"kind": kind} if latest else None
    rows = [{"name": r["metadata"]["name"], "phase": listed_phase(r), "started": r["metadata"].get(
        "creationTimestamp", "")} for r in recent]
    found = steps(latest) if latest else []
    if latest and rows:
        priced = [usd for *_, usd in found if usd is not None]
        rows[0].update(phase=phase(latest), started=_started(latest), duration=duration(latest),
                       cost=argonodes.usd_text(sum(priced)) if priced else "")
    return {**_row(name, schedule_of(cluster, name), latest), "runs": rows,
            "steps": [{"step": s, "phase": p, "duration": d, "reason": why, "cost": argonodes.usd_text(usd)}
                      for s, p, d, why, usd in found]}



def listing(cluster: Cluster, name: str, limit: int = 100) -> list:
    """`water runs NAME`: the recent runs in full — phase, steps done, start, duration."""
    return [{"name": r["metadata"]["name"], "phase": phase(r), "started": _started(r), "duration": duration(r),
             "steps": f"{sum(1 for s in steps(r) if s[1] == 'Succeeded')}/{len(steps(r))}"}
            for r in runs(cluster, name)[:limit]]


def _started(run: dict) -> str:
    status = run.get("status", {})
    return status.get("startedAt") or status.get("startTime") or run["metadata"].get("creationTimestamp", "")


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start:
        return None
    finish = parse_time(end) if end else datetime.now(timezone.utc)
    return round((finish - parse_time(start)).total_seconds(), 1)


def parse_time(stamp: str) -> datetime:
    """An RFC 3339 time as the API server and Argo write them (`Z` for UTC)."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))

"""Argo rendering: one WorkflowTemplate holding the DAG, the ConfigMaps of its steps' own configs, a CronWorkflow.

Templates are shared: every step of one kind with the same settings (resources,
retries, timeout, secrets) runs the same template, and its pod reads its own config
from the steps' ConfigMaps under its task's name (water.render.configs). A spec of
5,000 steps renders to a handful of templates and a DAG of names.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from water import conditions, contract, expressions
from water.pipeline import RESERVED_STEP_PREFIX
from water.render import configs, pods
from water.spec.fields import as_data

if TYPE_CHECKING:
    from water.pipeline import Pipeline, PipelineStep


ARGO_API = "argoproj.io/v1alpha1"
WEEK = 7 * 24 * 3600
RETRY_BACKOFF = {"duration": "30s", "factor": 2, "maxDuration": "10m"}
# Argo's exit code is a string, "-1" when the pod left none (an eviction, a deleted pod): those are retried
RETRY_UNLESS_BAD_INPUT = f'lastRetry.exitCode != "{contract.BAD_INPUT}"'
SIZE_TIMEOUT = 600
NOTIFY_TIMEOUT = 120
CLEANUP_TIMEOUT = 600


def size_task(step_name: str) -> str:
    return f"{RESERVED_STEP_PREFIX}size-{step_name}"


def when_task(step_name: str) -> str:
    return contract.WHEN_TASK_PREFIX + step_name


def step_config(pipeline: Pipeline, step: PipelineStep) -> dict:
    """Everything `water-job <kind>` needs about one step, user texts included."""
    return {**shared_config(pipeline, step), **own_config(step)}


def shared_config(pipeline: Pipeline, step: PipelineStep) -> dict:
    """The part of a step's config that every step of its template has: the template carries it once."""
    shared = {"pipeline": pipeline.name, "kind": step.kind.name, "timeout": step.timeout, "aws": pipeline.aws}
    if pipeline.run_zone:
        shared["timezone"] = pipeline.run_zone
    return shared


def own_config(step: PipelineStep) -> dict:
    """The part of a step's config that is the step's own: its task carries it."""
    own = {"step": step.name, "spec": step.job_config()}
    if step.env:
        own["env"] = dict(sorted(step.env.items()))
    return own


def size_config(pipeline: Pipeline, step: PipelineStep) -> dict:
    return {
        "pipeline": pipeline.name,
        "step": step.name,
        "kind": "size",
        "sizes": step.kind.sizes,
        "from": step.sizing.from_,
        "measure": pipeline.step(step.sizing.from_).measured_output,
        "resources": step.resources,
        "tiers": [as_data(t) for t in step.sizing.tiers],
        "aws": pipeline.aws,
    }


NO_REFS = "{}"  # the `refs` input's default: a task that reads no upstream output passes no `refs`


def refs_param(refs: Iterable[tuple[expressions.Ref, Any, Any]], extra: dict | None = None) -> str:
    """Upstream outputs a step reads, as Argo variables; their values are written by water-job, never users."""
    values = {r.key: expressions.to_argo(r) for r, _, _ in refs if r.root == "steps"}
    values.update(extra or {})
    return pods.COMPACT_JSON.encode(values) if values else NO_REFS


def runtime_env(pipeline: Pipeline) -> list:
    # the time a run stands for: a CronWorkflow's run carries workflow.scheduledTime (from the annotation
    # workflows.argoproj.io/scheduled-time, which `water run` and `argo submit --scheduled-time` set too; Argo
    # leaves the variable as written where it is missing: util/variables/keys/runtime.go), else its creation
    env = [
        {"name": contract.RUN_ID_ENV, "value": "{{workflow.name}}"},
        {"name": contract.SCHEDULED_TIME_ENV, "value": "{{workflow.scheduledTime}}"},
        {"name": contract.CREATED_TIME_ENV, "value": "{{workflow.creationTimestamp}}"},
    ]
    env += [{"name": contract.PARAM_ENV_PREFIX + name, "value": "{{workflow.parameters.%s}}" % name}
            for name in sorted(pipeline.spec.params)]
    return env + pods.datadog_env(pipeline)


# the name of the DAG task a pod runs: Argo sets it for the template of a DAG task (workflow/controller/operator.go
# executeTemplate, localParams[tasks.name], substituted into the whole template by common.SubstituteParams), and
# its validation allows it in a template's body (workflow/validate/validate.go, resolveAllVariables)
TASK_NAME = "{{tasks.name}}"


def job_template(pipeline: Pipeline, kind: str, inputs: list, outputs: tuple, resources: dict, *, retries: int,
                 timeout: int, extra_env: Sequence[dict] = (), patch: bool = False, optional: dict | None = None,
                 shared: dict | None = None, priced: bool = False, config_key: str = TASK_NAME) -> dict:
    """A hardened template that runs `water-job <kind>` with its inputs as `--name value` arguments, reading its
    own config under `config_key` (its DAG task's name, or the exit handler's key) in the steps' ConfigMaps.
    `optional`: inputs with a default value (refs: none). `shared`: the config its tasks have in common. `priced`:
    its pod also says what its AWS job cost (an output no spec text reads; empty when it could not be priced)."""
    optional = {"refs": NO_REFS, **(optional or {})}
    args = [kind] + ([contract.ARG_SHARED, pods.encode(shared)] if shared else [])
    args += [contract.ARG_CONFIG_KEY, config_key]
    for name in inputs:
        args += [f"--{name}", "{{inputs.parameters.%s}}" % name]
    template: dict[str, Any] = {
        "inputs": {"parameters": [{"name": n, "value": optional[n]} if n in optional else {"name": n} for n in inputs]},
    }
    if outputs or priced:
        params = [contract.output_param(o) for o in outputs]
        template["outputs"] = {"parameters": [{"name": p, "valueFrom": {"path": f"{contract.OUTPUTS_DIR}/{p}"}}
                                              for p in params]
                               + ([{"name": contract.COST, "valueFrom": {"path": f"{contract.OUTPUTS_DIR}/"
                                                                         f"{contract.COST}", "default": ""}}]
                                  if priced else [])}
    attempt = []
    if retries:
        template["retryStrategy"] = {"limit": retries, "retryPolicy": "Always", "backoff": dict(RETRY_BACKOFF),
                                     "expression": RETRY_UNLESS_BAD_INPUT}
        # the attempt's number, N of the node `step(N)` (argo-workflows workflow/controller/operator.go, "Inject
        # the retryAttempt number"); in scope only with a retryStrategy (workflow/validate/validate.go)
        attempt = [{"name": contract.ATTEMPT_ENV, "value": "{{retries}}"}]
    template["activeDeadlineSeconds"] = timeout
    if patch:
        template["podSpecPatch"] = "{{inputs.parameters.pod-patch}}"
    template["container"] = {
        "image": pipeline.spec.image,
        "imagePullPolicy": pods.pull_policy(pipeline.spec.image),
        "command": ["water-job"],
        "args": args,
        "env": runtime_env(pipeline) + attempt + list(extra_env),
        "resources": pods.resources(resources),
        "securityContext": pods.CONTAINER_SECURITY,
        "terminationMessagePolicy": pods.TERMINATION_MESSAGE_POLICY,
        "volumeMounts": [pods.TMP_MOUNT, configs.MOUNT],
    }
    return template


class _Templates:
    """Templates by content: an identical body is one template, named after its kind."""

    def __init__(self) -> None:
        self.by_body: dict = {}
        self.by_settings: dict = {}
        self.count: dict = {}
        self.templates: list = []

    def for_settings(self, kind: str, settings: tuple, build) -> str:
        """The template `build()` makes, built once per `settings` (all its body depends on): thousands of
        steps in a few resource classes build and compare a few bodies, not thousands."""
        name = self.by_settings.get(settings)
        if name is None:
            name = self.by_settings[settings] = self.add(kind, build())
        return name

    def add(self, kind: str, body: dict) -> str:
        key = json.dumps(body, sort_keys=True)
        name = self.by_body.get(key)
        if name is None:
            n = self.count[kind] = self.count.get(kind, 0) + 1
            name = kind if n == 1 else f"{kind}-{n}"
            self.by_body[key] = name
            self.templates.append({"name": name, **body})
        return name


def _size_task(pipeline: Pipeline, step: PipelineStep, templates: _Templates, texts: dict) -> dict:
    """The task that measures `sizing.from`'s output and picks the tier, just before the step runs."""
    measured = pipeline.step(step.sizing.from_).measured_output
    assert measured is not None  # checks.check_sizing refuses a `from` with nothing to measure
    source = expressions.Ref("steps", step.sizing.from_, measured)
    template = templates.add("size", job_template(
        pipeline, "size", ["refs"], contract.SIZE_OUTPUTS, pipeline.default_resources, retries=step.retries,
        timeout=SIZE_TIMEOUT))
    texts[size_task(step.name)] = pods.COMPACT_JSON.encode(size_config(pipeline, step))
    return _task(size_task(step.name), template, list(step.after), _after_a_gate(pipeline, step), [
        {"name": "refs", "value": refs_param([(source, None, None)])},
    ])


def _step_tasks(pipeline: Pipeline, step: PipelineStep, templates: _Templates, texts: dict) -> list:
    """The step's task, preceded by its size task when it is sized; their own configs go to `texts` (task → JSON)."""
    inputs = ["refs"]
    args: list = []
    texts[step.name] = pods.COMPACT_JSON.encode(own_config(step))
    tasks, deps, extra_refs = [], list(step.after), {}
    patch = bool(step.sizing) and step.kind.sizes == "pod"
    if step.sizing:
        tasks.append(_size_task(pipeline, step, templates, texts))
        deps.append(tasks[0]["name"])
        size_output = "{{tasks.%s.outputs.parameters.%%s}}" % tasks[0]["name"]
        if step.kind.sizes == "instance":
            extra_refs = {contract.sizing_ref(o): size_output % o for o in contract.SIZED_INSTANCE}
    refs = refs_param(step.refs, extra_refs)
    if refs != NO_REFS:
        args.append({"name": "refs", "value": refs})
    if patch:
        inputs += ["shard", "pod-patch"]
        args += [{"name": "shard", "value": "{{item}}" if step.fans_out else "0/1"},
                 {"name": "pod-patch", "value": size_output % "pod-patch"}]
    settings = (step.kind.name, tuple(inputs), tuple(step.outputs), tuple(sorted(step.resources.items())),
                step.retries, step.timeout, tuple(sorted((k, v.secret, v.key) for k, v in step.secret_env.items())),
                patch)
    template = templates.for_settings(step.kind.name, settings, lambda: job_template(
        pipeline, step.kind.name, inputs, step.outputs, step.resources, retries=step.retries, timeout=step.timeout,
        extra_env=pods.secret_env(step) + (pods.LINEAGE_ENV if _told_lineage(pipeline, step) else []), patch=patch,
        shared=shared_config(pipeline, step), priced=step.kind.priced))
    by_argo = step.when is not None and pipeline.decided_by_argo(step)
    if step.when is not None and not by_argo:
        tasks.append(_when_task(pipeline, step, templates, texts))
        deps.append(tasks[-1]["name"])
    task = _task(step.name, template, deps, _after_a_gate(pipeline, step), args)
    if step.when is not None:
        # govaluate reads the substituted `true == true` as BOOLEAN == BOOLEAN (Knetic/govaluate parsing.go, the
        # "true"/"false" tokens; Argo's shouldExecute evaluates it, workflow/controller/steps.go)
        task["when"] = conditions.to_argo(step.when, lambda name: name) if by_argo else \
            "{{tasks.%s.outputs.parameters.%s}} == true" % (when_task(step.name), contract.WHEN_HOLDS)
    if patch and step.fans_out:
        task["withParam"] = size_output % "shards"
    return tasks + [task]


def _told_lineage(pipeline: Pipeline, step: PipelineStep) -> bool:
    """Whether the step's pod is told what the deploy came from: its kind records it, every step writes a lineage
    record (spec.aws.artifacts), or its texts read {{git...}}."""
    return (step.kind.lineage or bool(pipeline.spec.aws and pipeline.spec.aws.artifacts)
            or any(ref.root == "git" for ref, _, _ in step.refs))


def _when_task(pipeline: Pipeline, step: PipelineStep, templates: _Templates, texts: dict) -> dict:
    """The task that decides a condition comparing texts, with the values it reads (parameters from the pod's
    environment, step outputs as refs), before the step: Argo's `when` then reads only its true or false."""
    template = templates.add("when", job_template(
        pipeline, "when", ["refs"], contract.WHEN_OUTPUTS, pipeline.default_resources, retries=step.retries,
        timeout=SIZE_TIMEOUT))
    config: dict = {"pipeline": pipeline.name, "step": step.name, "kind": "when", "when": conditions.source(step.when)}
    if any(ref.root == "models" for ref in conditions.refs(step.when)):  # asked of SageMaker in the task's pod
        config["aws"] = pipeline.aws
    read = [(ref, None, None) for ref in conditions.refs(step.when) if ref.root == "steps"]
    texts[when_task(step.name)] = pods.COMPACT_JSON.encode(config)
    return _task(when_task(step.name), template, list(step.after), _after_a_gate(pipeline, step), [
        {"name": "refs", "value": refs_param(read)}])


def _after_a_gate(pipeline: Pipeline, step: PipelineStep) -> bool:
    """Whether a step with a `when:` is upstream of this one."""
    return bool(pipeline.gated) and not pipeline.gated.isdisjoint(pipeline.upstream[step.name])


def _task(name: str, template: str, deps: list, after_gate: bool, args: list) -> dict:
    """A DAG task. After a gated step it waits with `depends` on each dependency having Succeeded: Argo's plain
    `dependencies` take a Skipped task as done (docs/enhanced-depends-logic.md: an unspecified result is
    `Succeeded || Skipped || Daemoned`), and the steps after a skipped one are skipped too (Argo: Omitted)."""
    task: dict[str, Any] = {"name": name, "template": template}
    if deps and after_gate:
        task["depends"] = " && ".join(f"{d}.Succeeded" for d in deps)
    elif deps:
        task["dependencies"] = deps
    if args:
        task["arguments"] = {"parameters": args}
    return task


NOTIFY_KEY = f"{RESERVED_STEP_PREFIX}notify"  # the exit handler's configs: no step is named so (water- is water's)
CLEANUP_KEY = f"{RESERVED_STEP_PREFIX}cleanup"


def _exit_handler(pipeline: Pipeline, templates: _Templates, texts: dict) -> tuple[list, dict]:
    """(what runs when the workflow ends, the workflow's lifecycle hooks): `water-job notify` as alerts.slack.on
    asks — at the end, and at the start through Argo's `running` hook — and, unless the run succeeded, `water-job
    cleanup` stopping the AWS jobs its steps left running (a step leaves its job on SIGTERM while the run goes on,
    for the retry that re-attaches; once the run is over, nothing will). No steps, no handler."""
    steps, hooks = _notify_steps(pipeline, templates, texts) if pipeline.spec.alerts.slack else ([], {})
    stoppable = [step for step in pipeline.steps if step.kind.stops_aws_job]
    if stoppable:
        steps.append(_cleanup_step(pipeline, stoppable, templates, texts))
    return ([{"name": "exit-handler", "steps": [steps]}] if steps else []), hooks


# Argo runs a workflow's hook once, when its expression first holds over the global parameters
# (workflow/controller/hooks.go, executeWfLifeCycleHook: the hook's node is made once and then only re-checked)
STARTED = 'workflow.status == "Running"'


def _notify_steps(pipeline: Pipeline, templates: _Templates, texts: dict) -> tuple[list, dict]:
    """`{{workflow.failures}}` exists only when something failed, so success and failure are two steps; the start
    is the `running` hook."""
    slack = pipeline.spec.alerts.slack
    secret = [{"name": "SLACK_WEBHOOK_URL",
               "valueFrom": {"secretKeyRef": {"name": slack.webhook_secret, "key": slack.webhook_key}}},
              {"name": contract.NAMESPACE_ENV, "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}]
    secret += [{"name": contract.settings_env(link), "valueFrom": {"configMapKeyRef": {
                   "name": contract.SETTINGS_CONFIGMAP, "key": key, "optional": True}}}
               for link, key in contract.SETTINGS_KEYS.items()]
    config = {"pipeline": pipeline.name, "kind": "notify", "slack": as_data(slack),
              "links": as_data(pipeline.spec.alerts.links) or {}, "timeout": NOTIFY_TIMEOUT,
              "aws": pipeline.aws}
    body = job_template(pipeline, "notify", ["status", "failures", "duration"], (),
                        pipeline.default_resources, retries=0, timeout=NOTIFY_TIMEOUT, extra_env=secret,
                        optional={"failures": ""}, config_key=NOTIFY_KEY)
    notify = templates.add("notify", body)
    texts[NOTIFY_KEY] = pods.COMPACT_JSON.encode(config)
    common = [{"name": "status", "value": "{{workflow.status}}"},
              {"name": "duration", "value": "{{workflow.duration}}"}]
    steps: list = []
    hooks = {"running": {"template": notify, "expression": STARTED, "arguments": {"parameters": list(common)}}} \
        if "start" in slack.on else {}
    if "failure" in slack.on:
        steps.append({"name": "notify-failure", "template": notify, "when": "{{workflow.status}} != Succeeded",
                      "arguments": {"parameters": common + [{"name": "failures", "value": "{{workflow.failures}}"}]}})
    if "success" in slack.on:
        steps.append({"name": "notify-success", "template": notify, "when": "{{workflow.status}} == Succeeded",
                      "arguments": {"parameters": list(common)}})
    return steps, hooks


def _cleanup_step(pipeline: Pipeline, stoppable: list, templates: _Templates, texts: dict) -> dict:
    """Per AWS step only what finds its job (names follow from pipeline, step and run; Athena's marker from
    its output), so the handler's argument stays small on large pipelines."""
    config = {"pipeline": pipeline.name, "kind": "cleanup", "timeout": CLEANUP_TIMEOUT, "aws": pipeline.aws,
              "steps": [{"step": step.name, "kind": step.kind.name,
                         "spec": {k: v for k, v in step.job_config().items() if k in step.kind.stop_keys}}
                        for step in stoppable]}
    body = job_template(pipeline, "cleanup", [], (), pipeline.default_resources, retries=2,
                        timeout=CLEANUP_TIMEOUT, config_key=CLEANUP_KEY)
    texts[CLEANUP_KEY] = pods.COMPACT_JSON.encode(config)
    return {"name": "stop-aws-jobs", "template": templates.add("cleanup", body),
            "when": "{{workflow.status}} != Succeeded"}


def metadata(pipeline: Pipeline, git_commit: str | None, name: str | None = None) -> dict:
    meta: dict[str, Any] = {"name": name or pipeline.name}
    if pipeline.doc.metadata.namespace:
        meta["namespace"] = pipeline.doc.metadata.namespace
    meta["labels"] = pods.labels(pipeline)
    meta["annotations"] = pods.object_annotations(pipeline, git_commit)
    return meta


def workflow_template(pipeline: Pipeline, git_commit: str | None = None,
                      git_branch: str | None = None) -> tuple[dict, list]:
    """(the WorkflowTemplate, the ConfigMaps of its steps' own configs)."""
    templates = _Templates()
    tasks: list = []
    texts: dict = {}
    for step in pipeline.steps:
        tasks += _step_tasks(pipeline, step, templates, texts)
    spec: dict[str, Any] = {"entrypoint": "main", "serviceAccountName": pipeline.spec.service_account}
    if pipeline.spec.params:
        spec["arguments"] = {"parameters": [{"name": k, "value": v} for k, v in sorted(pipeline.spec.params.items())]}
    lineage = any(_told_lineage(pipeline, step) for step in pipeline.steps)
    spec["podMetadata"] = {"labels": pods.pod_labels(pipeline), "annotations": pods.pod_annotations(
        pipeline, git_commit if lineage else None, lineage, git_branch if lineage else None)}
    handler, hooks = _exit_handler(pipeline, templates, texts)
    maps = configs.configmaps(pipeline, texts)
    # each run is labelled with its configs' hash: Argo copies workflowMetadata's labels onto the Workflow
    # (workflow/controller/operator.go updateWorkflowMetadata), and a deploy keeps the ConfigMaps a run still has
    spec["workflowMetadata"] = {"labels": {**pods.labels(pipeline), contract.STEPS_LABEL: configs.hash_of(maps[0])}}
    spec["securityContext"] = pods.POD_SECURITY
    # every pod of the run: Argo applies the workflow's podSpecPatch, then the template's (argo-workflows
    # workflow/controller/workflowpod.go processPodSpecPatch), so sized steps keep theirs
    spec["podSpecPatch"] = pods.GRACE_PATCH
    spec["volumes"] = [pods.TMP_VOLUME, configs.volume(maps)]
    spec["ttlStrategy"] = {"secondsAfterCompletion": WEEK}
    if handler:
        spec["onExit"] = "exit-handler"
    if hooks:
        spec["hooks"] = hooks
    spec["templates"] = [{"name": "main", "dag": {"tasks": tasks}}] + templates.templates + handler
    return {"apiVersion": ARGO_API, "kind": "WorkflowTemplate", "metadata": metadata(pipeline, git_commit),
            "spec": spec}, maps


def cron_workflow(pipeline: Pipeline, git_commit: str | None = None) -> dict:
    schedule = pipeline.spec.schedule
    spec = {
        "schedules": [schedule.cron],
        "timezone": schedule.timezone,
        "concurrencyPolicy": schedule.concurrency,
        "startingDeadlineSeconds": schedule.starting_deadline,
        "successfulJobsHistoryLimit": schedule.history,
        "failedJobsHistoryLimit": schedule.history,
    }
    if schedule.suspend:
        spec["suspend"] = True
    spec["workflowMetadata"] = {"labels": pods.labels(pipeline)}
    spec["workflowSpec"] = {"workflowTemplateRef": {"name": pipeline.name}}
    return {"apiVersion": ARGO_API, "kind": "CronWorkflow", "metadata": metadata(pipeline, git_commit),
            "spec": spec}

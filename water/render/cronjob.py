"""Kubernetes CronJobs: a plain one running the pipeline's single container step
(`runner: cronjob`), or one that submits the WorkflowTemplate (`schedule.via: cronjob`)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from water import contract
from water.render import pods
from water.render.argo import metadata, step_config

if TYPE_CHECKING:
    from water.pipeline import Pipeline


ARGO_CLI = "quay.io/argoproj/argocli:v4.1.2"
SUBMITTER_ACCOUNT = "water-submitter"
WEEK = 7 * 24 * 3600


def _cronjob(pipeline: Pipeline, git_commit: str | None, job_spec: dict, skip_checks: dict | None = None) -> dict:
    schedule = pipeline.spec.schedule
    spec = {
        "schedule": schedule.cron,
        "timeZone": schedule.timezone,
        "concurrencyPolicy": schedule.concurrency,
        "startingDeadlineSeconds": schedule.starting_deadline,
        "successfulJobsHistoryLimit": schedule.history,
        "failedJobsHistoryLimit": schedule.history,
        "suspend": schedule.suspend,
        "jobTemplate": {"metadata": {"labels": pods.labels(pipeline)}, "spec": job_spec},
    }
    meta = metadata(pipeline, git_commit)
    for i, (check, reason) in enumerate(sorted((skip_checks or {}).items()), 1):
        meta["annotations"][f"checkov.io/skip{i}"] = f"{check}={reason}"
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta, "spec": spec}


def _job_spec(pipeline: Pipeline, *, backoff: int, deadline: int, pod: dict) -> dict:
    return {
        "backoffLimit": backoff,
        "activeDeadlineSeconds": deadline,
        "ttlSecondsAfterFinished": WEEK,
        # An evicted or preempted pod is not the job's fault: it does not use up a retry.
        "podFailurePolicy": {"rules": [
            {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In",
                                                 "values": [contract.BAD_INPUT]}},
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
        ]},
        "template": {
            "metadata": {"labels": pods.pod_labels(pipeline), "annotations": pods.pod_annotations(pipeline)},
            "spec": {"restartPolicy": "Never", "securityContext": pods.POD_SECURITY, **pod,
                     "volumes": [pods.TMP_VOLUME]},
        },
    }


def _container(image: str, args: list, env: list, resources: dict, command: list | None = None) -> dict:
    container: dict[str, Any] = {"name": "main", "image": image, "imagePullPolicy": pods.pull_policy(image)}
    if command:
        container["command"] = command
    container.update({"args": args, "env": env, "resources": pods.resources(resources),
                      "securityContext": pods.CONTAINER_SECURITY,
                      "terminationMessagePolicy": pods.TERMINATION_MESSAGE_POLICY, "volumeMounts": [pods.TMP_MOUNT]})
    return container


def plain_cronjob(pipeline: Pipeline, git_commit: str | None = None) -> dict:
    """`runner: cronjob`: the one container step as a CronJob; no Argo, no API access for the pod."""
    step = pipeline.steps[0]
    env = [{"name": contract.RUN_ID_ENV, "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['job-name']"}}}]
    env += [{"name": contract.PARAM_ENV_PREFIX + k, "value": v} for k, v in sorted(pipeline.spec.params.items())]
    env += pods.datadog_env(pipeline) + pods.secret_env(step)
    args = [step.kind.name, contract.ARG_CONFIG, pods.encode(step_config(pipeline, step))]
    pod = {
        "serviceAccountName": pipeline.spec.service_account,
        "automountServiceAccountToken": False,
        "activeDeadlineSeconds": step.timeout,
        "terminationGracePeriodSeconds": contract.GRACE_PERIOD,
        "containers": [_container(pipeline.spec.image, args, env, step.resources, ["water-job"])],
    }
    deadline = step.timeout * (step.retries + 1) + 60 * step.retries
    return _cronjob(pipeline, git_commit, _job_spec(pipeline, backoff=step.retries, deadline=deadline, pod=pod))


def submitter_cronjob(pipeline: Pipeline, git_commit: str | None = None) -> dict:
    """`schedule.via: cronjob`: a CronJob whose Job submits the WorkflowTemplate and waits for the run, so the
    Job fails when the run fails (kubewatch sees it) and concurrencyPolicy applies to runs. Never retried:
    a retry would run the whole pipeline again; the steps retry themselves."""
    name = pipeline.name
    args = ["submit", "--from", f"workflowtemplate/{name}", "--generate-name", f"{name}-",
            "--namespace", "$(POD_NAMESPACE)", "--labels", f"{pods.PIPELINE_LABEL}={name}", "--wait"]
    env = [{"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}]
    pod = {
        "serviceAccountName": SUBMITTER_ACCOUNT,
        "automountServiceAccountToken": True,  # argo submit talks to the API server
        "containers": [_container(ARGO_CLI, args, env, {"cpu": "100m", "memory": "128Mi"})],
    }
    deadline = sum(s.timeout * (s.retries + 1) for s in pipeline.steps)
    return _cronjob(pipeline, git_commit, _job_spec(pipeline, backoff=0, deadline=deadline, pod=pod),
                    {"CKV_K8S_38": "argo submit needs the API (RBAC: water-submitter)"})

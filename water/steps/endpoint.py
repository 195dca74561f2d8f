"""`endpoint`: a SageMaker real-time endpoint serving a registered model version (or a train step's model). The
model and endpoint config are named by their content, so a run that serves what already serves changes nothing,
and an update is one UpdateEndpoint with SageMaker's deployment guardrails (all at once, canary or linear traffic
shifting, a bake time, auto-rollback on CloudWatch alarms). Restart-safe: an update in progress toward this
config is waited for, not repeated; one SageMaker rolled back is the step's failure, with SageMaker's reason.
`water promote` serves a version through the same path. Locally the endpoint is `.water/endpoints/<name>.json`,
which `water serve --local` answers from."""
from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from water.errors import JobFailed, StepFailed
from water.spec.fields import List, Model, SpecModel, Union, as_data, field, mark_of
from water.spec.model import IAM_ROLE, Instance
from water.spec.types import PLAIN, SAGEMAKER_IMAGE, TEXT, Duration, Int, Str
from water.steps.base import ENDPOINT, VERSION, Kind, Lasting, Prepared, image_of_model, trained_entry

if TYPE_CHECKING:
    from water.local.context import StepRun
    from water.runtime.job import Job
    from water.spec.fields import Ctx

ENDPOINT_NAME = Str(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", "an endpoint name (letters, digits, '-'; at most 63)")
SHARE = Str(r"^([1-9]|[1-9][0-9]|100)%$", "a share of the capacity such as 10%")
STEP_SIZE = Union((str, SHARE), (int, Int(1)), what="a share of the capacity (10%) or a number of instances (1)")
MODEL_PACKAGE = re.compile(r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/([^/]+)/(\d+)$")
VARIANT = "AllTraffic"  # one variant, named as SageMaker's SDK names it: guardrails need the same name on update
BUSY = ("Creating", "Updating", "SystemUpdating", "RollingBack")  # SageMaker is at work: wait, ask nothing


class Serverless(SpecModel):
    """A serverless endpoint: nothing runs, and nothing is paid, while no request comes."""

    memory: int = field(Int(1024, 6144), "Memory in MB (1024-6144, in steps of 1024).", required=True)
    concurrency: int = field(Int(1, 200), "The most requests served at once.", default=5)


class Deployment(SpecModel):
    """How an update shifts traffic from the serving fleet to the new one (SageMaker's blue/green guardrails);
    without canary or linear, all at once."""

    canary: Any = field(STEP_SIZE, "The share (10%) or instances (1) that get traffic first, for `bake`.")
    linear: Any = field(STEP_SIZE, "The share or instances that get traffic in each step, `bake` apart.")
    bake: int = field(Duration(), "How long each shift is watched before the next (at most 1h; default: not at "
                      "all).")
    rollback_on: list = field(List(PLAIN, min_items=1), "CloudWatch alarms that roll the update back when they "
                              "fire while it is watched.", key="rollbackOn")


class EndpointSpec(SpecModel):
    """Serve a model on a SageMaker real-time endpoint."""

    name: str = field(ENDPOINT_NAME, "The endpoint (created if missing, else updated).", required=True)
    model: str = field(TEXT, "What it serves: a registered version (`{{steps.REGISTER.output}}`, or its "
                       "model-package ARN), or a model artifact (`{{steps.TRAIN.model}}`, an s3:// URI).",
                       required=True)
    image: str = field(SAGEMAKER_IMAGE, "Inference image of a model artifact (default: the image of the train step "
                       "named in `model`); a registered version has its own.")
    instance: Instance = field(Model(Instance), "Instances that serve (or `serverless`).")
    serverless: Serverless = field(Model(Serverless), "Serve without instances (or `instance`).")
    deployment: Deployment = field(Model(Deployment), "How an update shifts traffic (default: all at once).")
    role: str = field(IAM_ROLE, "Execution role of the model (default: spec.aws.sagemakerRole).")


class Endpoint(Kind):
    name = "endpoint"
    spec = EndpointSpec
    outputs = {"output": ENDPOINT}
    image_scope = "inference"
    lineage = True  # what it creates is tagged with the commit behind it

    def prepare(self, config: Any, project_dir: str, path: str, ctx: Ctx) -> Prepared:
        if (config.instance is None) == (config.serverless is None):
            ctx.problem(mark_of(config), path, "an endpoint serves on exactly one of: instance, serverless")
        deployment = config.deployment
        if deployment is not None:
            if deployment.canary is not None and deployment.linear is not None:
                ctx.problem(mark_of(deployment), f"{path}.deployment", "a deployment shifts traffic by canary or by "
                            "linear steps, not both")
            if (deployment.bake or 0) > 3600:
                ctx.problem(mark_of(deployment, "bake"), f"{path}.deployment.bake", "SageMaker watches each shift "
                            "for at most 1h")
        if config.serverless is not None and config.serverless.memory % 1024:
            ctx.problem(mark_of(config.serverless, "memory"), f"{path}.serverless.memory", "a serverless "
                        "endpoint's memory is 1024, 2048, 3072, 4096, 5120 or 6144 MB")
        return Prepared()

    def take_from(self, config: Any, by_name: dict, path: str, ctx: Ctx) -> None:
        if not _serves_a_version(config.model, by_name):
            image_of_model(config, by_name, path, ctx)

    def inputs(self, spec: dict, resolve: Any) -> list:
        return [resolve(spec["model"])]  # a version's ARN is no S3 data: lineage keeps only s3:// ones

    def run_local(self, sr: StepRun) -> dict:
        """The endpoint's record under `.water/endpoints/`: what `water serve --local` answers from. A registered
        version also becomes its group's live one in the local registry."""
        from water.steps import registry

        spec = as_data(sr.step.config)
        model = sr.resolve(spec["model"])
        by = f"pipeline {sr.run.pipeline.name} run {sr.run.run_id}"
        version = MODEL_PACKAGE.match(model)
        if version:
            registry.promote_local(sr.project_dir, version[1], int(version[2]), by)
            serves = {"group": version[1], "version": int(version[2])}
        else:
            code = trained_entry(sr, spec["model"])
            if not code:
                raise StepFailed("locally, an endpoint serves a registered version or the model of a train step "
                                 "with an entry script (its model_fn & co. answer the requests)")
            serves = {"modelPath": os.path.relpath(sr.for_process(spec["model"]), sr.project_dir), "code": code}
        record = {"name": spec["name"], "model": model, **serves, "by": by, "since": registry.now()}
        folder = os.path.join(sr.project_dir, ".water", "endpoints")
        os.makedirs(folder, exist_ok=True)
        registry.write_json(os.path.join(folder, f"{spec['name']}.json"), record)
        sr.notes.append(f"endpoint {spec['name']} serves {_what(model)}: water serve --local "
                        f"{os.path.relpath(sr.project_dir)} --endpoint {spec['name']}")
        return {"output": LOCAL_ARN.format(name=spec["name"])}

    def run_cluster(self, job: Job) -> dict:
        from water.runtime import aws, poll
        from water.steps.train import execution_role, image_uri

        spec = job.spec
        model = job.resolve(spec["model"])
        container = {"ModelPackageName": model} if MODEL_PACKAGE.match(model) else \
            {"Image": image_uri(spec["image"]), "ModelDataUrl": model}
        target = Target(spec["name"], container, execution_role(job), _variant(job),
                        deployment_config(spec.get("deployment")), job.tags())
        job.attached(f"sagemaker endpoint {spec['name']}", None)  # SageMaker cannot stop an update
        served = serve(target, job.client("sagemaker"), lambda check: job.wait(
            check, interval=poll.job_interval, transient=aws.transient), lambda line: print(line, flush=True))
        return {"output": served["EndpointArn"]}

    def lasting(self, spec: dict, pipeline: str, client: Callable[[str], Any]) -> list:
        """The endpoint, if it is there and this pipeline made it (its tag says so): an endpoint made otherwise
        is never water's to delete. Its models and configs cost nothing and stay."""
        from water.steps.train import describe_or_none

        sagemaker = client("sagemaker")
        found = describe_or_none(sagemaker.describe_endpoint, EndpointName=spec["name"])
        tags = {t["Key"]: t["Value"] for t in sagemaker.list_tags(ResourceArn=found["EndpointArn"]).get(
            "Tags", [])} if found else {}
        if tags.get("water/pipeline") != pipeline:
            return []
        return [Lasting(f"SageMaker endpoint {spec['name']}", lambda: sagemaker.delete_endpoint(
            EndpointName=spec["name"]), asks="It serves, and is paid for, until deleted")]

    def permissions(self, step: Any, scope: Any) -> list:
        """Its models and endpoint configs (named `<endpoint>-<digest>`), the endpoint, all tagged when made,
        and the execution role. Deleting is `water delete`'s, with the user's own credentials."""
        from water import permissions as iam

        config, name = step.config, iam.sid(step.name)
        endpoint = config.name.lower()
        return [iam.statement(f"{name}Endpoint", [
                    "sagemaker:CreateModel", "sagemaker:DescribeModel", "sagemaker:CreateEndpointConfig",
                    "sagemaker:DescribeEndpointConfig", "sagemaker:CreateEndpoint", "sagemaker:DescribeEndpoint",
                    "sagemaker:UpdateEndpoint", "sagemaker:AddTags"],
                    [scope.arn("sagemaker", f"model/{endpoint[:46]}-*"),
                     scope.arn("sagemaker", f"endpoint-config/{endpoint[:46]}-*"),
                     scope.arn("sagemaker", f"endpoint/{endpoint}")]),
                *iam.pass_role(scope, f"{name}Role", config.role)]


LOCAL_ARN = "arn:aws:sagemaker:local:000000000000:endpoint/{name}"  # SageMaker's shape


def _serves_a_version(model: str, by_name: dict) -> bool:
    """Whether `model` is a registered version (a register step's output, or a model-package ARN): it brings its
    own image."""
    from water import expressions

    if MODEL_PACKAGE.match(model or ""):
        return True
    try:
        refs = expressions.refs(model)
    except expressions.ExpressionError:
        return True  # the text checks said what is wrong with it, at its line
    return any(r.root == "steps" and r.name in by_name and by_name[r.name].kind.outputs.get(r.attr) == VERSION
               for r in refs)


def _what(model: str) -> str:
    found = MODEL_PACKAGE.match(model)
    return f"version {found[2]} of {found[1]}" if found else model


def _variant(job: Job) -> dict:
    """The one production variant, without its model: instances or serverless."""
    from water.steps.train import instances

    spec = job.spec
    if spec.get("serverless"):
        return {"VariantName": VARIANT, "ServerlessConfig": {"MemorySizeInMB": spec["serverless"]["memory"],
                                                             "MaxConcurrency": spec["serverless"]["concurrency"]}}
    instance_type, count = instances(job)
    return {"VariantName": VARIANT, "InstanceType": instance_type, "InitialInstanceCount": count,
            "InitialVariantWeight": 1.0}


def deployment_config(deployment: dict | None) -> dict | None:
    """SageMaker's DeploymentConfig of a spec's `deployment` (None: SageMaker's default, all at once)."""
    if not deployment:
        return None
    routing: dict = {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": deployment.get("bake") or 0}
    for key, kind, size_key in (("canary", "CANARY", "CanarySize"), ("linear", "LINEAR", "LinearStepSize")):
        if deployment.get(key) is not None:
            routing.update(Type=kind, **{size_key: _capacity(deployment[key])})
    config: dict = {"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": routing}}
    if deployment.get("rollbackOn"):
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": a} for a in deployment["rollbackOn"]]}
    return config


def _capacity(size: Any) -> dict:
    if isinstance(size, str):
        return {"Type": "CAPACITY_PERCENT", "Value": int(size.rstrip("%"))}
    return {"Type": "INSTANCE_COUNT", "Value": size}


@dataclass
class Target:
    """What an endpoint is to serve, and how the update gets there."""

    endpoint: str
    container: dict  # the model's PrimaryContainer: a ModelPackageName, or an Image and ModelDataUrl
    role: str
    variant: dict  # the production variant without its ModelName
    deployment: dict | None  # UpdateEndpoint's DeploymentConfig
    tags: list

    @property
    def name(self) -> str:
        """The model's and the endpoint config's name: the endpoint's and a digest of what it serves, how, and
        the deployment (SageMaker's names are at most 63 characters)."""
        content = json.dumps([self.container, self.role, self.variant, self.deployment], sort_keys=True)
        return f"{self.endpoint[:46]}-{hashlib.sha256(content.encode()).hexdigest()[:16]}"


def serve(target: Target, sagemaker: Any, wait: Callable[[Callable[[], Any]], Any],
          say: Callable[..., object]) -> dict:
    """Make the endpoint serve `target`: its model and config (made once: the names are the content), then the
    endpoint created, or updated unless it already serves them or an update toward them is under way; waited for
    until InService. Returns DescribeEndpoint's answer. An update SageMaker rolled back (the endpoint InService
    with another config after ours was asked for), or a Failed endpoint, fails with SageMaker's reason."""
    from water.runtime.aws import made
    from water.steps.train import describe_or_none

    name = target.name
    made(lambda: sagemaker.create_model(ModelName=name, PrimaryContainer=target.container,
                                         ExecutionRoleArn=target.role, Tags=target.tags))
    made(lambda: sagemaker.create_endpoint_config(
        EndpointConfigName=name, ProductionVariants=[{**target.variant, "ModelName": name}], Tags=target.tags))
    asked = [False]

    def settled() -> dict | None:
        found = describe_or_none(sagemaker.describe_endpoint, EndpointName=target.endpoint)
        if found is None:
            made(lambda: sagemaker.create_endpoint(EndpointName=target.endpoint, EndpointConfigName=name,
                                                    Tags=target.tags))
            say(f"creating endpoint {target.endpoint} with config {name}")
            asked[0] = True
            return None
        status, serving = found["EndpointStatus"], found.get("EndpointConfigName")
        if status in BUSY:
            return None
        if status == "InService" and serving == name:
            return found
        if status != "InService":
            raise JobFailed(f"endpoint {target.endpoint} is {status}: {found.get('FailureReason', 'no reason given')}")
        if asked[0]:
            raise JobFailed(f"SageMaker rolled the update of endpoint {target.endpoint} back to {serving}: "
                            f"{found.get('FailureReason') or 'an alarm fired or the new fleet failed'}")
        update: dict = {"EndpointName": target.endpoint, "EndpointConfigName": name}
        if target.deployment:
            update["DeploymentConfig"] = target.deployment
        sagemaker.update_endpoint(**update)
        say(f"updating endpoint {target.endpoint}: {serving} → {name}")
        asked[0] = True
        return None

    first = describe_or_none(sagemaker.describe_endpoint, EndpointName=target.endpoint)
    pending = ((first or {}).get("PendingDeploymentSummary") or {}).get("EndpointConfigName")
    if first and first["EndpointStatus"] in BUSY and pending == name:
        say(f"an update of endpoint {target.endpoint} to {name} is under way (an earlier attempt asked): waiting")
        asked[0] = True
    done = wait(settled)
    say(f"endpoint {target.endpoint} serves {name}")
    return done


KIND = Endpoint()


# --- what serves, and promotion: `water models`, `water promote` ------------------------------------------------

def serving(sagemaker: Any, group: str) -> dict:
    """{version: [endpoints]} of the group's versions that endpoints in the region serve, read from SageMaker:
    every endpoint's config, and that config's model (3 calls per endpoint: SageMaker has no lookup by model)."""
    served: dict = {}
    for page in sagemaker.get_paginator("list_endpoints").paginate():
        for summary in page["Endpoints"]:
            version = _served_version(sagemaker, summary["EndpointName"])
            if version and version[0] == group:
                served.setdefault(version[1], []).append(summary["EndpointName"])
    return served


def _serving_now(sagemaker: Any, endpoint: str) -> tuple[dict, dict | None, dict | None]:
    """(DescribeEndpoint's answer, its config's first variant, that variant's model) of an endpoint; None for
    what it does not have yet (an endpoint being created has no config)."""
    described = sagemaker.describe_endpoint(EndpointName=endpoint)
    config = described.get("EndpointConfigName")
    variants = sagemaker.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"] if config else []
    if not variants:
        return described, None, None
    return described, variants[0], sagemaker.describe_model(ModelName=variants[0]["ModelName"])


def _package_of(model: dict | None) -> tuple[str, int] | None:
    """(group, version) of the model package a SageMaker model runs; None for any other model."""
    found = MODEL_PACKAGE.match(((model or {}).get("PrimaryContainer") or {}).get("ModelPackageName", ""))
    return (found[1], int(found[2])) if found else None


def _served_version(sagemaker: Any, endpoint: str) -> tuple[str, int] | None:
    """(group, version) of the model package the endpoint serves; None for an endpoint serving something else."""
    return _package_of(_serving_now(sagemaker, endpoint)[2])


def live_metrics(sagemaker: Any, group: str) -> tuple | None:
    """(version, {metric: value}) of the group's version that serves now — the newest one an endpoint serves —
    or None when none does: what `{{models.GROUP.live.metrics.NAME}}` reads."""
    served = serving(sagemaker, group)
    if not served:
        return None
    version = max(served)
    arn = next(r["arn"] for r in _packages(sagemaker, group) if r["version"] == version)
    metadata = sagemaker.describe_model_package(ModelPackageName=arn).get("CustomerMetadataProperties") or {}
    return version, {k.removeprefix("metric/"): v for k, v in metadata.items() if k.startswith("metric/")}


def versions_served(sagemaker: Any, group: str) -> list:
    """The group's versions as `water models` shows them, with the endpoints that serve each."""
    from water.steps import registry

    served = serving(sagemaker, group)
    return [{**row, "live": row["version"] in served, "serves": ", ".join(sorted(served.get(row["version"], [])))}
            for row in registry.versions(sagemaker, group)]


@dataclass
class Promotion:
    """Version `version` of `group` to serve on `endpoint`, which serves `was` (a version number, or None) now."""

    group: str
    version: int
    arn: str
    endpoint: str
    was: int | None
    target: Target

    def line(self) -> str:
        was = f"version {self.was}" if self.was else "a model outside the group"
        return f"endpoint {self.endpoint}: {was} → version {self.version} ({self.target.name})"


def plan_promotion(sagemaker: Any, group: str, version: int, endpoint: str | None) -> list:
    """What promoting version N does: one Promotion per endpoint (the one named, else every endpoint serving a
    version of the group), each keeping its instances, role and last deployment guardrails."""
    from water.errors import WaterError

    arn = next((r["arn"] for r in _packages(sagemaker, group) if r["version"] == version), None)
    if arn is None:
        raise WaterError(f"model group '{group}' has no version {version}")
    endpoints = [endpoint] if endpoint else sorted(e for es in serving(sagemaker, group).values() for e in es)
    if not endpoints:
        raise WaterError(f"no endpoint serves a version of model group '{group}': name one with --endpoint")
    return [_promotion(sagemaker, group, version, arn, name) for name in endpoints]


def _packages(sagemaker: Any, group: str) -> list:
    return [{"arn": s["ModelPackageArn"], "version": s.get("ModelPackageVersion")}
            for page in sagemaker.get_paginator("list_model_packages").paginate(ModelPackageGroupName=group)
            for s in page["ModelPackageSummaryList"]]


def _promotion(sagemaker: Any, group: str, version: int, arn: str, endpoint: str) -> Promotion:
    from water.errors import WaterError

    described, variant, model = _serving_now(sagemaker, endpoint)
    if variant is None or model is None:
        raise WaterError(f"endpoint {endpoint} serves no model yet ({described['EndpointStatus']}): promote once "
                         "it does")
    was = _package_of(model)
    kept = {k: v for k, v in variant.items() if k in ("VariantName", "InstanceType", "InitialInstanceCount",
                                                        "InitialVariantWeight", "ServerlessConfig")}
    tags = [t for t in sagemaker.list_tags(ResourceArn=described["EndpointArn"]).get("Tags", [])
            if t["Key"] in ("water/pipeline", "water/step")]
    target = Target(endpoint, {"ModelPackageName": arn}, model["ExecutionRoleArn"], kept,
                    described.get("LastDeploymentConfig") or None, tags)
    return Promotion(group, version, arn, endpoint, was[1] if was and was[0] == group else None, target)


METADATA_TEXT = re.compile(r"[^\w\s.:/=+@-]")  # what SageMaker's metadata values may not hold (botocore's pattern)


def promote(sagemaker: Any, plan: list, by: str, at: str, wait: Callable[[Callable[[], Any]], Any],
            say: Callable[[str], object]) -> None:
    """Approve the version, record who promoted it, when, where and from what (its metadata, which `water models`
    shows), then serve it on each endpoint of the plan."""
    from water.steps import registry

    first = plan[0]
    metadata = sagemaker.describe_model_package(ModelPackageName=first.arn).get("CustomerMetadataProperties") or {}
    record = f"{at} by {by} on {' and '.join(p.endpoint for p in plan)}" + (
        f" from version {first.was}" if first.was else "")
    sagemaker.update_model_package(ModelPackageArn=first.arn, ModelApprovalStatus="Approved",
                                   ApprovalDescription=f"promoted {record}"[:1024],
                                   CustomerMetadataProperties={**metadata, registry.PROMOTED: METADATA_TEXT.sub(
                                       "-", record)[:256]})
    for promotion in plan:
        serve(promotion.target, sagemaker, wait, say)



# --- locally: .water/endpoints/<name>.json ----------------------------------------------------------------------

def _local_endpoints(project_dir: str) -> dict:
    """{name: record} of the project's local endpoints."""
    folder = os.path.join(project_dir, ".water", "endpoints")
    names = sorted(n for n in os.listdir(folder) if n.endswith(".json")) if os.path.isdir(folder) else []
    found = {}
    for name in names:
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            found[name.removesuffix(".json")] = json.load(f)
    return found


def local_versions_served(project_dir: str, group: str | None = None) -> list:
    """The local registry's versions as `water models --local` shows them, with the local endpoints serving each."""
    from water.steps import registry

    served: dict = {}
    for name, record in _local_endpoints(project_dir).items():
        served.setdefault((record.get("group"), record.get("version")), []).append(name)
    return [{**row, "serves": ", ".join(served.get((row["group"], row["version"]), []))}
            for row in registry.local_versions(project_dir, group)]


def promote_local(project_dir: str, group: str | None, version: int, by: str, endpoint: str | None) -> dict:
    """registry.promote_local, and the local endpoints serving the group (or the one named) then serve it."""
    from water.errors import WaterError
    from water.steps import registry

    known = _local_endpoints(project_dir)
    if endpoint and endpoint not in known:
        raise WaterError(f"no local endpoint '{endpoint}' under {os.path.join(project_dir, '.water', 'endpoints')}")
    done = registry.promote_local(project_dir, group, version, by)
    moved = [endpoint] if endpoint else [n for n, r in known.items() if r.get("group") == done["group"]]
    for name in moved:
        record = {k: v for k, v in known[name].items() if k not in ("modelPath", "code")}
        registry.write_json(os.path.join(project_dir, ".water", "endpoints", f"{name}.json"), {
            **record, "group": done["group"], "version": version,
            "model": registry.LOCAL_ARN.format(group=done["group"], version=version), "by": by, "since": done["at"]})
    return {**done, "endpoints": moved}


def local_model(project_dir: str, endpoint: str | None, group: str | None, version: int | None) -> tuple:
    """(what is served, as a line; its inference script; the folder its model is unpacked into): what the local
    endpoint named serves, else registry.local_model's choice."""
    from water.errors import WaterError
    from water.steps import registry

    record = None
    if endpoint:
        record = _local_endpoints(project_dir).get(endpoint)
        if record is None:
            raise WaterError(f"no local endpoint '{endpoint}' under {os.path.join(project_dir, '.water', 'endpoints')}"
                             ": run a pipeline with an endpoint step first")
        if "modelPath" in record:
            folder = os.path.join(project_dir, ".water", "endpoints", "serving", endpoint)
            return (f"endpoint {endpoint}: {record['model']}", os.path.join(project_dir, record["code"]),
                    registry.unpack(os.path.join(project_dir, record["modelPath"]), folder))
        group, version = record["group"], record["version"]
    chosen, script, model_dir = registry.local_model(project_dir, group, version)
    metrics = ", ".join(f"{k} {v}" for k, v in sorted(chosen["metrics"].items())) or "no metrics"
    return (f"{f'endpoint {endpoint}: ' if record else ''}version {chosen['version']} of {chosen['group']} "
            f"({chosen['approval']}, {metrics})", script, model_dir)

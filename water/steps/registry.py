"""`register`: a model becomes a new version of a SageMaker Model Package Group (the group made if missing), with
its inference image, its metrics and the lineage water knows — pipeline, run, step, spec hash, git commit — as
the version's metadata and tags. Restart-safe: before it creates, a step looks for the version its run already
made (by that metadata), so a killed and restarted register makes one version, not two. Locally the registry is
`.water/models/<group>/`, one JSON file per version."""
from __future__ import annotations

import json
import os
import time
from typing import TYPE_CHECKING, Any

from water import contract
from water.errors import JobFailed
from water.spec.fields import Map, SpecModel, as_data, field
from water.spec.types import PLAIN, SAGEMAKER_IMAGE, TEXT, Enum, Str
from water.steps.base import NUMBER, VERSION, Kind, image_of_model, trained_entry
from water.steps.train import METRIC_NAME

if TYPE_CHECKING:
    from water.local.context import StepRun
    from water.runtime.job import Job
    from water.spec.fields import Ctx

GROUP = Str(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", "a model package group name (letters, digits, '-'; at most 63)")
LOCAL_ARN = "arn:aws:sagemaker:local:000000000000:model-package/{group}/{version}"  # SageMaker's shape


class RegisterSpec(SpecModel):
    """Register a model as a new version of a SageMaker Model Package Group."""

    model: str = field(TEXT, "The model artifact: `{{steps.TRAIN.model}}` or an s3:// URI of a model.tar.gz.",
                       required=True)
    group: str = field(GROUP, "The Model Package Group (created if missing).", required=True)
    approval: str = field(Enum("Approved", "PendingManualApproval"), "The version's approval status.",
                          default="PendingManualApproval")
    image: str = field(SAGEMAKER_IMAGE, "Inference image (default: the image of the train step named in `model`).")
    metrics: dict = field(Map(METRIC_NAME, TEXT), "The version's "
                          "metrics: name → a number, usually `{{steps.TRAIN.metrics.NAME}}`.", default={})
    description: str = field(PLAIN, "The version's description.")


class Register(Kind):
    name = "register"
    spec = RegisterSpec
    outputs = {"output": VERSION, "version": NUMBER}
    image_scope = "inference"
    lineage = True  # a version records the spec hash and commit behind it

    def take_from(self, config: Any, by_name: dict, path: str, ctx: Ctx) -> None:
        image_of_model(config, by_name, path, ctx)

    def inputs(self, spec: dict, resolve: Any) -> list:
        return [resolve(spec["model"])]

    def run_local(self, sr: StepRun) -> dict:
        """A version in `.water/models/<group>/`: the next number, or the one this run's step already made."""
        from water import gitinfo

        spec = as_data(sr.step.config)
        folder = os.path.join(sr.project_dir, ".water", "models", spec["group"], "versions")
        os.makedirs(folder, exist_ok=True)
        lineage = _lineage(sr.run.pipeline.name, sr.run.run_id, sr.step.name, sr.run.pipeline.source_hash,
                           gitinfo.commit(sr.project_dir) or "")
        versions = [_read(os.path.join(folder, name)) for name in os.listdir(folder) if name.endswith(".json")]
        mine = [v for v in versions if _same_run(v["lineage"], lineage)]
        if mine:
            sr.notes.append(f"version {mine[0]['version']} of {spec['group']} (registered earlier by this run)")
            return _outputs(LOCAL_ARN.format(group=spec["group"], version=mine[0]["version"]), mine[0]["version"])
        number = 1 + max((v["version"] for v in versions), default=0)
        record = {"version": number, "group": spec["group"], "model": sr.resolve(spec["model"]),
                  "modelPath": os.path.relpath(sr.for_process(spec["model"]), sr.project_dir),
                  "code": trained_entry(sr, spec["model"]),
                  "image": spec.get("image") or "", "approval": spec["approval"],
                  "metrics": _metrics(spec, sr.resolve), "lineage": lineage,
                  "created": now()}
        with open(os.path.join(folder, f"{number}.json"), "x", encoding="utf-8") as f:
            json.dump(record, f, indent=1, sort_keys=True)
        sr.notes.append(f"version {number} of {spec['group']} ({spec['approval']})")
        return _outputs(LOCAL_ARN.format(group=spec["group"], version=number), number)

    def run_cluster(self, job: Job) -> dict:
        """The group (made if missing), then this run's version: found if an earlier attempt made it, else created
        once (botocore's retries off, a ClientToken per attempt, and a lost answer looked for before asking
        again)."""
        from water.steps.train import image_uri

        spec = job.spec
        sagemaker = job.client("sagemaker")
        lineage = _lineage(job.pipeline, job.run_id, job.step, job.env.get(contract.SPEC_HASH_ENV, ""),
                           job.env.get(contract.GIT_COMMIT_ENV, ""))
        _ensure_group(job, sagemaker, spec["group"], lineage)
        found = find_version(sagemaker, spec["group"], lineage)
        if found is None:
            # SageMaker refuses empty values (botocore checks: min length 1): a pod told no commit leaves it out
            metadata = {k: v for k, v in {**lineage, **{f"metric/{k}": v for k, v in _metrics(
                spec, job.resolve).items()}}.items() if v}
            request = {"ModelPackageGroupName": spec["group"], "ModelApprovalStatus": spec["approval"],
                       "ClientToken": job.token(),
                       "InferenceSpecification": {"Containers": [{"Image": image_uri(spec["image"]),
                                                                  "ModelDataUrl": job.resolve(spec["model"])}],
                                                  "SupportedContentTypes": ["text/csv"],
                                                  "SupportedResponseMIMETypes": ["text/csv"]},
                       "CustomerMetadataProperties": metadata,
                       "Tags": [{"Key": k, "Value": v} for k, v in sorted(lineage.items()) if v]}
            if spec.get("description"):
                request["ModelPackageDescription"] = spec["description"]
            once = job.client("sagemaker", retries=False)
            found = job.create(lambda: sagemaker.describe_model_package(
                ModelPackageName=once.create_model_package(**request)["ModelPackageArn"]),
                lambda: find_version(sagemaker, spec["group"], lineage))
        else:
            print(f"version {found['ModelPackageVersion']} was registered by an earlier attempt of this run",
                  flush=True)
        print(f"registered {found['ModelPackageArn']}", flush=True)
        return _outputs(found["ModelPackageArn"], found["ModelPackageVersion"])

    def permissions(self, step: Any, scope: Any) -> list:
        """The group (described, made, tagged) and its versions (listed, described, made, tagged)."""
        from water import permissions as iam

        group, name = step.config.group, iam.sid(step.name)
        return [iam.statement(f"{name}Group", ["sagemaker:DescribeModelPackageGroup",
                                               "sagemaker:CreateModelPackageGroup", "sagemaker:AddTags"],
                              [scope.arn("sagemaker", f"model-package-group/{group.lower()}")]),
                iam.statement(f"{name}Versions", ["sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage",
                                                  "sagemaker:AddTags"],
                              [scope.arn("sagemaker", f"model-package/{group.lower()}/*")]),
                iam.statement(f"{name}List", ["sagemaker:ListModelPackages"], ["*"])]


STAMP = "%Y-%m-%dT%H:%M:%SZ"  # the times the registry shows, in UTC


def now() -> str:
    return time.strftime(STAMP, time.gmtime())


def _outputs(arn: str, version: int) -> dict:
    return {"output": arn, "version": str(version)}


def _lineage(pipeline: str, run_id: str, step: str, spec_hash: str, commit: str) -> dict:
    return {"water/pipeline": pipeline, "water/run": run_id, "water/step": step, "water/spec-hash": spec_hash,
            "water/git-commit": commit}


def _same_run(a: dict, b: dict) -> bool:
    return all(a.get(k) == b[k] for k in ("water/pipeline", "water/run", "water/step"))


def _metrics(spec: dict, resolve: Any) -> dict:
    """The version's metrics as numbers written plainly; one that is not a number is the step's failure."""
    from water.conditions import plain_number

    found = {}
    for name, text in sorted(spec.get("metrics", {}).items()):
        value = resolve(text)
        try:
            found[name] = plain_number(float(value))
        except ValueError:
            raise JobFailed(f"metric {name} is {value!r}, not a number") from None
    return found


def _read(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _ensure_group(job: Job, sagemaker: Any, group: str, lineage: dict) -> None:
    """The Model Package Group, created if missing; one a racing run just made is as good."""
    from water.runtime import aws

    try:
        sagemaker.describe_model_package_group(ModelPackageGroupName=group)
        return
    except Exception as exc:
        if not aws.not_found(exc):
            raise
    if aws.made(lambda: sagemaker.create_model_package_group(
            ModelPackageGroupName=group, ModelPackageGroupDescription=f"models of water pipeline {job.pipeline}",
            Tags=[{"Key": "water/pipeline", "Value": lineage["water/pipeline"]}])):
        print(f"created model package group {group}", flush=True)


def find_version(sagemaker: Any, group: str, lineage: dict) -> dict | None:
    """The version of `group` this run's step made (its metadata says so), newest first; None if none."""
    pages = sagemaker.get_paginator("list_model_packages").paginate(
        ModelPackageGroupName=group, SortBy="CreationTime", SortOrder="Descending")
    for page in pages:
        for summary in page["ModelPackageSummaryList"]:
            described = sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
            if _same_run(described.get("CustomerMetadataProperties") or {}, lineage):
                return described
    return None


PROMOTED = "water/promoted"  # a version's metadata: its last promotion (when, by whom, where, from what)


def _row(group: str, version: int, created: str, approval: str, metadata: dict, metrics: dict,
         live: bool = False) -> dict:
    """One version as `water models` shows it."""
    return {"group": group, "version": version, "live": live, "created": created, "approval": approval,
            "metrics": ", ".join(f"{k} {v}" for k, v in sorted(metrics.items())),
            "pipeline": metadata.get("water/pipeline", ""), "run": metadata.get("water/run", ""),
            "commit": metadata.get("water/git-commit", "")[:12],
            "promoted": metadata.get(PROMOTED, "")}


def local_versions(project_dir: str, group: str | None = None) -> list:
    """The versions of the local registry (`.water/models/`), of one group or all, oldest first."""
    root = os.path.join(project_dir, ".water", "models")
    groups = [group] if group else sorted(os.listdir(root)) if os.path.isdir(root) else []
    rows = []
    for name in groups:
        folder = os.path.join(root, name, "versions")
        found = [_read(os.path.join(folder, f)) for f in os.listdir(folder)] if os.path.isdir(folder) else []
        live, promoted = _live(os.path.join(root, name)), _promotions(os.path.join(root, name))
        rows += [_row(name, v["version"], v["created"], v["approval"],
                      {**v["lineage"], PROMOTED: promoted.get(v["version"], "")}, v["metrics"], v["version"] == live)
                 for v in sorted(found, key=lambda v: v["version"])]
    return rows


def _promotions(group_dir: str) -> dict:
    """{version: its last promotion, as a line} of the local registry's history."""
    try:
        with open(os.path.join(group_dir, PROMOTIONS), encoding="utf-8") as f:
            history = [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return {}
    return {p["to"]: f"{p['at']} by {p['by']}" + (f" from version {p['from']}" if p["from"] else "")
            for p in history}


LIVE, PROMOTIONS = "live.json", "promotions.jsonl"  # the local registry's pointer to what serves, and its history


def _live(group_dir: str) -> int | None:
    """The version the local registry serves (what `water promote --local` made live), if any."""
    try:
        return _read(os.path.join(group_dir, LIVE))["version"]
    except FileNotFoundError:
        return None


def local_live(project_dir: str, group: str) -> tuple | None:
    """(version, {metric: value}) of the local registry's live version of `group`, or None when none is live."""
    folder = os.path.join(project_dir, ".water", "models", group)
    version = _live(folder)
    if version is None:
        return None
    return version, _read(os.path.join(folder, "versions", f"{version}.json"))["metrics"]


def promote_local(project_dir: str, group: str | None, version: int, by: str) -> dict:
    """Approve version N of the local registry and make it the one that serves: the live pointer moves, and the
    promotion (who, when, from → to) is recorded. Promoting an older version is the rollback."""
    from water.errors import WaterError

    name, _ = _one_group(project_dir, group)
    folder = os.path.join(project_dir, ".water", "models", name)
    path = os.path.join(folder, "versions", f"{version}.json")
    if not os.path.exists(path):
        raise WaterError(f"group '{name}' has no version {version}")
    record = _read(path)
    record["approval"] = "Approved"
    write_json(path, record)
    promotion = {"group": name, "from": _live(folder), "to": version, "by": by,
                 "at": now()}
    write_json(os.path.join(folder, LIVE), {"version": version, "since": promotion["at"], "by": by})
    with open(os.path.join(folder, PROMOTIONS), "a", encoding="utf-8") as f:
        f.write(json.dumps(promotion, sort_keys=True) + "\n")
    return promotion


def write_json(path: str, data: dict) -> None:
    """A JSON file replaced whole (written beside it, then renamed): a reader never sees half of it."""
    with open(path + ".new", "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.replace(path + ".new", path)


def _one_group(project_dir: str, group: str | None) -> tuple[str, list]:
    """The group named, or the local registry's only one, and its versions."""
    from water.errors import WaterError

    rows = local_versions(project_dir, group)
    groups = sorted({r["group"] for r in rows})
    if not groups:
        raise WaterError(f"no model versions under {os.path.join(project_dir, '.water', 'models')}"
                         + (f" for group '{group}'" if group else "") + ": run a pipeline with a register step first")
    if len(groups) > 1:
        raise WaterError(f"the local registry has several groups ({', '.join(groups)}): name one with --group")
    return groups[0], rows


def local_model(project_dir: str, group: str | None, version: int | None) -> tuple[dict, str, str]:
    """(the version's record, its inference script, the folder its model.tar.gz is unpacked into) of the local
    registry: the group if there is only one; the version named, else the live one (`water promote --local`), else
    the newest Approved."""
    from water.errors import WaterError

    name, rows = _one_group(project_dir, group)
    live = [r for r in rows if r["live"]]
    chosen = [r for r in rows if r["version"] == version] if version else live or \
        [r for r in rows if r["approval"] == "Approved"]
    if not chosen:
        raise WaterError(f"group '{name}' has no version {version}" if version
                         else f"group '{name}' has no Approved version: name one with --version")
    folder = os.path.join(project_dir, ".water", "models", name)
    record = _read(os.path.join(folder, "versions", f"{chosen[-1]['version']}.json"))
    if not record.get("code"):
        raise WaterError(f"version {record['version']} of '{name}' has no inference code (its model is not a "
                         "train step's with an entry script)")
    unpacked = unpack(os.path.join(project_dir, record["modelPath"]), os.path.join(folder, "serving",
                                                                                str(record["version"])))
    return record, os.path.join(project_dir, record["code"]), unpacked


def unpack(model_tar: str, folder: str) -> str:
    """A model.tar.gz unpacked into `folder` (what a serving container's /opt/ml/model holds)."""
    import tarfile

    os.makedirs(folder, exist_ok=True)
    with tarfile.open(model_tar) as tar:
        tar.extractall(folder, filter="data")
    return folder


def versions(sagemaker: Any, group: str) -> list:
    """The versions of a Model Package Group in SageMaker's registry, oldest first (a group that does not exist is
    SageMaker's error, not an empty list)."""
    sagemaker.describe_model_package_group(ModelPackageGroupName=group)
    rows = []
    for page in sagemaker.get_paginator("list_model_packages").paginate(ModelPackageGroupName=group):
        for summary in page["ModelPackageSummaryList"]:
            found = sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
            metadata = found.get("CustomerMetadataProperties") or {}
            rows.append(_row(group, found["ModelPackageVersion"], found["CreationTime"].strftime(STAMP),
                             found.get("ModelApprovalStatus", ""), metadata,
                             {k.removeprefix("metric/"): v for k, v in metadata.items() if k.startswith("metric/")}))
    return sorted(rows, key=lambda r: r["version"])


KIND = Register()

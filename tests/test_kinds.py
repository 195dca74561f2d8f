"""A step kind added from the test suite alone: this module defines it and registers it, and nothing outside it
changes. It validates, renders (Argo's strict schema), runs locally, and runs as `water-job` against moto."""
from __future__ import annotations

import json
import os
import shutil

import pytest

from water import pipeline as pipeline_mod
from water import render as render_mod
from water.runtime import aws
from water.spec.fields import SpecModel, field
from water.spec.types import S3Uri
from water.steps import register, unregister
from water.steps.base import NUMBER, PREFIX, Kind
from conftest import pod_config, task_argv, water_job

ASKED_TO_STOP: list = []  # what cleanup asked the kind to stop


class CopySpec(SpecModel):
    """Copy every object under a prefix to another."""

    source: str = field(S3Uri(), "Prefix to copy from.", required=True)
    to: str = field(S3Uri(), "Prefix to copy to; may hold expressions.", required=True)


class Copy(Kind):
    name = "copy"
    spec = CopySpec
    outputs = {"copied": PREFIX, "count": NUMBER}  # names no built-in kind has
    sizes = "pod"
    stop_keys = ("to",)

    def run_local(self, sr):
        source = sr.for_process(sr.step.config.source)
        uri, folder = sr.output_dir(sr.step.config.to)
        names = sorted(os.listdir(source))
        for name in names:
            shutil.copy(os.path.join(source, name), folder)
        return {"copied": uri, "count": str(len(names))}

    def run_cluster(self, job):
        s3 = job.client("s3")
        (bucket, prefix), (to_bucket, to_prefix) = (aws.s3_parts(job.resolve(job.spec[k])) for k in ("source", "to"))
        keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
                for o in page.get("Contents", ())]
        for key in keys:
            s3.copy_object(Bucket=to_bucket, Key=to_prefix + key[len(prefix):],
                           CopySource={"Bucket": bucket, "Key": key})
        return {"copied": job.resolve(job.spec["to"]), "count": str(len(keys))}

    def stop_run(self, job):
        ASKED_TO_STOP.append(job.resolve(job.spec["to"]))
        return None


SPEC = """apiVersion: water/v1
kind: Pipeline
metadata: {name: copying}
spec:
  image: registry.example.com/copying:1.0
  steps:
    - name: gather
      copy: {source: "s3://lake-results/in/", to: "s3://lake-results/{{run.id}}/gathered/"}
    - name: again
      after: [gather]
      copy: {source: "{{steps.gather.copied}}", to: "s3://lake-results/{{run.id}}/again/"}
      sizing:
        from: gather
        tiers:
          - {upTo: 1Ki, resources: {cpu: "1"}}
          - {resources: {cpu: "2"}, parallelism: 2}
    - name: report
      after: [again]
      container:
        command: [python, -c, "import sys; open('report.txt', 'w').write(' '.join(sys.argv[1:]))",
                  "{{steps.gather.copied}}", "{{steps.gather.count}}"]
"""


@pytest.fixture
def copy_kind():
    register(Copy())
    ASKED_TO_STOP.clear()
    yield
    unregister("copy")


@pytest.fixture
def copying(tmp_path, copy_kind):
    (tmp_path / "water.yaml").write_text(SPEC)
    return pipeline_mod.load(str(tmp_path))


def test_it_validates_and_its_outputs_are_checked_like_any_kinds(copying, tmp_path):
    assert [s.kind.name for s in copying.steps] == ["copy", "copy", "container"]
    assert copying.step("gather").outputs == ("copied", "count")
    (tmp_path / "water.yaml").write_text(SPEC.replace("{{steps.gather.count}}", "{{steps.gather.output}}"))
    with pytest.raises(pipeline_mod.SpecError) as err:
        pipeline_mod.load(str(tmp_path))
    assert "step 'gather' (copy) has no output (its outputs: copied, count)" in str(err.value)


def test_it_renders_to_manifests_argo_accepts(copying, argo_errors, k8s_errors):
    template, steps = render_mod.render(copying).objects
    assert argo_errors(template) == [] and k8s_errors(steps) == []
    tasks = {t["name"]: t for t in template["spec"]["templates"][0]["dag"]["tasks"]}
    assert tasks["again"]["withParam"] == "{{tasks.water-size-again.outputs.parameters.shards}}"
    size_refs = json.loads(next(p["value"] for p in tasks["water-size-again"]["arguments"]["parameters"]
                                if p["name"] == "refs"))
    assert size_refs == {"steps.gather.copied": "{{tasks.gather.outputs.parameters.copied}}"}
    cleanup = next(t for t in template["spec"]["templates"] if t["name"] == "cleanup")
    assert cleanup["container"]["args"][0] == "cleanup"


def test_it_runs_locally(copying, tmp_path):
    from water.local import runner

    source = tmp_path / ".water" / "s3" / "lake-results" / "in"
    source.mkdir(parents=True)
    for name in ("a.csv", "b.csv"):
        (source / name).write_text("x\n")
    result = runner.run(copying)
    assert result.status == "succeeded", [s.error for s in result.steps.values()]
    assert result.steps["gather"].outputs["count"] == "2"
    assert result.steps["again"].shards == 1  # 4 bytes: the first tier
    assert (tmp_path / "report.txt").read_text().endswith("/gathered/ 2")
    assert sorted(os.listdir(tmp_path / ".water" / "s3" / "lake-results" / result.run_id / "again")) == [
        "a.csv", "b.csv"]


def test_its_water_job_runs_against_moto_and_cleanup_asks_it_to_stop(copying, aws_env):
    s3 = aws.client("s3")
    for name in ("a.csv", "b.csv"):
        s3.put_object(Bucket="lake-results", Key=f"in/{name}", Body=b"x\n")
    objects = render_mod.render(copying).objects
    assert water_job(task_argv(objects, "gather")) == 0
    outputs = {n: open(os.path.join(aws_env["WATER_OUTPUTS_DIR"], n)).read() for n in ("copied", "count")}
    assert outputs == {"copied": f"s3://lake-results/{aws_env['WATER_RUN_ID']}/gathered/", "count": "2"}
    copied = s3.list_objects_v2(Bucket="lake-results", Prefix=f"{aws_env['WATER_RUN_ID']}/gathered/")
    assert sorted(o["Key"].rsplit("/", 1)[1] for o in copied["Contents"]) == ["a.csv", "b.csv"]
    cleanup = task_argv(objects, "stop-aws-jobs")
    assert pod_config(cleanup)["steps"][0]["spec"] == {"to": "s3://lake-results/{{run.id}}/gathered/"}
    assert water_job(cleanup) == 0
    assert ASKED_TO_STOP == [f"s3://lake-results/{aws_env['WATER_RUN_ID']}/gathered/",
                             f"s3://lake-results/{aws_env['WATER_RUN_ID']}/again/"]

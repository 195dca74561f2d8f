"""A Glue step's script comes from the repo: with spec.aws.artifacts set, `water deploy` stores the script by its
content and defines the Glue job from the spec; an edit is a new key, a rollback points the job back at the old
one, `water diff` shows the script's lines. Against the test API server, and moto's Glue and S3 over HTTP
through tests/glueapi.py (moto has no UpdateJob)."""
from __future__ import annotations

import hashlib

import pytest
from glueapi import GlueStandIn

from water import pipeline as pipeline_mod
from water.errors import SpecError
from water.runtime import aws

JOB = "demo-features"
SCRIPT = "features/features.py"
ARTIFACTS = "s3://water-demo/artifacts/"  # the demo's spec.aws.artifacts
GLUE_ROLE = "    glueRole: arn:aws:iam::123456789012:role/water-demo-glue\n"


def _defined(text: str) -> str:
    return text.replace(f"        script: {SCRIPT}\n", f"        script: {SCRIPT}\n        version: \"4.0\"\n"
                        "        defaultArguments: {--enable-metrics: \"true\"}\n")


def _not_defined(text: str) -> str:
    """The demo without spec.aws.artifacts: its Glue job is AWS's own."""
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith("    artifacts: "))


@pytest.fixture
def glue(aws_env, moto_endpoint, monkeypatch):
    stand_in = GlueStandIn(moto_endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL", stand_in.url)
    aws.client("s3").create_bucket(Bucket="water-demo")
    yield stand_in
    stand_in.close()


def _location(text: str) -> str:
    return f"{ARTIFACTS}glue/{hashlib.sha256(text.encode()).hexdigest()}/features.py"


def _stored(uri: str) -> str:
    bucket, key = aws.s3_parts(uri)
    return aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()


def test_deploy_stores_the_script_by_content_and_defines_the_job_edit_and_rollback_move_it(water, glue, project):
    folder = project("demo", _defined)
    script = folder / SCRIPT
    first = script.read_text()
    out = water("deploy", folder, "-y")
    assert f"glue job {JOB} created" in out
    job = glue.job(JOB)
    assert job["Command"]["ScriptLocation"] == _location(first) and _stored(_location(first)) == first
    assert (job["Role"], job["GlueVersion"], job["DefaultArguments"]) == (
        "arn:aws:iam::123456789012:role/water-demo-glue", "4.0", {"--enable-metrics": "true"})
    assert job["WorkerType"] == "G.1X" and job["NumberOfWorkers"] == 2  # the spec's workers, else Glue's smallest

    assert f"glue job {JOB} unchanged" in water("deploy", folder, "-y")
    assert glue.bodies("UpdateJob") == []

    edited = first + "print('features done')\n"
    script.write_text(edited)
    shown = water("diff", folder, code=1)
    assert "+  print('features done')" in shown  # the script's own line, not only its new location
    assert "-  ScriptLocation: " + _location(first) in shown
    water("deploy", folder, "-y")
    assert glue.job(JOB)["Command"]["ScriptLocation"] == _location(edited)
    assert _stored(_location(edited)) == edited and _stored(_location(first)) == first  # the old one stays

    water("rollback", "demo", "-y")
    assert glue.job(JOB)["Command"]["ScriptLocation"] == _location(first)
    assert glue.bodies("UpdateJob")[-1]["JobUpdate"]["Command"]["ScriptLocation"] == _location(first)


def test_a_job_changed_by_hand_is_shown_and_defined_again(water, glue, project):
    folder = project("demo", _defined)
    water("deploy", folder, "-y")
    aws.client("glue").delete_job(JobName=JOB)
    aws.client("glue").create_job(Name=JOB, Role="arn:aws:iam::123456789012:role/someone",
                                  Command={"Name": "glueetl", "ScriptLocation": "s3://elsewhere/x.py"})
    shown = water("diff", folder, code=1)
    assert "-Role: arn:aws:iam::123456789012:role/someone" in shown
    assert "cannot read s3://elsewhere/x.py" in shown  # what the live job runs, as far as it can be read
    water("deploy", folder, "-y")
    assert glue.job(JOB)["Role"] == "arn:aws:iam::123456789012:role/water-demo-glue"


def test_a_refused_definition_applies_nothing_to_the_cluster(water, glue, project, apiserver):
    folder = project("demo", lambda text: _defined(text).replace(ARTIFACTS, "s3://no-such-bucket/artifacts/"))
    out = water("deploy", folder, "-y", code=1)
    assert f"defining glue job {JOB} failed: PutObject: NoSuchBucket" in out
    assert "nothing was applied to the cluster" in out
    assert water("status", "-n", "ml").count("demo") == 0


def test_without_artifacts_deploy_leaves_the_glue_job_to_aws(water, glue, project):
    folder = project("demo", _not_defined)
    out = water("deploy", folder, "-y")
    assert "glue job" not in out and glue.sent == []  # AWS is not asked


@pytest.mark.parametrize("change, message", [
    (lambda t: _defined(t).replace(GLUE_ROLE, ""),
     "spec.steps[1].glue.script: water defines Glue job 'demo-features' from the spec"),
    (lambda t: _defined(_not_defined(t)),
     "spec.steps[1].glue.version: version is part of a Glue job water defines"),
    (lambda t: t.replace(ARTIFACTS, "s3://water-demo/{{run.id}}/"),
     "spec.aws.artifacts"),
])
def test_a_definition_written_wrong_is_a_located_error(project, change, message):
    folder = project("demo", change)
    with pytest.raises(SpecError) as found:
        pipeline_mod.load(str(folder))
    assert message in str(found.value)


def test_delete_removes_the_job_a_deploy_defined_and_leaves_one_it_did_not(water, glue, project):
    folder = project("demo", _defined)
    water("deploy", folder, "-y")
    # a job another pipeline's deploy made: water finds its own with ListJobs' Tags filter (botocore's glue
    # model, ListJobsRequest.Tags; moto's glue responses.py filters on it)
    glue_client = aws.client("glue")
    glue_client.create_job(Name="theirs", Role="arn:aws:iam::123456789012:role/x", Command={"Name": "glueetl"},
                           Tags={"water/pipeline": "other"})
    out = water("delete", "demo", "-y")
    assert out.splitlines()[0] == f"glue job {JOB} deleted"
    assert glue_client.list_jobs()["JobNames"] == ["theirs"]


def test_delete_leaves_a_job_the_pipeline_uses_but_did_not_define(water, glue, project):
    folder = project("demo", _not_defined)
    glue_client = aws.client("glue")
    glue_client.create_job(Name=JOB, Role="arn:aws:iam::123456789012:role/x", Command={"Name": "glueetl"})
    water("deploy", folder, "-y")
    assert "glue job" not in water("delete", "demo", "-y")
    assert glue_client.list_jobs()["JobNames"] == [JOB]

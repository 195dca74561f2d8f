"""`water-job`: the step runtime against moto's server over HTTP with plain boto3, and DogStatsD
packets captured from a real UDP socket. moto's gaps (a query is finished at once, nothing fails)
are bridged with botocore event hooks on water's client factory, never by replacing the client."""
from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from water.runtime import aws

from conftest import JOB_HOOKS, POD_PIPELINE, RUN_ID, received, edited_config, hooked_job_argv, pod_argv, water_job


UPSTREAM = {"extract": {"output": "s3://lake-results/x/extract/"}, "features": {"output": "s3://lake-results/x/features/"},
            "train": {"model": "s3://lake-results/models/job/output/model.tar.gz"}}  # what the upstream tasks wrote
STEP_OF = {"athena": "extract", "glue": "features", "train": "train", "transform": "predict"}  # in tests/pod-pipeline


def _pod(step: str, edit=None, upstream: dict = UPSTREAM, **options) -> list:
    """water-job's argv in the pod of `step` of tests/pod-pipeline, as `water render` writes it and Argo substitutes
    it (conftest.pod_argv's options); `edit(config)` changes the config after rendering (what render never writes)."""
    argv = pod_argv(step, upstream=upstream, **options)
    return edited_config(argv, edit) if edit else argv


def _executions() -> list:
    athena = aws.client("athena")
    return [athena.get_query_execution(QueryExecutionId=i)["QueryExecution"]
            for i in athena.list_query_executions()["QueryExecutionIds"]]


def _outputs(env) -> dict:
    folder = env["WATER_OUTPUTS_DIR"]
    return {name: open(os.path.join(folder, name)).read() for name in sorted(os.listdir(folder))}


def _set_state(state: str, reason: str = ""):
    def handler(parsed, **_):
        status = parsed.get("QueryExecution", {}).get("Status")
        if status is not None:
            status["State"] = state
            if reason:
                status["StateChangeReason"] = reason
    return ("after-call.athena.GetQueryExecution", handler)


def test_athena_runs_the_query_with_parameters_and_writes_its_outputs(aws_env):
    assert water_job(_pod("extract")) == 0
    (execution,) = _executions()
    assert execution["Query"] == "SELECT * FROM t WHERE who = ? -- {{params.limit}}\nLIMIT ?"
    assert execution["ExecutionParameters"] == ["'O''Brien'", "10"]  # a value, quoted; never SQL text
    assert execution["QueryExecutionContext"] == {"Database": "lake"}
    # cost: moto scans 0 bytes, priced at Athena's 10 MB minimum
    assert _outputs(aws_env) == {"bytes": "0", "cost": "0.000048",
                                 "output": f"s3://lake-results/{RUN_ID}/extract/"}


def test_athena_failure_exits_1_with_the_service_reason(aws_env, capsys):
    JOB_HOOKS.append(_set_state("FAILED", "TABLE_NOT_FOUND: line 1:15: Table 'lake.t' does not exist"))
    assert water_job(_pod("extract")) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("water-job: extract failed: Athena query ")
    assert err.endswith("FAILED: TABLE_NOT_FOUND: line 1:15: Table 'lake.t' does not exist")


def test_athena_stops_waiting_at_the_step_timeout(aws_env, capsys):
    JOB_HOOKS.append(_set_state("RUNNING"))
    assert water_job(_pod("extract", lambda c: c.update(timeout=1))) == 1
    assert "failed: still running after 1s" in capsys.readouterr().err


def test_a_restarted_step_attaches_to_its_query_instead_of_starting_another(aws_env):
    JOB_HOOKS.append(_set_state("RUNNING"))
    assert water_job(_pod("extract", lambda c: c.update(timeout=1))) == 1
    JOB_HOOKS.clear()
    assert water_job(_pod("extract")) == 0
    assert len(_executions()) == 1


class _Raw:
    def __init__(self, body: bytes):
        self.body = body

    def stream(self, **_):
        yield self.body


def test_throttling_is_survived_with_a_bounded_number_of_calls(aws_env):
    from botocore.awsrequest import AWSResponse

    calls = {"throttled": 0, "sent": 0}

    def throttle(request, **_):
        calls["sent"] += 1
        if calls["throttled"] < 3:
            calls["throttled"] += 1
            body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
            return AWSResponse(request.url, 400, {"x-amzn-ErrorType": "ThrottlingException"}, _Raw(body))
        return None

    JOB_HOOKS.append(("before-send.athena.StartQueryExecution", throttle))
    assert water_job(_pod("extract")) == 0
    assert calls == {"throttled": 3, "sent": 4}
    assert len(_executions()) == 1


def test_a_config_that_cannot_be_read_exits_2(aws_env, capsys):
    assert water_job(["athena", "--config", "not base64!"]) == 2
    assert capsys.readouterr().err.startswith("water-job: unreadable step config")


@pytest.mark.parametrize("args, error", [
    (["--config", base64.b64encode(b"{}").decode()], "the step config has no 'query'"),  # e.g. a version skew
    (_pod("extract")[1:] + ["--shard", "3/2"], "--shard '3/2': expected i/n with 0 <= i < n"),
    (_pod("extract", lambda c: c["spec"].update(output="s3://lake-results/{{run.id"))[1:],
     "'s3://lake-results/{{run.id': '{{' is not closed by '}}' (write {{ '{{' }} for a literal)"),
])
def test_a_config_the_step_cannot_use_exits_2_naming_why(aws_env, capsys, args, error):
    assert water_job(["athena", *args]) == 2
    assert capsys.readouterr().err == f"water-job: {error}\n"
    assert _executions() == []


HOOK_SITE = """
import os

def _running(parsed, **_):  # moto finishes every job at once: keep it running until the test says so
    if os.path.exists(os.environ["WATER_TEST_FINISH"]):
        return
    if "QueryExecution" in parsed:
        parsed["QueryExecution"]["Status"]["State"] = "RUNNING"
    if "JobRun" in parsed:
        parsed["JobRun"]["JobRunState"] = "RUNNING"
    if "TrainingJobStatus" in parsed:
        parsed["TrainingJobStatus"] = "InProgress"
    if "TransformJobStatus" in parsed:
        parsed["TransformJobStatus"] = "InProgress"

for event in ("after-call.athena.GetQueryExecution", "after-call.glue.GetJobRun",
              "after-call.sagemaker.DescribeTrainingJob", "after-call.sagemaker.DescribeTransformJob"):
    HOOKS.append((event, _running))
"""


def _count(kind: str) -> int:
    if kind == "athena":
        return len(_executions())
    if kind == "glue":
        return len(aws.client("glue").get_job_runs(JobName="features-job")["JobRuns"])
    sm = aws.client("sagemaker")
    if kind == "train":
        return len(sm.list_training_jobs()["TrainingJobSummaries"])
    return len(sm.list_transform_jobs()["TransformJobSummaries"])


def _kind_argv(kind: str) -> list:
    if kind == "glue":
        aws.client("glue").create_job(Name="features-job", Role="arn:aws:iam::123456789012:role/glue",
                                      Command={"Name": "glueetl", "ScriptLocation": "s3://lake-results/f.py"})
    return _pod(STEP_OF[kind])


@pytest.mark.parametrize("kind", ["athena", "glue", "train", "transform"])
def test_killed_20_times_mid_wait_the_step_still_makes_exactly_one_job(aws_env, tmp_path, kind):
    (tmp_path / "hooks.py").write_text(HOOK_SITE)
    finish = tmp_path / "finish"
    env = {**os.environ, "WATER_TEST_FINISH": str(finish)}
    argv = hooked_job_argv(tmp_path / "hooks.py", *_kind_argv(kind))
    for _ in range(20):
        process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert process.stdout.readline().split()[0] in (b"athena", b"glue", b"sagemaker")  # started or attached
        time.sleep(0.2)
        assert process.poll() is None  # still waiting for the job when killed
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finish.write_text("done")
    done = subprocess.run(argv, env=env, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert _count(kind) == 1


def test_metrics_reach_dogstatsd_with_the_step_tags(aws_env, agent):
    assert water_job(_pod("extract")) == 0
    by_name = received(agent, 5)
    tags = "#pipeline:demo,step:extract,kind:athena"
    assert by_name["water.step.runs"] == f"water.step.runs:1|c|{tags},status:success"
    assert by_name["water.step.output_bytes"] == f"water.step.output_bytes:0.0|g|{tags}"
    assert by_name["water.step.cost"] == f"water.step.cost:4.8e-05|g|{tags}"
    assert by_name["water.step.duration"].startswith("water.step.duration:")
    assert by_name["water.step.duration"].endswith(f"|h|{tags}")
    assert by_name["water.aws.job.duration"].endswith(f"|h|{tags}")


DATADOG_SPEC = """
apiVersion: water/v1
kind: Pipeline
metadata: {name: scores}
spec:
  image: example.com/scores:2.3.1
  alerts:
    datadog: {tags: ["team:ml", "cost-center:42"], env: prod, statsd: "127.0.0.1:PORT"}
  steps:
    - name: extract
      athena: {database: lake, query: SELECT 1, output: "s3://lake-results/x/"}
"""


def _pod_env(template: dict, labels: dict, prefixes=("DD_", "DATADOG_")) -> dict:
    """The Datadog env of a rendered container as the kubelet would set it (fieldRefs from the pod's labels)."""
    env = {}
    for item in template["container"]["env"]:
        if not item["name"].startswith(prefixes):
            continue
        ref = item.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath", "")
        env[item["name"]] = item["value"] if "value" in item else labels[ref[len("metadata.labels['"):-2]]
    return env


def test_the_rendered_datadog_env_tags_every_metric_and_sends_it_where_the_spec_says(aws_env, statsd, monkeypatch):
    from water import pipeline, render

    text = DATADOG_SPEC.replace("PORT", str(statsd.getsockname()[1]))
    objects = render.render(pipeline.load_text(text, "water.yaml", "."), None).objects
    template = objects[0]
    pod = next(t for t in template["spec"]["templates"] if t.get("container"))
    for name, value in _pod_env(pod, template["spec"]["podMetadata"]["labels"]).items():
        monkeypatch.setenv(name, value)
    assert water_job(_pod("extract")) == 0
    runs = received(statsd, 5)["water.step.runs"]
    assert set(runs.split("|#")[1].split(",")) == {
        "pipeline:demo", "step:extract", "kind:athena", "status:success", "team:ml", "cost-center:42", "env:prod",
        "service:scores", "version:2.3.1"}


def test_no_agent_means_no_metrics_and_no_failure(aws_env, monkeypatch):
    monkeypatch.setenv("DD_AGENT_HOST", "127.0.0.1")
    monkeypatch.setenv("DD_DOGSTATSD_PORT", "9")  # nothing listens: UDP sends go nowhere
    assert water_job(_pod("extract")) == 0


def test_athena_literals_quote_text_and_keep_numbers():
    from water.steps.queries import athena_literal

    assert [athena_literal(v) for v in ("10", "-2.5", "O'Brien", "1; DROP TABLE t")] == [
        "10", "-2.5", "'O''Brien'", "'1; DROP TABLE t'"]


def _job_config(kind: str, **config) -> str:
    """A config render never writes (an unknown kind, a field missing: a version skew), made by hand for that."""
    base = {"pipeline": "demo", "step": "publish", "kind": kind, "timeout": 30}
    return base64.b64encode(json.dumps({**base, **config}).encode()).decode()


PREDICTED = {**UPSTREAM, "predict": {"output": "s3://lake-results/preds/"}}


def test_size_measures_the_prefix_across_pages_and_emits_the_tier(aws_env):
    s3 = aws.client("s3")
    for i in range(1050):  # more than one page of ListObjectsV2
        s3.put_object(Bucket="lake-results", Key=f"preds/part-{i:04d}.csv", Body=b"x" * 100)
    s3.put_object(Bucket="lake-results", Key="preds/_water-job.json", Body=b"{}")  # water's marker: not data
    assert water_job(_pod("publish", task="water-size-publish", upstream=PREDICTED)) == 0
    out = _outputs(aws_env)
    assert (out["bytes"], out["objects"], out["tier"]) == ("105000", "1050", "2")
    assert json.loads(out["shards"]) == ["0/4", "1/4", "2/4", "3/4"]
    assert json.loads(out["pod-patch"]) == {
        "containers": [{"name": "main", "resources": {"requests": {"cpu": "4", "memory": "8Gi"},
                                                        "limits": {"cpu": "4", "memory": "8Gi"}}}],
        "nodeSelector": {"pool": "big"}}
    from water import contract

    assert sorted(out) == sorted(contract.SIZE_OUTPUTS)  # every output the size template declares, and no other


def test_container_runs_its_command_with_resolved_expressions_and_shard(aws_env, tmp_path, capfd):
    sized = {"shards": '["0/4", "1/4", "2/4", "3/4"]', "pod-patch": "{}"}
    argv = _pod("publish", upstream={**PREDICTED, "water-size-publish": sized}, item="2/4")
    # Argo names the pod's expanded task TASK(INDEX:ITEM) (operator.go generateNodeName): it still reads the step's
    assert argv[argv.index("--config-key") + 1] == "publish(2:2/4)"
    assert water_job(argv) == 0
    assert "s3://lake-results/preds/ O'Brien 2/4" in capfd.readouterr().out


def test_a_rendered_task_runs_with_its_own_config_and_what_its_template_shares(aws_env, tmp_path, capfd):
    (tmp_path / "water.yaml").write_text(
        "apiVersion: water/v1\nkind: Pipeline\nmetadata: {name: e2e}\nspec:\n"
        "  image: registry.example.com/e2e:1.0.0\n  params: {who: world}\n  defaults: {timeout: 2s}\n  steps:\n"
        "    - name: hello\n      env: {GREETING: 'hi {{params.who}}'}\n"
        "      container: {command: [sh, -c, 'echo \"$GREETING from $0\"', '{{run.id}}']}\n"
        "    - name: slow\n      after: [hello]\n      container: {command: [sleep, '30']}\n")
    assert water_job(_pod("hello", pipeline_file=str(tmp_path / "water.yaml"))) == 0
    assert f"hi O'Brien from {RUN_ID}" in capfd.readouterr().out
    started = time.monotonic()
    assert water_job(_pod("slow", pipeline_file=str(tmp_path / "water.yaml"))) == 1  # the 2s timeout reaches the step through its template
    assert time.monotonic() - started < 15
    assert "water-job: slow failed: " in capfd.readouterr().err


def test_a_failing_command_fails_the_step_with_its_exit_code(aws_env, capsys):
    argv = _pod("publish", spec={"command": ["sh", "-c", "exit 7"]}, step_fields={"sizing": None})
    assert water_job(argv) == 1
    assert capsys.readouterr().err.strip() == "water-job: publish failed: sh exited with code 7"


def test_a_kind_water_job_cannot_run_is_bad_input(aws_env, capsys):
    assert water_job(["spark", "--config", _job_config("spark", spec={})]) == 2
    assert capsys.readouterr().err.strip() == ("water-job: no step kind 'spark' (known: athena, check, cleanup, container, "
                                               "endpoint, glue, notify, register, size, train, transform, when)")


def test_an_argument_this_water_job_does_not_know_says_the_image_is_older_than_the_manifests(tmp_path, monkeypatch,
                                                                                            capsys):
    """As an image built before --config-key met a template rendered after it: exit 2 (Argo retries none), and
    the termination message (the failed node's message, Slack's) says what to do."""
    from water import __version__

    log = tmp_path / "termination-log"
    log.write_text("")
    monkeypatch.setenv("WATER_TERMINATION_LOG", str(log))
    with pytest.raises(SystemExit) as exited:
        water_job(["container", "--config-key", "extract", "--from-the-future", "x"])
    said = (f"unrecognized arguments: --from-the-future x: this step image's water-job is {__version__}, and the "
            "pod's template was rendered by a newer water; rebuild the image with that water (jobs/Dockerfile)")
    assert exited.value.code == 2 and capsys.readouterr().err.strip() == f"water-job: {said}"
    assert log.read_text() == said


def test_water_job_help_lists_every_kind_with_a_line_and_version_exits_0():
    from water import __version__
    from water.runtime.main import _kinds

    helped = subprocess.run([sys.executable, "-m", "water.runtime.main", "--help"], capture_output=True, text=True)
    assert helped.returncode == 0
    listed = dict(line.split(None, 1) for line in helped.stdout.split("kinds:\n")[1].splitlines())
    assert sorted(listed) == sorted(_kinds()) and all(len(d) > 10 for d in listed.values())
    version = subprocess.run([sys.executable, "-m", "water.runtime.main", "--version"], capture_output=True, text=True)
    assert (version.returncode, version.stdout) == (0, f"water-job {__version__}\n")


def test_a_config_missing_a_field_is_bad_input_not_a_traceback(aws_env, capsys):
    assert water_job(["glue", "--config", _job_config("glue", spec={})]) == 2
    assert capsys.readouterr().err.strip() == "water-job: the step config has no 'job'"


def test_water_job_loads_no_cli_and_no_cluster_client():
    code = ("import sys, water.runtime.main as m; m._kinds(); "
            "print(sorted(x for x in ('click', 'kubernetes', 'sagemaker', 'boto3', 'water.cli') if x in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr


# --- glue ---------------------------------------------------------------------------------------------------------

@pytest.fixture
def glue_job(aws_env):
    glue = aws.client("glue")
    glue.create_job(Name="features-job", Role="arn:aws:iam::123456789012:role/glue",
                    Command={"Name": "glueetl", "ScriptLocation": "s3://lake-results/features.py"})
    return glue


def test_glue_starts_the_run_with_resolved_arguments_and_workers(glue_job, aws_env):
    assert water_job(_pod("features")) == 0
    (run,) = glue_job.get_job_runs(JobName="features-job")["JobRuns"]
    args = run["Arguments"]
    assert args["--input"] == "s3://lake-results/x/extract/"
    assert args["--output"] == f"s3://lake-results/{RUN_ID}/features/"
    assert len(args["--water-run-id"]) == 64
    assert (run["WorkerType"], run["NumberOfWorkers"]) == ("G.1X", 4)
    assert _outputs(aws_env)["output"] == f"s3://lake-results/{RUN_ID}/features/"


@pytest.mark.parametrize("state", ["FAILED", "ERROR", "TIMEOUT", "STOPPED", "EXPIRED"])
def test_every_glue_end_but_succeeded_is_a_failure_with_the_runs_message(glue_job, capsys, state):
    def fail(parsed, **_):
        parsed["JobRun"].update(JobRunState=state, ErrorMessage="AnalysisException: Path does not exist")
    JOB_HOOKS.append(("after-call.glue.GetJobRun", fail))
    assert water_job(_pod("features")) == 1
    assert capsys.readouterr().err.strip().endswith(f"{state}: AnalysisException: Path does not exist")


def test_glue_waits_out_concurrent_runs_exceeded(glue_job):
    from botocore.awsrequest import AWSResponse

    calls = []

    def busy(request, **_):
        calls.append(1)
        if len(calls) <= 2:
            body = json.dumps({"__type": "ConcurrentRunsExceededException", "Message": "Concurrent runs exceeded"})
            return AWSResponse(request.url, 400, {}, _Raw(body.encode()))
        return None

    JOB_HOOKS.append(("before-send.glue.StartJobRun", busy))
    slept = []
    assert water_job(_pod("features"), sleep=slept.append) == 0
    assert len(slept) >= 2  # the backoff itself is tested with the poller
    assert len(calls) == 3 and len(glue_job.get_job_runs(JobName="features-job")["JobRuns"]) == 1


def test_a_restarted_glue_step_finds_its_run_by_tag_even_without_a_marker(glue_job):
    argv = _pod("features", spec={"output": None})
    assert water_job(argv) == 0
    assert water_job(argv) == 0
    assert len(glue_job.get_job_runs(JobName="features-job")["JobRuns"]) == 1


def test_a_request_aws_refuses_is_one_line_and_not_retried(aws_env, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("WATER_TERMINATION_LOG", str(tmp_path / "termination-log"))
    (tmp_path / "termination-log").write_text("")
    assert water_job(_pod("features")) == 2  # no such Glue job
    err = capsys.readouterr().err
    assert err.startswith("water-job: features failed: GetJobRuns: EntityNotFoundException: ")  # AWS's error code
    assert len(err.splitlines()) == 1
    assert (tmp_path / "termination-log").read_text() == err[len("water-job: features failed: "):].strip()


def test_a_request_botocore_finds_malformed_is_bad_input(glue_job, capsys):
    assert water_job(_pod("features", lambda c: c["spec"]["workers"].update(count="four"))) == 2
    err = capsys.readouterr().err
    assert err.startswith("water-job: features failed: ") and "NumberOfWorkers" in err  # the field botocore refused
    assert len(err.splitlines()) == 1
    assert glue_job.get_job_runs(JobName="features-job")["JobRuns"] == []


def test_an_unexpected_error_shows_its_traceback_then_the_one_line_and_is_counted(aws_env, capsys, agent):
    assert water_job(_pod("extract", lambda c: c["spec"].update(query=5))) == 1  # a number where render writes a text
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "Traceback (most recent call last):"
    assert err[-1].startswith("water-job: extract failed: TypeError: ")
    runs = received(agent, 2)["water.step.runs"]
    assert runs.endswith(",status:failure")


def test_no_credentials_is_one_line_and_left_to_the_retry(aws_env, capsys, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert water_job(_pod("features")) == 1
    err = capsys.readouterr().err
    assert err.startswith("water-job: features failed: ") and len(err.splitlines()) == 1


# --- the poller ---------------------------------------------------------------------------------------------------

def test_the_poller_backs_off_with_full_jitter_up_to_the_cap_and_stops_at_the_deadline():
    from water import backoff
    from water.runtime import poll

    now, sleeps = [0.0], []

    def sleep(seconds):
        sleeps.append(seconds)
        now[0] += seconds

    with pytest.raises(poll.Timeout):
        poll.wait(lambda: None, timeout=600, interval=backoff.Policy(first=2, cap=60), clock=lambda: now[0], sleep=sleep,
                  rand=lambda: 1.0)
    assert sleeps[:7] == [2, 4, 8, 16, 32, 60, 60]  # the upper bounds of the jitter
    assert abs(now[0] - 600) < 1e-9  # never past the deadline
    assert len(sleeps) <= 6 + 600 / 60 + 1  # so at most one call per interval


def test_the_poller_returns_what_check_found():
    from water.runtime import poll

    answers = iter([None, None, "done"])
    assert poll.wait(lambda: next(answers), timeout=10, sleep=lambda s: None) == "done"


# --- train --------------------------------------------------------------------------------------------------------

TRAIN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def _training_jobs():
    sm = aws.client("sagemaker")
    return [sm.describe_training_job(TrainingJobName=j["TrainingJobName"])
            for j in sm.list_training_jobs()["TrainingJobSummaries"]]


def test_train_creates_one_named_job_and_writes_the_model(aws_env):
    assert water_job(_pod("train")) == 0
    assert water_job(_pod("train")) == 0  # a restart attaches
    (job,) = _training_jobs()
    assert job["TrainingJobName"].startswith("demo-train-") and len(job["TrainingJobName"]) <= 63
    assert job["HyperParameters"] == {"max_depth": "5", "run": RUN_ID}
    assert job["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == "s3://lake-results/x/features/train/"
    assert job["ResourceConfig"]["InstanceType"] == "ml.m5.xlarge"
    out = _outputs(aws_env)
    assert out["model"] == job["ModelArtifacts"]["S3ModelArtifacts"] and out["output"] == "s3://lake-results/models/"


def test_a_sized_train_step_takes_its_instance_from_the_size_task(aws_env):
    """The size task's pod, then the train pod with what the size task wrote: both as rendered."""
    aws.client("s3").put_object(Bucket="lake-results", Key="x/features/train/part-0.csv", Body=b"1,2\n")
    options = {"spec": {"spot": True, "maxWait": "2h"}, "step_fields": {"sizing": {"from": "features", "tiers": [
        {"upTo": "1Ki", "instance": {"type": "ml.m5.4xlarge", "count": 2}}, {"instance": {"type": "ml.m5.24xlarge"}}]}}}
    assert water_job(_pod("train", task="water-size-train", **options)) == 0
    sized = _outputs(aws_env)
    assert (sized["instance-type"], sized["instance-count"], sized["bytes"]) == ("ml.m5.4xlarge", "2", "4")
    assert water_job(_pod("train", upstream={**UPSTREAM, "water-size-train": sized}, **options)) == 0
    (job,) = _training_jobs()
    assert (job["ResourceConfig"]["InstanceType"], job["ResourceConfig"]["InstanceCount"]) == ("ml.m5.4xlarge", 2)
    assert job["EnableManagedSpotTraining"] is True
    assert job["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
    assert job["CheckpointConfig"]["S3Uri"].endswith("/checkpoints/")


@pytest.mark.parametrize("status", ["Failed", "Stopped"])
def test_a_failed_or_stopped_training_job_fails_the_step_with_its_reason(aws_env, capsys, status):
    def end(parsed, **_):
        parsed.update(TrainingJobStatus=status, FailureReason="AlgorithmError: ExecuteUserScriptError: exit 1")
    JOB_HOOKS.append(("after-call.sagemaker.DescribeTrainingJob", end))
    assert water_job(_pod("train")) == 1
    assert capsys.readouterr().err.strip().endswith(f"{status}: AlgorithmError: ExecuteUserScriptError: exit 1")


def test_script_mode_uploads_the_entry_folder(aws_env, tmp_path, monkeypatch):
    import tarfile

    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "train.py").write_text("print('training')\n")
    (tmp_path / "train" / "util.py").write_text("X = 1\n")
    monkeypatch.chdir(tmp_path)
    shutil.copy(POD_PIPELINE, tmp_path)
    assert water_job(_pod("train", spec={"entry": "train/train.py"}, project=tmp_path)) == 0
    (job,) = _training_jobs()
    hp = job["HyperParameters"]
    assert hp["sagemaker_program"] == "train.py"
    bucket, key = aws.s3_parts(hp["sagemaker_submit_directory"])
    body = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    import io

    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert sorted(tar.getnames()) == ["train.py", "util.py"]


def test_script_mode_stores_each_version_of_the_code_once(aws_env, tmp_path, monkeypatch):
    """Runs of the same code share one object (its key the content's hash); an edit is a new key."""
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "train.py").write_text("print('training')\n")
    monkeypatch.chdir(tmp_path)
    shutil.copy(POD_PIPELINE, tmp_path)

    def run(run_id):
        monkeypatch.setenv("WATER_RUN_ID", run_id)
        assert water_job(_pod("train", spec={"entry": "train/train.py"}, project=tmp_path)) == 0
        return {j["TrainingJobName"]: j["HyperParameters"]["sagemaker_submit_directory"] for j in _training_jobs()}

    first = run("demo-run-1")
    os.utime(tmp_path / "train" / "train.py", (1, 1))  # a checkout's new file times change nothing
    both = run("demo-run-2")
    assert len(both) == 2 and len(set(both.values())) == 1
    (tmp_path / "train" / "train.py").write_text("print('training better')\n")
    three = run("demo-run-3")
    assert len(set(three.values())) == 2
    keys = [o["Key"] for o in aws.client("s3").list_objects_v2(Bucket="lake-results", Prefix="models/water-source/")
            .get("Contents", [])]
    assert len(keys) == 2 and all(k.endswith("/sourcedir.tar.gz") for k in keys)
    assert set(first.values()) < set(three.values())


def test_with_artifacts_script_mode_stores_the_code_there(aws_env, tmp_path, monkeypatch):
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "train.py").write_text("print('training')\n")
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "water.yaml"
    spec.write_text(open(POD_PIPELINE).read().replace("    region: us-east-1\n", "    region: us-east-1\n"
                                                       "    artifacts: s3://lake-results/water/\n"))
    assert water_job(pod_argv("train", spec={"entry": "train/train.py"}, project=tmp_path,
                              pipeline_file=str(spec), upstream=UPSTREAM)) == 0
    (job,) = _training_jobs()
    bucket, key = aws.s3_parts(job["HyperParameters"]["sagemaker_submit_directory"])
    assert bucket == "lake-results" and key.startswith("water/train/") and key.endswith("/sourcedir.tar.gz")
    aws.client("s3").head_object(Bucket=bucket, Key=key)


@pytest.mark.parametrize("change, message", [
    (lambda c: c["spec"].update(image="xgboost:1.7-1"), "image 'xgboost:1.7-1' was not resolved to an image URI"),
    (lambda c: c.update(aws={}), "no SageMaker execution role: set train.role or spec.aws.sagemakerRole"),
])
def test_train_refuses_what_it_cannot_run(aws_env, capsys, change, message):
    assert water_job(_pod("train", change)) == 2
    assert message in capsys.readouterr().err
    assert _training_jobs() == []


# --- transform ----------------------------------------------------------------------------------------------------

def test_transform_creates_the_model_and_one_job_and_writes_its_output(aws_env):
    assert water_job(_pod("predict")) == 0
    assert water_job(_pod("predict")) == 0  # restart
    sm = aws.client("sagemaker")
    (summary,) = sm.list_transform_jobs()["TransformJobSummaries"]
    job = sm.describe_transform_job(TransformJobName=summary["TransformJobName"])
    model = sm.describe_model(ModelName=job["ModelName"])
    assert model["PrimaryContainer"]["ModelDataUrl"] == "s3://lake-results/models/job/output/model.tar.gz"
    assert model["PrimaryContainer"]["Image"] == TRAIN_IMAGE
    assert job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == "s3://lake-results/x/score/"
    assert _outputs(aws_env)["output"] == f"s3://lake-results/{RUN_ID}/predictions/"


def test_a_failed_transform_fails_the_step_with_its_reason(aws_env, capsys):
    def end(parsed, **_):
        parsed.update(TransformJobStatus="Failed", FailureReason="ClientError: Model server did not respond")
    JOB_HOOKS.append(("after-call.sagemaker.DescribeTransformJob", end))
    assert water_job(_pod("predict")) == 1
    assert capsys.readouterr().err.strip().endswith("Failed: ClientError: Model server did not respond")


def test_a_transform_without_image_serves_with_its_train_steps_image():
    from conftest import example_path
    from water import pipeline as pipeline_mod

    p = pipeline_mod.load(example_path("babyweight"))
    assert p.step("predict").job_config()["image"] == p.step("train").job_config()["image"] == "xgboost:1.7-1"


# --- SIGTERM ------------------------------------------------------------------------------------------------------

SIGTERM_SITE = HOOK_SITE + '''
import json
from botocore.awsrequest import AWSResponse

class _Raw:
    def stream(self, **_):
        yield b"{}"

def _stop_training(request, **_):  # moto answers StopTrainingJob with HTTP 500: record the call instead
    with open(os.environ["WATER_TEST_STOPS"], "a") as f:
        f.write(json.loads(request.body)["TrainingJobName"] + "\\n")
    return AWSResponse(request.url, 200, {}, _Raw())

HOOKS.append(("before-send.sagemaker.StopTrainingJob", _stop_training))
'''


def _terminated(tmp_path, argv_tail, on_term=None, pod_env=None):
    (tmp_path / "hooks.py").write_text(SIGTERM_SITE)
    env = {**os.environ, "WATER_TEST_FINISH": str(tmp_path / "never"), "WATER_TEST_STOPS": str(tmp_path / "stops"),
           **(pod_env or {})}
    if on_term:
        env["WATER_ON_TERM"] = on_term
    process = subprocess.Popen(hooked_job_argv(tmp_path / "hooks.py", *argv_tail), env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    started = process.stdout.readline().decode().strip()
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    return process.returncode, started, err.decode().strip()


@pytest.mark.parametrize("on_term, state", [("stop", "CANCELLED"), ("leave", "SUCCEEDED")])
def test_sigterm_stops_the_query_or_leaves_it_to_be_reattached(aws_env, tmp_path, on_term, state):
    code, started, err = _terminated(tmp_path, _pod("extract"), on_term)
    assert code == 143 and started.startswith("athena query ")
    if on_term == "stop":
        assert err == f"water-job: terminated: stopped {started}"
    else:
        assert err == f"water-job: terminated: left {started} running, to be re-attached by the next attempt"
    (execution,) = _executions()
    assert execution["Status"]["State"] == state


def test_sigterm_stops_a_training_job_when_the_run_was_stopped(aws_env, tmp_path):
    code, started, err = _terminated(tmp_path, _pod("train"), "stop")
    assert code == 143 and started.startswith("sagemaker training job demo-train-")
    assert (tmp_path / "stops").read_text().split() == [started.split()[-1]]
    assert err == f"water-job: terminated: stopped {started}"


RUN_WORKFLOW = ("argoproj.io/v1alpha1/workflows", "ml", RUN_ID)


def _workflow(**fields) -> dict:
    metadata = {"name": RUN_ID, "namespace": "ml", **fields.pop("metadata", {})}
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": metadata, "spec": fields}


@pytest.mark.parametrize("workflow, ended", [
    (_workflow(shutdown="Terminate"), "terminated"),  # argo terminate: no exit handler will clean up
    (_workflow(shutdown="Stop"), "stopped"),
    (None, "deleted"),
    (_workflow(metadata={"deletionTimestamp": "2026-11-23T10:00:00Z"}), "deleted"),  # foreground deletion
])
def test_sigterm_stops_the_job_when_the_runs_workflow_says_it_was_ended(aws_env, tmp_path, pod_account,
                                                                        workflow, ended):
    api, pod_env = pod_account
    if workflow:
        api.objects[RUN_WORKFLOW] = workflow
    code, started, err = _terminated(tmp_path, _pod("extract"), pod_env=pod_env)
    assert code == 143 and err == f"water-job: terminated (the run was {ended}): stopped {started}"
    assert [e["Status"]["State"] for e in _executions()] == ["CANCELLED"]


def test_sigterm_of_a_run_that_goes_on_leaves_the_job_to_its_retry(aws_env, tmp_path, pod_account):
    api, pod_env = pod_account
    api.objects[RUN_WORKFLOW] = _workflow(entrypoint="main")  # an eviction or a node drain: the run goes on
    code, started, err = _terminated(tmp_path, _pod("extract"), pod_env=pod_env)
    assert err == f"water-job: terminated (the run goes on): left {started} running, to be re-attached by the next attempt"
    assert [e["Status"]["State"] for e in _executions()] == ["SUCCEEDED"]


@pytest.mark.parametrize("change, reason", [
    (lambda account, env: (account / "token").write_text("revoked"), "the API server answered 401 Unauthorized"),
    (lambda account, env: env.update(KUBERNETES_SERVICE_HOST=""), "no in-cluster API access"),
    (lambda account, env: env.update(KUBERNETES_SERVICE_PORT="1"), "could not read the run's Workflow"),
])
def test_sigterm_leaves_the_job_when_the_run_cannot_be_read_and_says_why(aws_env, tmp_path, pod_account,
                                                                         change, reason):
    api, pod_env = pod_account
    api.objects[RUN_WORKFLOW] = _workflow(shutdown="Terminate")
    change(tmp_path / "serviceaccount", pod_env)
    code, started, err = _terminated(tmp_path, _pod("extract"), pod_env=pod_env)
    assert code == 143 and err.startswith(f"water-job: terminated ({reason}")
    assert err.endswith(f"cannot tell whether the run was stopped): left {started} running, "
                        "to be re-attached by the next attempt")
    assert [e["Status"]["State"] for e in _executions()] == ["SUCCEEDED"]


def _start_and_kill(tmp_path, kind: str) -> None:
    """Start the step's AWS job in a process that is then killed mid-wait, as a stopped or timed-out pod."""
    (tmp_path / "hooks.py").write_text(HOOK_SITE)
    env = {**os.environ, "WATER_TEST_FINISH": str(tmp_path / "never")}
    process = subprocess.Popen(hooked_job_argv(tmp_path / "hooks.py", *_kind_argv(kind)), env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert process.stdout.readline()  # the job started
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def _cleanup() -> list:
    """The argv of the exit handler's cleanup step, as rendered for tests/pod-pipeline's four AWS steps."""
    return _pod("extract", task="stop-aws-jobs")


def test_cleanup_stops_the_jobs_a_failed_run_left_running_and_nothing_else(aws_env, tmp_path, capsys):
    kinds = ["athena", "glue", "train", "transform"]
    for kind in kinds:
        _start_and_kill(tmp_path, kind)
    stops = []

    def still_running(parsed, **_):
        for key, state in (("JobRun", "JobRunState"),):
            if key in parsed:
                parsed[key][state] = "RUNNING"
        for key in ("TrainingJobStatus", "TransformJobStatus"):
            if key in parsed:
                parsed[key] = "InProgress"
        if "QueryExecution" in parsed:
            parsed["QueryExecution"]["Status"]["State"] = "RUNNING"

    def record(request, **_):  # moto answers these stops with HTTP 500: record them instead
        from botocore.awsrequest import AWSResponse

        stops.append(request.headers["X-Amz-Target"].decode().split(".")[-1])
        return AWSResponse(request.url, 200, {}, type("Raw", (), {"stream": lambda self, **_: iter([b"{}"])})())

    for event in ("after-call.athena.GetQueryExecution", "after-call.glue.GetJobRun",
                  "after-call.sagemaker.DescribeTrainingJob", "after-call.sagemaker.DescribeTransformJob"):
        JOB_HOOKS.append((event, still_running))
    for event in ("before-send.glue.BatchStopJobRun", "before-send.sagemaker.StopTrainingJob",
                  "before-send.sagemaker.StopTransformJob"):
        JOB_HOOKS.append((event, record))
    assert water_job(_cleanup()) == 0
    out = capsys.readouterr().out
    assert "extract: stopped athena query " in out and "features: stopped glue job features-job run " in out
    assert "train: stopped sagemaker training job demo-train-" in out
    assert "predict: stopped sagemaker transform job demo-predict-" in out
    assert stops == ["BatchStopJobRun", "StopTrainingJob", "StopTransformJob"]
    JOB_HOOKS[:] = [h for h in JOB_HOOKS if h[0].startswith("before-send")]  # now everything has ended
    (execution,) = _executions()
    assert execution["Status"]["State"] == "CANCELLED"  # moto's own StopQueryExecution
    assert water_job(_cleanup()) == 0
    assert capsys.readouterr().out.count(": nothing running") == 4 and len(stops) == 3


def test_cleanup_of_a_run_whose_steps_never_started_finds_nothing(aws_env, capsys):
    aws.client("glue").create_job(Name="features-job", Role="arn:aws:iam::123456789012:role/glue",
                                  Command={"Name": "glueetl", "ScriptLocation": "s3://lake-results/f.py"})
    assert water_job(_cleanup()) == 0
    assert capsys.readouterr().out.count(": nothing running") == 4


# --- CloudWatch log tails -----------------------------------------------------------------------------------------

def _write_log(group: str, stream: str, lines: list):
    start = int(time.time() * 1000) - 60_000  # CloudWatch refuses events older than 14 days
    logs = aws.client("logs")
    try:
        logs.create_log_group(logGroupName=group)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    for i in range(0, len(lines), 100):  # several puts: the reader must follow the stream to its end
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[
            {"timestamp": start + i + j, "message": line} for j, line in enumerate(lines[i:i + 100])])


def test_a_failed_glue_run_shows_the_end_of_its_error_log(glue_job, capsys):
    assert water_job(_pod("features")) == 0  # learn the run id
    (run,) = glue_job.get_job_runs(JobName="features-job")["JobRuns"]
    _write_log("/aws-glue/jobs/error", run["Id"], [f"line {i}" for i in range(250)] + ["Traceback: boom"])

    def fail(parsed, **_):
        parsed["JobRun"].update(JobRunState="FAILED", ErrorMessage="boom")
    JOB_HOOKS.append(("after-call.glue.GetJobRun", fail))
    assert water_job(_pod("features")) == 1  # re-attaches, sees the failure
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].endswith("FAILED: boom")
    assert err[1:] == [f"  | line {i}" for i in range(231, 250)] + ["  | Traceback: boom"]


def test_a_failure_leaves_its_reason_and_log_end_as_the_termination_message(glue_job, tmp_path, monkeypatch):
    message = tmp_path / "termination-log"  # the kubelet creates the file; water-job only writes it
    message.write_text("")
    monkeypatch.setenv("WATER_TERMINATION_LOG", str(message))
    assert water_job(_pod("features")) == 0
    assert message.read_text() == ""  # success leaves it alone
    (run,) = glue_job.get_job_runs(JobName="features-job")["JobRuns"]
    _write_log("/aws-glue/jobs/error", run["Id"], ["x" * 300 for _ in range(30)] + ["Traceback: boom"])
    JOB_HOOKS.append(("after-call.glue.GetJobRun", lambda parsed, **_: parsed["JobRun"].update(
        JobRunState="FAILED", ErrorMessage="boom")))
    assert water_job(_pod("features")) == 1
    text = message.read_text()
    assert len(text.encode()) <= 4096  # what Kubernetes keeps
    lines = text.splitlines()
    assert lines[0] == f"Glue job features-job run {run['Id']} FAILED: boom"
    assert lines[-1] == "  | Traceback: boom" and 10 <= len(lines) < 20  # the end of the log, as much as fits


def test_a_failed_training_job_shows_the_end_of_its_log(aws_env, capsys):
    from water.steps.train import job_name

    name = job_name("demo", "train", RUN_ID)
    _write_log("/aws/sagemaker/TrainingJobs", f"{name}/algo-1-1700000000", ["loading data", "ValueError: NaN in y"])

    def end(parsed, **_):
        parsed.update(TrainingJobStatus="Failed", FailureReason="AlgorithmError: see the log")
    JOB_HOOKS.append(("after-call.sagemaker.DescribeTrainingJob", end))
    assert water_job(_pod("train")) == 1
    assert capsys.readouterr().err.strip().splitlines()[1:] == ["  | loading data", "  | ValueError: NaN in y"]


# --- every AWS kind: timeout and throttling -----------------------------------------------------------------------

def _in_process_running_hook():
    site = {}
    exec(HOOK_SITE.replace("HOOKS.append((event, _running))", "pass"), site)  # the same handler, here
    return site["_running"]


@pytest.mark.parametrize("kind, event", [
    ("athena", "after-call.athena.GetQueryExecution"), ("glue", "after-call.glue.GetJobRun"),
    ("train", "after-call.sagemaker.DescribeTrainingJob"), ("transform", "after-call.sagemaker.DescribeTransformJob")])
def test_every_kind_stops_waiting_at_its_timeout(aws_env, capsys, monkeypatch, tmp_path, kind, event):
    monkeypatch.setenv("WATER_TEST_FINISH", str(tmp_path / "never"))
    JOB_HOOKS.append((event, _in_process_running_hook()))
    assert water_job(edited_config(_kind_argv(kind), lambda c: c.update(timeout=1))) == 1
    assert "failed: still running after 1s" in capsys.readouterr().err


@pytest.mark.parametrize("kind, event", [
    ("athena", "before-send.athena.StartQueryExecution"), ("glue", "before-send.glue.StartJobRun"),
    ("train", "before-send.sagemaker.CreateTrainingJob"), ("transform", "before-send.sagemaker.CreateTransformJob")])
def test_every_kind_survives_throttling_with_a_bounded_number_of_calls(aws_env, kind, event):
    from botocore.awsrequest import AWSResponse

    calls = []

    def throttle(request, **_):
        calls.append(1)
        if len(calls) <= 3:
            body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
            return AWSResponse(request.url, 400, {"x-amzn-ErrorType": "ThrottlingException"}, _Raw(body))
        return None

    JOB_HOOKS.append((event, throttle))
    assert water_job(_kind_argv(kind)) == 0
    assert len(calls) == 4 and _count(kind) == 1


def test_sigterm_during_an_aws_call_still_terminates(aws_env, tmp_path):
    # The signal lands while botocore is inside an HTTP send: its `except Exception` must not swallow it.
    (tmp_path / "hooks.py").write_text(HOOK_SITE + '''
import time
def _slow(request, **_):
    print("sending", flush=True)
    time.sleep(2)
HOOKS.append(("before-send.athena.GetQueryExecution", _slow))
''')
    env = {**os.environ, "WATER_TEST_FINISH": str(tmp_path / "never"), "WATER_ON_TERM": "leave"}
    process = subprocess.Popen(hooked_job_argv(tmp_path / "hooks.py", *_pod("extract")),
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout.readline().startswith(b"athena query ")
    assert process.stdout.readline() == b"sending\n"
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 143, err
    assert b"terminated: left athena query" in err


def test_sigterm_stops_a_container_steps_command(aws_env, tmp_path):
    argv = _pod("publish", spec={"command": ["sh", "-c", "trap 'echo got TERM > $0; exit 0' TERM; "
                                             "while true; do sleep 0.1; done", str(tmp_path / "term")]},
                step_fields={"sizing": None})
    process = subprocess.Popen([sys.executable, "-m", "water.runtime.main", *argv],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout.readline().startswith(b"command sh (pid ")
    time.sleep(0.3)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 143
    assert err.decode().strip().startswith("water-job: terminated: stopped command sh (pid ")
    assert (tmp_path / "term").read_text() == "got TERM\n"


# --- retries, lost answers, throttling, a bounded stop (issue 14) -----------------------------------------------

def _forward_then_lose(calls: list):
    """A before-send hook that delivers the request to moto (the job is made) and answers botocore with a 500, as
    when AWS's answer is lost on the way back."""
    def handler(request, **_):
        import urllib.request as http

        from botocore.awsrequest import AWSResponse

        calls.append(request.url)
        if len(calls) == 1:
            http.urlopen(http.Request(request.url, data=request.body, headers=dict(request.headers),
                                      method=request.method)).read()
            body = json.dumps({"__type": "InternalFailure", "message": "We encountered an internal error."})
            return AWSResponse(request.url, 500, {}, _Raw(body.encode()))
        return None
    return handler


def _glue_state(state):
    def handler(parsed, **_):
        if "JobRun" in parsed:
            parsed["JobRun"]["JobRunState"] = state
            parsed["JobRun"]["ErrorMessage"] = "boom"
    return ("after-call.glue.GetJobRun", handler)


def _first_job_failed():
    """Hooks under which the first job of each service that a step made stays failed, as AWS keeps it (moto
    ends every job well): Athena's query, Glue's run, SageMaker's training job."""
    first = {}

    def athena(parsed, **_):
        execution = parsed.get("QueryExecution")
        if execution and first.setdefault("athena", execution["QueryExecutionId"]) == execution["QueryExecutionId"]:
            execution["Status"].update(State="FAILED", StateChangeReason="boom")

    def glue(parsed, **_):
        run = parsed.get("JobRun")
        if run and first.setdefault("glue", run["Id"]) == run["Id"]:
            run.update(JobRunState="FAILED", ErrorMessage="boom")

    def train(parsed, **_):
        if "TrainingJobName" in parsed and first.setdefault("train", parsed["TrainingJobName"]) == \
                parsed["TrainingJobName"]:
            parsed.update(TrainingJobStatus="Failed", FailureReason="boom")

    return [("after-call.athena.GetQueryExecution", athena), ("after-call.glue.GetJobRun", glue),
            ("after-call.sagemaker.DescribeTrainingJob", train)]


def test_a_retry_after_a_failed_glue_run_starts_a_new_run_and_a_restart_within_it_does_not(glue_job, monkeypatch):
    JOB_HOOKS.extend(_first_job_failed())
    assert water_job(_pod("features")) == 1  # attempt 0 fails
    monkeypatch.setenv("WATER_ATTEMPT", "1")  # Argo's {{retries}} of the next attempt
    assert water_job(_pod("features")) == 0
    assert water_job(_pod("features")) == 0  # the same attempt, restarted
    runs = glue_job.get_job_runs(JobName="features-job")["JobRuns"]
    assert len(runs) == 2 and len({r["Arguments"]["--water-run-id"] for r in runs}) == 2


def test_a_retry_attaches_to_the_glue_run_an_earlier_attempt_left_running(glue_job, monkeypatch):
    JOB_HOOKS.append(_glue_state("RUNNING"))
    assert water_job(_pod("features", lambda c: c.update(timeout=1))) == 1  # attempt 0 ends before its run does
    JOB_HOOKS.clear()
    monkeypatch.setenv("WATER_ATTEMPT", "1")
    assert water_job(_pod("features")) == 0
    assert len(glue_job.get_job_runs(JobName="features-job")["JobRuns"]) == 1


def test_a_retry_after_a_failed_query_or_training_job_starts_another(aws_env, monkeypatch):
    JOB_HOOKS.extend(_first_job_failed())
    assert water_job(_pod("extract")) == 1
    assert water_job(_pod("train")) == 1
    monkeypatch.setenv("WATER_ATTEMPT", "1")
    assert water_job(_pod("extract")) == 0
    assert water_job(_pod("train")) == 0
    assert len(_executions()) == 2 and len(_training_jobs()) == 2
    assert len({job["TrainingJobName"] for job in _training_jobs()}) == 2


def test_a_glue_start_whose_answer_was_lost_is_looked_for_not_started_again(glue_job, capsys):
    calls = []
    JOB_HOOKS.append(("before-send.glue.StartJobRun", _forward_then_lose(calls)))
    assert water_job(_pod("features")) == 0
    assert len(glue_job.get_job_runs(JobName="features-job")["JobRuns"]) == 1 and len(calls) == 1
    assert "looking for the job it may have made" in capsys.readouterr().out


def test_a_sagemaker_create_whose_answer_was_lost_attaches_to_the_job_it_made(aws_env):
    calls = []
    JOB_HOOKS.append(("before-send.sagemaker.CreateTrainingJob", _forward_then_lose(calls)))
    assert water_job(_pod("train")) == 0
    assert len(_training_jobs()) == 1 and len(calls) == 1


def test_already_exists_for_the_steps_own_name_means_attach(aws_env):
    """What AWS answers a second CreateTrainingJob of a name (moto accepts it): ResourceInUse, "Training job names
    must be unique ... already exists (arn:...)" — as AWS answered it in aws/amazon-sagemaker-examples#3108's CI log
    and SuperCowPowers/workbench#384. (CreateModel says "Cannot create already existing model" in a
    ValidationException instead.)"""
    from botocore.awsrequest import AWSResponse

    seen = {"describes": 0}

    def first_describe_misses(request, **_):  # the job is made, but the first look does not see it yet
        seen["describes"] += 1
        if seen["describes"] == 1:
            body = json.dumps({"__type": "ValidationException", "message": "Requested resource not found."})
            return AWSResponse(request.url, 400, {}, _Raw(body.encode()))
        return None

    def taken(request, **_):
        urllib.request.urlopen(urllib.request.Request(request.url, data=request.body, headers=dict(request.headers),
                                                      method=request.method)).read()
        body = json.dumps({"__type": "ResourceInUse", "message": "Training job names must be unique within an "
                           "AWS account and region, and a training job with this name already exists (arn:aws:x)"})
        return AWSResponse(request.url, 400, {}, _Raw(body.encode()))

    JOB_HOOKS.append(("before-send.sagemaker.DescribeTrainingJob", first_describe_misses))
    JOB_HOOKS.append(("before-send.sagemaker.CreateTrainingJob", taken))
    assert water_job(_pod("train")) == 0
    assert len(_training_jobs()) == 1


def test_sustained_throttling_of_the_polls_is_waited_out_never_a_failure(glue_job, capsys):
    from botocore.awsrequest import AWSResponse

    throttled, slept = [], []

    def throttle(request, **_):
        if len(throttled) < 40:  # far past botocore's own retries, and past the ~56 s a step used to give up at
            throttled.append(1)
            body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"})
            return AWSResponse(request.url, 400, {"x-amzn-ErrorType": "ThrottlingException"}, _Raw(body.encode()))
        return None

    JOB_HOOKS.append(("before-send.glue.GetJobRun", throttle))
    assert water_job(_pod("features", lambda c: c.update(timeout=6 * 3600)), sleep=slept.append) == 0
    assert len(throttled) == 40 and len(glue_job.get_job_runs(JobName="features-job")["JobRuns"]) == 1
    assert sum(slept) > 3600 and max(slept) <= 300 * 1.2  # backing off, capped
    out = capsys.readouterr().out
    assert "asking again later: " in out and "ThrottlingException" in out


def test_a_step_sees_a_job_end_soon_and_asks_at_most_six_times_a_minute():
    from water.runtime import poll

    for end in (7.0, 95.0, 400.0, 3000.0):
        now, calls = [0.0], []

        def check():
            calls.append(now[0])
            return "done" if now[0] >= end else None

        def sleep(seconds):
            now[0] += seconds

        poll.wait(check, timeout=10 ** 6, interval=poll.job_interval, clock=lambda: now[0], sleep=sleep)
        late = now[0] - end
        assert late <= (10 * 1.2 if end < 20 else 16.5 * 1.2 if end < 600 else end * 0.1)
        after_first_minute = [t for t in calls if t >= 60]
        if after_first_minute:
            minutes = (after_first_minute[-1] - 60) / 60 or 1
            assert len(after_first_minute) - 1 <= 6 * minutes + 1


def test_a_sigterm_stop_that_aws_keeps_refusing_ends_within_the_budget_and_says_so(glue_job, tmp_path):
    started = time.monotonic()
    code, line, err = _terminated(tmp_path, _pod("features"), on_term="stop",
                                  pod_env={"WATER_STOP_BUDGET": "3"})  # moto has no BatchStopJobRun: a 500 each time
    assert code == 143 and line.startswith("glue job features-job run ")
    assert time.monotonic() - started < 15
    assert "could not stop glue job features-job run" in err and "within 3s" in err
    assert "the run's cleanup stops it if the run fails" in err


def test_cleanup_with_nothing_to_stop_succeeds(aws_env, capsys):
    assert water_job(_cleanup()) == 0
    out = capsys.readouterr().out  # no Glue job, no marker, no SageMaker job: nothing of this run runs
    assert out.count("nothing running") == 4


def test_a_cleanup_failure_names_cleanup(aws_env, capsys):
    from botocore.awsrequest import AWSResponse

    def refuse(request, **_):
        body = json.dumps({"__type": "AccessDeniedException", "message": "not allowed"})
        return AWSResponse(request.url, 400, {}, _Raw(body.encode()))

    JOB_HOOKS.append(("before-send.glue.GetJobRuns", refuse))
    assert water_job(_cleanup()) == 1
    assert capsys.readouterr().err.startswith("water-job: cleanup failed: could not stop every AWS job")


def _rendered_env(name: str, template_kind: str) -> tuple[dict, str]:
    """The env and --shared argument of a template as `water render` writes it for an example."""
    from conftest import example_path, render_objects

    (template,) = [o for o in render_objects(example_path(name)) if o["kind"] == "WorkflowTemplate"]
    body = next(t for t in template["spec"]["templates"] if t["name"] == template_kind)
    args = body["container"]["args"]
    return {e["name"]: e.get("value", "") for e in body["container"]["env"]}, args[args.index("--shared") + 1]


@pytest.mark.parametrize("argo_sets, date", [
    # a CronWorkflow's run: workflows.argoproj.io/scheduled-time, `scheduledTime.Format(time.RFC3339)` in the
    # schedule's location (argo-workflows workflow/common/convert.go), for the 03:00 Tokyo run of Nov 30
    ({"WATER_SCHEDULED_TIME": "2026-11-30T03:00:00+09:00", "WATER_CREATED_TIME": "2026-11-29T18:00:04Z"},
     "2026-11-30"),
    # a run with no scheduled time: Argo leaves {{workflow.scheduledTime}} as written; creationTimestamp in UTC
    ({"WATER_CREATED_TIME": "2026-11-29T18:30:00Z"}, "2026-11-30"),
    ({"WATER_SCHEDULED_TIME": "2026-06-01T00:00:00+09:00"}, "2026-06-01"),  # `water run --date 2026-06-01`
])
def test_run_date_is_the_scheduled_date_in_the_schedules_zone(argo_sets, date):
    from water.runtime.job import Job

    env, shared = _rendered_env("babyweight", "athena")
    env = {**{k: v for k, v in env.items() if v.startswith("{{workflow.")}, **argo_sets}
    job = Job.from_arguments(base64.b64encode(b'{"step": "extract"}').decode(), "{}", env, shared=shared)
    assert job.values()["run.date"] == date


def test_a_rerun_keeps_the_date_of_the_run_it_stands_for():
    """`argo resubmit` copies the Workflow's annotations (workflow/util/util.go FormulateResubmitWorkflow), so the
    rerun's scheduledTime is the original's while its creation is days later."""
    from water.runtime.job import Job

    env, shared = _rendered_env("babyweight", "athena")
    job = Job.from_arguments(base64.b64encode(b'{"step": "extract"}').decode(), "{}", {
        "WATER_SCHEDULED_TIME": "2026-11-30T03:00:00+09:00", "WATER_CREATED_TIME": "2026-12-04T09:00:00Z"},
        shared=shared)
    assert job.values()["run.date"] == "2026-11-30"


def test_a_train_step_s_content_type_is_every_channel_s(aws_env):
    """A built-in algorithm reads CSV only when the channel says text/csv (SageMaker's XGBoost defaults to libsvm)."""
    assert water_job(_pod("train", spec={"contentType": "text/csv"})) == 0
    (job,) = _training_jobs()
    assert [c.get("ContentType") for c in job["InputDataConfig"]] == ["text/csv"] * len(job["InputDataConfig"])


# --- lineage tags -------------------------------------------------------------------------------------------------

COMMIT = "4f2c1a9e8b7d6c5f4e3d2c1b0a9f8e7d6c5b4a39"


def _lineage_env(template: dict, annotations: dict) -> dict:
    """WATER_SPEC_HASH and WATER_GIT_COMMIT as the kubelet sets them: fieldRefs to the pod's annotations."""
    env = {}
    for item in template["container"]["env"]:
        path = item.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath", "")
        if path.startswith("metadata.annotations['water/"):
            env[item["name"]] = annotations.get(path[len("metadata.annotations['"):-2], "")
    return env


@pytest.mark.parametrize("step, kind", [("train", "train"), ("predict", "transform")])
def test_training_and_transform_jobs_and_models_carry_pipeline_run_step_and_commit(aws_env, monkeypatch, step, kind):
    """Rendered with the commit the deploy came from, read by the pod from its annotation, tagged on what it makes."""
    from conftest import POD_PIPELINE

    from water import pipeline, render

    (workflow_template,) = [o for o in render.render(pipeline.load(POD_PIPELINE), COMMIT).objects
                            if o["kind"] == "WorkflowTemplate"]
    annotations = workflow_template["spec"]["podMetadata"]["annotations"]
    assert annotations["water/git-commit"] == COMMIT
    template = next(t for t in workflow_template["spec"]["templates"] if t["name"] == kind)
    for name, value in _lineage_env(template, annotations).items():
        monkeypatch.setenv(name, value)
    assert water_job(_pod(step)) == 0
    sm = aws.client("sagemaker")
    if kind == "train":
        made = [sm.describe_training_job(TrainingJobName=j["TrainingJobName"])["TrainingJobArn"]
                for j in sm.list_training_jobs()["TrainingJobSummaries"]]
    else:
        (summary,) = sm.list_transform_jobs()["TransformJobSummaries"]
        job = sm.describe_transform_job(TransformJobName=summary["TransformJobName"])
        made = [job["TransformJobArn"], sm.describe_model(ModelName=job["ModelName"])["ModelArn"]]
    for arn in made:
        tags = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=arn)["Tags"]}
        assert tags == {"water/pipeline": "demo", "water/run": RUN_ID, "water/step": step,
                        "water/git-commit": COMMIT}, arn

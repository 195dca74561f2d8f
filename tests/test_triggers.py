"""spec.triggers: an object landing in S3 starts one run. The rendered Sensor is run as Argo Events runs it (the
Go harness in tests/argoevents: text/template, sprig, gjson, regexp) over the SQS messages moto's S3 really
delivers, and what it makes is created on the test API server as the Sensor's Kubernetes trigger does."""
import json
import os
import shutil
import subprocess
import textwrap

import pytest

from water import events, pipeline as pipeline_mod, render

HARNESS = os.path.join(os.path.dirname(__file__), "argoevents")
SPEC = """\
apiVersion: water/v1
kind: Pipeline
metadata: {name: arrivals, namespace: ml}
spec:
  image: registry.example.com/arrivals:1.0.0
  aws: {region: us-east-1}
  params: {input: "s3://landing-zone/none.csv", size: "0", note: "-"}
  triggers:
    - s3: {bucket: landing-zone, prefix: incoming/, suffix: .csv, queue: landing-events}
      params: {input: "s3://{{event.bucket}}/{{event.key}}", size: "{{event.size}}", note: "etag {{event.etag}}"}
  steps:
    - name: load
      container: {command: [sh, -c, "echo loading $0, $1 bytes", "{{params.input}}", "{{params.size}}"]}
"""


@pytest.fixture(scope="session")
def sensor_engine(tmp_path_factory):
    """The harness built with Debian's Go and its sprig and gjson (installer/install.sh --test installs them)."""
    go = shutil.which("go")
    assert go, "Go is missing: installer/install.sh --test installs golang-go with sprig and gjson"
    binary = str(tmp_path_factory.mktemp("argoevents") / "argoevents")
    env = {**os.environ, "GO111MODULE": "off", "GOPATH": "/usr/share/gocode",
           "GOCACHE": str(tmp_path_factory.mktemp("gocache")), "GOFLAGS": ""}
    subprocess.run([go, "build", "-o", binary, "."], cwd=HARNESS, env=env, check=True)

    def run(dependency: dict, trigger: dict, data: dict) -> tuple[bool, str, list]:
        given = {"filters": dependency["filters"]["data"], "parameters": trigger["template"]["k8s"]["parameters"],
                 "data": data}
        out = json.loads(subprocess.run([binary], input=json.dumps(given), capture_output=True, text=True,
                                        check=True).stdout)
        return out["passes"], out["why"], out["values"]

    return run


def _rendered(tmp_path):
    (tmp_path / "water.yaml").write_text(SPEC)
    objects = render.render(pipeline_mod.load(str(tmp_path))).objects
    return {o["kind"]: o for o in objects}


def _set(obj: dict, dest: str, value: str) -> None:
    """sjson.SetBytes for the paths the Sensor uses: dotted keys, list indexes as numbers."""
    *path, last = dest.split(".")
    for part in path:
        obj = obj[int(part)] if isinstance(obj, list) else obj[part]
    if isinstance(obj, list):
        obj[int(last)] = value
    else:
        obj[last] = value


def _workflow(sensor_engine, sensor: dict, data: dict):
    """The Workflow the Sensor creates for one event, or None when its filters stop the event."""
    import copy

    dependency, trigger = sensor["spec"]["dependencies"][0], sensor["spec"]["triggers"][0]
    passes, why, values = sensor_engine(dependency, trigger, data)
    if not passes:
        return None, why
    k8s = trigger["template"]["k8s"]
    workflow = copy.deepcopy(k8s["source"]["resource"])
    for parameter, value in zip(k8s["parameters"], values):
        assert value is not None, parameter
        _set(workflow, parameter["dest"], value)
    return workflow, ""


def _sqs_event(message: dict) -> dict:
    """The event data the SQS EventSource dispatches with jsonBody (argo-events eventsources/events
    SQSEventData; awssqs/start.go processMessage puts the body in as raw JSON)."""
    return {"messageId": message["MessageId"], "messageAttributes": None, "body": json.loads(message["Body"])}


def _deliveries(moto_endpoint, keys: list) -> list:
    """What the queue receives from moto's S3 when the notification is configured and `keys` are put."""
    import boto3

    def client(name):
        return boto3.client(name, endpoint_url=moto_endpoint, region_name="us-east-1", aws_access_key_id="testing",
                            aws_secret_access_key="testing")
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).read()
    s3, sqs = client("s3"), client("sqs")
    s3.create_bucket(Bucket="landing-zone")
    queue = sqs.create_queue(QueueName="landing-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(Bucket="landing-zone", NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
    for key in keys:
        s3.put_object(Bucket="landing-zone", Key=key, Body=b"id,alcohol\n1,13.2\n")
    messages = []
    while True:
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return messages
        messages += got
        for m in got:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])


def test_rendered_event_source_and_sensor_are_strict_valid(tmp_path, argo_errors):
    found = _rendered(tmp_path)
    assert set(found) == {"WorkflowTemplate", "EventSource", "Sensor", "ConfigMap"}
    for kind in ("EventSource", "Sensor"):
        assert argo_errors(found[kind]) == [], kind
    assert found["EventSource"]["spec"]["sqs"]["s3-1"] == {"region": "us-east-1", "queue": "landing-events",
                                                           "waitTimeSeconds": 20, "jsonBody": True}
    workflow = found["Sensor"]["spec"]["triggers"][0]["template"]["k8s"]["source"]["resource"]
    assert argo_errors(workflow) == []
    assert workflow["spec"]["workflowTemplateRef"] == {"name": "arrivals"}


def test_a_notification_delivered_twice_starts_one_run_with_the_decoded_key(tmp_path, sensor_engine, moto_endpoint,
                                                                           kube, argo_errors):
    from kubernetes import client

    sensor = _rendered(tmp_path)["Sensor"]
    key = "incoming/day one+é.csv"
    test_event, created = _deliveries(moto_endpoint, [key])
    assert json.loads(test_event["Body"])["Event"] == "s3:TestEvent"
    assert _workflow(sensor_engine, sensor, _sqs_event(test_event))[0] is None  # S3's test message starts nothing

    api = client.CustomObjectsApi(kube)
    outcomes = []
    for delivery in (created, created):  # SQS is at-least-once: the same message again
        workflow, _ = _workflow(sensor_engine, sensor, _sqs_event(delivery))
        assert argo_errors(workflow) == []
        try:
            api.create_namespaced_custom_object("argoproj.io", "v1alpha1", "ml", "workflows", workflow)
            outcomes.append("created")
        except client.ApiException as exc:
            outcomes.append(exc.status)
    assert outcomes == ["created", 409]
    (run,) = api.list_namespaced_custom_object("argoproj.io", "v1alpha1", "ml", "workflows")["items"]
    etag = json.loads(created["Body"])["Records"][0]["s3"]["object"]["eTag"]
    assert run["metadata"]["name"] == events.run_name("arrivals", "landing-zone", key, etag)
    assert run["metadata"]["annotations"]["water/event"] == f"s3://landing-zone/{key}"
    assert run["metadata"]["labels"]["water/pipeline"] == "arrivals"
    assert run["spec"]["arguments"]["parameters"] == [
        {"name": "input", "value": f"s3://landing-zone/{key}"}, {"name": "note", "value": f"etag {etag}"},
        {"name": "size", "value": "18"}]


@pytest.mark.parametrize("key, why", [
    ("elsewhere/day.csv", "matches none of"),
    ("incoming/day.json", "matches none of"),
    ("incoming/{{workflow.name}}.csv", "matches none of"),  # Argo Workflows would read it in the parameter
])
def test_objects_outside_the_trigger_start_nothing(tmp_path, sensor_engine, moto_endpoint, key, why):
    sensor = _rendered(tmp_path)["Sensor"]
    _, created = _deliveries(moto_endpoint, [key])
    workflow, reason = _workflow(sensor_engine, sensor, _sqs_event(created))
    assert workflow is None and why in reason


def test_a_large_object_size_is_a_plain_number(tmp_path, sensor_engine):
    """gjson reads numbers as float64, which text/template prints as 1.2e+10 without the int64 conversion."""
    sensor = _rendered(tmp_path)["Sensor"]
    record = {"eventName": "ObjectCreated:Put", "eventTime": "2026-12-03T10:00:00.000Z",
              "s3": {"bucket": {"name": "landing-zone"},
                     "object": {"key": "incoming/big.csv", "size": 12345678901, "eTag": "0123abcd"}}}
    workflow, _ = _workflow(sensor_engine, sensor, {"messageId": "m", "messageAttributes": None,
                                                    "body": {"Records": [record]}})
    assert {"name": "size", "value": "12345678901"} in workflow["spec"]["arguments"]["parameters"]


def test_local_event_runs_the_pipeline_as_that_event_would(tmp_path, runner):
    from water.cli import cli

    (tmp_path / "water.yaml").write_text(SPEC)
    landed = tmp_path / ".water" / "s3" / "landing-zone" / "incoming" / "day one.csv"
    landed.parent.mkdir(parents=True)
    landed.write_text("id,alcohol\n1,13.2\n")
    result = runner.invoke(cli, ["run", "--local", str(tmp_path), "--event", "s3://landing-zone/incoming/day one.csv"])
    assert result.exit_code == 0, result.output
    (record,) = [json.loads(p.read_text()) for p in (tmp_path / ".water" / "runs").glob("*/run.json")]
    assert record["params"]["input"] == "s3://landing-zone/incoming/day one.csv"
    assert record["params"]["size"] == "18"
    assert record["params"]["note"] == "etag 29707b3798a379431fae70f7cafa3291"  # the MD5 of the content, as S3's
    log = (tmp_path / ".water" / "runs" / record["run_id"] / "steps" / "load.log").read_text()
    assert f"loading {landed}, 18 bytes" in log  # s3:// is the local data root here


@pytest.mark.parametrize("uri, message", [
    ("s3://landing-zone/elsewhere/day.csv", "no trigger of this pipeline starts on s3://landing-zone/elsewhere/day.csv"),
    ("s3://landing-zone/incoming/missing.csv", "no object s3://landing-zone/incoming/missing.csv"),
    ("landing-zone/incoming/day.csv", "is not an S3 object URI"),
])
def test_local_event_refuses_what_no_trigger_would_start(tmp_path, runner, uri, message):
    from water.cli import cli

    (tmp_path / "water.yaml").write_text(SPEC)
    (tmp_path / ".water" / "s3" / "landing-zone" / "elsewhere").mkdir(parents=True)
    (tmp_path / ".water" / "s3" / "landing-zone" / "elsewhere" / "day.csv").write_text("x\n")
    result = runner.invoke(cli, ["run", "--local", str(tmp_path), "--event", uri])
    assert result.exit_code == 2 and message in result.output, result.output


@pytest.mark.parametrize("trigger, message", [
    ('{s3: {bucket: landing-zone, queue: q}, params: {nope: "{{event.key}}"}}',
     "8:62: spec.triggers[0].params.nope: unknown parameter 'nope'"),
    ('{s3: {bucket: landing-zone, queue: q}, params: {input: "{{run.id}}"}}',
     "8:70: spec.triggers[0].params.input: {{run.id}} is not known when the event arrives"),
    ('{s3: {bucket: landing-zone, queue: q}, params: {input: "{{event.name}}"}}',
     "8:70: spec.triggers[0].params.input: unknown expression '{{event.name}}'"),
    ('{s3: {bucket: landing-zone, queue: q}, params: {input: "{{ \'{{\' }}x"}}',
     "8:70: spec.triggers[0].params.input: a run parameter cannot hold '{{' (Argo Workflows would read it)"),
    ('{s3: {bucket: Landing_Zone, queue: q}}', "8:28: spec.triggers[0].s3.bucket: 'Landing_Zone' is not an S3 bucket"),
    ('{s3: {bucket: landing-zone}}', "8:19: spec.triggers[0].s3.queue: required field is missing"),
])
def test_trigger_mistakes_are_located(tmp_path, trigger, message):
    from water.errors import SpecError

    (tmp_path / "water.yaml").write_text(textwrap.dedent(f"""\
        apiVersion: water/v1
        kind: Pipeline
        metadata: {{name: arrivals}}
        spec:
          image: registry.example.com/arrivals:1.0.0
          aws: {{region: us-east-1}}
          params: {{input: "-"}}
          triggers: [{trigger}]
          steps: [{{name: load, container: {{command: [echo, "{{{{params.input}}}}"]}}}}]
        """))
    with pytest.raises(SpecError) as caught:
        pipeline_mod.load(str(tmp_path))
    assert message in str(caught.value)


def test_event_fields_are_refused_in_steps(tmp_path):
    from water.errors import SpecError

    (tmp_path / "water.yaml").write_text(SPEC.replace("echo loading", "echo {{event.key}}"))
    with pytest.raises(SpecError, match=r"13:\d+: spec.steps\[0\].container.command\[2\]: \{\{event...\}\} is known "
                                        r"to a triggered run's parameters only"):
        pipeline_mod.load(str(tmp_path))


def test_deploy_applies_the_event_source_and_sensor_and_prunes_them_with_the_triggers(tmp_path, water, apiserver):
    (tmp_path / "water.yaml").write_text(SPEC)
    out = water("deploy", str(tmp_path), "-y")
    assert "eventsource.argoproj.io/arrivals created" in out and "sensor.argoproj.io/arrivals created" in out
    sensor = apiserver.api.objects[("argoproj.io/v1alpha1/sensors", "ml", "arrivals")]
    assert sensor["spec"]["triggers"][0]["template"]["k8s"]["operation"] == "create"
    assert "unchanged" in water("deploy", str(tmp_path), "-y")
    spec = SPEC.split("  triggers:")[0] + "  steps:" + SPEC.split("  steps:")[1]
    (tmp_path / "water.yaml").write_text(spec)
    out = water("deploy", str(tmp_path), "-y")
    assert "eventsource.argoproj.io/arrivals pruned" in out and "sensor.argoproj.io/arrivals pruned" in out
    assert ("argoproj.io/v1alpha1/sensors", "ml", "arrivals") not in apiserver.api.objects
    (tmp_path / "water.yaml").write_text(SPEC)
    water("deploy", str(tmp_path), "-y")
    out = water("delete", "arrivals", "--yes")
    assert "eventsource.argoproj.io/arrivals deleted" in out and "sensor.argoproj.io/arrivals deleted" in out
    assert not [k for k in apiserver.api.objects if k[0].endswith(("/sensors", "/eventsources"))]


def test_deploy_without_argo_events_is_one_line_and_writes_nothing(tmp_path, runner):
    from kubeapi import ARGO, CORE, RunningApiServer

    from water.cli import cli

    (tmp_path / "water.yaml").write_text(SPEC)
    with RunningApiServer({**CORE, **ARGO}) as server:
        result = runner.invoke(cli, ["deploy", str(tmp_path), "-y", "--kubeconfig", server.kubeconfig(tmp_path / "kc")])
        assert server.api.written() == {}
    assert result.exit_code != 0
    assert result.output.strip().endswith(f"the cluster has no Sensor API (argoproj.io/v1alpha1/sensors): is Argo "
                                          f"Events installed? (context 'test', server {server.url})")


def test_iam_events_is_the_event_sources_calls_on_the_queue_only(tmp_path, runner):
    """The SQS EventSource calls GetQueueUrl (by name), ReceiveMessage and DeleteMessage (argo-events
    pkg/eventsources/sources/awssqs/start.go), on the trigger's queue."""
    from parliament import analyze_policy_string

    from water.cli import cli

    (tmp_path / "water.yaml").write_text(SPEC)
    result = runner.invoke(cli, ["iam", str(tmp_path), "--events", "--account", "111122223333"])
    assert result.exit_code == 0, result.output
    policy = json.loads(result.stdout)
    assert analyze_policy_string(json.dumps(policy)).findings == []
    assert policy["Statement"] == [{"Sid": "ReadTriggerQueues", "Effect": "Allow", "Action": [
        "sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
        "Resource": ["arn:aws:sqs:us-east-1:111122223333:landing-events"]}]
    trust = runner.invoke(cli, ["iam", str(tmp_path), "--events", "--account", "111122223333", "--trust",
                                "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE"])
    condition = json.loads(trust.stdout)["Statement"][0]["Condition"]["StringEquals"]
    assert condition["oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE:sub"] == "system:serviceaccount:ml:water-events"


def test_events_setup_makes_the_bucket_notify_the_queue_and_keeps_what_was_there(aws_env, runner):
    """Against moto's S3 and SQS over HTTP: after setup, a new object under the prefix reaches the queue."""
    from urllib.parse import unquote_plus

    import boto3

    from conftest import example_path
    from water.cli import cli

    def client(name):
        return boto3.client(name, region_name="ap-northeast-1")
    s3, sqs = client("s3"), client("sqs")
    s3.create_bucket(Bucket="landing-zone", CreateBucketConfiguration={"LocationConstraint": "ap-northeast-1"})
    url = sqs.create_queue(QueueName="landing-zone-events")["QueueUrl"]
    other = sqs.create_queue(QueueName="audit")["QueueUrl"]
    other_arn = sqs.get_queue_attributes(QueueUrl=other, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    theirs = {"Sid": "audit-team", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
              "Action": "sqs:ReceiveMessage", "Resource": "*"}
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({"Version": "2012-10-17",
                                                                             "Statement": [theirs]})})
    s3.put_bucket_notification_configuration(Bucket="landing-zone", NotificationConfiguration={
        "QueueConfigurations": [{"Id": "audit", "QueueArn": other_arn, "Events": ["s3:ObjectRemoved:*"]}]})
    path = example_path("arrivals")

    dry = runner.invoke(cli, ["events", "setup", path, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout)["queueConfiguration"]["QueueArn"].endswith(":landing-zone-events")
    assert s3.get_bucket_notification_configuration(Bucket="landing-zone")["QueueConfigurations"][0]["Id"] == "audit"

    done = runner.invoke(cli, ["events", "setup", path])
    assert done.exit_code == 0, done.output
    assert done.output.splitlines() == ["sqs queue landing-zone-events: policy lets s3://landing-zone send",
                                        "s3 bucket landing-zone: notifies landing-zone-events of new objects"]
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"])
    assert policy["Statement"][0] == theirs and policy["Statement"][1]["Condition"] == {
        "ArnLike": {"aws:SourceArn": "arn:aws:s3:::landing-zone"}}
    config = s3.get_bucket_notification_configuration(Bucket="landing-zone")["QueueConfigurations"]
    assert [c["Id"] for c in config] == ["audit", "water-arrivals-s3-1"]

    sqs.purge_queue(QueueUrl=url)  # S3's s3:TestEvent
    s3.put_object(Bucket="landing-zone", Key="incoming/2026-12-02.csv", Body=b"id\n1\n")
    s3.put_object(Bucket="landing-zone", Key="elsewhere/2026-12-02.csv", Body=b"id\n1\n")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    keys = [json.loads(m["Body"])["Records"][0]["s3"]["object"]["key"] for m in got]
    assert [unquote_plus(k) for k in keys] == ["incoming/2026-12-02.csv"]  # moto encodes / too (quote_plus)

    again = runner.invoke(cli, ["events", "setup", path])
    assert again.output.splitlines() == ["sqs queue landing-zone-events: policy unchanged",
                                         "s3 bucket landing-zone: notification unchanged"]


def test_events_setup_of_a_queue_that_is_missing_is_one_line(aws_env, runner):
    from conftest import example_path
    from water.cli import cli

    result = runner.invoke(cli, ["events", "setup", example_path("arrivals")])
    assert result.exit_code == 1
    assert result.output.startswith("cannot read the queues: ") and len(result.output.splitlines()) == 1


def test_events_setup_of_a_bucket_that_is_missing_is_one_line_after_the_queue(aws_env, runner):
    import boto3

    from conftest import example_path
    from water.cli import cli

    boto3.client("sqs", region_name="ap-northeast-1").create_queue(QueueName="landing-zone-events")
    result = runner.invoke(cli, ["events", "setup", example_path("arrivals")])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == "sqs queue landing-zone-events: policy lets s3://landing-zone send"
    assert lines[1].startswith("cannot set up s3://landing-zone → landing-zone-events: ") and "bucket" in lines[1].lower()
    assert len(lines) == 2

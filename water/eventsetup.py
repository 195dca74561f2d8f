"""`water events setup`: what AWS needs for spec.triggers — each bucket notifying its trigger's SQS queue of new
objects, and the queue letting that bucket send. Both are merged into what is there (other notifications and
policy statements stay); water's own are named after the pipeline, so a second setup changes nothing."""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from water.pipeline import Pipeline


@dataclass
class Setup:
    """One trigger's two documents, and where they go."""

    bucket: str
    queue: str
    queue_url: str
    region: str
    notification: dict  # a QueueConfiguration of the bucket's NotificationConfiguration
    statement: dict  # of the queue's Policy


def plans(pipeline: Pipeline, queue_of: Callable[[str, str], tuple[str, str]]) -> list[Setup]:
    """Each trigger's setup; queue_of(queue, region) → its URL and ARN."""
    found = []
    for i, trigger in enumerate(pipeline.spec.triggers):
        s3 = trigger.s3
        region = s3.region or pipeline.spec.aws.region
        url, arn = queue_of(s3.queue, region)
        rules = [{"Name": name, "Value": value} for name, value in (("prefix", s3.prefix), ("suffix", s3.suffix))
                 if value]
        notification: dict[str, Any] = {"Id": f"water-{pipeline.name}-s3-{i + 1}", "QueueArn": arn,
                                        "Events": ["s3:ObjectCreated:*"]}
        if rules:
            notification["Filter"] = {"Key": {"FilterRules": rules}}
        statement = {"Sid": f"water-{pipeline.name}-s3-{i + 1}", "Effect": "Allow",
                     "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sqs:SendMessage", "Resource": arn,
                     "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{s3.bucket}"}}}
        found.append(Setup(s3.bucket, s3.queue, url, region, notification, statement))
    return found


def queues(clients: Callable[..., Any]) -> Callable[[str, str], tuple[str, str]]:
    """(URL, ARN) of a queue by name, as SQS answers them."""
    def found(queue: str, region: str) -> tuple[str, str]:
        sqs = clients("sqs", region)
        url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return found


def apply(setup: Setup, clients: Callable[..., Any], echo: Callable[[str], object] = print) -> None:
    """The queue's policy first (S3 checks, when the notification is put, that it may send: it sends its
    s3:TestEvent), then the bucket's notification."""
    sqs, url = clients("sqs", setup.region), setup.queue_url
    current = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"]).get("Attributes", {}).get("Policy")
    policy: dict[str, Any] = json.loads(current) if current else {"Version": "2012-10-17", "Statement": []}
    policy["Statement"] = [s for s in policy.get("Statement", []) if s.get("Sid") != setup.statement["Sid"]] + [
        setup.statement]
    if current is None or json.loads(current) != policy:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
        echo(f"sqs queue {setup.queue}: policy lets s3://{setup.bucket} send")
    else:
        echo(f"sqs queue {setup.queue}: policy unchanged")
    s3 = clients("s3", setup.region)
    config = s3.get_bucket_notification_configuration(Bucket=setup.bucket)
    config.pop("ResponseMetadata", None)
    others = [q for q in config.get("QueueConfigurations", []) if q.get("Id") != setup.notification["Id"]]
    ours = [q for q in config.get("QueueConfigurations", []) if q.get("Id") == setup.notification["Id"]]
    if ours and _same(ours[0], setup.notification):
        echo(f"s3 bucket {setup.bucket}: notification unchanged")
        return
    wanted = {**config, "QueueConfigurations": others + [setup.notification]}
    s3.put_bucket_notification_configuration(Bucket=setup.bucket, NotificationConfiguration=wanted)
    echo(f"s3 bucket {setup.bucket}: notifies {setup.queue} of new objects")



def _same(current: dict, wanted: dict) -> bool:
    """S3 answers filter rule names capitalised (Prefix, Suffix) whichever way they were put."""
    def rules(config: dict) -> list:
        return sorted((r["Name"].lower(), r["Value"]) for r in config.get("Filter", {}).get("Key", {}).get(
            "FilterRules", []))
    return (current.get("QueueArn"), sorted(current.get("Events", [])), rules(current)) == (
        wanted["QueueArn"], sorted(wanted["Events"]), rules(wanted))

"""The one place boto3 clients are made: standard retries (adaptive on throttling), endpoints from
the standard AWS_ENDPOINT_URL variables, and botocore event hooks that tests can add."""
from __future__ import annotations

MARKER = "_water-job.json"  # water's record of the AWS job a step started: kept beside its output, not data
HOOKS: list = []  # (event name, handler): registered on every client made, e.g. ("before-send.athena", f)


def client(service: str, region: str | None = None):
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "adaptive", "max_attempts": 10}, connect_timeout=10, read_timeout=60)
    made = boto3.session.Session(region_name=region).client(service, config=config)
    for event, handler in HOOKS:
        made.meta.events.register(event, handler)
    return made


def s3_parts(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key


def measure_prefix(s3, uri: str) -> tuple[int, int]:
    """(bytes, objects) of the data under an S3 prefix, paginated; water's own marker is not counted."""
    bucket, prefix = s3_parts(uri)
    total = count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", ()):
            if obj["Key"].endswith(MARKER):
                continue
            total += obj["Size"]
            count += 1
    return total, count

"""A step's lineage record: the S3 data it read (each object with its ETag), what it made, and the spec hash and
commit its run was deployed from. The pod writes it as the step ends, to `<artifacts>lineage/<pipeline>/<run>/
<step>.json` (spec.aws.artifacts), where `water lineage` reads it long after Argo has deleted the run (water's
runs live a week); a local run keeps the same records in its run.json."""
from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from water import contract
from water.runtime import aws

if TYPE_CHECKING:
    from water.runtime.job import Job

MAX_OBJECTS = 1000  # listed per input; beyond, an input is known by its count, bytes and digest of every object
FOLDER = "lineage/"


def read_data(uri: str, entries: Iterable[tuple[str, str, int]]) -> dict:
    """What a step read at `uri`, from (key, etag, size) of each object (S3's ETag without its quotes; for a local
    file its MD5, which is S3's ETag of an object uploaded in one part): the objects (the first MAX_OBJECTS), their
    count and bytes, and a digest over all of them, which changes when any object does."""
    found = sorted(entries)
    digest = hashlib.sha256("".join(f"{key}\t{etag}\n" for key, etag, _ in found).encode()).hexdigest()
    bucket = uri[len("s3://"):].partition("/")[0]
    return {"uri": uri, "count": len(found), "bytes": sum(size for _, _, size in found), "digest": digest,
            "objects": [{"uri": f"s3://{bucket}/{key}", "etag": etag, "size": size}
                        for key, etag, size in found[:MAX_OBJECTS]]}


def read_inputs(uris: list, entries: Callable[[str], Iterable[tuple[str, str, int]]]) -> list:
    """read_data of each s3:// input (a model version's ARN is recorded as the output of the step that made it);
    entries(uri) lists its objects, from S3 or the local folder standing for it."""
    return [read_data(uri, entries(uri)) for uri in uris if uri.startswith("s3://")]


def s3_entries(s3: Any, uri: str) -> Iterable[tuple[str, str, int]]:
    """(key, etag, size) of the objects at `uri`: under it when it ends in '/', else that one object."""
    _, key = aws.s3_parts(uri)
    for obj in aws.data_objects(s3, uri):
        if uri.endswith("/") or obj["Key"] == key:
            yield obj["Key"], obj["ETag"].strip('"'), obj["Size"]


def record(pipeline: str, run: str, step: str, kind: str, outputs: dict, inputs: list, lineage: dict) -> dict:
    """One step's record; `lineage`: {specHash, commit, branch} as the run was deployed."""
    return {"pipeline": pipeline, "run": run, "step": step, "kind": kind, "outputs": outputs, "inputs": inputs,
            **{k: v for k, v in lineage.items() if v}, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def record_key(artifacts: str, pipeline: str, run: str, step: str) -> str:
    return f"{artifacts}{FOLDER}{pipeline}/{run}/{step}.json"


def write(job: Job, inputs: Callable[[dict, Callable[[str], str]], list], outputs: dict) -> str | None:
    """The step's record, when spec.aws.artifacts is set (else None): the inputs its kind names, listed with their
    ETags. A shard of a fanned-out step writes its own."""
    artifacts = (job.config.get("aws") or {}).get("artifacts")
    if not artifacts:
        return None
    s3 = job.client("s3")
    read = read_inputs(inputs(job.spec, job.resolve), lambda uri: s3_entries(s3, uri))
    step = job.step if job.shard == "0/1" else f"{job.step}.shard{job.shard.partition('/')[0]}"
    body = record(job.pipeline, job.run_id, job.step, job.kind, outputs, read, {
        "specHash": job.env.get(contract.SPEC_HASH_ENV, ""), "commit": job.env.get(contract.GIT_COMMIT_ENV, ""),
        "branch": job.env.get(contract.GIT_BRANCH_ENV, "")})
    uri = record_key(artifacts, job.pipeline, job.run_id, step)
    bucket, key = aws.s3_parts(uri)
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(body, indent=1, sort_keys=True).encode(),
                  ContentType="application/json")
    return uri

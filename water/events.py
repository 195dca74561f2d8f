"""The S3 events that start runs (spec.triggers): what `{{event.FIELD}}` means, as the Sensor works it out on the
cluster and as `water run --local --event` does here.

On the cluster the Sensor computes the run's parameters with Go templates (text/template with sprig's functions)
over the SQS message's body: Argo Events' ResolveParamValue → getValueWithTemplate, `.Input` being the event data
{"messageId", "messageAttributes", "body": the S3 notification} (argo-events pkg/sensors/triggers/params.go,
pkg/eventsources/sources/awssqs/start.go with jsonBody). S3 writes the key URL-encoded, a space as `+`
("red flower.jpg" → "red+flower.jpg"; moto's S3 writes quote_plus(key), `/` as %2F too): the template decodes it
with sprig's urlParse, whose `path` is Go's url.URL.Path, percent-decoded."""
from __future__ import annotations

import datetime
import hashlib
import os
import re
from typing import Any

from water import expressions
from water.errors import BadParameter

RECORD = "{{ $r := index .Input.body.Records 0 }}"  # S3 sends one record per notification message
KEY = '(trimPrefix "/" (urlParse (printf "s3:///%s" (replace "+" "%20" $r.s3.object.key))).path)'
FIELDS = {  # {{event.FIELD}} → its Go template expression over the record $r
    "bucket": "$r.s3.bucket.name",
    "key": KEY,
    "size": "(int64 $r.s3.object.size)",  # gjson gives numbers as float64: printed plain, not 1.2e+06
    "time": "$r.eventTime",
    "etag": "$r.s3.object.eTag",
}
FIELD_NAMES = tuple(FIELDS)
RUN_NAME_HASH = 10  # hex digits: a 52-character pipeline name + "-" + 10 fits a label value's 63


def go_template(text: str) -> str:
    """A trigger parameter's text as an Argo Events dataTemplate; literal `{{` stays literal."""
    out = []
    for part in expressions.parse(text):
        if isinstance(part, expressions.Ref):
            out.append("{{ %s }}" % FIELDS[part.name])
        else:
            out.append(part.replace("{{", '{{ "{{" }}'))
    return RECORD + "".join(out)


def run_name_template(pipeline: str) -> str:
    """The run's name from the object's bucket, key and version (its ETag where the bucket keeps no versions):
    SQS delivers a message at least once, and a second delivery then asks for a Workflow that exists."""
    version = "(default $r.s3.object.eTag $r.s3.object.versionId)"
    return (RECORD + pipeline + '-{{ printf "%s/%s/%s" $r.s3.bucket.name ' + KEY + " " + version +
            " | sha256sum | trunc %d }}" % RUN_NAME_HASH)


def run_name(pipeline: str, bucket: str, key: str, version: str) -> str:
    """What run_name_template gives (the local run's record and the tests say the same)."""
    digest = hashlib.sha256(f"{bucket}/{key}/{version}".encode()).hexdigest()[:RUN_NAME_HASH]
    return f"{pipeline}-{digest}"


def key_pattern(prefix: str, suffix: str) -> str:
    """The decoded key's RE2 pattern (Go's regexp.Match finds it anywhere: anchored)."""
    return "^" + _quote_meta(prefix) + "[^{]*" + _quote_meta(suffix) + "$"  # no {: Argo Workflows reads {{ in a parameter


def exact_pattern(text: str) -> str:
    return "^" + _quote_meta(text) + "$"


def _quote_meta(text: str) -> str:
    return re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", text)  # Go's regexp.QuoteMeta


def key_filter_template() -> str:
    """A data filter's template: `.Input` is the filtered value itself (argo-events dependencies/filter.go)."""
    return '{{ trimPrefix "/" (urlParse (printf "s3:///%s" (replace "+" "%20" .Input))).path }}'


def matches(trigger: Any, bucket: str, key: str) -> bool:
    """Whether the trigger's Sensor would start a run for this object (the same pattern, which Python's re and
    Go's RE2 read alike)."""
    return bucket == trigger.s3.bucket and re.search(key_pattern(trigger.s3.prefix, trigger.s3.suffix), key) is not None


def local_event(uri: str, data_root: str) -> dict:
    """{{event.*}} of an object in the local data root, as S3's notification would give them."""
    if not uri.startswith("s3://") or "/" not in uri[5:] or uri.endswith("/"):
        raise ValueError(f"'{uri}' is not an S3 object URI (s3://BUCKET/KEY)")
    bucket, key = uri[5:].split("/", 1)
    path = os.path.join(os.path.abspath(data_root), bucket, key)
    if not os.path.isfile(path):
        raise ValueError(f"no object {uri} (locally {path})")
    with open(path, "rb") as f:
        etag = hashlib.md5(f.read(), usedforsecurity=False).hexdigest()  # a single-part upload's ETag
    stat = os.stat(path)
    when = datetime.datetime.fromtimestamp(stat.st_mtime, datetime.timezone.utc)
    return {"event.bucket": bucket, "event.key": key, "event.size": str(stat.st_size),
            "event.time": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
            "event.etag": etag}


def local_params(pipeline: Any, uri: str) -> dict:
    """The run parameters `water run --local --event URI` runs with: the first trigger that the object in the
    local data root would start, its params made of that object's event fields."""
    try:
        event = local_event(uri, os.path.join(pipeline.project_dir, pipeline.spec.local.data_root))
    except ValueError as exc:
        raise BadParameter(f"--event: {exc}") from None
    for trigger in pipeline.spec.triggers:
        if matches(trigger, event["event.bucket"], event["event.key"]):
            return params_for(trigger, event)
    raise BadParameter(f"--event: no trigger of this pipeline starts on {uri} (spec.triggers: " + (", ".join(
        f"s3://{t.s3.bucket}/{t.s3.prefix}*{t.s3.suffix}" for t in pipeline.spec.triggers) or "none") + ")")


def params_for(trigger: Any, event: dict) -> dict:
    """The run parameters a trigger gives for an event ({{event.*}} values by Ref.key)."""
    return {name: expressions.substitute(text, event) for name, text in sorted(trigger.params.items())}

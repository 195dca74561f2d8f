"""The end of an AWS job's CloudWatch log, for the failure message."""
from __future__ import annotations

from typing import Any

TAIL_LINES = 20


def tail(logs: Any, group: str, stream_prefix: str, lines: int = TAIL_LINES) -> list:
    """The last `lines` lines of the streams of `group` starting with `stream_prefix`, oldest first.
    Each stream is read to its end by following nextForwardToken until it stops changing."""
    events = []
    try:
        streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=stream_prefix)["logStreams"]
    except logs.exceptions.ResourceNotFoundException:
        return []
    for stream in streams:
        token = None
        while True:
            request = {"logGroupName": group, "logStreamName": stream["logStreamName"], "startFromHead": True}
            if token:
                request["nextToken"] = token
            page = logs.get_log_events(**request)
            events += page["events"]
            if not page["events"] or page.get("nextForwardToken") in (None, token):
                break
            token = page["nextForwardToken"]
    events.sort(key=lambda e: e["timestamp"])
    text = [line for e in events for line in e["message"].rstrip("\n").splitlines()]
    return text[-lines:]

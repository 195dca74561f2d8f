"""Datadog monitors as code (alerts.datadog.monitors): the pipeline's monitors — a step failed, a scheduled run
was missed, a step got slower — defined from the spec, and kept in step with Datadog on deploy through the
`datadog` package: found by the tags managed-by:water + pipeline:NAME (one per `water-monitor:KIND` tag), created,
updated or deleted, never duplicated. Keys come from the environment or files, never from the spec."""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from water import backoff, drift
from water.errors import DatadogError

if TYPE_CHECKING:
    from water.pipeline import Pipeline


OWNER_TAG = "managed-by:water"
KIND_TAG = "water-monitor"
MAX_WINDOW = 30 * 86400  # metric monitors evaluate at most a month back
DURATION_INCREASE = 50  # percent, day against the same day a week before
RETRIES = backoff.Policy(first=0.5, cap=2.0, attempts=3, jitter=False)  # rate limits, 5xx, silence
TIMEOUT = 10  # seconds per request


# --- definitions -------------------------------------------------------------------------------------------

def definitions(p: Pipeline) -> list:
    """The monitors the pipeline wants (empty unless alerts.datadog.monitors), in a fixed order."""
    dd = p.spec.alerts.datadog
    if not (dd and dd.monitors):
        return []
    scope = ",".join([f"pipeline:{p.name}"] + ([f"env:{dd.env}"] if dd.env else []))
    found = [_monitor(p, "step-failure", f"{p.name}: a step failed",
                      f"sum(last_10m):sum:water.step.runs{{{scope},status:failure}} by {{step}}.as_count() > 0",
                      "Step {{step.name}} of pipeline " + p.name + " failed.", {"on_missing_data": "default"})]
    window = _missed_run_window(p, dd.grace)
    if window:
        found.append(_monitor(
            p, "missed-schedule", f"{p.name}: a scheduled run was missed",
            f"sum(last_{_span(window)}):sum:water.step.runs{{{scope},status:success}}.as_count() < 1",
            f"No step of pipeline {p.name} succeeded in the last {_span(window)} (its schedule "
            f"`{p.spec.schedule.cron}` ({p.spec.schedule.timezone}) plus {_span(dd.grace)} of grace): the run "
            "was not started, or did not get far.", {"on_missing_data": "default"}))
    found.append(_monitor(
        p, "duration", f"{p.name}: a step got slower",
        f"pct_change(avg(last_1d),last_1w):avg:water.step.duration.avg{{{scope}}} by {{step}} > {DURATION_INCREASE}",
        "Step {{step.name}} of pipeline " + p.name + f" took over {DURATION_INCREASE}% longer today than a week "
        "ago.", {}))
    return found


def _monitor(p: Pipeline, kind: str, name: str, query: str, message: str, options: dict) -> dict:
    dd = p.spec.alerts.datadog
    lines = [message]
    if dd.notify:
        lines.append(" ".join(dd.notify))
    tags = sorted({OWNER_TAG, f"pipeline:{p.name}", f"{KIND_TAG}:{kind}", *dd.tags,
                   *([f"env:{dd.env}"] if dd.env else [])})
    return {"name": f"[water] {name}", "type": "query alert", "query": query, "message": "\n".join(lines),
            "tags": tags, "options": {"require_full_window": False, **options}}  # runs report sparsely


def _missed_run_window(p: Pipeline, grace: int) -> int | None:
    """Longest gap between scheduled runs plus grace; None without a schedule or beyond what Datadog evaluates."""
    from water.schedule import longest_gap

    schedule = p.spec.schedule
    if schedule is None or schedule.suspend:
        return None
    window = longest_gap(schedule.cron, schedule.timezone) + grace
    return window if window <= MAX_WINDOW else None


def _span(seconds: int) -> str:
    """A Datadog time span: whole days, hours or minutes (rounded up)."""
    minutes = -(-seconds // 60)
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


def kind_of(monitor: dict) -> str:
    return next((t.split(":", 1)[1] for t in monitor.get("tags", []) if t.startswith(KIND_TAG + ":")), "")


# --- Datadog -----------------------------------------------------------------------------------------------

class Datadog:
    """The `datadog` package's API, configured from the environment: DD_API_KEY and DD_APP_KEY (or the files
    DD_API_KEY_FILE and DD_APP_KEY_FILE), DD_SITE (default datadoghq.com) or DATADOG_HOST (a full URL)."""

    def __init__(self, environ: Mapping[str, str] = os.environ, retries: backoff.Policy = RETRIES) -> None:
        api_key, app_key = _key(environ, "API"), _key(environ, "APP")
        if not (api_key and app_key):
            raise DatadogError("alerts.datadog.monitors needs Datadog keys: set DD_API_KEY and DD_APP_KEY (or "
                               "DD_API_KEY_FILE and DD_APP_KEY_FILE); nothing was changed")
        self.host = environ.get("DATADOG_HOST") or f"https://api.{environ.get('DD_SITE') or 'datadoghq.com'}"
        self.retries = retries
        import datadog

        # host_name given: the package would otherwise look for this machine's name (even in cloud metadata)
        datadog.initialize(api_key=api_key, app_key=app_key, api_host=self.host, host_name="water", mute=True,
                           timeout=TIMEOUT)
        from datadog import api

        self._monitors = api.Monitor

    def owned(self, pipeline: str) -> list:
        """The monitors water keeps for the pipeline, oldest first."""
        found = self._call("list the monitors", self._monitors.get_all,
                           monitor_tags=[OWNER_TAG, f"pipeline:{pipeline}"])
        return sorted(found if isinstance(found, list) else [], key=lambda m: m.get("id", 0))

    def create(self, body: dict) -> dict:
        return self._call(f"create monitor '{body['name']}'", self._monitors.create, **body)

    def update(self, monitor_id: int, body: dict) -> dict:
        return self._call(f"update monitor {monitor_id}", self._monitors.update, monitor_id, **body)

    def delete(self, monitor_id: int) -> None:
        self._call(f"delete monitor {monitor_id}", self._monitors.delete, monitor_id, gone_ok=True)

    def _call(self, what: str, method, *args, gone_ok: bool = False, **kwargs: Any):
        """One API call. The package answers errors as {"errors": ...} (a list from the API, a string when
        unreachable) or raises on 5xx and timeouts; rate limits and outages are retried, briefly."""
        from datadog.api.exceptions import DatadogException

        def once():
            try:
                result = method(*args, **kwargs)
            except DatadogException as exc:
                result = {"errors": str(exc).split(". ")[0], "transient": True}
            errors = result.get("errors") if isinstance(result, dict) else None
            if not errors:
                return result
            text = "; ".join(map(str, errors)) if isinstance(errors, list) else _unreachable(str(errors))
            if gone_ok and "not found" in text.lower():
                return None
            transient = result.get("transient") or isinstance(errors, str) or "rate limit" in text.lower()
            raise DatadogError(f"Datadog ({self.host}) refused to {what}: {text}", transient)

        return backoff.retry(once, self.retries, retryable=lambda exc: isinstance(exc, DatadogError) and exc.transient)


def _unreachable(text: str) -> str:
    for needle, reason in (("refused", "connection refused"), ("timed out", "timed out")):
        if needle in text:
            return f"no answer ({reason})"
    return text


def _key(environ: Mapping[str, str], which: str) -> str:
    value = environ.get(f"DD_{which}_KEY") or environ.get(f"DATADOG_{which}_KEY")
    path = environ.get(f"DD_{which}_KEY_FILE")
    if not value and path:
        try:
            with open(path, encoding="utf-8") as f:
                value = f.read()
        except OSError as exc:
            raise DatadogError(f"DD_{which}_KEY_FILE: cannot read {path}: {exc.strerror}") from None
    return (value or "").strip()


# --- sync --------------------------------------------------------------------------------------------------

@dataclass
class MonitorChange:
    action: str  # created | updated | unchanged | deleted
    body: dict  # wanted (or, when deleted, live)
    monitor_id: int | None = None
    diff: str = ""

    def __str__(self) -> str:
        return f"monitor '{self.body['name']}' {self.action}"


def plan(dd: Datadog, pipeline: str, wanted: list) -> list:
    live = dd.owned(pipeline)
    changes, kept = [], set()
    for body in wanted:
        match = next((m for m in live if kind_of(m) == kind_of(body) and m["id"] not in kept), None)
        if match is None:
            changes.append(MonitorChange("created", body, diff=_diff(body["name"], {}, body)))
            continue
        kept.add(match["id"])
        current = {k: drift.project(match.get(k), v) for k, v in body.items()}
        action = "unchanged" if current == body else "updated"
        changes.append(MonitorChange(action, body, match["id"], _diff(body["name"], current, body)
                                     if action == "updated" else ""))
    changes += [MonitorChange("deleted", m, m["id"]) for m in live if m["id"] not in kept]  # and duplicates
    return changes


def _diff(name: str, before: dict, after: dict) -> str:
    def text(body: Any):
        return json.dumps(body, indent=2, sort_keys=True) if body else ""

    return drift.unified_diff(name, text(before), text(after), source="datadog")


def apply(dd: Datadog, changes: list, echo: Callable[[str], object] = print) -> None:
    for change in changes:
        if change.action == "created":
            dd.create(change.body)
        elif change.action == "updated":
            dd.update(change.monitor_id, change.body)
        elif change.action == "deleted":
            dd.delete(change.monitor_id)
        echo(str(change))


def delete_all(dd: Datadog, pipeline: str, echo: Callable[[str], object] = print) -> int:
    found = dd.owned(pipeline)
    apply(dd, [MonitorChange("deleted", m, m["id"]) for m in found], echo)
    return len(found)

"""Datadog monitors as code: defined from the spec, kept in step on deploy, removed on delete — through the
`datadog` package over HTTP to a local Datadog API (tests/datadogapi.py), with the cluster emulator."""
from __future__ import annotations

import json

import pytest

from water import monitors
from water import pipeline as pipeline_mod

KINDS = ["duration", "missed-schedule", "step-failure"]


def posted(datadog, method: str) -> list:
    return [json.loads(body) if body else None for m, _, _, body in datadog.requests if m == method]


def kinds(datadog) -> list:
    """The kinds of the monitors water keeps for babyweight."""
    return sorted(monitors.kind_of(m) for m in datadog.monitors.values() if "pipeline:babyweight" in m["tags"])


def definitions(project, edit=lambda t: t) -> dict:
    return {monitors.kind_of(m): m for m in monitors.definitions(pipeline_mod.load(project("babyweight", edit)))}


def test_the_pipeline_defines_failure_missed_schedule_and_duration_monitors(project):
    found = definitions(project)
    assert sorted(found) == KINDS
    failure = found["step-failure"]
    assert failure["query"] == ("sum(last_10m):sum:water.step.runs{pipeline:babyweight,status:failure} by {step}"
                                ".as_count() > 0")
    assert failure["tags"] == ["managed-by:water", "pipeline:babyweight", "team:ml", "water-monitor:step-failure"]
    assert "{{step.name}}" in failure["message"]
    # daily at 03:00 Tokyo: a day between runs, plus the default hour of grace
    assert found["missed-schedule"]["query"] == ("sum(last_25h):sum:water.step.runs{pipeline:babyweight,"
                                                 "status:success}.as_count() < 1")
    assert found["duration"]["query"].startswith("pct_change(avg(last_1d),last_1w):avg:water.step.duration.avg{")


@pytest.mark.parametrize("schedule, window", [
    ('cron: "0 3 * * 1-5"', "last_73h"),  # Friday to Monday
    ('cron: "*/20 * * * *"', "last_80m"),
    ('cron: "0 0 1 * *"', None),  # a month between runs: beyond what a metric monitor evaluates
    ('cron: "0 3 * * *"\n    suspend: true', None),
])
def test_the_missed_schedule_window_follows_the_cron(project, schedule, window):
    found = definitions(project, lambda t: t.replace('cron: "0 3 * * *"', schedule))
    missed = found.get("missed-schedule")
    assert (missed["query"].split("(")[1].split(")")[0] if missed else None) == window


def test_env_scopes_the_queries_and_handles_are_notified(project):
    found = definitions(project, lambda t: t.replace(
        "monitors: true", "monitors: true, env: prod, notify: ['@slack-ml-alerts', '@pagerduty-ml'], grace: 3h"))
    assert "{pipeline:babyweight,env:prod,status:failure}" in found["step-failure"]["query"]
    assert "env:prod" in found["duration"]["tags"]
    assert found["step-failure"]["message"].endswith("\n@slack-ml-alerts @pagerduty-ml")
    assert "sum(last_27h)" in found["missed-schedule"]["query"]


def test_deploy_creates_the_monitors_once_and_a_second_deploy_writes_nothing(water, apiserver, datadog, project):
    path = project("babyweight")
    out = water("deploy", path)
    assert "monitor '[water] babyweight: a step failed' created" in out
    assert kinds(datadog) == KINDS
    bodies = posted(datadog, "POST")
    assert sorted(b["name"] for b in bodies) == sorted(m["name"] for m in datadog.monitors.values())
    assert all(h["DD-API-KEY"] == "test-api-key" for _, _, h, _ in datadog.requests)
    assert "test-api-key" not in out
    datadog.requests.clear()
    again = water("deploy", path)
    assert "monitor '[water] babyweight: a step got slower' unchanged" in again
    assert [m for m, _, _, _ in datadog.requests] == ["GET"]  # one search by tags, no write


def test_a_changed_spec_updates_the_monitors_in_place(water, apiserver, datadog, project):
    path = project("babyweight")
    water("deploy", path)
    ids = sorted(datadog.monitors)
    (path / "water.yaml").write_text((path / "water.yaml").read_text().replace(
        "monitors: true", "monitors: true, notify: ['@slack-ml-alerts']"))
    out = water("deploy", path)
    assert out.count("' updated") == 3 and '+  "message": "Step {{step.name}}' in out
    assert sorted(datadog.monitors) == ids  # same monitors, never duplicated
    assert all(m["message"].endswith("@slack-ml-alerts") for m in datadog.monitors.values())


def test_duplicates_and_monitors_no_longer_wanted_are_deleted(water, apiserver, datadog, project):
    path = project("babyweight")
    water("deploy", path)
    copy = dict(next(m for m in datadog.monitors.values() if monitors.kind_of(m) == "duration"))
    copy.pop("id")
    extra = datadog.add(copy)["id"]
    unrelated = datadog.add({"name": "someone else's", "type": "query alert", "query": "x", "tags": ["team:ml"]})
    out = water("deploy", path, "--param", "limit=5")
    assert "monitor '[water] babyweight: a step got slower' deleted" in out
    assert extra not in datadog.monitors and unrelated["id"] in datadog.monitors and kinds(datadog) == KINDS
    (path / "water.yaml").write_text((path / "water.yaml").read_text().replace("monitors: true", "monitors: false"))
    out = water("deploy", path)
    assert out.count("' deleted") == 3
    assert list(datadog.monitors) == [unrelated["id"]]


def test_dry_run_shows_the_monitors_and_writes_nothing(water, apiserver, datadog, project):
    out = water("deploy", project("babyweight"), "--dry-run")
    assert "monitor '[water] babyweight: a scheduled run was missed' created (dry run)" in out
    assert '+  "query": "sum(last_25h):sum:water.step.runs' in out
    assert datadog.monitors == {} and posted(datadog, "POST") == []


def test_diff_counts_monitor_changes(water, apiserver, datadog, project):
    path = project("babyweight")
    water("deploy", path)
    water("diff", path)  # exit 0: nothing to change
    datadog.monitors.pop(min(datadog.monitors))
    assert "+++ water/[water] babyweight: a step failed" in water("diff", path, code=1)


def test_without_keys_nothing_is_applied_anywhere(water, apiserver, datadog, project, monkeypatch):
    for name in ("DD_API_KEY", "DD_APP_KEY"):
        monkeypatch.delenv(name)
    out = water("deploy", project("babyweight"), code=1)
    assert out.strip() == ("alerts.datadog.monitors needs Datadog keys: set DD_API_KEY and DD_APP_KEY (or "
                           "DD_API_KEY_FILE and DD_APP_KEY_FILE); nothing was changed")
    assert apiserver.api.written() == {} and datadog.requests == []


def test_keys_can_come_from_files(water, apiserver, datadog, project, monkeypatch, tmp_path):
    for which, value in (("API", "test-api-key"), ("APP", "test-app-key")):
        (tmp_path / which).write_text(value + "\n")
        monkeypatch.delenv(f"DD_{which}_KEY")
        monkeypatch.setenv(f"DD_{which}_KEY_FILE", str(tmp_path / which))
    water("deploy", project("babyweight"))
    assert kinds(datadog) == KINDS


def test_an_error_answer_fails_the_deploy_saying_what_landed_and_a_rerun_finishes(water, apiserver, datadog,
                                                                                    project):
    path = project("babyweight")
    datadog.inject(400, "POST", {"errors": ["The value provided for parameter 'query' is invalid"]})
    out = water("deploy", path, code=1)
    assert "refused to create monitor '[water] babyweight: a step failed': The value provided for parameter " \
           "'query' is invalid" in out
    assert "the manifests were applied but no revision was recorded; `water deploy` again finishes" in out
    assert len(posted(datadog, "POST")) == 1  # a 400 is not retried
    assert "revision 1 recorded" in water("deploy", path)
    assert kinds(datadog) == KINDS


def test_turning_monitors_off_keeps_them_named_until_they_are_really_deleted(water, apiserver, datadog, project):
    path = project("babyweight")
    water("deploy", path)
    (path / "water.yaml").write_text((path / "water.yaml").read_text().replace("monitors: true", "monitors: false"))
    datadog.inject(500, "DELETE", {"errors": ["Internal error"]}, times=3)  # every attempt at the first one
    assert "no revision was recorded" in water("deploy", path, code=1)
    assert kinds(datadog) == KINDS
    out = water("deploy", path)  # the latest revision still has monitors: Datadog is asked again
    assert out.count("' deleted") == 3 and "revision 2 recorded" in out
    assert kinds(datadog) == []


def test_server_errors_and_rate_limits_are_retried(water, apiserver, datadog, project):
    datadog.inject(503, "GET", {"errors": ["unavailable"]})
    datadog.inject(429, "POST", {"errors": ["Rate limit of 3000 requests in 3600 seconds reached"]})
    water("deploy", project("babyweight"))
    assert kinds(datadog) == KINDS


def test_a_datadog_that_never_answers_fails_within_the_timeout(water, apiserver, datadog, project, monkeypatch):
    monkeypatch.setattr(monitors, "TIMEOUT", 0.2)
    datadog.hang = True
    out = water("deploy", project("babyweight"), code=1)
    assert out.strip().endswith("refused to list the monitors: no answer (timed out)")
    assert apiserver.api.written() == {}  # monitors are planned before the cluster is written


def test_delete_removes_the_monitors_and_needs_the_keys_first(water, apiserver, datadog, project, monkeypatch):
    water("deploy", project("babyweight"))
    unrelated = datadog.add({"name": "other", "type": "query alert", "query": "x", "tags": ["managed-by:water",
                                                                                           "pipeline:other"]})
    monkeypatch.delenv("DD_APP_KEY")
    water("delete", "babyweight", "--yes", code=1)
    assert kinds(datadog) == KINDS and apiserver.api.objects  # nothing deleted anywhere
    monkeypatch.setenv("DD_APP_KEY", "test-app-key")
    out = water("delete", "babyweight", "--yes")
    assert out.count("' deleted") == 3 and "workflowtemplate.argoproj.io/babyweight deleted" in out
    assert list(datadog.monitors) == [unrelated["id"]]

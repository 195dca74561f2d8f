"""`water backfill`: one run per tick of the schedule, each standing for its tick, never twice — on the test API
server and locally — and the ticks themselves, DST included."""
from __future__ import annotations

import json
import threading
import time
from datetime import date

import pytest

from water import runs, schedule
from water.errors import BadParameter

WORKFLOWS = "argoproj.io/v1alpha1/workflows"


@pytest.fixture(autouse=True)
def _datadog(datadog):
    """babyweight keeps Datadog monitors: its deploys talk to the local Datadog API."""
    return datadog


def test_ticks_follow_the_clock_of_the_zone_across_dst():
    new_york = schedule.ticks("0 9 * * *", "America/New_York", date(2026, 3, 7), date(2026, 3, 9))
    assert [t.isoformat() for t in new_york] == ["2026-03-07T09:00:00-05:00", "2026-03-08T09:00:00-04:00",
                                                 "2026-03-09T09:00:00-04:00"]
    # 02:30 shows twice on the night clocks go back: one run; on the night it never shows: at the jump, 03:00
    back = schedule.ticks("30 2 * * *", "Europe/Berlin", date(2026, 10, 24), date(2026, 10, 26))
    assert [t.isoformat() for t in back] == ["2026-10-24T02:30:00+02:00", "2026-10-25T02:30:00+02:00",
                                             "2026-10-26T02:30:00+01:00"]
    forward = schedule.ticks("30 2 * * *", "Europe/Berlin", date(2026, 3, 29), date(2026, 3, 29))
    assert [t.isoformat() for t in forward] == ["2026-03-29T03:00:00+02:00"]
    with pytest.raises(BadParameter, match="more than 10000 runs"):
        schedule.ticks("* * * * *", "UTC", date(2026, 1, 1), date(2026, 1, 31))


def _backfills(apiserver) -> dict:
    return {o["metadata"]["name"]: o for k, o in apiserver.api.objects.items()
            if k[0] == WORKFLOWS and o["metadata"].get("labels", {}).get("water/backfill") == "true"}


def test_three_days_make_three_runs_with_their_dates_and_a_second_call_makes_none(water, apiserver, project,
                                                                                  argo_errors):
    water("deploy", project("babyweight"))
    out = water("backfill", "babyweight", "--from", "2026-11-28", "--to", "2026-11-30", "--param", "limit=5", "-y")
    assert out.splitlines()[-1] == "3 run(s) started, 0 already there"
    made = _backfills(apiserver)
    assert sorted(made) == ["babyweight-2611280300", "babyweight-2611290300", "babyweight-2611300300"]
    for name, run in made.items():
        assert argo_errors(run) == []
        day = f"2026-11-{name[-6:-4]}"
        assert run["metadata"]["annotations"][runs.SCHEDULED_TIME] == f"{day}T03:00:00+09:00"  # Asia/Tokyo
        assert run["metadata"]["labels"]["water/run-date"] == day
        assert run["spec"] == {"workflowTemplateRef": {"name": "babyweight"},
                               "arguments": {"parameters": [{"name": "limit", "value": "5"}]}}
    again = water("backfill", "babyweight", "--from", "2026-11-27", "--to", "2026-11-30", "-y")
    assert again.splitlines()[-1] == "1 run(s) started, 3 already there"
    assert len(_backfills(apiserver)) == 4


def test_a_tick_the_schedule_ran_is_left_alone_and_dry_run_starts_nothing(water, apiserver, kube, project):
    from kubernetes import client

    water("deploy", project("babyweight"))
    # the CronWorkflow's own run of 2026-11-30 03:00 JST, its scheduled time as Argo writes it (RFC 3339, UTC here)
    client.CustomObjectsApi(kube).create_namespaced_custom_object("argoproj.io", "v1alpha1", "ml", "workflows", {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {
            "name": "babyweight-1764439200", "labels": {"water/pipeline": "babyweight"},
            "annotations": {runs.SCHEDULED_TIME: "2026-11-29T18:00:00Z"}},
        "spec": {"workflowTemplateRef": {"name": "babyweight"}}})
    out = water("backfill", "babyweight", "--from", "2026-11-29", "--to", "2026-11-30", "--dry-run")
    assert out.splitlines() == ["2026-11-29T03:00:00+09:00  workflow/babyweight-2611290300 would be created",
                                "2026-11-30T03:00:00+09:00  babyweight-1764439200 exists",
                                "1 of 2 tick(s) to run (dry run)"]
    assert _backfills(apiserver) == {}
    water("backfill", "babyweight", "--from", "2026-11-29", "--to", "2026-11-30", "-y")
    assert sorted(_backfills(apiserver)) == ["babyweight-2611290300"]


def test_parallel_one_starts_each_run_after_the_last_ended(water, apiserver, kube, project):
    from kubernetes import client

    water("deploy", project("babyweight"))
    custom = client.CustomObjectsApi(kube)
    seen, running_at_once = [], []

    def finish_each():
        deadline = time.monotonic() + 20
        while len(seen) < 3 and time.monotonic() < deadline:
            found = _backfills(apiserver)
            running_at_once.append(sum(1 for r in found.values() if r.get("status", {}).get("phase") != "Succeeded"))
            for name in sorted(set(found) - set(seen)):
                seen.append(name)
                time.sleep(0.1)  # a run that takes a while: nothing else may start meanwhile
                # as Argo's controller ends a run: the phase in status and in its label (operator.go)
                custom.patch_namespaced_custom_object("argoproj.io", "v1alpha1", "ml", "workflows", name, {
                    "metadata": {"labels": {"workflows.argoproj.io/phase": "Succeeded"}},
                    "status": {"phase": "Succeeded"}})
            time.sleep(0.01)
    watcher = threading.Thread(target=finish_each)
    watcher.start()
    water("backfill", "babyweight", "--from", "2026-11-28", "--to", "2026-11-30", "--parallel", "1", "-y")
    watcher.join()
    assert seen == ["babyweight-2611280300", "babyweight-2611290300", "babyweight-2611300300"]
    assert max(running_at_once) == 1


@pytest.mark.parametrize("args, message, code", [
    (["--from", "2026-11-30", "--to", "2026-11-01"], "--to 2026-11-01 is before --from 2026-11-30", 2),
    (["--from", "2026-11-30", "--to", "2026-11-30", "--param", "nope=1"], "unknown parameter 'nope'", 2),
])
def test_bad_backfills_are_one_line_and_start_nothing(water, apiserver, project, args, message, code):
    water("deploy", project("babyweight"))
    assert message in water("backfill", "babyweight", *args, "-y", code=code)
    assert _backfills(apiserver) == {}


def test_a_pipeline_without_a_schedule_has_nothing_to_backfill(water, apiserver, project):
    import re

    water("deploy", project("babyweight", edit=lambda text: re.sub(r"  schedule:\n(    .*\n)+", "", text)))
    assert "pipeline 'babyweight' has no schedule to backfill" in water(
        "backfill", "babyweight", "--from", "2026-11-30", "--to", "2026-11-30", "-y", code=1)


LOCAL = """apiVersion: water/v1
kind: Pipeline
metadata: {name: t}
spec:
  image: registry.example.com/t:1.0.0
  schedule: {cron: "0 6 * * 1-5", timezone: Asia/Tokyo}
  steps:
    - name: a
      container: {command: [sh, -c, 'echo "{{run.date}}" >> days.txt']}
"""


def test_local_backfill_runs_each_weekday_once(tmp_path, runner):
    from water.cli import cli

    (tmp_path / "water.yaml").write_text(LOCAL)
    args = ["backfill", "--local", str(tmp_path), "--from", "2026-11-27", "--to", "2026-12-01"]  # Fri to Tue
    dry = runner.invoke(cli, [*args, "--dry-run"])
    assert dry.exit_code == 0 and [line.split()[1:] for line in dry.output.splitlines()] == [["would", "run"]] * 3
    first = runner.invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert (tmp_path / "days.txt").read_text().split() == ["2026-11-27", "2026-11-30", "2026-12-01"]
    again = runner.invoke(cli, args)
    assert again.exit_code == 0 and all("succeeded" in line for line in again.output.splitlines())
    assert len((tmp_path / "days.txt").read_text().split()) == 3
    records = [json.loads(p.read_text()) for p in (tmp_path / ".water" / "runs").glob("*/run.json")]
    assert sorted(r["date"] for r in records) == ["2026-11-27", "2026-11-30", "2026-12-01"]


def test_a_backfill_cut_short_by_the_server_is_finished_by_running_it_again(water, apiserver, project):
    water("deploy", project("babyweight"))
    def second_tick(request):
        return ((request.data or {}).get("metadata") or {}).get("name") == "babyweight-2611290300"
    apiserver.api.inject(500, method="POST", path="workflows", when=second_tick)
    failed = water("backfill", "babyweight", "--from", "2026-11-28", "--to", "2026-11-30", "-y", code=1)
    assert "workflow/babyweight-2611280300 created" in failed and "500" in failed
    assert sorted(_backfills(apiserver)) == ["babyweight-2611280300"]
    again = water("backfill", "babyweight", "--from", "2026-11-28", "--to", "2026-11-30", "-y")
    assert again.splitlines()[-1] == "2 run(s) started, 1 already there"
    assert len(_backfills(apiserver)) == 3

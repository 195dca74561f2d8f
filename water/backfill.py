"""`water backfill NAME --from D1 --to D2`: one run per tick of the pipeline's schedule in the range, each standing
for its tick ({{run.date}} its date, in the schedule's time zone), as the CronWorkflow would have started it. Each
run is named after its tick, so a second backfill of the same range starts none again; a tick the schedule itself
already ran (a Workflow whose scheduled time is that tick) is left alone."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from water import backoff, schedule
from water.cluster import Cluster
from water.errors import AlreadyExists, WaterError
from water.render.pods import PIPELINE_LABEL
from water.runs import ENDED, POLL, SCHEDULED_TIME, definition, listed_phase, parse_time, schedule_of, template_run

BACKFILL_LABEL = "water/backfill"  # "true" on every run a backfill starts
RUN_DATE_LABEL = "water/run-date"  # the tick's date, YYYY-MM-DD


@dataclass
class Tick:
    at: datetime  # in the schedule's time zone
    name: str  # the run's name
    ran: str = ""  # the Workflow that already stands for it


def run_name(pipeline: str, at: datetime) -> str:
    """52 characters of pipeline name at most, + 11: a label value's 63 (Argo labels pods with it)."""
    return f"{pipeline}-{at:%y%m%d%H%M}"


def deployed_schedule(cluster: Cluster, name: str) -> tuple[str, str]:
    """(cron, time zone) of the deployed pipeline's schedule: its CronWorkflow's, or its submitter CronJob's."""
    if definition(cluster, name)["kind"] == "CronJob":
        raise WaterError(f"pipeline '{name}' runs as a plain CronJob: backfill it day by day with "
                         "`water run NAME --date D`")
    found = schedule_of(cluster, name)
    if found is None:
        raise WaterError(f"pipeline '{name}' has no schedule to backfill: start a past day with "
                         "`water run NAME --date D`")
    return found["cron"], found["timezone"]


def plan(cluster: Cluster, name: str, first: date, last: date) -> list[Tick]:
    """The ticks from `first` to `last`, each with the run that already stands for it (its metadata says)."""
    found = schedule.ticks(*deployed_schedule(cluster, name), first, last)
    ran: dict = {}
    for run in cluster.list_metadata("Workflow", f"{PIPELINE_LABEL}={name}"):
        stamp = (run["metadata"].get("annotations") or {}).get(SCHEDULED_TIME)
        if stamp:
            try:
                ran[parse_time(stamp).timestamp()] = run["metadata"]["name"]
            except ValueError:
                continue  # not a time: no tick's run
    return [Tick(at, run_name(name, at), ran.get(at.timestamp(), "")) for at in found]


def start(cluster: Cluster, name: str, ticks: list[Tick], params: dict, *, parallel: int | None = None,
          echo: Callable[[str], object] = print, every: backoff.Policy = POLL,
          sleep: Callable[[float], object] = time.sleep) -> int:
    """Create the runs of the ticks not run yet, at most `parallel` of the backfill's runs going at once (waiting
    for one to end before the next); returns how many were created."""
    template = definition(cluster, name)
    created = 0
    for tick in ticks:
        if tick.ran:
            echo(f"{tick.at.isoformat()}  {tick.ran} exists")
            continue
        if parallel:
            _wait_for_room(cluster, name, parallel, every, sleep)
        run = template_run(template, params, tick.at.isoformat(), {"name": tick.name},
                           {BACKFILL_LABEL: "true", RUN_DATE_LABEL: f"{tick.at:%Y-%m-%d}"})
        try:
            cluster.create(run)
        except AlreadyExists:  # a run of this tick was started meanwhile (another backfill)
            echo(f"{tick.at.isoformat()}  {tick.name} exists")
            continue
        created += 1
        echo(f"{tick.at.isoformat()}  workflow/{tick.name} created")
    return created


def _wait_for_room(cluster: Cluster, name: str, parallel: int, every: backoff.Policy,
                   sleep: Callable[[float], object]) -> None:
    n = 0  # the runs' metadata each time (their phase label), never their nodes
    while sum(listed_phase(r | {"kind": "Workflow"}) not in ENDED for r in cluster.list_metadata(
            "Workflow", f"{PIPELINE_LABEL}={name},{BACKFILL_LABEL}=true")) >= parallel:
        sleep(every.pause(n))
        n += 1

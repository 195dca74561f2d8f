"""Human summaries of a schedule: its cron, time zone and next run."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from water.spec.model import Schedule


def in_zone(instant: datetime, zone: str | None) -> datetime:
    """The instant on the clock of an IANA time zone (UTC without one): what {{run.date}} is the date of."""
    from datetime import timezone

    if not zone:
        return instant.astimezone(timezone.utc)
    import zoneinfo

    return instant.astimezone(zoneinfo.ZoneInfo(zone))


def next_run(schedule: Schedule, now: datetime | None = None) -> datetime:
    """The next time the schedule fires after `now`, in the schedule's time zone."""
    return next_time(schedule.cron, schedule.timezone, now)


def next_time(cron: str, timezone: str, now: datetime | None = None) -> datetime:
    import zoneinfo

    from croniter import croniter

    tz = zoneinfo.ZoneInfo(timezone)
    start = (now or datetime.now(tz)).astimezone(tz)
    return croniter(cron, start).get_next(datetime)


def describe(schedule: Schedule, now: datetime | None = None) -> str:
    if schedule is None:
        return "no schedule (runs on `water run` only)"
    when = next_run(schedule, now).strftime("%Y-%m-%d %H:%M %Z")
    suspended = ", suspended" if schedule.suspend else ""
    return f"schedule {schedule.cron} ({schedule.timezone}), next run {when}{suspended}"


def longest_gap(cron: str, timezone: str, *, days: int = 366, fires: int = 3000) -> int:
    """The longest wait in seconds between two runs of the schedule, over a year from a fixed date (so the
    answer is the same on every machine and every day), or until `fires` runs; DST-aware."""
    import zoneinfo

    from croniter import croniter

    tz = zoneinfo.ZoneInfo(timezone)
    start = datetime(2025, 1, 1, tzinfo=tz)
    end, runs = start.timestamp() + days * 86400, croniter(cron, start)
    previous, longest = runs.get_next(float), 0.0
    for _ in range(fires):
        current = runs.get_next(float)
        longest = max(longest, current - previous)
        if current > end:
            break
        previous = current
    return int(longest)

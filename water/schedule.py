"""Human summaries of a schedule: its cron, time zone and next run."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
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


def ticks(cron: str, timezone: str, first: date, last: date, limit: int = 10000) -> list[datetime]:
    """The times the schedule fires from the start of `first` to the end of `last`, in its time zone (DST-aware:
    a time the clock skips fires at the first moment after the jump, as croniter has it; a time the clock shows
    twice fires once, at its first showing). At most `limit`: a runaway range is refused, not looped over."""
    import zoneinfo

    from water.errors import BadParameter

    if last < first:
        raise BadParameter(f"--to {last} is before --from {first}")

    from croniter import croniter

    tz = zoneinfo.ZoneInfo(timezone)
    start = datetime.combine(first, time.min, tz)
    end = datetime.combine(last + timedelta(days=1), time.min, tz)
    found: list[datetime] = []
    seen = set()
    fires = croniter(cron, start - timedelta(microseconds=1))
    while (tick := fires.get_next(datetime)) < end:
        wall = tick.replace(tzinfo=None)
        if wall not in seen:
            seen.add(wall)
            found.append(tick)
        if len(found) > limit:
            raise BadParameter(f"more than {limit} runs from {first} to {last}: backfill a shorter range")
    return found

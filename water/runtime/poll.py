"""The waiting loop of every AWS job: an interval policy (water.backoff's, or job_interval), a deadline,
transient errors waited out."""
from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

from water import backoff
from water.errors import JobFailed


class Timeout(JobFailed):
    """The step's timeout ended the wait (exit 1)."""


class Terminated(BaseException):
    """The step was asked to stop (SIGTERM). Raised only where a wait checks for it, never from inside a
    library call; a BaseException so that no `except Exception` takes it for an error."""


STOP = threading.Event()  # set by water-job's SIGTERM handler


QUICK, SHORT_JOB, SHORT_INTERVAL, LONG_SHARE, LONG_CAP = 20.0, 600.0, 16.5, 1 / 12, 300.0


def job_interval(age: float, n: int, rand: Callable[[], float]) -> float:
    """How long to wait before asking again about a job that has run `age` seconds: every 2-10 s in its first
    20 s, then 10-16.5 s until 10 minutes (at most 6 calls a minute; a job ending at a random moment is seen
    ~8 s late on average), then 1/12 of its age (seen within ~5% of its age), at most 5 minutes; times 1-1.2
    so that many steps' polls do not fall into step. bench/runtime.py measures the delays."""
    if age < QUICK:
        base = min(max(age / 2, 2.0), 10.0)
    elif age < SHORT_JOB:
        base = min(max(age / 10, 10.0), SHORT_INTERVAL)
    else:
        base = min(age * LONG_SHARE, LONG_CAP)
    return base * (1 + 0.2 * rand())


RETRY = backoff.Policy(first=2.0, cap=60.0)  # retrying a refused request (a create, a busy Glue job)
TRANSIENT = backoff.Policy(first=5.0, cap=300.0, jitter=False)  # after throttling or a 5xx while polling


def wait(check: Callable[[], Any], *, timeout: float, interval: Callable[..., float] | None = None,
         transient: Callable[[Exception], bool] | None = None, clock: Callable[[], float] = time.monotonic,
         sleep: Callable[[float], object] | None = None, rand: Callable[[], float] = random.random,
         stop: threading.Event = STOP, log: Callable[..., object] = print) -> Any:
    """Call check() until it returns something other than None, `interval(age, n, rand)` seconds apart (default:
    RETRY), never past the deadline. An error `transient(exc)` calls passing (throttling, a 5xx) is logged
    and waited out, the wait doubling with each one in a row up to 5 minutes: it is never the step's failure.
    A stop request ends the wait at once with Terminated."""
    interval, sleep = interval or RETRY, sleep or stop.wait
    started = clock()
    deadline, n, troubles = started + timeout, 0, 0
    while True:
        if stop.is_set():
            raise Terminated()
        try:
            result = check()
            troubles = 0
        except Exception as exc:
            if transient is None or not transient(exc):
                raise
            troubles += 1
            log(f"asking again later: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", flush=True)
            result = None
        if result is not None:
            return result
        left = deadline - clock()
        if left <= 0:
            raise Timeout(f"still running after {timeout:.0f}s")
        pause = interval(clock() - started, n, rand)
        if troubles:
            pause = max(pause, TRANSIENT.pause(troubles))
        sleep(min(left, pause))
        n += 1
        if stop.is_set():
            raise Terminated()

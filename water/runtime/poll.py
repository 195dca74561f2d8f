"""One waiting loop for every AWS job: exponential backoff with full jitter, a cap, a deadline."""
from __future__ import annotations

import random
import threading
import time


class Timeout(Exception):
    pass


class Terminated(BaseException):
    """The step was asked to stop (SIGTERM). Raised only where a wait checks for it, never from inside a
    library call; a BaseException so that no `except Exception` takes it for an error."""


STOP = threading.Event()  # set by water-job's SIGTERM handler


def wait(check, *, timeout: float, first: float = 2.0, cap: float = 60.0, clock=time.monotonic, sleep=None,
         rand=random.random, stop: threading.Event = STOP):
    """Call check() until it returns something other than None, at most once per interval.
    Interval n is random in [0, min(cap, first * 2**n)] (full jitter), never past the deadline.
    A stop request ends the wait at once with Terminated."""
    sleep = sleep or stop.wait
    deadline = clock() + timeout
    attempt = 0
    while True:
        if stop.is_set():
            raise Terminated()
        result = check()
        if result is not None:
            return result
        left = deadline - clock()
        if left <= 0:
            raise Timeout(f"still running after {timeout:.0f}s")
        sleep(min(left, max(first / 2, rand() * min(cap, first * 2 ** attempt))))
        attempt += 1
        if stop.is_set():
            raise Terminated()

"""One waiting loop for every AWS job: exponential backoff with full jitter, a cap, a deadline."""
from __future__ import annotations

import random
import time


class Timeout(Exception):
    pass


def wait(check, *, timeout: float, first: float = 2.0, cap: float = 60.0, clock=time.monotonic, sleep=time.sleep,
         rand=random.random):
    """Call check() until it returns something other than None, at most once per interval.
    Interval n is random in [0, min(cap, first * 2**n)] (full jitter), never past the deadline."""
    deadline = clock() + timeout
    attempt = 0
    while True:
        result = check()
        if result is not None:
            return result
        left = deadline - clock()
        if left <= 0:
            raise Timeout(f"still running after {timeout:.0f}s")
        sleep(min(left, max(first / 2, rand() * min(cap, first * 2 ** attempt))))
        attempt += 1

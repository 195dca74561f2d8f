"""One retry engine for every loop in water that tries again: the Kubernetes calls, Datadog, Slack, the AWS
jobs' creates, stops and polls, `water run --wait`. A Policy says how long to pause before each next try, how
many tries and how long in all; retry() applies it to a call, and the AWS poller (water.runtime.poll) to its
checks. The pause is a parameter like any other I/O: tests pass NO_WAIT instead of patching time.sleep."""
from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Policy:
    first: float = 1.0  # the pause before the second try
    cap: float = 60.0  # the longest pause; a server's Retry-After is held to it too
    attempts: int = 0  # tries in all; 0: as many as the deadline allows
    deadline: float = 0.0  # seconds from the first try after which nothing starts again; 0: none
    jitter: bool = True  # full jitter: a random pause in [first/2, the doubled one], so that clients spread out

    def pause(self, n: int, rand: Callable[[], float] = random.random) -> float:
        """The pause after the n-th failed try (0 the first): doubling from `first` up to `cap`."""
        top = min(self.cap, self.first * 2 ** n)
        return max(self.first / 2, rand() * top) if self.jitter else top

    def __call__(self, age: float, n: int, rand: Callable[[], float] = random.random) -> float:
        """As the poller asks for its interval (water.runtime.poll): the pause after its n-th check."""
        return self.pause(n, rand)


NO_WAIT = Policy(first=0.0, cap=0.0)  # for tests: every retry at once


def retry(call: Callable[[], Any], policy: Policy, *, retryable: Callable[[Exception], bool],
          retry_after: Callable[[Exception], float | None] = lambda exc: None,
          sleep: Callable[[float], object] = time.sleep, clock: Callable[[], float] = time.monotonic,
          rand: Callable[[], float] = random.random) -> Any:
    """call() until it returns. An exception `retryable(exc)` says a later try may get past is followed by the
    policy's pause (or the server's `retry_after(exc)` seconds, within the cap) and another try, until the policy's
    tries or deadline run out; then, as any other exception at once, it is raised as it came."""
    started, failed = clock(), 0
    while True:
        try:
            return call()
        except Exception as exc:
            failed += 1
            if not retryable(exc) or (policy.attempts and failed >= policy.attempts):
                raise
            hinted = retry_after(exc)
            pause = min(hinted, policy.cap) if hinted is not None else policy.pause(failed - 1, rand)
            if policy.deadline and clock() + pause - started >= policy.deadline:
                raise
            sleep(pause)

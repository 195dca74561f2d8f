"""The one retry engine (water.backoff) on a virtual clock: what every loop in water that tries again relies on."""
from __future__ import annotations

import pytest

from water import backoff


class Clock:
    def __init__(self):
        self.now, self.slept = 0.0, []

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


class Flaky(Exception):
    pass


def _failing(times: int, exc=Flaky):
    calls = []

    def call():
        calls.append(1)
        if len(calls) <= times:
            raise exc("not yet")
        return "done"
    return call, calls


def test_pauses_double_from_first_to_the_cap_with_full_jitter_or_none():
    policy = backoff.Policy(first=1, cap=8, jitter=False)
    assert [policy.pause(n) for n in range(6)] == [1, 2, 4, 8, 8, 8]
    jittered = backoff.Policy(first=1, cap=8)
    assert [jittered.pause(n, rand=lambda: 1.0) for n in range(5)] == [1, 2, 4, 8, 8]
    assert jittered.pause(3, rand=lambda: 0.0) == 0.5  # never under first/2


def test_retry_tries_again_until_it_succeeds_pausing_as_the_policy_says():
    clock, (call, calls) = Clock(), _failing(3)
    result = backoff.retry(call, backoff.Policy(first=1, cap=60, jitter=False), retryable=lambda e: True,
                           sleep=clock.sleep, clock=lambda: clock.now)
    assert result == "done" and len(calls) == 4 and clock.slept == [1, 2, 4]


def test_an_error_not_to_retry_is_raised_at_once():
    clock, (call, calls) = Clock(), _failing(3, ValueError)
    with pytest.raises(ValueError):
        backoff.retry(call, backoff.Policy(), retryable=lambda e: isinstance(e, Flaky), sleep=clock.sleep)
    assert len(calls) == 1 and clock.slept == []


def test_the_attempts_and_the_deadline_bound_it():
    clock, (call, calls) = Clock(), _failing(10)
    with pytest.raises(Flaky):
        backoff.retry(call, backoff.Policy(first=1, attempts=4, jitter=False), retryable=lambda e: True,
                      sleep=clock.sleep, clock=lambda: clock.now)
    assert len(calls) == 4
    clock, (call, calls) = Clock(), _failing(10)
    with pytest.raises(Flaky):
        backoff.retry(call, backoff.Policy(first=1, cap=60, deadline=10, jitter=False), retryable=lambda e: True,
                      sleep=clock.sleep, clock=lambda: clock.now)
    assert clock.slept == [1, 2, 4] and clock.now < 10  # the next pause (8) would pass the deadline


def test_a_servers_retry_after_is_taken_within_the_cap():
    clock, (call, _) = Clock(), _failing(2)
    backoff.retry(call, backoff.Policy(first=0.25, cap=5), retryable=lambda e: True, retry_after=lambda e: 30,
                  sleep=clock.sleep, clock=lambda: clock.now)
    assert clock.slept == [5, 5]


def test_no_wait_retries_at_once():
    clock, (call, calls) = Clock(), _failing(3)
    assert backoff.retry(call, backoff.NO_WAIT, retryable=lambda e: True, sleep=clock.sleep) == "done"
    assert clock.slept == [0, 0, 0] and len(calls) == 4

"""The shared poll loop (Prometheus and Alertmanager): paced by a manual clock, so every guarantee is
a count of polls at a given time, never a sleep.

What the operator relies on: metrics and alerts are read once per interval (not more: Prometheus is
shared; not less: the numbers stay fresh), a failing endpoint is retried with the shared backoff
instead of hammered, `wake()` (after a silence) reads again at once, and quitting never waits for a
hung request."""

from __future__ import annotations

import random
import threading
import time

import pytest
import requests

from mlops_tui.backends.backoff import backoff_delay
from mlops_tui.backends.model import HealthState
from mlops_tui.backends.poller import Poller, describe_error
from tests.clock import ManualClock


class Endpoint:
    """What the poller polls: counts calls, can fail, can take (manual-clock) time."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.polls = 0
        self.failing = False
        self.takes = 0.0

    def __call__(self) -> None:
        self.polls += 1
        self.clock.advance(self.takes)
        if self.failing:
            raise requests.exceptions.ConnectionError("[Errno 111] Connection refused")


@pytest.fixture
def running():
    pollers: list[Poller] = []

    def start(interval: float = 10.0, max_backoff: float = 60.0, seed: int = 7):
        clock = ManualClock()
        endpoint = Endpoint(clock)
        health: list = []
        poller = Poller("prometheus", endpoint, interval=interval, on_health=health.append,
                        max_backoff=max_backoff, clock=clock, rng=random.Random(seed))
        poller.start()
        pollers.append(poller)
        clock.idle()
        return poller, endpoint, clock, health

    yield start
    for poller in pollers:
        poller.stop()


def test_an_endpoint_is_read_once_per_interval_not_sooner(running):
    poller, endpoint, clock, _ = running(interval=10)
    assert endpoint.polls == 1  # the first read at once
    clock.advance(9.9)
    clock.idle()
    assert endpoint.polls == 1
    clock.advance(0.1)
    clock.idle()
    assert endpoint.polls == 2
    for _ in range(5):
        clock.advance(10)
        clock.idle()
    assert endpoint.polls == 7 and poller.polls == 7


def test_a_slow_read_counts_towards_the_interval_so_the_pace_stays_steady(running):
    _, endpoint, clock, _ = running(interval=10)
    endpoint.takes = 3.0  # each read now takes 3 s of the 10
    clock.advance(10)
    clock.idle()
    assert endpoint.polls == 2 and clock.next_deadline() == pytest.approx(7.0)
    clock.advance(7)
    clock.idle()
    assert endpoint.polls == 3


def test_a_failing_endpoint_is_retried_with_the_shared_backoff_and_shown_stale(running):
    poller, endpoint, clock, health = running(interval=10, max_backoff=60, seed=3)
    endpoint.failing = True
    clock.advance(10)
    clock.idle()
    rng = random.Random(3)
    waits = []
    for failures in range(1, 6):
        assert endpoint.polls == failures + 1 and poller.failures == failures
        expected = backoff_delay(failures - 1, base=10, cap=60, rand=rng.random)
        assert clock.next_deadline() == pytest.approx(expected)
        waits.append(expected)
        clock.advance(expected)
        clock.idle()
    assert waits[0] <= 10 and waits[-1] >= 30 and max(waits) <= 60  # grows, capped
    assert health[-1].state is HealthState.STALE and health[-1].error == "metrics unavailable: connection refused"
    stale_since = next(h.since for h in health if h.state is HealthState.STALE)
    assert all(h.since == stale_since for h in health if h.state is HealthState.STALE)
    assert stale_since == poller.last_sync  # the age of the data shown: from the last good poll
    endpoint.failing = False
    clock.advance(clock.next_deadline())
    clock.idle()
    assert health[-1].state is HealthState.CONNECTED and poller.failures == 0
    assert clock.next_deadline() == pytest.approx(10)  # back to the interval


def test_wake_reads_again_at_once_without_waiting_the_interval(running):
    poller, endpoint, clock, _ = running(interval=60)
    poller.wake()
    clock.idle()
    assert endpoint.polls == 2  # from wake(), with the clock standing still


def test_stop_returns_promptly_even_while_a_poll_hangs():
    started = threading.Event()

    def hang():
        started.set()
        time.sleep(3)

    poller = Poller("slow", hang, interval=10, on_health=lambda h: None)
    poller.start()
    assert started.wait(2)
    t0 = time.monotonic()
    poller.stop()
    assert time.monotonic() - t0 < 0.5


def test_error_reasons_are_short():
    assert describe_error(requests.exceptions.ConnectTimeout("x"), 2) == "connect timed out within 2 s"
    assert (
        describe_error(
            requests.exceptions.ConnectionError("Max retries (Caused by NewConnectionError: Connection refused)")
        )
        == "connection refused"
    )
    assert len(describe_error(RuntimeError("x" * 500))) == 200

"""The one backoff formula every reconnecting loop uses (Swarm watcher, HTTP poller, Kubernetes
reflectors): base, 2×base, 4×base … capped, each drawn in [delay/2, delay] so that many TUIs that lost
the same engine do not come back in lockstep."""

from __future__ import annotations

import random

from mlops_tui.backends.backoff import Backoff, backoff_delay


def test_the_delay_doubles_from_the_base_with_jitter_below_it():
    assert backoff_delay(0, rand=lambda: 0.0) == 0.25 and backoff_delay(0, rand=lambda: 1.0) == 0.5
    assert backoff_delay(3, rand=lambda: 1.0) == 4.0 and backoff_delay(3, rand=lambda: 0.0) == 2.0
    assert backoff_delay(2, base=10, cap=60, rand=lambda: 1.0) == 40.0


def test_the_delay_is_capped_however_many_failures():
    assert backoff_delay(20, rand=lambda: 1.0) == 30.0
    # An engine down for a night: a watcher's attempt count passes 1024 (2.0 ** 1024 overflows a float).
    assert backoff_delay(5_000, rand=lambda: 1.0) == 30.0
    assert backoff_delay(5_000, base=10, cap=60, rand=lambda: 1.0) == 60.0
    assert backoff_delay(-1, rand=lambda: 1.0) == 0.5  # a negative attempt is the first


def test_jitter_spreads_retries():
    rng = random.Random(5)
    assert len({round(backoff_delay(4, rand=rng.random), 6) for _ in range(10)}) > 1


def test_backoff_counts_failures_and_starts_over_after_a_success():
    backoff = Backoff(0.5, 8.0, rng=random.Random(1))
    delays = [backoff.next() for _ in range(6)]
    assert all(0.25 * 2 ** n <= d <= min(8.0, 0.5 * 2 ** n) for n, d in enumerate(delays[:5])), delays
    assert backoff.failures == 6
    backoff.reset()
    assert backoff.next() <= 0.5

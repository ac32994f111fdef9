"""The one backoff formula, shared by every loop that retries an engine (the Swarm watcher, the HTTP
poller of Prometheus and Alertmanager, the Kubernetes reflectors), as client-go's wait.Backoff with
Jitter: base, 2×base, 4×base … up to cap, each drawn in [delay/2, delay] so that many clients that
lost the same engine do not come back in lockstep."""

from __future__ import annotations

import random
from collections.abc import Callable

MAX_DOUBLINGS = 63
"""Past this many failures the delay is the cap anyway; bounding the exponent keeps `base * 2 ** n` a
finite float however long an engine stays down (2.0 ** 1024 overflows)."""


def backoff_delay(attempt: int, base: float = 0.5, cap: float = 30.0,
                  rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait before retry number `attempt` (0-based)."""
    delay = min(cap, base * (2 ** min(max(attempt, 0), MAX_DOUBLINGS)))
    return delay / 2 + rand() * delay / 2


class Backoff:
    """`backoff_delay` with the failure count kept: `next()` after a failure, `reset()` after a success."""

    def __init__(self, base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None) -> None:
        self.base, self.cap = base, cap
        self.failures = 0
        self._rng = rng or random.Random()

    def next(self) -> float:
        delay = backoff_delay(self.failures, self.base, self.cap, self._rng.random)
        self.failures += 1
        return delay

    def reset(self) -> None:
        self.failures = 0

"""Exponential backoff with jitter, shared by every watcher that reconnects (as client-go's
wait.Backoff with Jitter): base, 2×base, 4×base … up to cap, each drawn in [delay/2, delay]."""

from __future__ import annotations

import random
from collections.abc import Callable


def backoff_delay(attempt: int, base: float = 0.5, cap: float = 30.0,
                  rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait before retry number `attempt` (0-based)."""
    delay = min(cap, base * (2 ** max(attempt, 0)))
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

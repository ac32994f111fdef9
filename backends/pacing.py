"""When the Fleet may publish next: at once while the stream of changes is thin, paced under load.

A fixed coalescing window (publish, then nothing for 1/rate seconds) made an idle operator wait for
the tail of the previous change: one `kubectl scale` sets off a dozen object changes over a second
(ReplicaSet, pods, readiness, status), and a change that landed in their window waited up to 100 ms
(bench/freshness.py: idle p95 68 ms). A token bucket tells "idle" from "under load" by the publishes
themselves: up to `burst` publishes go out at once, and only a stream that outruns `rate` publishes
a second waits for the next token, so a burst still becomes one publish per interval and the screen
redraws at most `rate` times a second (plus the burst) however fast the cluster changes.
"""

from __future__ import annotations


class PublishPacer:
    """A token bucket on a monotonic clock the caller reads (so tests can drive time)."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        """Sustained publishes per second under load; 0 = never wait."""
        self.burst = max(1, burst)
        self._tokens = float(self.burst)
        self._at: float | None = None

    def wait_before_next(self, now: float) -> float:
        """Seconds to wait before the next publish (0 while a token is left)."""
        if self.rate <= 0:
            return 0.0
        self._refill(now)
        return 0.0 if self._tokens >= 1.0 else (1.0 - self._tokens) / self.rate

    def published(self, now: float) -> None:
        """A publish went out: it spent a token."""
        if self.rate <= 0:
            return
        self._refill(now)
        self._tokens = max(0.0, self._tokens - 1.0)

    def _refill(self, now: float) -> None:
        if self._at is not None:
            self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.rate)
        self._at = now

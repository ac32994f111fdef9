"""A manual `Clock` for the background loops' unit tests: time moves only when the test says so.

A loop thread that calls `wait(event, timeout)` blocks until the event is set or the test has
`advance`d past its deadline. `idle(threads)` returns once that many threads are blocked in `wait`
with deadlines still ahead, i.e. the loop has done everything the current time allows: the test can
then count what happened (polls, publishes, resyncs) without sleeping and without racing the thread."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
REAL_TIMEOUT = 10.0
"""Real seconds `idle` waits for a loop to get there before the test fails (a loaded 2-core box)."""


class ManualClock:
    def __init__(self, start: float = 1000.0, wall: datetime = T0) -> None:
        self._start = start
        self._now = start
        self._wall = wall
        self._cond = threading.Condition()
        self._waiting: dict[int, tuple[float, threading.Event]] = {}  # wait id -> (deadline, event)
        self._ids = 0
        self.waits = 0
        """How many times a loop called `wait` (each call, whether it timed out or was woken)."""

    # -- the Clock protocol ---------------------------------------------------------------------

    def now(self) -> datetime:
        with self._cond:
            return self._wall + timedelta(seconds=self._now - self._start)

    def monotonic(self) -> float:
        with self._cond:
            return self._now

    def wait(self, event: threading.Event, timeout: float) -> bool:
        with self._cond:
            self._ids += 1
            ident = self._ids
            self.waits += 1
            self._waiting[ident] = (self._now + max(0.0, timeout), event)
            self._cond.notify_all()
            try:
                while True:
                    if event.is_set():
                        return True
                    if self._now >= self._waiting[ident][0]:
                        return False
                    # `Event.set()` cannot notify this condition: look again every few real ms.
                    self._cond.wait(0.005)
            finally:
                del self._waiting[ident]
                self._cond.notify_all()

    # -- the test's side ------------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Move time forward; loops whose deadline passed wake up."""
        with self._cond:
            self._now += seconds
            self._cond.notify_all()

    def idle(self, threads: int = 1) -> None:
        """Return once `threads` loops wait on a deadline still ahead and no event wakes them."""
        deadline = time.monotonic() + REAL_TIMEOUT
        with self._cond:
            while not self._settled(threads):
                left = deadline - time.monotonic()
                assert left > 0, (f"{threads} loop(s) never settled: {len(self._waiting)} waiting, "
                                  f"deadlines {sorted(d - self._now for d, _ in self._waiting.values())}")
                self._cond.wait(min(left, 0.005))

    def _settled(self, threads: int) -> bool:
        sleeping = [(d, e) for d, e in self._waiting.values()]
        return len(sleeping) == threads and all(d > self._now and not e.is_set() for d, e in sleeping)

    def next_deadline(self) -> float:
        """Seconds from now to the soonest waiting loop's deadline (what `advance` must cover)."""
        with self._cond:
            return min(d for d, _ in self._waiting.values()) - self._now

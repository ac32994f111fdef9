"""The one clock the background loops read and sleep on, injected so their tests can drive time.

A loop that paces itself (the Fleet's publisher, the HTTP poller, the Swarm watcher) takes a `Clock`
and never calls `time.monotonic()`, `time.sleep()` or `Event.wait()` itself. `SYSTEM_CLOCK` is the real
one; the tests use a manual clock that only moves when told to, and count what the loop did."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Wall-clock time in UTC (for `since` and `last_sync`, shown to the operator)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for intervals and deadlines)."""
        ...

    def wait(self, event: threading.Event, timeout: float) -> bool:
        """Block until `event` is set or `timeout` seconds passed; True when the event was set."""
        ...


class SystemClock:
    """The real clock: `datetime.now(UTC)`, `time.monotonic()` and `Event.wait`."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def monotonic(self) -> float:
        return time.monotonic()

    def wait(self, event: threading.Event, timeout: float) -> bool:
        return event.wait(max(0.0, timeout))


SYSTEM_CLOCK: Clock = SystemClock()

"""A poll loop for HTTP sources (Prometheus, Alertmanager): one thread, never overlapping.

The next poll is armed only after the previous one finished; failures back off exponentially
with jitter up to a cap; `wake()` asks for an early poll (after a silence was made) and `stop()`
returns at once, leaving a request in flight to end by its own timeout in a daemon thread.
Health follows the engine-facts vocabulary: CONNECTED after a good poll, STALE (since the first
failure) when a good poll happened before, ERROR when none ever did.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone

import requests

from mlops_tui.backends.model import ClusterHealth, HealthState

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def describe_error(exc: BaseException, timeout: float | None = None) -> str:
    """A short reason for the operator, without the stack of urllib3 wrappers."""
    within = f" within {timeout:g} s" if timeout else ""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"connect timed out{within}"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return f"no answer{within}"
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = str(exc)
        if "Read timed out" in text:
            return f"no answer{within}"
        if "ConnectTimeoutError" in text or "connect timeout" in text.lower():
            return f"connect timed out{within}"
        if "refused" in text.lower():
            return "connection refused"
        if "Name or service not known" in text or "getaddrinfo" in text:
            return "unknown host"
        if "RemoteDisconnected" in text or "reset" in text.lower():
            return "connection closed by the server"
        return "cannot connect"
    if isinstance(exc, requests.exceptions.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code}"
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


class Poller:
    """Runs `poll()` every `interval` seconds in one daemon thread and tracks health."""

    def __init__(
        self,
        name: str,
        poll: Callable[[], None],
        *,
        interval: float,
        on_health: Callable[[ClusterHealth], None],
        endpoint: str = "",
        timeout: float | None = None,
        max_backoff: float = 60.0,
        what: str = "metrics",
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
    ) -> None:
        self.name = name
        self._poll = poll
        self.interval = interval
        self._on_health = on_health
        self.endpoint = endpoint
        self.timeout = timeout
        self.max_backoff = max(max_backoff, interval)
        self.what = what
        self._clock = clock
        self._rng = rng or random.Random()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.failures = 0
        self.last_sync: datetime | None = None
        self.health: ClusterHealth | None = None
        self.polls = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"poll-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, wait: float = 0.2) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(wait)

    def wake(self) -> None:
        """Poll as soon as the current poll (if any) ends."""
        self._wake.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def next_delay(self) -> float:
        """Seconds to wait before the next poll: the interval, or a jittered backoff after failures."""
        if self.failures == 0:
            return self.interval
        backoff = min(self.max_backoff, self.interval * (2 ** (self.failures - 1)))
        return backoff * self._rng.uniform(0.8, 1.2)

    def poll_once(self) -> bool:
        """One poll, with health bookkeeping; True when it succeeded."""
        self.polls += 1
        try:
            self._poll()
        except Exception as exc:
            if self._stop.is_set():
                return False
            self.failures += 1
            log.info("%s poll failed: %s", self.name, exc)
            self._report_failure(exc)
            return False
        self.failures = 0
        now = self._clock()
        self.last_sync = now
        since = self.health.since if self.health and self.health.state is HealthState.CONNECTED else now
        self._set_health(
            ClusterHealth(
                source=self.name,
                platform=None,
                state=HealthState.CONNECTED,
                since=since,
                last_sync=now,
                endpoint=self.endpoint,
            )
        )
        return True

    def _report_failure(self, exc: BaseException) -> None:
        now = self._clock()
        state = HealthState.STALE if self.last_sync is not None else HealthState.ERROR
        since = self.health.since if self.health and self.health.state is state else now
        self._set_health(
            ClusterHealth(
                source=self.name,
                platform=None,
                state=state,
                since=since,
                last_sync=self.last_sync,
                error=f"{self.what} unavailable: {describe_error(exc, self.timeout)}",
                endpoint=self.endpoint,
            )
        )

    def _set_health(self, health: ClusterHealth) -> None:
        # `since` keeps the start of the state; `last_sync` moves every poll. Only report when the
        # state or its message changed, or to advance last_sync.
        self.health = health
        self._on_health(health)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self.poll_once()
            if self._stop.is_set():
                return
            delay = self.next_delay()
            if self.failures == 0:
                delay = max(0.0, delay - (time.monotonic() - started))
            self._wake.wait(delay)
            self._wake.clear()

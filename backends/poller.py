"""A poll loop for HTTP sources (Prometheus, Alertmanager): one thread, never overlapping.

Shared by `backends.prometheus` and `backends.alerts` (neither imports the other for it). The next
poll is armed only after the previous one finished; failures back off with the one shared formula
(`backends.backoff.backoff_delay`, the interval as its base); `wake()` asks for an early poll (after
a silence was made) and `stop()` returns at once, leaving a request in flight to end by its own
timeout in a daemon thread. Health: CONNECTED after a good poll, STALE (since the last good poll: the
age of the data shown) when a good poll happened before, ERROR when none ever did. Time is read from an
injected `Clock`.
"""

from __future__ import annotations

import logging
import random
import re
import threading
from collections.abc import Callable
from datetime import datetime

import requests

from mlops_tui.backends.backoff import backoff_delay
from mlops_tui.backends.clock import SYSTEM_CLOCK, Clock
from mlops_tui.backends.model import ClusterHealth, HealthState

log = logging.getLogger(__name__)


def describe_error(exc: BaseException, timeout: float | None = None, url: str = "") -> str:
    """A short reason for the operator, without the stack of urllib3 wrappers. Refused credentials,
    TLS failures and a wrong path name `url`: the fix is in that source's settings."""
    within = f" within {timeout:g} s" if timeout else ""
    access = _access_problem(exc)
    if access:
        return f"{url or 'the server'}: {access}"
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


_STATUS_IN_TEXT = re.compile(r"HTTP Status Code (\d{3})")
"""prometheus-api-client's only report of an HTTP error status: in its exception's message."""

_REFUSED = {
    401: "HTTP 401 Unauthorized: wrong or missing credentials (username/password_file/password_env, "
         "bearer_token_file)",
    403: "HTTP 403 Forbidden: these credentials may not read it",
    404: "HTTP 404 Not Found: is the path prefix in the URL right?",
}


def http_status(exc: BaseException) -> int | None:
    """The HTTP status an error reports: `status` (our clients), `response` (requests) or the text
    of prometheus-api-client's exception."""
    status = getattr(exc, "status", None)
    if isinstance(status, int):
        return status
    response = getattr(exc, "response", None)
    if response is not None and isinstance(getattr(response, "status_code", None), int):
        return int(response.status_code)
    found = _STATUS_IN_TEXT.search(str(exc))
    return int(found.group(1)) if found else None


def _access_problem(exc: BaseException) -> str:
    """Why the server refused us or TLS failed, in the operator's terms; '' for other errors."""
    status = http_status(exc)
    if status in _REFUSED:
        return _REFUSED[status]
    if not isinstance(exc, requests.exceptions.SSLError):
        return ""
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        if "Hostname mismatch" in text or "doesn't match" in text:
            return "TLS: the server's certificate is not for this host name"
        return "TLS: the server's certificate is not signed by a trusted CA (check ca_file)"
    if "WRONG_VERSION_NUMBER" in text or "wrong version number" in text:
        return "TLS: the server does not speak TLS (use http://)"
    if "certificate required" in text.lower() or "bad certificate" in text.lower():
        return "TLS: the server wants a client certificate it accepts (check cert_file and key_file)"
    return "TLS handshake failed"


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
        clock: Clock = SYSTEM_CLOCK,
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
        """Seconds to wait before the next poll: the interval, or the shared backoff after failures
        (first retry within one interval, doubling up to `max_backoff`)."""
        if self.failures == 0:
            return self.interval
        return backoff_delay(self.failures - 1, base=self.interval, cap=self.max_backoff, rand=self._rng.random)

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
        now = self._clock.now()
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
        now = self._clock.now()
        state = HealthState.STALE if self.last_sync is not None else HealthState.ERROR
        if self.health and self.health.state is state:
            since = self.health.since
        else:  # stale data is as old as the last good poll (never "stale 0s" after a long hang)
            since = self.last_sync if state is HealthState.STALE else now
        self._set_health(
            ClusterHealth(
                source=self.name,
                platform=None,
                state=state,
                since=since,
                last_sync=self.last_sync,
                error=f"{self.what} unavailable: {describe_error(exc, self.timeout, self.endpoint)}",
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
            started = self._clock.monotonic()
            self.poll_once()
            if self._stop.is_set():
                return
            delay = self.next_delay()
            if self.failures == 0:  # a steady pace: the poll's own duration counts towards the interval
                delay = max(0.0, delay - (self._clock.monotonic() - started))
            self._clock.wait(self._wake, delay)
            self._wake.clear()

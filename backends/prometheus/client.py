"""Connection to a Prometheus HTTP API through prometheus-api-client, with explicit timeouts.

prometheus-api-client's default timeout is None (wait forever) and it retries on its own; here
every request has a (connect, read) timeout and no retries: retrying is the poller's job, with
backoff, so one slow Prometheus shows as stale instead of freezing a thread.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import requests
from prometheus_api_client import PrometheusConnect
from urllib3.util.retry import Retry

from mlops_tui.backends.http_access import HttpAccess


class CountingSession(requests.Session):
    """A requests session that counts the HTTP requests it sends (for benchmarks and tests)."""

    def __init__(self) -> None:
        super().__init__()
        self._count_lock = threading.Lock()
        self.requests_sent = 0

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        with self._count_lock:
            self.requests_sent += 1
        return super().request(method, url, *args, **kwargs)


class PrometheusClient:
    """The few Prometheus API calls the backend makes. Raises on HTTP errors and timeouts."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 5.0,
        connect_timeout: float = 2.0,
        headers: Mapping[str, str] | None = None,
        verify_tls: bool = True,
        session: requests.Session | None = None,
        access: HttpAccess | None = None,
    ) -> None:
        """`access`: authentication, TLS and extra headers (backends/http_access.py); the path prefix
        is part of `url` (`https://host/prometheus`)."""
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = session or CountingSession()
        self.session.verify = verify_tls
        if access is not None:
            access.configure(self.session)
        self._timeouts = (min(connect_timeout, timeout), timeout)
        self._api = PrometheusConnect(
            url=self.url,
            headers=dict(headers) if headers else None,
            disable_ssl=not verify_tls,
            retry=Retry(total=0, connect=0, read=False, redirect=0, status=0, raise_on_status=False),
            session=self.session,
            timeout=self._timeouts,  # passed on to requests, which takes (connect, read)
        )

    @property
    def requests_sent(self) -> int:
        return getattr(self.session, "requests_sent", 0)

    def metric_names(self) -> list[str]:
        """`/api/v1/label/__name__/values`: every metric name Prometheus holds."""
        return [str(v) for v in self._api.get_label_values("__name__")]

    def query(self, promql: str) -> list[dict[str, Any]]:
        """Instant query; the `data.result` list."""
        return self._api.custom_query(promql, timeout=self._timeouts)

    def query_range(self, promql: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        """Range query between unix times `start` and `end`; the `data.result` list."""
        return self._api.custom_query_range(
            promql,
            start_time=datetime.fromtimestamp(start, timezone.utc),
            end_time=datetime.fromtimestamp(end, timezone.utc),
            step=f"{step:g}",
            timeout=self._timeouts,
        )

    def alert_rules(self) -> list[dict[str, Any]]:
        """`/api/v1/rules?type=alert`: the alerting rule groups (`data.groups`)."""
        response = self.session.get(f"{self.url}/api/v1/rules", params={"type": "alert"}, timeout=self._timeouts)
        response.raise_for_status()
        body = response.json()
        if body.get("status") != "success":
            raise ValueError(f"prometheus: {body.get('errorType', 'error')}: {body.get('error', '')}")
        return list((body.get("data") or {}).get("groups") or [])

    def close(self) -> None:
        self.session.close()

"""Plain HTTP to Alertmanager's v2 API and Prometheus' alerts endpoint, with explicit timeouts.

No retries here: the poller retries with backoff; an action is sent once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import requests

from mlops_tui.backends.http_access import HttpAccess
from mlops_tui.backends.plans import ActionError


class HttpError(ActionError):
    """The server answered with an error status; `status` and the server's own message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Http:
    def __init__(
        self,
        url: str,
        *,
        timeout: float = 5.0,
        connect_timeout: float = 2.0,
        headers: Mapping[str, str] | None = None,
        verify_tls: bool = True,
        access: HttpAccess | None = None,
    ) -> None:
        """`access`: authentication, TLS and extra headers (backends/http_access.py); the path prefix
        is part of `url` (`https://host/alertmanager`)."""
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._timeouts = (min(connect_timeout, timeout), timeout)
        self.session = requests.Session()
        self.session.verify = verify_tls
        if headers:
            self.session.headers.update(headers)
        if access is not None:
            access.configure(self.session)
        self.requests_sent = 0

    def call(self, method: str, path: str, *, params: Any = None, body: Any = None) -> Any:
        self.requests_sent += 1
        # verify per request: requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override a session's
        # verify, and the operator's ca_file (or insecure_skip_verify) must win over the environment.
        response = self.session.request(method, self.url + path, params=params, json=body, timeout=self._timeouts,
                                        verify=self.session.verify)
        if response.status_code >= 400:
            raise HttpError(response.status_code, f"HTTP {response.status_code}: {_message(response)}")
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return response.text

    def close(self) -> None:
        self.session.close()


def _message(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text.strip()[:300]
    if isinstance(data, str):
        return data.strip()
    if isinstance(data, Mapping):
        return str(data.get("error") or data.get("message") or data)[:300]
    return str(data)[:300]


class PrometheusAlertsClient(_Http):
    def alerts(self) -> Any:
        """`GET /api/v1/alerts` (the whole body: status + data.alerts)."""
        return self.call("GET", "/api/v1/alerts")

    def config(self) -> Any:
        """`GET /api/v1/status/config` (the loaded configuration as YAML text)."""
        return self.call("GET", "/api/v1/status/config")


class AlertmanagerClient(_Http):
    def alerts(self, filters: Sequence[str] = ()) -> list[dict]:
        """`GET /api/v2/alerts`: active, silenced, inhibited and unprocessed alerts."""
        params = [("filter", f) for f in filters] or None
        return self.call("GET", "/api/v2/alerts", params=params) or []

    def silences(self, filters: Sequence[str] = ()) -> list[dict]:
        params = [("filter", f) for f in filters] or None
        return self.call("GET", "/api/v2/silences", params=params) or []

    def silence(self, silence_id: str) -> dict:
        return self.call("GET", f"/api/v2/silence/{quote(silence_id, safe='')}")

    def post_silence(self, body: Mapping[str, Any]) -> str:
        """`POST /api/v2/silences` → the new silence's id."""
        answer = self.call("POST", "/api/v2/silences", body=dict(body))
        return str((answer or {}).get("silenceID", ""))

    def expire_silence(self, silence_id: str) -> None:
        """`DELETE /api/v2/silence/{id}`: idempotent on an expired silence, 404 when unknown."""
        self.call("DELETE", f"/api/v2/silence/{quote(silence_id, safe='')}")

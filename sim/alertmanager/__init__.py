"""An Alertmanager v2 API subset on 127.0.0.1.

    am = SimAlertmanager.start()
    am.receive([{"labels": {...}, "annotations": {...}, "startsAt": ..., "endsAt": ...}])  # as Prometheus posts
    am.url      # http://127.0.0.1:PORT
    am.stop()

Endpoints: /-/healthy, /-/ready, /api/v2/status, /api/v2/receivers, /api/v2/alerts (GET with
active/silenced/inhibited/filter/receiver, POST), /api/v2/alerts/groups, /api/v2/silences (GET with
filter, POST create/update), /api/v2/silence/{id} (GET, DELETE = expire, idempotent).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..docker.httpd import Server
from .server import AmHandler
from .store import AlertStore, AmError

__all__ = ["AlertStore", "AmError", "SimAlertmanager"]


class SimAlertmanager:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.store = AlertStore(clock=clock)
        self._server: Server | None = None

    @classmethod
    def start(cls, port: int = 0, clock: Callable[[], float] = time.time) -> SimAlertmanager:
        sim = cls(clock=clock)
        sim._server = Server(AmHandler, sim, port)
        return sim

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.port}"

    @property
    def mutations(self) -> int:
        return self.store.mutations

    def receive(self, alerts: list[dict[str, Any]]) -> None:
        self.store.receive(alerts)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

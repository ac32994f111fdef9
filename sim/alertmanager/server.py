"""HTTP routes of the Alertmanager v2 API subset."""

from __future__ import annotations

import re
from typing import Any

from ..docker.httpd import Handler
from .store import AmError, ts_format

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
CONFIG = ("global:\n  resolve_timeout: 5m\nroute:\n  receiver: default\n  group_by:\n  - alertname\n"
          "receivers:\n- name: default\n")


def _flag(params: dict[str, list[str]], name: str) -> bool:
    value = (params.get(name) or ["true"])[-1].lower()
    if value not in ("true", "false", "1", "0"):
        raise AmError(422, {"code": 601, "message": f"{name} in query must be of type bool: \"{value}\""})
    return value in ("true", "1")


def respond(sim: Any, method: str, path: str, params: dict[str, list[str]], body: Any) -> tuple[int, Any]:
    store = sim.store
    try:
        if path == "/api/v2/status" and method == "GET":
            return 200, {"cluster": {"name": "01SIMULATEDALERTMANAGER0", "peers": [], "status": "disabled"},
                         "config": {"original": CONFIG}, "uptime": ts_format(store.started),
                         "versionInfo": {"branch": "HEAD", "buildDate": "20260801-00:00:00",
                                         "buildUser": "sim@mlops-tui", "goVersion": "go1.24.6", "revision": "sim",
                                         "version": "0.34.0"}}
        if path == "/api/v2/receivers" and method == "GET":
            return 200, [{"name": store.receiver}]
        if path == "/api/v2/alerts" and method == "GET":
            receivers = params.get("receiver")
            receiver = receivers[-1] if receivers else None
            return 200, store.list_alerts(active=_flag(params, "active"), silenced=_flag(params, "silenced"),
                                          inhibited=_flag(params, "inhibited"),
                                          unprocessed=_flag(params, "unprocessed"),
                                          filters=params.get("filter", []), receiver=receiver)
        if path == "/api/v2/alerts" and method == "POST":
            if not isinstance(body, list):
                raise AmError(400, {"code": 400, "message": "parsing alerts body from \"\" failed, because json: "
                                    "cannot unmarshal object into Go value of type models.PostableAlerts"})
            store.receive(body)
            return 200, None
        if path == "/api/v2/alerts/groups" and method == "GET":
            alerts = store.list_alerts(filters=params.get("filter", []))
            groups: dict[str, dict[str, Any]] = {}
            for a in alerts:
                name = a["labels"].get("alertname", "")
                groups.setdefault(name, {"labels": {"alertname": name}, "receiver": {"name": store.receiver},
                                         "alerts": []})["alerts"].append(a)
            return 200, list(groups.values())
        if path == "/api/v2/silences" and method == "GET":
            return 200, store.list_silences(params.get("filter", []))
        if path == "/api/v2/silences" and method == "POST":
            if not isinstance(body, dict):
                raise AmError(400, {"code": 400, "message": "parsing silence body from \"\" failed"})
            return 200, {"silenceID": store.post_silence(body)}
        m = re.fullmatch(r"/api/v2/silence/([^/]+)", path)
        if m:
            sid = m.group(1)
            if not _UUID.match(sid):
                raise AmError(422, {"code": 601, "message": f"silenceID in path must be of type uuid: \"{sid}\""})
            if method == "GET":
                return 200, store.get_silence(sid)
            if method == "DELETE":
                store.delete_silence(sid)
                return 200, None
        raise AmError(404, {"code": 404, "message": f"path {path} was not found"})
    except AmError as e:
        return e.status, e.payload


class AmHandler(Handler):
    @property
    def sim(self) -> Any:
        return self.server.context  # type: ignore[attr-defined]

    def _do(self, method: str) -> None:
        path, params = self.parsed()
        if path in ("/-/healthy", "/-/ready") and method in ("GET", "HEAD"):
            # Alertmanager's probes answer a plain "OK" (ui/web.go).
            self.send(200, raw=b"OK", content_type="text/plain; charset=utf-8", head=method == "HEAD")
            return
        body = None
        if method == "POST":
            try:
                body = self.json_body()
            except ValueError:
                body = None
        status, payload = respond(self.sim, method, path.rstrip("/"), params, body)
        try:
            if payload is None:
                self.send(status, raw=b"", content_type="application/json")
            else:
                self.send(status, payload, head=method == "HEAD")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_GET(self) -> None:
        self._do("GET")

    def do_HEAD(self) -> None:
        self._do("HEAD")

    def do_POST(self) -> None:
        self._do("POST")

    def do_DELETE(self) -> None:
        self._do("DELETE")

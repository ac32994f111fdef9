"""HTTP routes of the Prometheus HTTP API subset (GET, and POST form bodies where Prometheus
takes them), with Prometheus's success and error envelopes."""

from __future__ import annotations

import contextlib
import math
import re
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from ..docker.httpd import Handler
from .evaluate import EvalError, format_value
from .metadata import metadata
from .promql import MatrixSelector, ParseError, VectorSelector, parse, parse_duration

BUILD_INFO = {"version": "2.42.0", "revision": "225c61122d88b01d1f0eaaee0e05b6f3e0567ac0", "branch": "HEAD",
              "buildUser": "sim@mlops-tui", "buildDate": "20230201-12:00:00", "goVersion": "go1.19.8"}


class BadData(Exception):
    def __init__(self, message: str, status: int = 400, error_type: str = "bad_data") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_type = error_type


def parse_time(text: str, name: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise BadData(f'invalid parameter "{name}": Invalid time value for \'{name}\': '
                      f'cannot parse "{text}" to a valid timestamp') from None


def parse_step(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    if re.fullmatch(r"(\d+(ms|s|m|h|d|w|y))+", text or ""):
        return parse_duration(text)
    raise BadData(f'invalid parameter "step": cannot parse "{text}" to a valid duration')


def respond(sim: Any, path: str, params: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) for one API request: the whole API without the socket."""
    try:
        data = Api(sim)._route(path.rstrip("/"), params)
        return 200, {"status": "success", "data": data}
    except BadData as e:
        return e.status, {"status": "error", "errorType": e.error_type, "error": e.message}


class PromHandler(Handler):
    @property
    def sim(self) -> Any:
        return self.server.context  # type: ignore[attr-defined]

    def do_GET(self) -> None:
        self._dispatch(None)

    def do_POST(self) -> None:
        body = self.body().decode()
        self._dispatch(parse_qs(body, keep_blank_values=True))

    def _dispatch(self, form: dict[str, list[str]] | None) -> None:
        path, query = self.parsed()
        plain = {"/-/healthy": b"Prometheus Server is Healthy.\n", "/-/ready": b"Prometheus Server is Ready.\n",
                 "/graph": b"<!doctype html><title>Prometheus (simulated)</title>\n"}
        if path in plain:
            self.send(200, raw=plain[path], content_type="text/plain; charset=utf-8")
            return
        if path == "/":
            self.send(302, raw=b'<a href="/graph">Found</a>.\n', content_type="text/html; charset=utf-8",
                      headers={"Location": "/graph"})
            return
        params = dict(query)
        for k, v in (form or {}).items():
            params.setdefault(k, []).extend(v)
        status, body = respond(self.sim, path, params)
        if status == 404:  # Prometheus's router answers an unknown path in Go's plain text, not JSON
            self.send(404, raw=b"404 page not found\n", content_type="text/plain; charset=utf-8")
            return
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client hung up: nobody to tell
            self.send(status, body)



class Api:
    def __init__(self, sim: Any) -> None:
        self.sim = sim

    def _one(self, params: dict[str, list[str]], name: str, default: str | None = None) -> str | None:
        values = params.get(name)
        return values[-1] if values else default

    def _expr(self, params: dict[str, list[str]]) -> Any:
        text = self._one(params, "query", "") or ""
        try:
            return parse(text)
        except ParseError as e:
            raise BadData(f'invalid parameter "query": {e}') from None

    def _route(self, path: str, p: dict[str, list[str]]) -> Any:
        sim = self.sim
        if path == "/api/v1/query":
            node = self._expr(p)
            time_text = self._one(p, "time")
            t = parse_time(time_text, "time") if time_text else sim.clock()
            return self._instant(node, t)
        if path == "/api/v1/query_range":
            node = self._expr(p)
            start = parse_time(self._one(p, "start", "") or "", "start")
            end = parse_time(self._one(p, "end", "") or "", "end")
            if end < start:
                raise BadData('invalid parameter "end": end timestamp must not be before start time')
            step = parse_step(self._one(p, "step", "") or "")
            if step <= 0:
                raise BadData('invalid parameter "step": zero or negative query resolution step widths '
                              'are not accepted. Try a positive integer')
            if (end - start) / step > 11000:
                raise BadData("exceeded maximum resolution of 11,000 points per timeseries. "
                              "Try decreasing the query resolution (?step=XX)")
            if isinstance(node, MatrixSelector):
                raise BadData('invalid parameter "query": invalid expression type "range vector" for range '
                              'query, must be Scalar or instant Vector')
            return self._range(node, start, end, step)
        if path == "/api/v1/series":
            matches = p.get("match[]") or []
            if not matches:
                raise BadData("no match[] parameter provided")
            out, seen = [], set()
            for m in matches:
                sel = self._selector(m)
                with sim.locked():
                    for labels in sim.matching_labels(sel):
                        if labels not in seen:
                            seen.add(labels)
                            out.append(dict(labels))
            return out
        if path == "/api/v1/labels":
            with sim.locked():
                return sorted({k for labels in sim.all_labels() for k, _ in labels})
        label_values = re.fullmatch(r"/api/v1/label/([^/]+)/values", path)
        if label_values:
            name = label_values.group(1)
            with sim.locked():
                return sorted({v for labels in sim.all_labels() for k, v in labels if k == name})
        if path == "/api/v1/targets":
            return sim.store.api_targets(self._one(p, "state", "") or "")
        if path == "/api/v1/metadata":
            return self._metadata(p)
        if path == "/api/v1/alerts":
            return {"alerts": sim.rules.alerts()}
        if path == "/api/v1/rules":
            groups = sim.rules.groups()
            kind = self._one(p, "type")
            if kind in ("alert", "record"):
                for g in groups:
                    g["rules"] = [r for r in g["rules"] if (r["type"] == "alerting") == (kind == "alert")]
            elif kind:
                raise BadData(f'invalid parameter "type": not supported value "{kind}"')
            return {"groups": groups}
        if path == "/api/v1/status/buildinfo":
            return dict(BUILD_INFO)
        raise BadData("not found", status=404, error_type="not_found")

    def _selector(self, text: str) -> VectorSelector:
        try:
            node = parse(text)
        except ParseError as e:
            raise BadData(str(e)) from None
        if not isinstance(node, VectorSelector):
            raise BadData('invalid parameter "match[]": 1:1: parse error: expected type instant vector, '
                          f'got {type(node).__name__.lower()}')
        return node

    def _evaluate(self, node: Any, t: float) -> Any:
        try:
            return self.sim.evaluator.eval(node, t)
        except EvalError as e:
            raise BadData(str(e), status=422, error_type="execution") from None

    def _metadata(self, p: dict[str, list[str]]) -> dict[str, list[dict[str, str]]]:
        limit_text = self._one(p, "limit", "") or ""
        try:
            limit = int(limit_text) if limit_text else -1
        except ValueError:
            raise BadData("limit must be a number") from None
        wanted = self._one(p, "metric", "") or ""
        out: dict[str, list[dict[str, str]]] = {}
        for name, meta in metadata(self.sim.store.names(), self.sim.described).items():
            if wanted and name != wanted:
                continue
            if 0 <= limit <= len(out):
                break
            out[name] = [meta]
        return out

    def _instant(self, node: Any, t: float) -> dict[str, Any]:
        if isinstance(node, MatrixSelector):
            # `m[2m]` on its own: the raw samples of the window, as Prometheus answers (resultType matrix)
            try:
                rows = self.sim.evaluator.matrix(node, t)
            except EvalError as e:
                raise BadData(str(e), status=422, error_type="execution") from None
            return {"resultType": "matrix",
                    "result": [{"metric": labels, "values": [[round(ts, 3), format_value(v)] for ts, v in samples]}
                               for labels, samples in rows]}
        value = self._evaluate(node, t)
        if isinstance(value, float):
            return {"resultType": "scalar", "result": [t, format_value(value)]}
        return {"resultType": "vector",
                "result": [{"metric": labels, "value": [t, format_value(v)]} for labels, v in value]}

    def _range(self, node: Any, start: float, end: float, step: float) -> dict[str, Any]:
        series: dict[tuple, dict[str, Any]] = {}
        n = math.floor((end - start) / step + 1e-9) + 1
        for i in range(n):
            t = start + i * step
            value = self._evaluate(node, t)
            if isinstance(value, float):
                value = [({}, value)]
            for labels, v in value:
                key = tuple(sorted(labels.items()))
                entry = series.setdefault(key, {"metric": labels, "values": []})
                entry["values"].append([round(t, 3), format_value(v)])
        return {"resultType": "matrix", "result": list(series.values())}

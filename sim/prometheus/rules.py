"""Alerting rules evaluated by the simulator itself, as Prometheus's rule manager does:
inactive → pending (expr returns the series) → firing once pending for `for`; resolved alerts
are sent once more with endsAt, then dropped."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .evaluate import Evaluator
from .promql import parse
from .series import SeriesStore, labels_of


def rfc3339(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int((ts % 1) * 1e9):09d}Z"


@dataclass
class AlertRule:
    name: str
    expr: str
    for_seconds: float
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    group: str = "model.performance"
    file: str = "/etc/prometheus/rules/ml-alerts.yaml"
    active: dict[tuple, dict[str, Any]] = field(default_factory=dict)
    last_evaluation: float = 0.0
    evaluation_time: float = 0.0
    health: str = "unknown"
    last_error: str = ""

    def __post_init__(self) -> None:
        self.ast = parse(self.expr)


def seed_rule(window: str = "5m", for_seconds: float = 120.0, threshold: float = 0.5) -> AlertRule:
    """The seed article's PrometheusRule `HighInferenceLatency` (window and `for` may be scaled)."""
    return AlertRule(
        name="HighInferenceLatency",
        expr=f"histogram_quantile(0.95, rate(model_inference_duration_seconds_bucket[{window}])) > {threshold:g}",
        for_seconds=for_seconds, labels={"severity": "warning"},
        annotations={"summary": "Model inference latency is high"})


class RuleManager:
    def __init__(self, evaluator: Evaluator, rules: list[AlertRule], interval: float = 1.0,
                 clock: Callable[[], float] = time.time,
                 notify: Callable[[list[dict[str, Any]]], None] | None = None,
                 external_url: str = "http://127.0.0.1:9090", store: SeriesStore | None = None) -> None:
        self.evaluator = evaluator
        self.store = store
        """Where each evaluation writes ALERTS and ALERTS_FOR_STATE (the evaluator reads it too)."""
        self.rules = rules
        self.interval = interval
        self.clock = clock
        self.notify = notify
        self.external_url = external_url
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sim-prom-rules", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.evaluate(self.clock())

    def evaluate(self, now: float) -> None:
        to_send: list[dict[str, Any]] = []
        with self.lock:
            for rule in self.rules:
                started = time.perf_counter()
                try:
                    result = self.evaluator.eval(rule.ast, now)
                    rule.health, rule.last_error = "ok", ""
                except Exception as e:
                    rule.health, rule.last_error = "err", str(e)
                    continue
                seen = set()
                for labels, value in result:
                    full = {k: v for k, v in labels.items() if k != "__name__"}
                    full.update(rule.labels)
                    full["alertname"] = rule.name
                    key = tuple(sorted(full.items()))
                    seen.add(key)
                    alert = rule.active.get(key)
                    if alert is None or alert.get("resolvedAt"):
                        alert = rule.active[key] = {"labels": full, "annotations": dict(rule.annotations),
                                                    "state": "pending", "activeAt": now, "value": value}
                    alert["value"] = value
                    if alert["state"] == "pending" and now - alert["activeAt"] >= rule.for_seconds:
                        alert["state"] = "firing"
                        alert["firedAt"] = now
                for key, alert in list(rule.active.items()):
                    if key not in seen:
                        if alert["state"] == "firing" and not alert.get("resolvedAt"):
                            alert["resolvedAt"] = now
                            to_send.append(self._postable(rule, alert, now))
                        del rule.active[key]
                    elif alert["state"] == "firing":
                        to_send.append(self._postable(rule, alert, now))
                rule.last_evaluation = now
                rule.evaluation_time = time.perf_counter() - started
            self._write_series(now)
        if self.notify and to_send:
            self.notify(to_send)

    def _write_series(self, now: float) -> None:
        """ALERTS{alertstate} = 1 and ALERTS_FOR_STATE = activeAt (Unix seconds) for every pending or
        firing alert, as rules/alerting.go writes them; an alert that resolved is absent from this
        evaluation, so its series go stale as Prometheus's do."""
        if self.store is None:
            return
        samples = []
        for rule in self.rules:
            for alert in rule.active.values():
                samples.append((labels_of("ALERTS", **alert["labels"], alertstate=alert["state"]), 1.0))
                samples.append((labels_of("ALERTS_FOR_STATE", **alert["labels"]), float(int(alert["activeAt"]))))
        with self.store.lock:
            if self.store.times and now <= self.store.times[-1]:
                return  # the clock did not move (a test evaluating twice at one instant): keep the first
            self.store.append(now, samples)

    def _postable(self, rule: AlertRule, alert: dict[str, Any], now: float) -> dict[str, Any]:
        ends = alert.get("resolvedAt") or now + 4 * max(self.interval, 1.0)
        return {"labels": dict(alert["labels"]), "annotations": dict(alert["annotations"]),
                "startsAt": rfc3339(alert.get("firedAt", alert["activeAt"])), "endsAt": rfc3339(ends),
                "generatorURL": f"{self.external_url}/graph?g0.expr={rule.expr}"}

    # --- API bodies ------------------------------------------------------------------------
    def _api_alert(self, alert: dict[str, Any]) -> dict[str, Any]:
        return {"labels": alert["labels"], "annotations": alert["annotations"], "state": alert["state"],
                "activeAt": rfc3339(alert["activeAt"]), "value": _sci(alert["value"])}

    def alerts(self) -> list[dict[str, Any]]:
        with self.lock:
            return [self._api_alert(a) for r in self.rules for a in r.active.values()]

    def groups(self) -> list[dict[str, Any]]:
        with self.lock:
            groups: dict[str, dict[str, Any]] = {}
            for r in self.rules:
                g = groups.setdefault(r.group, {"name": r.group, "file": r.file, "rules": [],
                                                "interval": self.interval, "limit": 0,
                                                "evaluationTime": 0.0, "lastEvaluation": rfc3339(r.last_evaluation)})
                states = {a["state"] for a in r.active.values()}
                rule = {
                    "state": "firing" if "firing" in states else "pending" if states else "inactive",
                    "name": r.name, "query": r.expr, "duration": _go_number(r.for_seconds), "keepFiringFor": 0,
                    "labels": r.labels, "annotations": r.annotations,
                    "alerts": [self._api_alert(a) for a in r.active.values()],
                    "health": r.health, "type": "alerting",
                    "lastEvaluation": rfc3339(r.last_evaluation), "evaluationTime": r.evaluation_time,
                }
                if r.last_error:  # `omitempty` in web/api/v1's AlertingRule, as Prometheus 2.42 answers
                    rule["lastError"] = r.last_error
                g["rules"].append(rule)
                g["evaluationTime"] += r.evaluation_time
            return list(groups.values())


def _go_number(v: float) -> float | int:
    """A float64 as Go's encoding/json writes it: 120, not 120.0."""
    return int(v) if float(v).is_integer() else v


def _sci(v: float) -> str:
    """Alert values as Prometheus writes them: strconv.FormatFloat(v, 'e', -1, 64), e.g. "7.5e-01"."""
    if v != v:
        return "NaN"
    if v in (float("inf"), float("-inf")):
        return "+Inf" if v > 0 else "-Inf"
    from decimal import Decimal
    digits = len(Decimal(repr(v)).normalize().as_tuple().digits)
    return f"{v:.{max(digits - 1, 0)}e}"

"""Alerts and silences as a real Prometheus and Alertmanager reported them (recorded JSON)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from mlops_tui.backends.alerts import translate as t
from mlops_tui.backends.correlate import ServiceIndex, merge_alerts
from mlops_tui.backends.model import AlertState, ModelService, Platform, ServiceKey, ServiceKind, Severity

DATA = Path(__file__).parent / "data" / "prometheus"


def load(name: str):
    return json.loads((DATA / name).read_text())


def svc(name: str) -> ModelService:
    return ModelService(key=ServiceKey("prod", "ml", ServiceKind.DEPLOYMENT, name), platform=Platform.K8S)


def by_name(alerts):
    return {a.name: a for a in alerts}


def test_prometheus_alerts_firing_and_pending_with_severity_since_and_summary():
    alerts = by_name(t.prometheus_alerts(load("prom_alerts.json"), "prometheus-alerts"))
    assert set(alerts) == {"HighInferenceLatency", "ModelDown", "ModelInfo", "LatencyBudgetBurn"}
    slow = alerts["HighInferenceLatency"]
    assert slow.state is AlertState.FIRING and slow.severity is Severity.WARNING
    assert slow.summary == "Model inference latency is high"
    assert slow.since is not None and slow.since.tzinfo is not None
    assert float(slow.value) > 0.5
    assert alerts["LatencyBudgetBurn"].state is AlertState.PENDING
    assert alerts["ModelDown"].severity is Severity.CRITICAL and alerts["ModelDown"].description == "0/3 replicas ready"
    assert alerts["ModelInfo"].severity is Severity.INFO


def test_alertmanager_tells_silenced_from_inhibited_by_which_list_is_set():
    alerts = by_name(t.alertmanager_alerts(load("am_alerts.json"), "alertmanager"))
    down, slow, info = alerts["ModelDown"], alerts["HighInferenceLatency"], alerts["ModelInfo"]
    assert down.state is AlertState.SILENCED and down.silenced_by == ("295400ba-844a-4397-a24f-200c3127e7d9",)
    assert slow.state is AlertState.INHIBITED and slow.inhibited_by and not slow.silenced_by
    assert info.state is AlertState.FIRING
    assert all(a.fingerprint for a in alerts.values())
    assert down.since is not None and down.source == "alertmanager"


def test_the_same_alert_from_both_sources_appears_once_keeping_the_silenced_report():
    per_source = {
        "prometheus-alerts": t.prometheus_alerts(load("prom_alerts.json"), "prometheus-alerts"),
        "alertmanager": t.alertmanager_alerts(load("am_alerts.json"), "alertmanager"),
    }
    merged = merge_alerts(per_source, ServiceIndex([svc("fast-model"), svc("slow-model")]))
    names = [a.name for a in merged]
    assert sorted(names) == sorted({"HighInferenceLatency", "ModelDown", "ModelInfo", "LatencyBudgetBurn"})
    down = next(a for a in merged if a.name == "ModelDown")
    assert down.state is AlertState.SILENCED and down.source == "alertmanager"
    # Tied to services by their labels; loudest first.
    assert down.service == svc("slow-model").key
    assert next(a for a in merged if a.name == "ModelInfo").service == svc("fast-model").key
    assert merged[0].severity is Severity.CRITICAL
    assert [a.severity for a in merged] == sorted((a.severity for a in merged), reverse=True)


def test_silences_active_first_with_matchers():
    found = t.silences(load("am_silences.json"))
    assert [s.state for s in found] == ["active", "expired"]
    active = found[0]
    assert active.matchers == (("alertname", "ModelDown", False, True),)
    assert active.comment == "known outage, ticket OPS-1" and active.created_by == "recorder"
    assert active.ends_at > active.starts_at
    assert t.matcher_text(found[1].matchers) == '{service=~"fast-.*"}'


def test_times_with_nanoseconds_and_zero_times():
    when = t.parse_time("2026-11-29T02:08:17.109930045Z")
    assert when == datetime(2026, 11, 29, 2, 8, 17, 109930, tzinfo=timezone.utc)
    assert t.parse_time("2026-11-29T03:08:17+01:00") == datetime(2026, 11, 29, 2, 8, 17, tzinfo=timezone.utc)
    assert t.parse_time("0001-01-01T00:00:00Z") is None
    assert t.parse_time("") is None and t.parse_time("yesterday") is None
    assert t.format_time(when) == "2026-11-29T02:08:17.109Z"


def test_prometheus_external_labels_make_both_reports_of_an_alert_one():
    config = {"status": "success", "data": {"yaml": "global:\n  scrape_interval: 1s\n  external_labels:\n"
                                                    "    monitor: eu-1\n    severity: ignored\n"}}
    external = t.external_labels(config)
    assert external == {"monitor": "eu-1", "severity": "ignored"}
    assert t.external_labels({"data": {"yaml": "global: {}\n"}}) == {}
    assert t.external_labels({}) == {}
    from_prometheus = t.prometheus_alerts(load("prom_alerts.json"), "prometheus-alerts", external)
    down = next(a for a in from_prometheus if a.name == "ModelDown")
    # Added the way Prometheus adds them when sending to Alertmanager: the alert's own labels win.
    assert dict(down.labels)["monitor"] == "eu-1" and dict(down.labels)["severity"] == "critical"
    am_item = next(a for a in load("am_alerts.json") if a["labels"]["alertname"] == "ModelDown")
    am_item = {**am_item, "labels": {**am_item["labels"], "monitor": "eu-1"}}
    merged = merge_alerts(
        {"prometheus-alerts": (down,), "alertmanager": t.alertmanager_alerts([am_item], "alertmanager")},
        ServiceIndex([]),
    )
    assert len(merged) == 1 and merged[0].state is AlertState.SILENCED

"""Alerts and silences against a real Prometheus and Alertmanager (Debian's packages).

The operator's story: the slow model breaches the seed article's HighInferenceLatency rule; the
alert shows tied to that service; the operator silences it through the Fleet (audited) and sees
it silenced in Alertmanager and in the alerts list; expiring the silence brings it back to
firing; in read-only mode nothing reaches Alertmanager; a dead Alertmanager degrades, never blocks.
"""

from __future__ import annotations

import time

import pytest

from mlops_tui.backends.alerts import actions
from mlops_tui.backends.alerts.watch import AlertmanagerBackend, AlertOptions, PrometheusAlertsSource
from mlops_tui.backends.fleet import Fleet
from mlops_tui.backends.model import AlertState, HealthState
from mlops_tui.backends.plans import ActionRefused, ExpireSilence, Outcome
from tests.engines import require_binary
from tests.integration.metrics_servers import (
    SEED_RULES,
    SeedExporter,
    StaticServices,
    alertmanager,
    closed_port_url,
    hanging_port,
    http_json,
    model_service,
    prometheus,
    wait_for,
)

pytestmark = pytest.mark.integration

FAST = model_service("fast-model")
SLOW = model_service("slow-model")
FAST_OPTIONS = AlertOptions(refresh_seconds=0.3, timeout=3)


@pytest.fixture(scope="module")
def servers():
    prom_bin = require_binary("prometheus")
    am_bin = require_binary("prometheus-alertmanager", "alertmanager")
    exporter = SeedExporter({("ml", "fast-model"): [0.015], ("ml", "slow-model"): [0.3] * 9 + [0.8]})
    rules = SEED_RULES.format(window="10s", for_="2s")
    with (
        alertmanager(am_bin) as am,
        exporter.running() as address,
        prometheus(prom_bin, [address], rules=rules, alertmanager_url=am.url,
                       external_labels={"monitor": "mlops-test"}) as prom,
    ):
        yield prom, am


@pytest.fixture
def fleet(servers):
    prom, am = servers
    audit: list[dict] = []
    fleet = Fleet(
        [
            StaticServices("prod", [FAST, SLOW]),
            PrometheusAlertsSource(prom.url, options=FAST_OPTIONS),
            AlertmanagerBackend(am.url, options=FAST_OPTIONS),
        ],
        audit=audit.append,
        operator="alice",
    )
    fleet.audit_records = audit  # type: ignore[attr-defined]
    fleet.start()
    try:
        yield fleet
    finally:
        fleet.stop()


def slow_alert(fleet, state=None):
    for alert in fleet.state.alerts:
        if (
            alert.name == "HighInferenceLatency"
            and alert.service == SLOW.key
            and (state is None or alert.state is state)
        ):
            return alert
    return None


def am_silences(am):
    return http_json(am.url + "/api/v2/silences")


def test_slow_service_alert_fires_and_is_tied_to_it(fleet):
    alert = wait_for(lambda: slow_alert(fleet, AlertState.FIRING), 45, "HighInferenceLatency firing on slow-model")
    assert alert.severity.name == "WARNING" and alert.summary == "Model inference latency is high"
    assert alert.since is not None
    # Reported by both Prometheus and Alertmanager (which also gets Prometheus' external labels),
    # shown once; none for the fast service.
    wait_for(lambda: slow_alert(fleet, AlertState.FIRING).source == "alertmanager", 10, "Alertmanager's report")
    wait_for(
        lambda: (
            fleet.state.health.get("alertmanager") and fleet.state.health["alertmanager"].state is HealthState.CONNECTED
        ),
        10,
        "alertmanager connected",
    )
    assert sum(1 for a in fleet.state.alerts if a.name == "HighInferenceLatency") == 1
    assert not fleet.state.alerts_for(FAST.key)


def test_silence_from_the_fleet_then_expire_it(fleet, servers):
    _prom, am = servers
    alert = wait_for(lambda: slow_alert(fleet, AlertState.FIRING), 45, "alert firing")
    wait_for(
        lambda: any(a["labels"].get("service") == "slow-model" for a in http_json(am.url + "/api/v2/alerts")),
        20,
        "the alert in Alertmanager",
    )
    before = {s["id"] for s in am_silences(am)}

    intent = actions.silence_intent(alert, 900, "slow-model: new build rolling out, OPS-42")
    plan = fleet.plan_on("alertmanager", alert, intent)
    outcome = fleet.apply(plan, verify_timeout=15)
    assert outcome.outcome is Outcome.SUCCEEDED, outcome.detail

    created = [s for s in am_silences(am) if s["id"] not in before]
    assert len(created) == 1
    silence = created[0]
    assert silence["status"]["state"] == "active"
    assert silence["comment"] == "slow-model: new build rolling out, OPS-42"
    assert {(m["name"], m["value"]) for m in silence["matchers"]} == set(alert.labels)
    record = fleet.audit_records[-1]
    assert (record["action"], record["result"], record["operator"]) == ("silence", "succeeded", "alice")
    assert record["calls"] == ["POST /api/v2/silences"]

    silenced = wait_for(lambda: slow_alert(fleet, AlertState.SILENCED), 10, "the alert shown as silenced")
    assert silenced.silenced_by == (silence["id"],)
    listed = fleet.backends["alertmanager"].list_silences()
    assert listed[0].id == silence["id"] and listed[0].state == "active"

    expire = fleet.plan_on("alertmanager", silenced, ExpireSilence(silence["id"]))
    outcome = fleet.apply(expire, verify_timeout=15)
    assert outcome.outcome is Outcome.SUCCEEDED, outcome.detail
    assert next(s for s in am_silences(am) if s["id"] == silence["id"])["status"]["state"] == "expired"
    wait_for(lambda: slow_alert(fleet, AlertState.FIRING), 10, "the alert firing again")
    assert fleet.audit_records[-1]["action"] == "expire-silence"

    # DELETE is idempotent on Alertmanager; planning it again says there is nothing to do.
    again = fleet.plan_on("alertmanager", silenced, ExpireSilence(silence["id"]))
    assert again.noop and fleet.apply(again).outcome is Outcome.NOOP


def test_read_only_fleet_refuses_and_alertmanager_receives_nothing(servers):
    _prom, am = servers
    backend = AlertmanagerBackend(am.url, options=FAST_OPTIONS)
    audit: list[dict] = []
    fleet = Fleet([StaticServices("prod", [SLOW]), backend], readonly=True, audit=audit.append)
    fleet.start()
    try:
        alert = wait_for(
            lambda: next((a for a in fleet.state.alerts if a.service == SLOW.key), None),
            45,
            "the alert in a read-only fleet",
        )
        before = am_silences(am)
        intent = actions.silence_intent(alert, 600, "should never be sent")
        with pytest.raises(ActionRefused, match="read-only"):
            fleet.plan_on("alertmanager", alert, intent)
        sneaked = backend.plan(alert, intent)  # a plan made around the gate is still refused at apply
        outcome = fleet.apply(sneaked)
        assert outcome.outcome is Outcome.REFUSED
        assert audit[-1]["result"] == "refused"
        assert am_silences(am) == before
    finally:
        fleet.stop()


def test_alertmanager_refusal_is_reported_with_its_reason(fleet, servers):
    _prom, _am = servers
    alert = wait_for(lambda: slow_alert(fleet), 45, "alert")
    backend = fleet.backends["alertmanager"]
    plan = backend.plan(alert, actions.silence_intent(alert, 60, "ends in the past"))
    # Alertmanager refuses an end time in the past: make the plan's body say exactly that.
    body = dict(plan.mutations[0].body, startsAt="2020-01-01T00:00:00.000Z", endsAt="2020-01-01T00:01:00.000Z")
    from dataclasses import replace

    stale = replace(plan, mutations=(replace(plan.mutations[0], body=body),))
    outcome = fleet.apply(stale, verify_timeout=2)
    assert outcome.outcome is Outcome.FAILED
    assert "400" in outcome.detail and "past" in outcome.detail.lower()


@pytest.mark.parametrize("where", ["refused", "hanging"])
def test_alertmanager_down_or_hanging_is_degraded_and_others_go_on(where, servers):
    prom, _ = servers
    timeout = 0.5
    with hanging_port() as hanging:
        url = closed_port_url() if where == "refused" else hanging
        broken = AlertmanagerBackend(
            url, options=AlertOptions(refresh_seconds=0.3, timeout=timeout, connect_timeout=timeout)
        )
        fleet = Fleet(
            [StaticServices("prod", [FAST, SLOW]), broken, PrometheusAlertsSource(prom.url, options=FAST_OPTIONS)]
        )
        fleet.start()
        try:
            health = wait_for(
                lambda: (h := fleet.state.health.get("alertmanager")) and h.state is HealthState.ERROR and h,
                timeout + 3,
                "degraded alertmanager",
            )
            reason = "connection refused" if where == "refused" else f"no answer within {timeout:g} s"
            assert health.error == f"alerts unavailable: {reason}"
            wait_for(lambda: slow_alert(fleet), 45, "Prometheus alerts still arriving")
            with pytest.raises(Exception, match=r"cannot read silence|unavailable|no answer|refused"):
                fleet.plan_on("alertmanager", None, ExpireSilence("some-id"))
        finally:
            t0 = time.monotonic()
            fleet.stop()
            assert time.monotonic() - t0 < 2.0

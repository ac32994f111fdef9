"""Silences as the on-call operator uses them against the simulated Alertmanager (no sockets:
the API is called through `respond`, the same function the HTTP handler runs)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from mlops_tui.sim.alertmanager import SimAlertmanager
from mlops_tui.sim.alertmanager.server import respond


class Clock:
    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.fixture
def am():
    clock = Clock()
    sim = SimAlertmanager(clock=clock)
    sim.clock = clock
    sim.receive([
        {"labels": {"alertname": "HighInferenceLatency", "namespace": "ml-prod", "service": "ensemble-predictor",
                    "severity": "warning"}, "annotations": {"summary": "Model inference latency is high"},
         "startsAt": iso(clock.t - 60), "endsAt": iso(clock.t + 240)},
        {"labels": {"alertname": "HighInferenceLatency", "namespace": "ml-prod", "service": "property-price-predictor",
                    "severity": "warning"}, "annotations": {}, "startsAt": iso(clock.t - 30)},
    ])
    return sim


def call(am, method, path, params=None, body=None):
    return respond(am, method, path, params or {}, body)


def silence_body(am, service="ensemble-predictor", start=0.0, end=3600.0, **extra):
    return {"matchers": [{"name": "service", "value": service, "isRegex": False}],
            "startsAt": iso(am.clock.t + start), "endsAt": iso(am.clock.t + end),
            "createdBy": "oncall", "comment": "canary under investigation", **extra}


def states(am):
    _, alerts = call(am, "GET", "/api/v2/alerts")
    return {a["labels"]["service"]: (a["status"]["state"], a["status"]["silencedBy"]) for a in alerts}


def test_silencing_an_alert_shows_it_suppressed_with_the_silence_id(am):
    status, body = call(am, "POST", "/api/v2/silences", body=silence_body(am))
    assert status == 200
    sid = body["silenceID"]
    assert states(am) == {"ensemble-predictor": ("suppressed", [sid]), "property-price-predictor": ("active", [])}
    _, unsilenced_only = call(am, "GET", "/api/v2/alerts", {"silenced": ["false"]})
    assert [a["labels"]["service"] for a in unsilenced_only] == ["property-price-predictor"]
    _, filtered = call(am, "GET", "/api/v2/alerts", {"filter": ['service=~"property.*"']})
    assert [a["labels"]["service"] for a in filtered] == ["property-price-predictor"]


def test_validation_errors_have_alertmanagers_messages(am):
    assert call(am, "POST", "/api/v2/silences", body=silence_body(am, start=10, end=5)) == (
        400, "Failed to create silence: start time must be before end time")
    assert call(am, "POST", "/api/v2/silences", body=silence_body(am, start=-7200, end=-3600)) == (
        400, "Failed to create silence: end time can't be in the past")
    assert call(am, "POST", "/api/v2/silences", body={**silence_body(am), "matchers": []}) == (
        422, {"code": 612, "message": "matchers in body should have at least 1 items"})
    empty = {**silence_body(am), "matchers": [{"name": "service", "value": "", "isRegex": False}]}
    assert call(am, "POST", "/api/v2/silences", body=empty) == (
        400, "silence invalid: at least one matcher must not match the empty string")
    assert call(am, "GET", "/api/v2/alerts", {"filter": ["foo"]}) == (400, "bad matcher format: foo")


def test_extending_an_active_silence_keeps_its_id(am):
    _, body = call(am, "POST", "/api/v2/silences", body=silence_body(am))
    sid = body["silenceID"]
    _, first = call(am, "GET", f"/api/v2/silence/{sid}")
    extended = {**silence_body(am, end=7200), "id": sid, "startsAt": first["startsAt"]}
    status, again = call(am, "POST", "/api/v2/silences", body=extended)
    assert status == 200 and again["silenceID"] == sid
    _, silence = call(am, "GET", f"/api/v2/silence/{sid}")
    assert silence["endsAt"] == iso(am.clock.t + 7200)[:23] + "Z"


def test_changing_matchers_expires_the_old_silence_and_returns_a_new_id(am):
    _, body = call(am, "POST", "/api/v2/silences", body=silence_body(am))
    old = body["silenceID"]
    changed = {**silence_body(am, service="property-price-predictor"), "id": old}
    status, again = call(am, "POST", "/api/v2/silences", body=changed)
    assert status == 200 and again["silenceID"] != old
    _, old_silence = call(am, "GET", f"/api/v2/silence/{old}")
    assert old_silence["status"]["state"] == "expired"
    assert states(am)["property-price-predictor"] == ("suppressed", [again["silenceID"]])
    assert states(am)["ensemble-predictor"] == ("active", [])


def test_unknown_id_on_update_is_404(am):
    body = {**silence_body(am), "id": "0a4c4b2e-0000-4000-8000-000000000000"}
    assert call(am, "POST", "/api/v2/silences", body=body) == (404, "silence not found")


def test_expiring_twice_is_fine_and_unsilences_the_alert(am):
    _, body = call(am, "POST", "/api/v2/silences", body=silence_body(am))
    sid = body["silenceID"]
    assert call(am, "DELETE", f"/api/v2/silence/{sid}")[0] == 200
    am.clock.t += 1
    assert call(am, "DELETE", f"/api/v2/silence/{sid}")[0] == 200
    assert states(am)["ensemble-predictor"] == ("active", [])
    _, listed = call(am, "GET", "/api/v2/silences", {"filter": ['service="ensemble-predictor"']})
    assert [(s["id"], s["status"]["state"]) for s in listed] == [(sid, "expired")]
    assert call(am, "DELETE", "/api/v2/silence/0a4c4b2e-0000-4000-8000-000000000000")[0] == 404
    assert call(am, "DELETE", "/api/v2/silence/not-a-uuid")[0] == 422


def test_pending_silence_starts_later_and_expiring_it_sets_start_and_end_to_now(am):
    _, body = call(am, "POST", "/api/v2/silences", body=silence_body(am, start=600, end=1200))
    sid = body["silenceID"]
    assert call(am, "GET", f"/api/v2/silence/{sid}")[1]["status"]["state"] == "pending"
    assert states(am)["ensemble-predictor"] == ("active", [])
    call(am, "DELETE", f"/api/v2/silence/{sid}")
    _, s = call(am, "GET", f"/api/v2/silence/{sid}")
    assert s["status"]["state"] == "expired" and s["startsAt"] == s["endsAt"]


def test_resolved_alerts_leave_the_list(am):
    am.clock.t += 250  # the first alert's endsAt (+240 s) passes; the second had none: resolve_timeout 5m
    _, alerts = call(am, "GET", "/api/v2/alerts")
    assert [a["labels"]["service"] for a in alerts] == ["property-price-predictor"]
    am.clock.t += 60
    assert call(am, "GET", "/api/v2/alerts") == (200, [])


GO_ZERO = "0001-01-01T00:00:00.000Z"  # what amtool sends for a time it leaves unset


def test_an_alert_posted_with_go_zero_times_fires_from_now_until_the_resolve_timeout(am):
    status, _ = call(am, "POST", "/api/v2/alerts", body=[
        {"labels": {"alertname": "ModelDown", "service": "fraud-scorer"}, "startsAt": GO_ZERO, "endsAt": GO_ZERO}])
    assert status == 200
    _, alerts = call(am, "GET", "/api/v2/alerts", {"filter": ['alertname="ModelDown"']})
    assert [(a["startsAt"], a["endsAt"], a["status"]["state"]) for a in alerts] == [
        (iso(am.clock.t)[:-4] + "Z", iso(am.clock.t + 300)[:-4] + "Z", "active")]


def test_an_alert_with_only_an_end_starts_at_its_end_as_alertmanager_does(am):
    call(am, "POST", "/api/v2/alerts", body=[
        {"labels": {"alertname": "ModelDown"}, "startsAt": GO_ZERO, "endsAt": iso(am.clock.t + 60)}])
    _, alerts = call(am, "GET", "/api/v2/alerts", {"filter": ['alertname="ModelDown"']})
    assert alerts[0]["startsAt"] == alerts[0]["endsAt"] == iso(am.clock.t + 60)[:-4] + "Z"


def test_invalid_alerts_in_a_batch_answer_400_and_the_valid_ones_still_fire(am):
    status, message = call(am, "POST", "/api/v2/alerts", body=[
        {"labels": {"alertname": "ModelDown", "team": ""}},
        {"labels": {"team": ""}},
        {"labels": {"alertname": "Backwards"}, "startsAt": iso(am.clock.t), "endsAt": iso(am.clock.t - 60)}])
    assert (status, message) == (400, "at least one label pair required\nstart time must be before end time")
    _, alerts = call(am, "GET", "/api/v2/alerts", {"filter": ['alertname=~"ModelDown|Backwards"']})
    assert [a["labels"] for a in alerts] == [{"alertname": "ModelDown"}]  # empty label values are dropped


def test_an_invalid_filter_regex_is_a_400_with_the_regexp_error(am):
    for path in ("/api/v2/alerts", "/api/v2/silences", "/api/v2/alerts/groups"):
        status, message = call(am, "GET", path, {"filter": ['service=~"fraud("']})
        assert status == 400 and message.startswith("error parsing regexp: ") and "`^(?:fraud()$`" in message

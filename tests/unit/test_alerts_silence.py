"""Silencing an alert: validated before anything is sent, planned as one exact call, gated by the
Fleet (read-only, audit). Alertmanager is replaced by an in-memory double through the constructor."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from mlops_tui.backends.alerts import actions
from mlops_tui.backends.alerts.watch import AlertmanagerBackend
from mlops_tui.backends.fleet import Fleet
from mlops_tui.backends.model import Alert, AlertState, ServiceKey, ServiceKind, Severity, freeze_labels
from mlops_tui.backends.plans import ActionRefused, ExpireSilence, Outcome, SilenceAlert

NOW = datetime(2026, 11, 29, 2, 30, tzinfo=timezone.utc)
SLOW = ServiceKey("prod", "ml", ServiceKind.DEPLOYMENT, "slow-model")
ALERT = Alert(
    name="HighInferenceLatency",
    severity=Severity.WARNING,
    state=AlertState.FIRING,
    labels=freeze_labels(
        {"alertname": "HighInferenceLatency", "namespace": "ml", "service": "slow-model", "severity": "warning"}
    ),
    service=SLOW,
)


class FakeAlertmanager:
    """Just enough of AlertmanagerClient: remembers what was posted and deleted."""

    def __init__(self) -> None:
        self.posted: list[dict] = []
        self.deleted: list[str] = []
        self.silenced: dict[str, dict] = {}

    def post_silence(self, body):
        sid = f"s{len(self.posted) + 1}"
        self.posted.append(body)
        self.silenced[sid] = {
            "id": sid,
            "matchers": body["matchers"],
            "startsAt": body["startsAt"],
            "endsAt": body["endsAt"],
            "createdBy": body["createdBy"],
            "comment": body["comment"],
            "status": {"state": "active"},
        }
        return sid

    def expire_silence(self, sid):
        self.deleted.append(sid)
        self.silenced[sid]["status"]["state"] = "expired"

    def silence(self, sid):
        if sid not in self.silenced:
            from mlops_tui.backends.alerts.client import HttpError

            raise HttpError(404, "silence not found")
        return self.silenced[sid]

    def silences(self, filters=()):
        return list(self.silenced.values())

    def alerts(self, filters=()):
        active = [sid for sid, s in self.silenced.items() if s["status"]["state"] == "active"]
        return [
            {
                "labels": dict(ALERT.labels),
                "annotations": {},
                "fingerprint": "f1",
                "startsAt": "2026-11-29T02:00:00Z",
                "status": {"state": "suppressed" if active else "active", "silencedBy": active, "inhibitedBy": []},
            }
        ]

    def close(self):
        pass


def backend(fake: FakeAlertmanager | None = None) -> AlertmanagerBackend:
    return AlertmanagerBackend("http://127.0.0.1:9", client=fake or FakeAlertmanager(), clock=lambda: NOW)


def intent(**kw) -> SilenceAlert:
    base = {"matchers": actions.default_matchers(ALERT), "duration_seconds": 3600, "comment": "investigating, OPS-12"}
    return SilenceAlert(**{**base, **kw})


def test_default_matchers_are_the_alerts_identifying_labels():
    made = actions.silence_intent(ALERT, 1800, "deploying a fix")
    assert made.matchers == (
        ("alertname", "HighInferenceLatency", False),
        ("namespace", "ml", False),
        ("service", "slow-model", False),
        ("severity", "warning", False),
    )
    assert actions.silence_intent(ALERT, 60, "x", matchers=[("service", "slow-.*", True)]).matchers == (
        ("service", "slow-.*", True),
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"matchers": ()}, "at least one matcher"),
        ({"duration_seconds": 0}, "must be positive"),
        ({"duration_seconds": -60}, "must be positive"),
        ({"duration_seconds": 8 * 86400}, "capped at 7 d"),
        ({"comment": "   "}, "needs a comment"),
        ({"matchers": (("service", ".*", True),)}, "must not match the empty string"),
        ({"matchers": (("service", "", False),)}, "must not match the empty string"),
        ({"matchers": (("bad label", "x", False),)}, "not a valid label name"),
        ({"matchers": (("service", "(", True),)}, "not a valid regular expression"),
    ],
)
def test_invalid_silences_are_refused_with_a_clear_reason(changes, message):
    with pytest.raises(ActionRefused, match=message):
        backend().plan(ALERT, intent(**changes))


def test_plan_is_one_post_with_the_exact_body():
    plan = backend().plan(
        ALERT, intent(matchers=(("service", "slow-model", False), ("alertname", "HighInferenceLatency", False)))
    )
    (mutation,) = plan.mutations
    assert (mutation.method, mutation.path) == ("POST", "/api/v2/silences")
    assert mutation.body == {
        "matchers": [
            {"name": "service", "value": "slow-model", "isRegex": False, "isEqual": True},
            {"name": "alertname", "value": "HighInferenceLatency", "isRegex": False, "isEqual": True},
        ],
        "startsAt": "2026-11-29T02:30:00.000Z",
        "endsAt": (NOW + timedelta(hours=1)).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "createdBy": plan.user,
        "comment": "investigating, OPS-12",
    }
    assert plan.source == "alertmanager" and plan.target == SLOW
    assert plan.target_name == "alert HighInferenceLatency on prod/ml/slow-model"
    assert plan.before["state"] == "firing" and plan.after["state"] == "silenced"


def test_silence_needs_an_alert_target():
    with pytest.raises(ActionRefused, match="select an alert"):
        backend().plan(None, intent())


def test_silence_through_the_fleet_is_sent_verified_and_audited():
    fake = FakeAlertmanager()
    audit: list[dict] = []
    fleet = Fleet([backend(fake)], audit=audit.append, operator="alice")
    plan = fleet.plan_on("alertmanager", ALERT, intent())
    outcome = fleet.apply(plan, verify_timeout=1.0)
    assert outcome.outcome is Outcome.SUCCEEDED, outcome.detail
    assert len(fake.posted) == 1
    assert audit[-1]["action"] == "silence" and audit[-1]["calls"] == ["POST /api/v2/silences"]
    assert audit[-1]["operator"] == "alice" and audit[-1]["result"] == "succeeded"
    # Applying the same plan twice is refused: one silence only.
    again = fleet.apply(plan, verify_timeout=1.0)
    assert again.outcome is Outcome.REFUSED and len(fake.posted) == 1

    expire = fleet.plan_on("alertmanager", ALERT, ExpireSilence("s1"))
    assert [(m.method, m.path) for m in expire.mutations] == [("DELETE", "/api/v2/silence/s1")]
    assert fleet.apply(expire, verify_timeout=1.0).outcome is Outcome.SUCCEEDED
    assert fake.deleted == ["s1"] and audit[-1]["action"] == "expire-silence"


def test_read_only_fleet_refuses_the_silence_and_sends_nothing():
    fake = FakeAlertmanager()
    audit: list[dict] = []
    fleet = Fleet([backend(fake)], readonly=True, audit=audit.append)
    with pytest.raises(ActionRefused, match="read-only"):
        fleet.plan_on("alertmanager", ALERT, intent())
    # Even a plan made elsewhere is refused at apply, audited, and nothing reaches Alertmanager.
    plan = backend(fake).plan(ALERT, intent())
    outcome = fleet.apply(plan)
    assert outcome.outcome is Outcome.REFUSED and fake.posted == []
    assert audit[-1]["result"] == "refused"


def test_expiring_an_unknown_silence_is_refused():
    with pytest.raises(ActionRefused, match="does not exist"):
        backend().plan(ALERT, ExpireSilence("nope"))
    with pytest.raises(ActionRefused, match="no silence id"):
        backend().plan(ALERT, ExpireSilence(" "))


def test_list_silences_for_the_ui():
    fake = FakeAlertmanager()
    am = backend(fake)
    fake.post_silence(
        actions.plan_silence("alertmanager", ALERT, intent(), now=NOW, created_by="bob").mutations[0].body
    )
    (found,) = am.list_silences()
    assert found.id == "s1" and found.state == "active" and found.created_by == "bob"
    fake.expire_silence("s1")
    assert am.list_silences(include_expired=False) == ()

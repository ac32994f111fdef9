"""The Fleet: one merged state, coalesced publishes, and the single gate for actions."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

from mlops_tui.backends.base import Change
from mlops_tui.backends.fleet import Fleet
from mlops_tui.backends.model import (
    ActionKind,
    Alert,
    AlertState,
    ClusterHealth,
    HealthState,
    Platform,
    Severity,
    freeze_labels,
)
from mlops_tui.backends.plans import Outcome, Scale, SwitchBlueGreen, unready_target_warning
from tests.clock import ManualClock
from tests.fakes import T0, InMemoryBackend, service


def started_fleet(*backends, **kwargs):
    audit: list[dict] = []
    fleet = Fleet(backends, audit=audit.append, clock=lambda: T0, **kwargs)
    for backend in backends:
        backend.start(fleet.submit)
    fleet.flush()
    return fleet, audit


def test_services_from_two_clusters_merge_into_one_state():
    a, b = InMemoryBackend("prod-a"), InMemoryBackend("swarm-1", Platform.SWARM)
    a.services = {s.key: s for s in [service("valuation", cluster="prod-a")]}
    b.services = {s.key: s for s in [service("model-api", cluster="swarm-1", namespace="proptech-ml")]}
    fleet, _ = started_fleet(a, b)
    assert sorted(k.name for k in fleet.state.services) == ["model-api", "valuation"]
    assert fleet.state.health["prod-a"].state is HealthState.CONNECTED


def test_a_snapshot_drops_what_the_source_no_longer_reports_and_says_so_in_the_delta():
    backend = InMemoryBackend()
    keep, gone = service("keep"), service("gone")
    backend.services = {keep.key: keep, gone.key: gone}
    fleet, _ = started_fleet(backend)
    del backend.services[gone.key]
    backend.push(snapshot=True)
    delta = fleet.flush()
    assert gone.key not in fleet.state.services and keep.key in fleet.state.services
    assert delta.removed == {gone.key}
    assert keep.key not in delta.services  # unchanged rows are not redrawn


def wait_for(check, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def paced_fleet():
    """A started Fleet paced at 8 publishes/s with an allowance of 3, on a manual clock, and what it published."""
    clock = ManualClock()
    backend = InMemoryBackend()
    fleet = Fleet([], max_rate=8, burst=3, clock=lambda: T0, publish_clock=clock)
    published: list = []
    fleet.subscribe(lambda state, delta: published.append(delta))
    fleet.start()
    return clock, backend, fleet, published


def test_while_changes_are_few_each_is_published_at_once_without_waiting_for_an_interval():
    """Idle: a change a moment after the previous publish (the tail of the last scale) is not held
    back for a coalescing window; the operator sees it as soon as the Fleet has it."""
    clock, backend, fleet, published = paced_fleet()
    try:
        backend.start(fleet.submit)
        wait_for(lambda: len(published) == 1)  # the backend's first snapshot
        svc = service("busy")
        backend.upsert(replace(svc, ready=1))
        wait_for(lambda: len(published) == 2)  # no time has passed on the clock: at once
        backend.upsert(replace(svc, ready=2))
        wait_for(lambda: len(published) == 3)
        assert clock.waits == 0
    finally:
        fleet.stop()


def test_under_load_a_burst_of_changes_is_published_as_one_snapshot_per_interval():
    """200 replica changes in a burst once the thin-stream allowance is spent: the screen redraws once
    per interval (max_rate 8/s: 0.125 s, exact in binary, so the manual clock lands on the deadline),
    with the last value, never once per change and never before the interval is over; after a quiet
    spell the next change goes out at once again."""
    clock, backend, fleet, published = paced_fleet()
    try:
        backend.start(fleet.submit)
        wait_for(lambda: len(published) == 1)
        svc = service("busy")
        for ready in (1, 2):  # the rest of the allowance, spent at once
            backend.upsert(replace(svc, ready=ready))
            wait_for(lambda ready=ready: len(published) == 1 + ready)
        for replicas in range(200):
            backend.upsert(replace(svc, ready=replicas % 4))
        clock.idle()  # the publisher waits for the next token
        clock.advance(0.0625)
        clock.idle()
        assert len(published) == 3  # within the interval nothing more is published, however many changes
        clock.advance(0.0625)
        wait_for(lambda: len(published) == 4)
        assert fleet.state.services[svc.key].ready == 199 % 4 and svc.key in published[3].services
        backend.upsert(replace(svc, ready=2))  # within the next interval: held back again
        clock.idle()
        assert len(published) == 4
        clock.advance(0.125)
        wait_for(lambda: len(published) == 5)
        assert fleet.state.services[svc.key].ready == 2
        clock.advance(1.0)  # a quiet second refills the allowance: the next change goes out at once
        backend.upsert(replace(svc, ready=1))
        wait_for(lambda: len(published) == 6)
        assert clock.waits == 2  # only the two held-back bursts waited on the clock
    finally:
        fleet.stop()


def test_readonly_fleet_refuses_an_action_before_anything_is_sent():
    backend = InMemoryBackend()
    svc = service("valuation")
    backend.services = {svc.key: svc}
    fleet, audit = started_fleet(backend)
    plan = backend.plan(svc, Scale(5))
    fleet.readonly = True
    outcome = fleet.apply(plan)
    assert outcome.outcome is Outcome.REFUSED and "read-only" in outcome.detail
    assert backend.mutations == []
    assert audit[-1]["result"] == "refused"


def test_readonly_per_cluster_refuses_planning_there_only():
    a, b = InMemoryBackend("prod-a"), InMemoryBackend("staging")
    sa, sb = service("x", cluster="prod-a"), service("y", cluster="staging")
    a.services, b.services = {sa.key: sa}, {sb.key: sb}
    fleet, _ = started_fleet(a, b, readonly_sources=["prod-a"])
    try:
        fleet.plan(sa, Scale(1))
        raise AssertionError("planning on a read-only cluster must be refused")
    except Exception as exc:
        assert "read-only" in str(exc)
    assert fleet.plan(sb, Scale(1)).after == {"replicas": "1"}


def test_apply_sends_once_verifies_and_writes_one_audit_record():
    backend = InMemoryBackend()
    svc = service("valuation")
    backend.services = {svc.key: svc}
    fleet, audit = started_fleet(backend)
    plan = fleet.plan(svc, Scale(5))
    outcome = fleet.apply(plan)
    assert outcome.outcome is Outcome.SUCCEEDED
    assert len(backend.mutations) == 1
    record = audit[-1]
    assert record["intent"] == "scale to 5"
    assert record["before"] == {"replicas": "3"} and record["after"] == {"replicas": "5"}
    assert record["cluster"] == "prod-a" and record["result"] == "succeeded"
    assert "body" not in str(record)  # request bodies never reach the audit log
    again = fleet.apply(plan)
    assert again.outcome is Outcome.REFUSED and len(backend.mutations) == 1


def test_a_blocking_precondition_is_refused_unless_explicitly_overridden():
    backend = InMemoryBackend()
    svc = service("valuation")
    backend.services = {svc.key: svc}
    fleet, audit = started_fleet(backend)
    base = fleet.plan(svc, Scale(5))
    blocked = replace(base, warnings=(unready_target_warning("no ready pod matches", overridden=False),))
    assert fleet.apply(blocked).outcome is Outcome.REFUSED
    assert backend.mutations == []
    overridden = replace(blocked, warnings=(unready_target_warning("no ready pod matches", overridden=True),),
                         intent=SwitchBlueGreen("green", override_unready=True), id="other")
    # The Fleet lets the overridden plan through to the backend, which sends its call.
    outcome = fleet.apply(overridden)
    assert outcome.outcome is Outcome.SUCCEEDED and len(backend.mutations) == 1
    assert audit[-1]["overrides"] == ["selector-no-ready-pods"]


def test_typed_confirmation_is_required_when_the_plan_asks_for_it():
    backend = InMemoryBackend()
    svc = service("valuation")
    backend.services = {svc.key: svc}
    fleet, _ = started_fleet(backend)
    plan = replace(fleet.plan(svc, Scale(0)), confirm_text="valuation")
    assert fleet.apply(plan, confirmed_text="valu").outcome is Outcome.REFUSED
    assert backend.mutations == []
    assert fleet.apply(plan, confirmed_text="valuation").outcome is Outcome.SUCCEEDED


def test_an_action_the_credentials_may_not_do_is_refused_as_forbidden():
    backend = InMemoryBackend()
    svc = service("valuation", denied=frozenset({ActionKind.SCALE}))
    backend.services = {svc.key: svc}
    fleet, audit = started_fleet(backend)
    outcome = fleet.apply(backend.plan(svc, Scale(2)))
    assert outcome.outcome is Outcome.FORBIDDEN and "not allowed for" in outcome.detail
    assert backend.mutations == [] and audit[-1]["result"] == "forbidden"


def test_alerts_from_two_sources_are_merged_once_and_tied_to_their_service():
    backend = InMemoryBackend()
    svc = service("property-valuation-model")
    backend.services = {svc.key: svc}
    fleet, _ = started_fleet(backend)
    labels = freeze_labels({"alertname": "HighInferenceLatency", "namespace": "ml-prod",
                            "service": "property-valuation-model", "severity": "warning"})
    firing = Alert("HighInferenceLatency", Severity.WARNING, AlertState.FIRING, labels, since=T0, source="prometheus")
    silenced = replace(firing, state=AlertState.SILENCED, source="alertmanager", silenced_by=("abc",))
    fleet.submit(Change(source="prometheus", alerts=(firing,)))
    fleet.submit(Change(source="alertmanager", alerts=(silenced,)))
    fleet.flush()
    assert len(fleet.state.alerts) == 1
    alert = fleet.state.alerts[0]
    assert alert.state is AlertState.SILENCED and alert.service == svc.key


def test_health_changes_are_published_even_without_data():
    backend = InMemoryBackend()
    fleet, _ = started_fleet(backend)
    fleet.submit(Change(source="prod-a", health=ClusterHealth("prod-a", Platform.K8S, HealthState.STALE, since=T0,
                                                              error="connection refused")))
    delta = fleet.flush()
    assert delta.health and fleet.state.health["prod-a"].error == "connection refused"


def test_submit_is_safe_from_many_threads():
    backend = InMemoryBackend()
    fleet, _ = started_fleet(backend)
    svcs = [service(f"svc-{i}") for i in range(400)]

    def push(chunk):
        for s in chunk:
            fleet.submit(Change(source="prod-a", services={s.key: s}))

    threads = [threading.Thread(target=push, args=(svcs[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    fleet.flush()
    assert len(fleet.state.services) == 400


def test_a_swarm_label_ties_an_alert_to_the_swarm_service_not_a_namesake_deployment():
    from mlops_tui.backends.correlate import ServiceIndex
    from mlops_tui.backends.model import ServiceKind

    k8s = service("rent-predictor-canary")
    swarm = service("rent-predictor-canary", cluster="swarm-demo", namespace="", kind=ServiceKind.SWARM_SERVICE)
    index = ServiceIndex([k8s, swarm])
    assert index.resolve({"swarm_service": "rent-predictor-canary"}) == swarm.key
    assert index.resolve({"service": "rent-predictor-canary", "namespace": "ml-prod"}) == k8s.key
    assert index.resolve({"service": "rent-predictor-canary"}) is None  # ambiguous: say nothing


class _GuardedBackend(InMemoryBackend):
    """Plans from the service record it is given; apply refuses a plan whose `before` is stale, as a
    resourceVersion precondition makes the API server do. `published` is the backend's latest record."""

    def published(self, key):
        return self.services.get(key)

    def apply(self, plan):
        from mlops_tui.backends.plans import ActionConflict

        if self.services[plan.target].desired != int(plan.before["replicas"]):
            raise ActionConflict("the object has been modified")
        super().apply(plan)


def test_a_change_since_the_preview_is_not_overwritten_and_the_new_preview_says_what_changed():
    backend = _GuardedBackend()
    svc = service("valuation")
    backend.services = {svc.key: svc}
    fleet, audit = started_fleet(backend)
    plan = fleet.plan(svc, Scale(5))  # the operator previews 3 -> 5
    # A colleague scales it to 4 (the Fleet has not published that yet: the re-plan must not rely on it).
    backend.services[svc.key] = replace(svc, desired=4)
    outcome = fleet.apply(plan)
    assert outcome.outcome is Outcome.CONFLICT and backend.mutations == []
    assert outcome.detail.startswith("replicas 3 → 4 (changed by someone else since your preview)")
    assert outcome.replanned is not None and outcome.replanned.before == {"replicas": "4"}
    # The audit line never claims the object held 3 when the call reached it.
    assert audit[-1]["before"] == {"replicas": "4"} and audit[-1]["previewed"] == {"replicas": "3"}
    assert audit[-1]["result"] == "conflict"
    confirmed = fleet.apply(outcome.replanned)
    assert confirmed.outcome is Outcome.SUCCEEDED and backend.services[svc.key].desired == 5
    assert audit[-1]["before"] == {"replicas": "4"}

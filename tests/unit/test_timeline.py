"""The incident timeline's own rules: what the operator reads after a night of alerts is in the order
it happened, each fact once, in bounded memory, and in plain words whatever the source."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from mlops_tui.backends.base import Change
from mlops_tui.backends.fleet import Fleet
from mlops_tui.backends.kubernetes.history import event_entry
from mlops_tui.backends.kubernetes.translate import event_facts
from mlops_tui.backends.model import (
    Alert,
    AlertState,
    Autoscaler,
    Canary,
    GpuNode,
    Platform,
    ServiceKind,
    Severity,
    freeze_labels,
)
from mlops_tui.backends.state import FleetState
from mlops_tui.backends.swarm.history import history as swarm_history
from mlops_tui.backends.timeline import EntrySource, Timeline, TimelineEntry, TimelineFilter, action_identity
from mlops_tui.backends.timeline_diff import alert_entries, state_entries
from mlops_tui.tui.audit import timeline_entries
from mlops_tui.tui.timeline_cli import markdown_lines, parse_since, timeline_document
from mlops_tui.tui.timeline_view import narrowed, parse_filter
from tests.fakes import T0, service


def entry(seconds: float, what: str = "x", **fields) -> TimelineEntry:
    defaults = dict(cluster="prod-a", kind="Deployment", name="bert", source=EntrySource.EVENT)
    defaults.update(fields)
    return TimelineEntry(at=T0 + timedelta(seconds=seconds), what=what, **defaults)  # type: ignore[arg-type]


def state(*services, **fields) -> FleetState:
    return FleetState(services={s.key: s for s in services}, **fields)


# -- the store ------------------------------------------------------------------------------------


def test_entries_arriving_out_of_order_are_read_in_the_order_they_happened():
    timeline = Timeline()
    timeline.add([entry(30, "third"), entry(10, "first")])
    timeline.add([entry(20, "second")])
    assert [e.what for e in timeline.entries()] == ["first", "second", "third"]


def test_a_fact_seen_twice_after_a_relist_or_a_restart_is_kept_once():
    timeline = Timeline()
    assert timeline.add([entry(10, "BackOff", identity="event|uid-1|t1")]) == 1
    version = timeline.version
    assert timeline.add([entry(10, "BackOff", identity="event|uid-1|t1")]) == 0
    assert len(timeline) == 1 and timeline.version == version  # nothing to redraw


def test_memory_is_bounded_the_oldest_entries_go_first():
    timeline = Timeline(limit=3)
    timeline.add([entry(i, f"e{i}") for i in range(5)])
    assert [e.what for e in timeline.entries()] == ["e2", "e3", "e4"]
    timeline.add([entry(0.5, "older than everything kept")])
    assert [e.what for e in timeline.entries()] == ["e2", "e3", "e4"]


def test_the_filter_narrows_by_service_cluster_kind_and_time():
    key = service("bert").key
    rows = [entry(1, service=key), entry(2, cluster="swarm-a", name="api"), entry(3, source=EntrySource.ALERT)]
    assert len([e for e in rows if TimelineFilter(service="bert").matches(e)]) == 2  # tied, or its own object
    assert [e.cluster for e in rows if TimelineFilter(cluster="swarm-a").matches(e)] == ["swarm-a"]
    assert len([e for e in rows if TimelineFilter(sources=frozenset({EntrySource.ALERT})).matches(e)]) == 1
    assert len([e for e in rows if TimelineFilter(since=T0 + timedelta(seconds=2)).matches(e)]) == 2


def test_the_operators_filter_words_name_a_service_a_cluster_and_kinds():
    words = parse_filter("bert cluster:prod-a kind:alert,action kind:bogus")
    assert (words.service, words.cluster, words.unknown) == ("bert", "prod-a", ("bogus",))
    assert words.sources == {EntrySource.ALERT, EntrySource.ACTION}
    key = service("bert-large").key
    rows = [entry(1, source=EntrySource.ALERT, service=key), entry(2, source=EntrySource.EVENT, service=key)]
    assert narrowed(rows, parse_filter("bert kind:alert")) == rows[:1]  # a part of the name is enough


# -- what the published states say happened --------------------------------------------------------


def test_a_sources_first_picture_is_the_starting_point_not_a_change():
    assert state_entries(FleetState(), state(service("bert"), service("gpt")), T0) == []


def test_revision_canary_weight_step_hpa_and_blue_green_moves_are_worded():
    before = service("bert", revision="3", image="bert:v1",
                     canary=Canary("argo", weight=10, step=0, total_steps=4),
                     autoscaler=Autoscaler("bert", 2, 10, 3, 3, target="cpu 70%"))
    after = replace(before, revision="4", image="bert:v2", canary=replace(before.canary, weight=20, step=1),
                    autoscaler=replace(before.autoscaler, desired_replicas=6), desired=6)
    words = {e.source: e.what for e in state_entries(state(before), state(after), T0)}
    assert words[EntrySource.REVISION] == "revision 3 → 4 (bert:v2)"
    assert words[EntrySource.TRAFFIC] == "canary weight 10 % → 20 % (argo)"
    assert words[EntrySource.ROLLOUT] == "step 2/4"
    assert words[EntrySource.SCALING] == "autoscaler bert wants 3 → 6 replicas on cpu 70%"


def test_a_swarm_update_pausing_is_left_to_swarms_own_dated_history():
    """Swarm stamps UpdateStatus with its own time: the diff would only add a second, later copy."""
    swarm = service("api", cluster="swarm-a", namespace="", kind=ServiceKind.SWARM_SERVICE, platform=Platform.SWARM)
    paused = replace(swarm, rollout_state="paused", rollout_message="update paused due to failure")
    assert [e for e in state_entries(state(swarm), state(paused), T0) if e.source is EntrySource.ROLLOUT] == []
    k8s = service("bert")
    degraded = replace(k8s, rollout_state="degraded", rollout_message="ProgressDeadlineExceeded")
    (only,) = state_entries(state(k8s), state(degraded), T0)
    assert only.what == "update degraded: ProgressDeadlineExceeded" and only.severity is Severity.WARNING


def test_a_node_notready_and_an_hpa_rescale_told_by_the_state_and_by_their_events_are_one_entry_each():
    """On Kubernetes the fleet's state and the node controller's / autoscaler's Events tell the same
    facts a few seconds apart: the operator reads each once, from whichever told it first. A node
    lost again an hour later is a new entry."""
    node = GpuNode("prod-a", "gpu-node-2")
    lost = state_entries(FleetState(gpu_nodes={("prod-a", "gpu-node-2"): node}),
                         FleetState(gpu_nodes={("prod-a", "gpu-node-2"): replace(node, ready=False)}), T0)
    bert = service("bert", autoscaler=Autoscaler("bert", 2, 10, 3, 3, target="cpu 70%"))
    rescaled = state_entries(state(bert), state(replace(bert, autoscaler=replace(bert.autoscaler, desired_replicas=6))),
                             T0 + timedelta(seconds=30))

    def event(kind: str, name: str, reason: str, message: str, seconds: float, namespace: str = "") -> TimelineEntry:
        facts = event_facts({"involvedObject": {"kind": kind, "name": name, "namespace": namespace},
                             "reason": reason, "message": message, "type": "Normal", "metadata": {"uid": reason},
                             "lastTimestamp": (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")})
        made = event_entry("prod-a", facts, lambda *_: None)
        assert made is not None
        return made

    timeline = Timeline()
    timeline.add([*lost, *rescaled])
    timeline.add([event("Node", "gpu-node-2", "NodeNotReady", "Node gpu-node-2 status is now: NodeNotReady", 4),
                  event("HorizontalPodAutoscaler", "bert", "SuccessfulRescale",
                        "New size: 6; reason: cpu resource utilization (percentage of request) above target", 33,
                        namespace="ml-prod")])
    assert [e.what for e in timeline.entries()] == ["NotReady", "autoscaler bert wants 3 → 6 replicas on cpu 70%"]
    later = event("Node", "gpu-node-2", "NodeNotReady", "Node gpu-node-2 status is now: NodeNotReady", 3600)
    assert timeline.add([later]) == 1


def test_a_gpu_node_going_notready_is_critical():
    node = GpuNode("prod-a", "gpu-node-2")
    gone = state_entries(FleetState(gpu_nodes={("prod-a", "gpu-node-2"): node}),
                         FleetState(gpu_nodes={("prod-a", "gpu-node-2"): replace(node, ready=False)}), T0)
    assert [(e.object, e.what, e.severity) for e in gone] == [("Node gpu-node-2", "NotReady", Severity.CRITICAL)]


def alert(state_: AlertState, since=T0) -> Alert:
    return Alert("HighInferenceLatency", Severity.WARNING, state_, freeze_labels({"alertname": "HighInferenceLatency"}),
                 summary="p95 over 0.5 s", since=since, service=service("bert").key, fingerprint="f1")


def test_alert_transitions_pending_firing_silenced_expired_resolved():
    later = T0 + timedelta(minutes=2)
    steps = [(), (alert(AlertState.PENDING),), (alert(AlertState.FIRING),), (alert(AlertState.SILENCED),),
             (alert(AlertState.FIRING),), ()]
    said = []
    for i in range(1, len(steps)):
        said += [e.what for e in alert_entries(steps[i - 1], steps[i], later)]
    assert said == ["pending: p95 over 0.5 s on bert", "firing: p95 over 0.5 s on bert",
                    "silenced: p95 over 0.5 s on bert", "firing again: silence expired on bert", "resolved on bert"]


def test_an_alert_found_at_start_up_is_dated_by_its_own_start_so_a_restart_finds_the_same_entry():
    first = alert_entries((), (alert(AlertState.FIRING),), T0 + timedelta(hours=1))
    again = alert_entries((), (alert(AlertState.FIRING),), T0 + timedelta(hours=2))
    assert first[0].at == T0 and first[0].key == again[0].key


# -- the engines' own history -------------------------------------------------------------------------


def k8s_event(**fields):
    body = {"metadata": {"uid": "u1", "namespace": "ml-prod"}, "type": "Warning", "reason": "BackOff",
            "message": "Back-off restarting failed container", "lastTimestamp": "2026-11-28T03:00:00Z",
            "involvedObject": {"kind": "Deployment", "namespace": "ml-prod", "name": "bert"}}
    body.update(fields)
    return event_facts(body)


def test_warning_events_are_first_class_and_routine_pod_events_are_left_out():
    key = service("bert").key
    warning = event_entry("prod-a", k8s_event(), lambda *_: key)
    assert warning is not None and warning.severity is Severity.WARNING and warning.service == key
    assert warning.what == "BackOff: Back-off restarting failed container"
    assert event_entry("prod-a", k8s_event(type="Normal", reason="Pulled"), lambda *_: None) is None
    rescale = event_entry("prod-a", k8s_event(type="Normal", reason="SuccessfulRescale", message="New size: 5"),
                          lambda *_: key)
    assert rescale is not None and rescale.severity is Severity.INFO
    notready = event_entry("prod-a", k8s_event(type="Normal", reason="NodeNotReady"), lambda *_: None)
    assert notready is not None and notready.severity is Severity.WARNING


def test_an_action_in_the_audit_log_and_in_its_kubernetes_event_is_one_entry():
    record = {"id": "plan-7", "phase": "result", "time": "2026-11-28T03:05:00.000Z", "operator": "ana",
              "user": "ana", "cluster": "prod-a", "target": "bert", "namespace": "ml-prod", "kind": "Deployment",
              "action": "scale", "intent": "scale to 5", "result": "succeeded"}
    from_audit = timeline_entries([{**record, "phase": "intent", "result": "intent"}, record])
    event = event_entry("prod-a", k8s_event(type="Normal", reason="MlopsTuiAction",
                                            message="ana (as ana): scale to 5: succeeded",
                                            metadata={"uid": "u9", "annotations": {
                                                "mlops-tui.io/action-id": "plan-7"}}), lambda *_: None)
    assert len(from_audit) == 1 and from_audit[0].what == "ana: scale to 5: succeeded"
    assert event is not None and event.source is EntrySource.ACTION
    timeline = Timeline()
    timeline.add([*from_audit, event])
    assert len(timeline) == 1 and timeline.entries()[0].key == action_identity("plan-7")


def test_a_colleagues_action_from_another_terminal_appears():
    event = event_entry("prod-a", k8s_event(type="Normal", reason="MlopsTuiAction",
                                            message="bo (as bo): canary weight 50 %: succeeded",
                                            metadata={"uid": "u10", "annotations": {
                                                "mlops-tui.io/action-id": "plan-bo"}}), lambda *_: None)
    assert event is not None and event.what == "bo (as bo): canary weight 50 %: succeeded"


def test_an_intent_without_its_result_reads_as_sent_not_recorded():
    (only,) = timeline_entries([{"id": "p", "phase": "intent", "time": "2026-11-28T03:05:00Z", "user": "ana",
                                 "intent": "roll back", "result": "intent", "cluster": "c"}])
    assert only.what == "ana: roll back: sent, result not recorded" and only.severity is Severity.WARNING


def test_swarm_task_states_and_update_status_are_dated_by_dockerd_the_pause_after_the_failure_it_names():
    services = [{"ID": "s1", "Spec": {"Name": "api", "Labels": {}, "TaskTemplate": {"ContainerSpec": {"Image": "a:2"}},
                                       "Mode": {"Replicated": {"Replicas": 2}}},
                 "Version": {"Index": 5},
                 "UpdateStatus": {"State": "paused", "StartedAt": "2026-11-28T03:00:30Z",
                                  "Message": "update paused due to failure or early termination of task t2"}}]
    tasks = [{"ID": "t2", "ServiceID": "s1", "Slot": 2, "NodeID": "node-abcdef123456789",
              "Status": {"State": "failed", "Timestamp": "2026-11-28T03:00:40Z", "Err": "task: non-zero exit (1)"}}]
    entries = sorted(swarm_history("swarm-a", services, tasks, {"node-abcdef123456789": "gpu-1"}), key=lambda e: e.at)
    assert [(e.name, e.what, e.severity) for e in entries] == [
        ("api.2", "task failed on gpu-1: task: non-zero exit (1)", Severity.WARNING),
        ("api", "update paused: update paused due to failure or early termination of task t2", Severity.WARNING)]
    assert entries[0].at == T0 + timedelta(seconds=40)


# -- the Fleet fills it -----------------------------------------------------------------------------------


def test_the_fleet_fills_the_timeline_from_changes_history_and_state_diffs():
    fleet = Fleet(max_rate=100, clock=lambda: T0 + timedelta(minutes=1))
    bert = service("bert", revision="3")
    fleet.submit(Change(source="prod-a", services={bert.key: bert}, snapshot=True,
                        history=(entry(5, "BackOff", identity="event|1"),)))
    fleet.flush()
    fleet.submit(Change(source="prod-a", services={bert.key: replace(bert, revision="4")},
                        history=(entry(5, "BackOff", identity="event|1"),)))  # sent again by a relist
    fleet.flush()
    assert [e.what for e in fleet.timeline.entries()] == ["BackOff", "revision 3 → 4"]


# -- the command line ---------------------------------------------------------------------------------------


def test_since_reads_as_an_operator_writes_it():
    assert parse_since("90s") == timedelta(seconds=90) and parse_since("1h") == timedelta(hours=1)
    for bad in ("", "1y", "-1h", "0m", "h"):
        try:
            parse_since(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} was accepted")


def test_markdown_never_lets_a_clusters_text_break_the_table_or_the_terminal():
    evil = entry(1, "a | b `code` \x1b[31mred")
    (row,) = markdown_lines((evil,), T0)[4:]
    assert row.count(" | ") == 4 and "\\|" in row and "\x1b" not in row and "\\`code\\`" in row


def test_the_json_document_is_versioned_and_oldest_first():
    doc = timeline_document((entry(1, "first"), entry(2, "second")), T0, [], T0 + timedelta(hours=1))
    assert doc["schema_version"] == 1 and [e["what"] for e in doc["entries"]] == ["first", "second"]
    assert doc["entries"][0]["object"] == {"kind": "Deployment", "namespace": "", "name": "bert"}


def test_an_alert_that_arrived_before_its_service_is_tied_to_it_once_the_service_is_known():
    """The alert sources often answer before the clusters' first list: the entry must not stay
    unattributed (the service's own timeline and --service would miss it)."""
    untied = replace(alert(AlertState.FIRING), service=None)
    timeline = Timeline()
    timeline.add(alert_entries((), (untied,), T0 + timedelta(seconds=5)))
    timeline.add(alert_entries((untied,), (alert(AlertState.FIRING),), T0 + timedelta(seconds=9)))
    (only,) = timeline.entries()
    assert only.service == service("bert").key and only.at == T0


def test_a_publish_tells_the_timeline_the_same_whether_it_compares_every_service_or_only_the_changed_ones():
    """The Fleet hands the timeline its publish's delta so that one change in thousands of services costs
    one comparison; what the timeline records must be what a pass over every service would find."""
    import random

    rng = random.Random(5)
    fleet = Fleet(max_rate=0, clock=lambda: T0)
    services = {s.key: s for s in (service(f"model-{i:03d}", revision="1") for i in range(200))}
    fleet.submit(Change(source="prod-a", services=dict(services), snapshot=True))
    fleet.flush()
    for step in range(30):
        before = fleet.state
        picked = rng.sample(sorted(services), 5)
        change: dict = {}
        for key in picked[:3]:  # new revisions and scales
            services[key] = replace(services[key], revision=str(step + 2), desired=rng.randint(1, 5))
            change[key] = services[key]
        change[picked[3]] = None  # one goes away, one comes back under a new name
        services.pop(picked[3])
        added = service(f"new-{step}", revision="1")
        services[added.key] = change[added.key] = added
        fleet.submit(Change(source="prod-a", services=change))
        delta = fleet.flush()
        told = state_entries(before, fleet.state, T0, delta)
        assert sorted(told, key=repr) == sorted(state_entries(before, fleet.state, T0), key=repr) and told


def test_a_single_change_in_a_large_fleet_is_compared_alone():
    class Counting(dict):
        looked_at = 0

        def get(self, key, default=None):
            Counting.looked_at += 1
            return super().get(key, default)

    fleet = Fleet(max_rate=0, clock=lambda: T0)
    services = {s.key: s for s in (service(f"model-{i:04d}") for i in range(2000))}
    fleet.submit(Change(source="prod-a", services=dict(services), snapshot=True))
    fleet.flush()
    before = fleet.state
    one = next(iter(services.values()))
    fleet.submit(Change(source="prod-a", services={one.key: replace(one, ready=one.ready + 1)}))
    delta = fleet.flush()
    counted = replace(before, services=Counting(before.services))
    state_entries(counted, fleet.state, T0, delta)
    assert Counting.looked_at == 1

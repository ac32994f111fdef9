"""A large Swarm (2,000 services, 10,000 tasks) is re-read every few seconds and re-translated after
every event: what was translated from an object that did not change is reused, and the result is
always what a translation from scratch gives (recorded dockerd JSON, tests/unit/data/swarm).
"""

from __future__ import annotations

import copy
import json
import pathlib

from mlops_tui.backends.swarm import translate as tr
from mlops_tui.backends.swarm.memo import Memo
from tests.unit.test_swarm_watch import connected, settle, wait_for
from tests.unit.test_swarm_watch import started as started

DATA = pathlib.Path(__file__).parent / "data" / "swarm"


def load(name: str):
    return json.loads((DATA / name).read_text())


def same_view(a: tr.SwarmView, b: tr.SwarmView) -> bool:
    return (a.services, a.gpu_nodes, a.pending_gpu, a.keys_by_id, a.unreadable) == (
        b.services, b.gpu_nodes, b.pending_gpu, b.keys_by_id, b.unreadable)


def test_a_swarm_read_again_unchanged_is_not_translated_again():
    memo = Memo()
    services, tasks, nodes = load("services.json"), load("tasks.json"), load("nodes.json")
    first = tr.translate("lab", services, tasks, nodes, memo)
    computed = memo.misses
    # the next full resync: new objects from new JSON, the same bytes
    again = tr.translate("lab", copy.deepcopy(services), copy.deepcopy(tasks), nodes, memo)
    assert memo.misses == computed
    assert same_view(again, first)
    assert all(again.services[k] is first.services[k] for k in first.services)  # the Fleet compares at once


def test_after_a_scale_and_a_task_moving_the_memo_gives_what_a_fresh_translation_gives():
    memo = Memo()
    services, tasks, nodes = load("services.json"), load("tasks.json"), load("nodes.json")
    tr.translate("lab", services, tasks, nodes, memo)
    services, tasks = copy.deepcopy(services), copy.deepcopy(tasks)
    fraud = next(s for s in services if s["Spec"]["Name"] == "rec-fraud")
    fraud["Spec"]["Mode"]["Replicated"]["Replicas"] = 5
    running = next(t for t in tasks if t["Status"]["State"] == "running" and t["ServiceID"] == fraud["ID"])
    running["Status"]["State"] = "failed"
    computed = memo.misses
    kept = tr.translate("lab", services, tasks, nodes, memo)
    fresh = tr.translate("lab", services, tasks, nodes)
    assert same_view(kept, fresh)
    desired = {k.name: s.desired for k, s in kept.services.items()}
    assert desired["rec-fraud"] == 5 and kept.services[next(k for k in kept.services
                                                           if k.name == "rec-fraud-canary")].canary.weight == 17
    assert 0 < memo.misses - computed < 10  # the scaled service, its moved task, their counts and rows


def test_a_task_changed_in_place_and_read_again_is_translated_anew():
    """A client may hand back the same dict, changed: what was just read is keyed by its bytes."""
    memo = Memo()
    services, tasks, nodes = load("services.json"), load("tasks.json"), load("nodes.json")
    tr.translate("lab", services, tasks, nodes, memo)
    fraud = next(s for s in services if s["Spec"]["Name"] == "rec-fraud")
    fraud["Spec"]["Mode"]["Replicated"]["Replicas"] = 7
    memo.read_again([fraud])
    view = tr.translate("lab", services, tasks, nodes, memo)
    assert {k.name: s.desired for k, s in view.services.items()}["rec-fraud"] == 7


def test_a_full_resync_tells_the_timeline_only_what_changed_since_the_last_one(started):
    """10,000 tasks every few seconds would be 10,000 entries the timeline already holds."""
    lab = started(resync_seconds=60)
    b, engine, changes = lab.backend, lab.engine, lab.changes
    wait_for(lambda: connected(b))
    settle(b)
    first = next(c for c in changes if c.snapshot)
    assert len(first.history) > 5  # the first one tells everything
    engine.task_list = copy.deepcopy(engine.task_list)
    moved = next(t for t in engine.task_list if t["Status"]["State"] == "running")
    moved["Status"].update(State="failed", Timestamp="2026-05-08T10:00:00.000000000Z",
                           Err="task: non-zero exit (1)")
    before = len(changes)
    b.full_resync()
    resync = next(c for c in changes[before:] if c.snapshot)
    assert len(resync.history) == 1
    assert resync.history[0].what.startswith("task failed")
    assert resync.history[0].identity.endswith(f"{moved['ID']}|failed")


def test_a_swarm_whose_full_resync_costs_a_cpu_second_is_read_in_full_every_20_seconds_not_5(
        started, monkeypatch):
    """The periodic resync takes at most 5 % of a core: the screen needs the GIL more (events and
    follow-ups keep the services fresh in between)."""
    from mlops_tui.backends.swarm import watch

    ticks = iter(range(10**6))
    monkeypatch.setattr(watch.time, "thread_time", lambda: float(next(ticks)))  # each reading: one more second
    lab = started(resync_seconds=5)
    b, clock = lab.backend, lab.clock
    wait_for(lambda: connected(b))
    settle(b)
    clock.idle(threads=1)
    resyncs = b.resyncs
    clock.advance(19.9)
    clock.idle(threads=1)
    assert b.resyncs == resyncs
    clock.advance(0.1)
    clock.idle(threads=1)
    assert b.resyncs == resyncs + 1


def grouped(services, tasks):
    by_service: dict = {}
    for t in tasks:
        by_service.setdefault(t["ServiceID"], []).append(t)
    return {s["ID"]: s for s in services}, by_service


def test_a_one_service_refresh_reads_only_that_service_and_shows_what_a_full_translation_shows(monkeypatch):
    """An event about one of 2,000 services: its tasks are read again, not the Swarm's 10,000; its
    canary partner's row still moves with it, and the result is a translation from scratch."""
    memo = Memo()
    services, tasks, nodes = load("services.json"), load("tasks.json"), load("nodes.json")
    by_id, by_service = grouped(services, tasks)
    first = tr.translate_grouped("lab", by_id, by_service, nodes, memo)
    fraud = copy.deepcopy(next(s for s in services if s["Spec"]["Name"] == "rec-fraud"))
    fraud["Spec"]["Mode"]["Replicated"]["Replicas"] = 5
    by_id[fraud["ID"]] = fraud
    by_service[fraud["ID"]] = copy.deepcopy(by_service[fraud["ID"]])[:1]  # one task gone
    pieces = []
    real_read = tr._read_piece
    monkeypatch.setattr(tr, "_read_piece", lambda memo, service, *rest: pieces.append(service["ID"])
                        or real_read(memo, service, *rest))

    kept = tr.translate_grouped("lab", by_id, by_service, nodes, memo, previous=first, fresh={fraud["ID"]})

    assert pieces == [fraud["ID"]]
    fresh = tr.translate("lab", list(by_id.values()), [t for ts in by_service.values() for t in ts], nodes)
    assert same_view(kept, fresh)
    weights = {k.name: s.canary.weight for k, s in kept.services.items() if s.canary}
    assert weights == {"rec-fraud": 17, "rec-fraud-canary": 17}
    untouched = [k for k in first.services if k.name not in ("rec-fraud", "rec-fraud-canary")]
    assert all(kept.services[k] is first.services[k] for k in untouched)  # the Fleet compares at once
    moved = {k for k in first.services.keys() | kept.services.keys() if first.services.get(k) != kept.services.get(k)}
    assert moved == {k for k in first.services if k.name in ("rec-fraud", "rec-fraud-canary")} <= kept.touched


def test_a_blue_green_colour_refreshed_alone_updates_the_pairs_counts_on_both_rows():
    memo = Memo()
    services, tasks, nodes = load("services.json"), load("tasks.json"), load("nodes.json")
    by_id, by_service = grouped(services, tasks)
    first = tr.translate_grouped("lab", by_id, by_service, nodes, memo)
    green = next(s for s in services if s["Spec"]["Name"] == "rec-rank-green")
    by_service[green["ID"]] = []  # its tasks are gone

    kept = tr.translate_grouped("lab", by_id, by_service, nodes, memo, previous=first, fresh={green["ID"]})

    fresh = tr.translate("lab", list(by_id.values()), [t for ts in by_service.values() for t in ts], nodes)
    assert same_view(kept, fresh)
    colours = {k.name: s.blue_green.colours for k, s in kept.services.items() if s.blue_green}
    assert colours["rec-rank-blue"] == colours["rec-rank-green"]
    assert next(c for c in colours["rec-rank-blue"] if c.name == "green").ready == 0


def test_a_gpu_service_refreshed_alone_moves_the_gpu_nodes_and_the_pending_list():
    memo = Memo()
    services, tasks, nodes = load("services.json"), load("tasks.json"), load("nodes.json")
    by_id, by_service = grouped(services, tasks)
    first = tr.translate_grouped("lab", by_id, by_service, nodes, memo)
    assert [p.name for p in first.pending_gpu] == ["rec-big.1"] and first.gpu_nodes["vm"].holders
    for service in services:
        if by_service.get(service["ID"]) and (tr.service_facts(service).gpus_per_replica
                                              or service["Spec"]["Name"] == "rec-big"):
            by_service[service["ID"]] = []  # their tasks are gone: GPUs freed, nothing pending
            kept = tr.translate_grouped("lab", by_id, by_service, nodes, memo, previous=first, fresh={service["ID"]})
            fresh = tr.translate("lab", list(by_id.values()), [t for ts in by_service.values() for t in ts], nodes)
            assert same_view(kept, fresh)
            first = kept
    assert first.pending_gpu == () and not first.gpu_nodes["vm"].holders


def task_reads(engine) -> int:
    return engine.calls.count("/tasks ['desired-state', 'service']")


def test_a_scale_up_costs_two_reads_and_a_failed_task_still_reaches_the_timeline_at_once(started):
    """Ended tasks are read on an event only when a task left the set meant to run."""
    lab = started(resync_seconds=60)
    b, engine, changes = lab.backend, lab.engine, lab.changes
    wait_for(lambda: connected(b))
    settle(b)
    resyncs = b.resyncs
    engine.service_list = copy.deepcopy(engine.service_list)
    engine.task_list = copy.deepcopy(engine.task_list)
    fraud = next(s for s in engine.service_list if s["Spec"]["Name"] == "rec-fraud")
    fraud["Spec"]["Mode"]["Replicated"]["Replicas"] = 5
    reads, before = task_reads(engine), len(changes)
    engine.events.queue.put({"Type": "service", "Action": "update", "Actor": {"ID": fraud["ID"]}})
    wait_for(lambda: any(c.services for c in changes[before:]))
    assert task_reads(engine) == reads + 1  # the tasks meant to run; no ended tasks

    failed = next(t for t in engine.task_list if t["ServiceID"] == fraud["ID"] and t["DesiredState"] == "running")
    failed["DesiredState"] = "shutdown"
    failed["Status"].update(State="failed", Timestamp="2026-05-08T10:00:00.000000000Z", Err="task: non-zero exit (1)")
    reads, before = task_reads(engine), len(changes)
    engine.events.queue.put({"Type": "container", "Action": "die",
                             "Actor": {"ID": "c0ffee", "Attributes": {"com.docker.swarm.service.id": fraud["ID"]}}})
    wait_for(lambda: any(e.what.startswith("task failed") for c in changes[before:] for e in c.history))
    assert task_reads(engine) == reads + 2
    assert b.resyncs == resyncs  # neither needed a full resync

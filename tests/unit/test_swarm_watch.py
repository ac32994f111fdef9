"""The Swarm live cache without a network: recorded JSON behind a fake Engine API client, events fed
by hand, and a manual clock, so resyncs, backoff and staleness are counted, not slept for.

What the operator relies on: a first full sync, small upserts from events, a full resync every
`resync_seconds` (tasks change state without any event), stale (with since) when the engine goes away
after a good sync, error when it was never reached, backoff instead of a busy loop, and a prompt stop.
"""

from __future__ import annotations

import copy
import json
import pathlib
import queue
import threading
import time
from dataclasses import dataclass, field

import pytest

from mlops_tui.backends.model import HealthState
from mlops_tui.backends.swarm.client import EngineClient, EngineError, EventStream, SwarmEndpoint
from mlops_tui.backends.swarm.watch import SwarmBackend
from tests.clock import ManualClock

DATA = pathlib.Path(__file__).parent / "data" / "swarm"
ENDPOINT = SwarmEndpoint(url="unix:///fake.sock")


def load(name: str):
    return json.loads((DATA / name).read_text())


class Events:
    def __init__(self) -> None:
        self.queue: queue.Queue = queue.Queue()

    def __iter__(self):
        while True:
            item = self.queue.get()
            if item is None:
                return
            yield item

    def close(self) -> None:
        self.queue.put(None)


class RecordedEngine(EngineClient):
    """An Engine API client that answers from recorded JSON (or is down); events are fed by hand."""

    def __init__(self) -> None:
        super().__init__(ENDPOINT)
        self.service_list = load("services.json")
        self.task_list = load("tasks.json")
        self.node_list = load("nodes.json")
        self.down = threading.Event()
        self.down_reason = "Connection refused"
        self.events = Events()
        self.calls: list[str] = []
        self.opens = 0

    def request(self, method, path, params=None, body=None, timeout=None):
        if self.down.is_set():
            raise EngineError(0, f"cannot reach unix:///fake.sock: {self.down_reason}")
        filters = json.loads((params or {}).get("filters", "{}"))
        self.calls.append(path + (f" {sorted(filters)}" if filters else ""))
        if path == "/services":
            ids = set(filters.get("id", ()))
            return [copy.deepcopy(s) for s in self.service_list if not ids or s["ID"] in ids]
        if path == "/tasks":
            ids = set(filters.get("service", ()))
            return [t for t in self.task_list if (not ids or t["ServiceID"] in ids)
                    and t["DesiredState"] in filters.get("desired-state", ["running", "ready"])]
        if path == "/nodes":
            return self.node_list
        raise AssertionError(path)

    def open_events(self, types, read_timeout):
        self.opens += 1
        if self.down.is_set():
            raise EngineError(0, "Connection refused")
        self.events = Events()
        return EventStream(iter(self.events), self.events.close)

    def full_resyncs(self) -> int:
        """`GET /nodes` is read by full resyncs only."""
        return self.calls.count("/nodes")


class EndlessEndings(RecordedEngine):
    """An engine whose /events answers and closes at once (a proxy or simulator that does not stream)."""

    def open_events(self, types, read_timeout):
        self.opens += 1
        return EventStream(iter(()), lambda: None)


@dataclass
class Lab:
    backend: SwarmBackend
    engine: RecordedEngine
    clock: ManualClock | None
    changes: list = field(default_factory=list)


def wait_for(check, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def connected(b: SwarmBackend) -> bool:
    return b.health is not None and b.health.state is HealthState.CONNECTED


def settle(b: SwarmBackend) -> None:
    """Opening the event stream asks for one more resync (for what happened before it opened):
    let that pass, so that what follows comes from events alone."""
    wait_for(lambda: b._event_stream is not None)
    done = b.resyncs
    b.refresh_soon()
    wait_for(lambda: b.resyncs > done and not b._dirty_all)


@pytest.fixture
def started():
    labs: list[Lab] = []

    def start(engine: RecordedEngine | None = None, manual_clock: bool = True, **kwargs) -> Lab:
        engine = engine or RecordedEngine()
        clock = ManualClock() if manual_clock else None
        backend = SwarmBackend(ENDPOINT, name="lab", client=engine, **({"clock": clock} if clock else {}), **kwargs)
        lab = Lab(backend, engine, clock)
        backend.start(lab.changes.append)
        labs.append(lab)
        return lab

    yield start
    for lab in labs:
        lab.backend.stop()


def test_first_sync_is_one_snapshot_then_connected(started):
    lab = started(resync_seconds=60)
    b = lab.backend
    wait_for(lambda: connected(b))
    snapshot = next(c for c in lab.changes if c.snapshot)
    assert len(snapshot.services) == 9 and list(snapshot.gpu_nodes) == ["vm"]
    assert [p.name for p in snapshot.pending_gpu] == ["rec-big.1"]
    assert b.health.user and b.health.endpoint == "unix:///fake.sock"
    assert b.health.since == lab.clock.now()  # the injected clock's wall time, not the machine's


def test_an_event_refreshes_only_its_service(started):
    lab = started(resync_seconds=60)
    b, engine, changes = lab.backend, lab.engine, lab.changes
    wait_for(lambda: connected(b))
    settle(b)
    resyncs = b.resyncs
    fraud = next(s for s in engine.service_list if s["Spec"]["Name"] == "rec-fraud")
    fraud["Spec"]["Mode"]["Replicated"]["Replicas"] = 5
    before = len(changes)
    engine.events.queue.put({"Type": "service", "Action": "update", "Actor": {"ID": fraud["ID"]}})
    wait_for(lambda: any(not c.snapshot and c.services for c in changes[before:]))
    upsert = next(c for c in changes[before:] if c.services)
    # The stable and its canary both carry the pair's weight, so both rows change.
    assert {k.name: s.desired for k, s in upsert.services.items()} == {"rec-fraud": 5, "rec-fraud-canary": 1}
    assert upsert.services[next(k for k in upsert.services if k.name == "rec-fraud")].canary.weight == 17
    assert b.resyncs == resyncs and "/services ['id']" in engine.calls


def test_a_container_event_names_its_service_and_a_removal_is_a_none(started):
    lab = started(resync_seconds=60)
    b, engine, changes = lab.backend, lab.engine, lab.changes
    wait_for(lambda: connected(b))
    settle(b)
    big = next(s for s in engine.service_list if s["Spec"]["Name"] == "rec-big")
    engine.service_list.remove(big)
    before = len(changes)
    engine.events.queue.put({"Type": "container", "Action": "die",
                             "Actor": {"ID": "c0ffee", "Attributes": {"com.docker.swarm.service.id": big["ID"]}}})
    wait_for(lambda: any(c.services and not c.snapshot for c in changes[before:]))
    removal = next(c for c in changes[before:] if c.services)
    assert not removal.snapshot
    assert [(k.name, v) for k, v in removal.services.items()] == [("rec-big", None)]
    assert removal.pending_gpu == ()  # its pending task went with it


def test_a_quiet_swarm_is_read_again_in_full_once_per_resync_interval_and_not_before(started):
    """Tasks go from starting to running with no event: the operator sees them only through the
    periodic full resync, which must come every `resync_seconds`, no sooner (load) and no later."""
    lab = started(resync_seconds=5)
    b, clock = lab.backend, lab.clock
    wait_for(lambda: connected(b))
    settle(b)
    clock.idle(threads=1)  # the sync loop waits; the event loop is blocked on the (quiet) stream
    resyncs, reads = b.resyncs, lab.engine.full_resyncs()
    clock.advance(4.9)
    clock.idle(threads=1)
    assert b.resyncs == resyncs  # follow-up reads of settling tasks are not full resyncs
    clock.advance(0.1)
    clock.idle(threads=1)
    assert b.resyncs == resyncs + 1
    for _ in range(3):
        clock.advance(5)
        clock.idle(threads=1)
    assert b.resyncs == resyncs + 4 and lab.engine.full_resyncs() == reads + 4


def test_engine_lost_after_a_good_sync_is_stale_since_the_last_good_word_then_connected_again(started):
    """The age shown counts from the last read or event that worked, not from when the failure was
    noticed (a frozen dockerd noticed after a 5 s resync wait is 5 s stale, not 0 s)."""
    lab = started(resync_seconds=5)
    b, clock, engine = lab.backend, lab.clock, lab.engine
    wait_for(lambda: connected(b))
    settle(b)
    clock.idle(threads=1)
    heard = clock.now()
    engine.down.set()
    clock.advance(5)  # the next resync fails
    clock.idle(threads=1)  # ... and the sync loop backs off
    stale = b.health
    assert stale.state is HealthState.STALE
    assert "Connection refused" in stale.error and stale.last_sync is not None
    assert stale.since <= heard < clock.now()
    engine.down_reason = "Read timed out"  # failing again and again, for another reason now
    for _ in range(3):
        clock.advance(clock.next_deadline())
        clock.idle(threads=1)
    assert b.health.state is HealthState.STALE and "Read timed out" in b.health.error
    assert b.health.since == stale.since  # the age still counts from the last good word
    assert len(b.view.services) == 9  # the last data stays
    engine.down.clear()
    clock.advance(clock.next_deadline())
    clock.idle(threads=1)
    assert connected(b)
    states = [c.health.state for c in lab.changes if c.health]
    assert states == [HealthState.CONNECTED, HealthState.STALE, HealthState.STALE, HealthState.CONNECTED]


def test_never_reached_is_an_error_not_stale(started):
    engine = RecordedEngine()
    engine.down.set()
    lab = started(engine, resync_seconds=5)
    b = lab.backend
    wait_for(lambda: b.health is not None)
    assert b.health.state is HealthState.ERROR and "Connection refused" in b.health.error
    started_at = time.monotonic()
    b.stop()
    assert time.monotonic() - started_at < 1.5


def test_stop_returns_promptly_while_the_event_stream_is_open(started):
    b = started(resync_seconds=60, manual_clock=False).backend
    wait_for(lambda: connected(b))
    t0 = time.monotonic()
    b.stop()
    assert time.monotonic() - t0 < 0.5
    assert all(not t.is_alive() for t in threading.enumerate() if t.name.startswith("swarm-") and "lab" in t.name)


def test_an_event_stream_that_keeps_ending_backs_off_instead_of_spinning(started):
    lab = started(EndlessEndings(), resync_seconds=60)
    b, clock, engine = lab.backend, lab.clock, lab.engine
    clock.idle(threads=2)  # the sync loop waits for its next resync, the event loop backs off
    assert engine.opens == 1  # no busy loop while the time stands still
    delays = []
    for attempt in range(4):
        delays.append(clock.next_deadline())
        clock.advance(delays[-1])
        clock.idle(threads=2)
        assert engine.opens == attempt + 2  # one re-open per backoff, no more
    # The shared backoff (base 0.5 s, doubling, jitter in [delay/2, delay]) for attempts 0..3.
    assert all(0.25 * 2 ** n <= d <= 0.5 * 2 ** n for n, d in enumerate(delays)), delays
    assert connected(b)  # the resyncs keep the data, whatever the stream does


def test_objects_the_engine_sends_that_cannot_be_read_are_counted_and_the_rest_of_the_swarm_is_shown(started):
    engine = RecordedEngine()
    engine.service_list = [*engine.service_list, {"Spec": {"Name": "no-id"}}, "not a service"]
    engine.task_list = [*engine.task_list, {"ID": "t-odd", "ServiceID": "x", "DesiredState": "running",
                                            "Status": {"State": ["not", "a", "state"]}}]
    lab = started(engine, resync_seconds=60)
    b = lab.backend
    wait_for(lambda: connected(b))
    snapshot = next(c for c in lab.changes if c.snapshot)
    assert len(snapshot.services) == 9  # every readable service, as without the odd objects
    assert b.health.unreadable == 3

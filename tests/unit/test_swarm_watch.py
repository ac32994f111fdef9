"""The Swarm live cache without a network: recorded JSON behind a fake Engine API, events fed by hand.

What the operator relies on: a first full sync, small upserts from events, stale (with since) when the
engine goes away after a good sync, error when it was never reached, and a prompt stop.
"""

from __future__ import annotations

import copy
import json
import pathlib
import queue
import threading
import time

import pytest

from mlops_tui.backends.model import HealthState
from mlops_tui.backends.swarm.client import SwarmEndpoint
from mlops_tui.backends.swarm.watch import EngineError, SwarmBackend

DATA = pathlib.Path(__file__).parent / "data" / "swarm"


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


class RecordedEngine(SwarmBackend):
    """A SwarmBackend whose Engine API answers from recorded JSON (or is down)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(SwarmEndpoint(url="unix:///fake.sock"), name="lab", **kwargs)
        self.services = load("services.json")
        self.tasks = load("tasks.json")
        self.nodes = load("nodes.json")
        self.down = threading.Event()
        self.events = Events()
        self.calls: list[str] = []

    def request(self, method, path, params=None, body=None, timeout=None):
        if self.down.is_set():
            raise EngineError(0, "cannot reach unix:///fake.sock: Connection refused")
        filters = json.loads((params or {}).get("filters", "{}"))
        self.calls.append(path + (f" {sorted(filters)}" if filters else ""))
        if path == "/services":
            ids = set(filters.get("id", ()))
            return [copy.deepcopy(s) for s in self.services if not ids or s["ID"] in ids]
        if path == "/tasks":
            ids = set(filters.get("service", ()))
            return [t for t in self.tasks if (not ids or t["ServiceID"] in ids)
                    and t["DesiredState"] in filters.get("desired-state", ["running", "ready"])]
        if path == "/nodes":
            return self.nodes
        raise AssertionError(path)

    def _open_events(self):
        if self.down.is_set():
            raise EngineError(0, "Connection refused")
        self.events = Events()
        self._event_stream = self.events
        return self.events


def wait_for(check, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def settle(b: SwarmBackend) -> None:
    """Opening the event stream asks for one more resync (for what happened before it opened):
    let that pass, so that what follows comes from events alone."""
    wait_for(lambda: b._event_stream is not None)
    done = b.resyncs
    b.refresh_soon()
    wait_for(lambda: b.resyncs > done and not b._dirty_all)


@pytest.fixture
def started():
    backends = []

    def start(**kwargs):
        b = RecordedEngine(**kwargs)
        changes: list = []
        b.start(changes.append)
        backends.append(b)
        return b, changes

    yield start
    for b in backends:
        b.stop()


def test_first_sync_is_one_snapshot_then_connected(started):
    b, changes = started(resync_seconds=60)
    wait_for(lambda: b.health is not None and b.health.state is HealthState.CONNECTED)
    snapshot = next(c for c in changes if c.snapshot)
    assert len(snapshot.services) == 9 and list(snapshot.gpu_nodes) == ["vm"]
    assert [p.name for p in snapshot.pending_gpu] == ["rec-big.1"]
    assert b.health.user and b.health.endpoint == "unix:///fake.sock"


def test_an_event_refreshes_only_its_service(started):
    b, changes = started(resync_seconds=60)
    wait_for(lambda: b.health is not None and b.health.state is HealthState.CONNECTED)
    settle(b)
    resyncs = b.resyncs
    fraud = next(s for s in b.services if s["Spec"]["Name"] == "rec-fraud")
    fraud["Spec"]["Mode"]["Replicated"]["Replicas"] = 5
    before = len(changes)
    b.events.queue.put({"Type": "service", "Action": "update", "Actor": {"ID": fraud["ID"]}})
    wait_for(lambda: any(not c.snapshot and c.services for c in changes[before:]))
    upsert = next(c for c in changes[before:] if c.services)
    # The stable and its canary both carry the pair's weight, so both rows change.
    assert {k.name: s.desired for k, s in upsert.services.items()} == {"rec-fraud": 5, "rec-fraud-canary": 1}
    assert upsert.services[next(k for k in upsert.services if k.name == "rec-fraud")].canary.weight == 17
    assert b.resyncs == resyncs and "/services ['id']" in b.calls


def test_a_container_event_names_its_service_and_a_removal_is_a_none(started):
    b, changes = started(resync_seconds=60)
    wait_for(lambda: b.health is not None and b.health.state is HealthState.CONNECTED)
    settle(b)
    big = next(s for s in b.services if s["Spec"]["Name"] == "rec-big")
    b.services.remove(big)
    before = len(changes)
    b.events.queue.put({"Type": "container", "Action": "die",
                        "Actor": {"ID": "c0ffee", "Attributes": {"com.docker.swarm.service.id": big["ID"]}}})
    wait_for(lambda: any(c.services and not c.snapshot for c in changes[before:]))
    removal = next(c for c in changes[before:] if c.services)
    assert not removal.snapshot
    assert [(k.name, v) for k, v in removal.services.items()] == [("rec-big", None)]
    assert removal.pending_gpu == ()  # its pending task went with it


def test_engine_lost_after_a_good_sync_is_stale_since_the_first_failure_then_connected_again(started):
    b, changes = started(resync_seconds=0.05)
    wait_for(lambda: b.health is not None and b.health.state is HealthState.CONNECTED)
    b.down.set()
    wait_for(lambda: b.health.state is HealthState.STALE)
    stale = b.health
    assert "Connection refused" in stale.error and stale.since is not None and stale.last_sync is not None
    time.sleep(0.3)
    assert b.health.since == stale.since  # still stale since the same moment
    assert len(b.view.services) == 9  # the last data stays
    b.down.clear()
    wait_for(lambda: b.health.state is HealthState.CONNECTED, timeout=10)
    states = [c.health.state for c in changes if c.health]
    assert states == [HealthState.CONNECTED, HealthState.STALE, HealthState.CONNECTED]


def test_never_reached_is_an_error_not_stale(started):
    b = RecordedEngine(resync_seconds=0.05)
    b.down.set()
    changes: list = []
    b.start(changes.append)
    try:
        wait_for(lambda: b.health is not None)
        assert b.health.state is HealthState.ERROR and "Connection refused" in b.health.error
    finally:
        started_at = time.monotonic()
        b.stop()
        assert time.monotonic() - started_at < 1.5


def test_stop_returns_promptly_while_the_event_stream_is_open(started):
    b, _ = started(resync_seconds=60)
    wait_for(lambda: b.health is not None and b.health.state is HealthState.CONNECTED)
    t0 = time.monotonic()
    b.stop()
    assert time.monotonic() - t0 < 0.5
    assert all(not t.is_alive() for t in threading.enumerate() if t.name.startswith("swarm-") and "lab" in t.name)


class EndlessEndings(RecordedEngine):
    """An engine whose /events answers and closes at once (a proxy or simulator that does not stream)."""

    opens = 0

    def _open_events(self):
        self.opens += 1
        return iter(())


def test_an_event_stream_that_keeps_ending_backs_off_instead_of_spinning():
    b = EndlessEndings(resync_seconds=60)
    b.start(lambda change: None)
    try:
        time.sleep(1.5)
        assert 2 <= b.opens <= 4
        assert b.health.state is HealthState.CONNECTED  # the resyncs keep the data, whatever the stream does
    finally:
        b.stop()

"""A frozen API server is noticed: watches that say nothing, not even a bookmark, and a probe that gets no
answer mark the cluster stale since the last word heard; the next word ends it. Time is a manual clock."""

from __future__ import annotations

import json
import queue
import threading
from datetime import timedelta

import pytest

from mlops_tui.backends.base import Change
from mlops_tui.backends.kubernetes.backend import KubernetesBackend
from mlops_tui.backends.kubernetes.client import ApiError, ClusterTarget
from mlops_tui.backends.kubernetes.liveness import Liveness
from mlops_tui.backends.model import HealthState
from tests.clock import T0, ManualClock
from tests.unit.test_k8s_watch import backend_api, wait_for

FROZEN = ApiError(0, "ReadTimeoutError", "read timed out (3.0)")


class Server:
    """The API server as the liveness check sees it: watch words arrive, probes are answered or not."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.heard: float | None = clock.monotonic()
        self.frozen = False
        self.refusing = False

    def speak(self) -> None:
        self.heard = self.clock.monotonic()

    def probe(self) -> None:
        if self.frozen:
            raise FROZEN
        if self.refusing:
            raise ApiError(403, "Forbidden", "version is forbidden")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def liveness_of(server: Server, clock: ManualClock) -> tuple[Liveness, list[object]]:
    changes: list[object] = []
    live = Liveness(server.probe, lambda: server.heard, lambda: changes.append(live.silent_since), clock=clock)
    return live, changes


def run_seconds(live: Liveness, clock: ManualClock, seconds: int, server: Server | None = None,
                bookmark_every: int = 0) -> None:
    """Let `seconds` pass one tick at a time, the watches bookmarking every `bookmark_every` seconds."""
    for _ in range(seconds):
        clock.advance(1.0)
        if server is not None and bookmark_every and int(clock.monotonic()) % bookmark_every == 0:
            server.speak()
        live.check()


def test_watches_that_bookmark_every_5s_never_cost_a_probe(clock):
    server = Server(clock)
    live, changes = liveness_of(server, clock)
    run_seconds(live, clock, 120, server, bookmark_every=5)
    assert live.probes == 0 and changes == [] and live.silent_since is None


def test_a_quiet_cluster_that_answers_the_probe_is_never_stale_and_is_probed_once_per_quiet_period(clock):
    server = Server(clock)
    live, changes = liveness_of(server, clock)
    run_seconds(live, clock, 60)  # nothing changes, no bookmark (a real server bookmarks about once a minute)
    assert changes == [] and live.silent_since is None
    assert 4 <= live.probes <= 6  # one probe per 10 quiet seconds, not one per tick


def test_a_probe_refused_with_403_still_proves_the_server_alive(clock):
    server = Server(clock)
    server.refusing = True
    live, changes = liveness_of(server, clock)
    run_seconds(live, clock, 30)
    assert changes == [] and live.probes >= 2


def test_a_frozen_api_server_is_stale_within_15s_since_its_last_word_and_recovers_when_a_watch_speaks(clock):
    server = Server(clock)
    live, changes = liveness_of(server, clock)
    run_seconds(live, clock, 20, server, bookmark_every=5)
    last_word = T0 + timedelta(seconds=clock.monotonic() - 1000.0)
    server.frozen = True  # kill -STOP: the streams stay open and say nothing; the probe gets no answer
    stale_after = None
    for second in range(1, 30):
        run_seconds(live, clock, 1)
        if live.silent_since is not None:
            stale_after = second
            break
    assert stale_after is not None and stale_after <= 15, f"stale after {stale_after}s"
    assert stale_after >= 10, "a quiet moment shorter than two bookmark intervals is not a freeze"
    assert live.silent_since == last_word  # the age of the data: since the last word heard
    assert "API server not answering" in live.error and "read timed out" in live.error
    run_seconds(live, clock, 60)
    assert changes == [last_word], "marked once, however long the freeze"
    server.frozen = False  # kill -CONT: the open watches deliver their bookmarks again
    clock.advance(1.0)
    server.speak()
    run_seconds(live, clock, 1)
    assert live.silent_since is None and live.error == "" and changes == [last_word, None]


def test_recovery_also_comes_from_a_probe_answered_while_the_watches_stay_quiet(clock):
    server = Server(clock)
    live, changes = liveness_of(server, clock)
    server.frozen = True
    run_seconds(live, clock, 15)
    assert live.silent_since is not None
    server.frozen = False
    run_seconds(live, clock, 1)
    assert live.silent_since is None and changes[-1] is None


def test_the_liveness_loop_checks_once_a_tick_on_the_clock_it_is_given(clock):
    server = Server(clock)
    server.frozen = True
    live, _changes = liveness_of(server, clock)
    stop = threading.Event()
    thread = threading.Thread(target=live.run, args=(stop,), daemon=True)
    thread.start()
    try:
        for _ in range(14):
            clock.idle(1)
            clock.advance(1.0)
        clock.idle(1)
        assert live.silent_since == T0
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()


def test_a_frozen_cluster_turns_stale_then_connected_again_without_a_relist(clock):
    api = backend_api()
    version_calls: list[bool] = []
    frozen = threading.Event()
    plain_request = api.request

    def request(method, path, query=(), body=None, content_type="application/json", timeout=(5, 30)):
        if path == "/version":
            version_calls.append(frozen.is_set())
            if frozen.is_set():
                raise FROZEN
        return plain_request(method, path, query, body, content_type, timeout)

    api.request = request  # type: ignore[method-assign]
    changes: list[Change] = []
    backend = KubernetesBackend(ClusterTarget("frozen", None, "https://f", "c"), api, check_access=False,
                                timer=clock, clock=clock.now)
    backend.start(changes.append)
    try:
        assert wait_for(lambda: backend.health is not None and backend.health.state is HealthState.CONNECTED)
        lists = sum(1 for c in api.calls if c[0] == "GET" and c[1] not in ("/apis", "/version"))
        frozen.set()
        for _ in range(15):
            clock.idle(1)
            clock.advance(1.0)
        clock.idle(1)
        health = backend.health
        assert health is not None and health.state is HealthState.STALE, health
        assert health.since == T0 and "API server not answering" in health.error
        # SIGCONT: the open deployments watch delivers a bookmark, the next tick sees it.
        frozen.clear()
        live = api.live.setdefault("/apis/apps/v1/deployments", queue.Queue())
        clock.advance(1.0)
        bookmark = {"type": "BOOKMARK", "object": {"kind": "Deployment", "metadata": {"resourceVersion": "11"}}}
        live.put(json.dumps(bookmark))
        assert wait_for(lambda: backend.reflectors[1].last_heard == clock.monotonic())
        clock.idle(1)
        clock.advance(1.0)
        assert wait_for(lambda: backend.health is not None and backend.health.state is HealthState.CONNECTED)
    finally:
        backend.stop()
    assert sum(1 for c in api.calls if c[0] == "GET" and c[1] not in ("/apis", "/version")) == lists
    states = [c.health.state for c in changes if c.health]
    assert states[-3:] == [HealthState.CONNECTED, HealthState.STALE, HealthState.CONNECTED]


def test_after_a_freeze_a_watch_waiting_out_its_backoff_retries_as_soon_as_the_server_answers(clock):
    api = backend_api()
    frozen = threading.Event()
    plain_request = api.request

    def request(method, path, query=(), body=None, content_type="application/json", timeout=(5, 30)):
        if path == "/version" and frozen.is_set():
            raise FROZEN
        return plain_request(method, path, query, body, content_type, timeout)

    api.request = request  # type: ignore[method-assign]
    # A long freeze has grown the backoff to its cap: the next retry would be 10-20 s away.
    backend = KubernetesBackend(ClusterTarget("frozen", None, "https://f", "c"), api, check_access=False,
                                backoff=(20.0, 30.0), timer=clock, clock=clock.now)
    backend.start(lambda change: None)
    try:
        assert wait_for(lambda: backend.health is not None and backend.health.state is HealthState.CONNECTED)
        frozen.set()
        api.live.setdefault("/api/v1/pods", queue.Queue()).put(ApiError(0, "ReadTimeoutError", "read timed out"))
        pods = next(r for r in backend.reflectors if r.spec.name == "pods")
        assert wait_for(lambda: pods.failing_since is not None)
        for _ in range(15):
            clock.idle(1)
            clock.advance(1.0)
        clock.idle(1)
        assert backend.liveness.silent_since is not None
        frozen.clear()  # SIGCONT: the probe is answered on the next tick
        clock.advance(1.0)
        assert wait_for(lambda: backend.health is not None and backend.health.state is HealthState.CONNECTED,
                        timeout=5.0), backend.health
        assert pods.failing_since is None
    finally:
        backend.stop()

"""The reflector's list+watch loop against a fake HTTP transport: resume, relist, bookmarks, health."""

from __future__ import annotations

import json
import queue
import random
import threading
import time
import weakref
from pathlib import Path

import pytest

from mlops_tui.backends.backoff import Backoff
from mlops_tui.backends.base import Change
from mlops_tui.backends.fleet import Fleet
from mlops_tui.backends.kubernetes.backend import KubernetesBackend
from mlops_tui.backends.kubernetes.client import ApiError, ClusterTarget, Response, StreamHandle, Transport
from mlops_tui.backends.kubernetes.reflector import Reflector, ReflectorHandler, ResourceSpec
from mlops_tui.backends.model import HealthState

DATA = Path(__file__).parent / "data" / "k8s"
PODS = ResourceSpec("pods", "", "v1", "pods")


class FakeStream(StreamHandle):
    def __init__(self, source: queue.Queue) -> None:
        self.source = source
        self.closed = threading.Event()

    def lines(self):
        while not self.closed.is_set():
            try:
                item = self.source.get(timeout=0.05)
            except queue.Empty:
                continue
            if item is None:
                return
            if isinstance(item, Exception):
                raise item
            yield item.encode() if isinstance(item, str) else item

    def close(self) -> None:
        self.closed.set()


class FakeApi(Transport):
    """Lists from `lists[path]` (a list of pages or an exception), watches from queued streams."""

    server = "https://fake:6443"

    def __init__(self) -> None:
        self.lists: dict[str, list] = {}
        self.watches: dict[str, queue.Queue] = {}
        self.calls: list[tuple[str, str, dict]] = []
        self.live: dict[str, queue.Queue] = {}
        self.lock = threading.Lock()

    def request(self, method, path, query=(), body=None, content_type="application/json", timeout=(5, 30)):
        params = dict(query)
        with self.lock:
            self.calls.append((method, path, params))
        if path == "/apis":
            return Response(200, b'{"groups":[]}')
        if method == "POST":
            return Response(201, b'{"status":{"allowed":true}}')
        script = self.lists.get(path)
        if script is None:
            raise ApiError(404, "NotFound", f"{path} not found")
        step = script.pop(0) if len(script) > 1 else script[0]
        if isinstance(step, Exception):
            raise step
        return Response(200, json.dumps(step).encode())

    def stream(self, path, query=(), timeout=(5, 30)):
        params = dict(query)
        with self.lock:
            self.calls.append(("WATCH", path, params))
        streams = self.watches.setdefault(path, queue.Queue())
        try:
            item = streams.get_nowait()
        except queue.Empty:
            item = self.live.setdefault(path, queue.Queue())  # nothing scripted: the live stream
        if isinstance(item, Exception):
            raise item
        return FakeStream(item)

    def script_watch(self, path: str, *lines) -> None:
        q: queue.Queue = queue.Queue()
        for line in lines:
            q.put(line)
        self.watches.setdefault(path, queue.Queue()).put(q)

    def watch_rvs(self, path: str) -> list[str]:
        with self.lock:
            return [c[2].get("resourceVersion") for c in self.calls if c[0] == "WATCH" and c[1] == path]


def pod_list(rv: str, *names: str) -> dict:
    return {"kind": "PodList", "metadata": {"resourceVersion": rv},
            "items": [{"metadata": {"name": n, "namespace": "ml", "resourceVersion": rv}} for n in names]}


class Recorder(ReflectorHandler):
    def __init__(self) -> None:
        self.lists: list[list[str]] = []
        self.events: list[tuple[str, str]] = []
        self.statuses: list[str] = []

    def on_list(self, reflector, items):
        self.lists.append([key[1] for key, _ in items])

    def on_event(self, reflector, kind, key, value):
        self.events.append((kind, key[1]))

    def on_status(self, reflector):
        self.statuses.append(reflector.error)


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


@pytest.fixture
def api():
    return FakeApi()


def run_reflector(api, handler, **kw):
    reflector = Reflector(api, PODS, handler, backoff=Backoff(0.01, 0.05), watch_timeout=(5, 5), **kw)
    reflector.start()
    return reflector


def test_resume_from_the_bookmark_rv_then_relist_on_410_expired(api):
    path = "/api/v1/pods"
    api.lists[path] = [pod_list("100", "p-100"), pod_list("200", "p-100", "p-105", "p-200")]
    added, bookmark, expired = (DATA / "watch_stream.jsonl").read_text().splitlines()
    # First stream: ADDED rv=105, BOOKMARK rv=150, then the connection drops.
    api.script_watch(path, added, bookmark, ApiError(0, "ProtocolError", "Connection broken"))
    # The resume from 150 gets the exact 410 Expired ERROR event kube-apiserver sends.
    api.script_watch(path, expired)
    recorder = Recorder()
    reflector = run_reflector(api, recorder)
    try:
        assert wait_for(lambda: len(api.watch_rvs(path)) >= 3)
    finally:
        reflector.stop()
        reflector.join(2)
    assert api.watch_rvs(path)[:3] == ["100", "150", "200"]
    assert recorder.lists == [["p-100"], ["p-100", "p-105", "p-200"]]
    assert recorder.events == [("ADDED", "p-105")]  # the BOOKMARK and the ERROR never reach the handler
    assert reflector.relists == 1
    assert [c[0] for c in api.calls if c[1] == path][:5] == ["GET", "WATCH", "WATCH", "GET", "WATCH"]


def test_one_stream_with_added_bookmark_and_410_relists_and_never_reports_the_bookmark(api):
    path = "/api/v1/pods"
    api.lists[path] = [pod_list("100", "a"), pod_list("300", "a", "p-105")]
    api.script_watch(path, *(DATA / "watch_stream.jsonl").read_text().splitlines())
    recorder = Recorder()
    reflector = run_reflector(api, recorder)
    try:
        assert wait_for(lambda: len(recorder.lists) == 2 and len(api.watch_rvs(path)) >= 2)
    finally:
        reflector.stop()
        reflector.join(2)
    assert api.watch_rvs(path)[:2] == ["100", "300"]
    assert recorder.events == [("ADDED", "p-105")]


def test_watch_requests_bookmarks_from_the_list_rv_with_a_timeout(api):
    path = "/api/v1/pods"
    api.lists[path] = [pod_list("42")]
    reflector = run_reflector(api, Recorder())
    try:
        assert wait_for(lambda: api.watch_rvs(path))
    finally:
        reflector.stop()
        reflector.join(2)
    params = next(c[2] for c in api.calls if c[0] == "WATCH")
    assert params["allowWatchBookmarks"] == "true" and params["resourceVersion"] == "42"
    assert params["watch"] == "true" and int(params["timeoutSeconds"]) > 0


def test_a_paginated_list_restarts_when_the_continue_token_expires(api):
    path = "/api/v1/pods"
    first = dict(pod_list("100", "a", "b"), metadata={"resourceVersion": "100", "continue": "tok1"})
    gone = ApiError(410, "Expired", "The provided continue parameter is too old to display a consistent list result.")
    again = dict(pod_list("120", "a", "b"), metadata={"resourceVersion": "120", "continue": "tok2"})
    last = pod_list("120", "c")
    api.lists[path] = [first, gone, again, last]
    recorder = Recorder()
    reflector = run_reflector(api, recorder, page_limit=2)
    try:
        assert wait_for(lambda: recorder.lists)
    finally:
        reflector.stop()
        reflector.join(2)
    assert recorder.lists == [["a", "b", "c"]]
    gets = [c[2] for c in api.calls if c[0] == "GET"]
    assert [g.get("continue") for g in gets[:4]] == [None, "tok1", None, "tok2"]
    assert all(g["limit"] == "2" for g in gets[:4])
    assert api.watch_rvs(path)[0] == "120"


def test_a_failing_list_backs_off_and_reports_the_error_until_it_recovers(api):
    path = "/api/v1/pods"
    api.lists[path] = [ApiError(503, "ServiceUnavailable", "etcd down"), ApiError(0, "MaxRetryError", "refused"),
                       pod_list("7", "x")]
    recorder = Recorder()
    reflector = run_reflector(api, recorder)
    try:
        assert wait_for(lambda: recorder.lists)
    finally:
        reflector.stop()
        reflector.join(2)
    assert recorder.statuses[0].startswith("503 ServiceUnavailable")
    assert recorder.statuses[-1] == ""  # recovered
    assert reflector.failing_since is None


def test_backoff_grows_exponentially_with_jitter_and_is_capped():
    backoff = Backoff(0.5, 8.0, rng=random.Random(1))
    delays = [backoff.next() for _ in range(8)]
    for i, delay in enumerate(delays):
        ceiling = min(8.0, 0.5 * 2**i)
        assert ceiling / 2 <= delay <= ceiling
    backoff.reset()
    assert backoff.next() <= 0.5


# -- the backend on top of reflectors --------------------------------------------------------


def backend_api() -> FakeApi:
    api = FakeApi()
    empty = lambda kind: {"kind": kind, "metadata": {"resourceVersion": "1"}, "items": []}  # noqa: E731
    dep = json.loads((DATA / "deployment_valuation.json").read_text())
    api.lists["/apis/apps/v1/deployments"] = [{"metadata": {"resourceVersion": "10"}, "items": [dep]}]
    for path in ("/api/v1/namespaces", "/apis/apps/v1/replicasets", "/api/v1/pods", "/api/v1/nodes",
                 "/api/v1/services", "/apis/autoscaling/v2/horizontalpodautoscalers", "/api/v1/events"):
        api.lists[path] = [empty("List")]
    return api


def test_bookmarks_never_reach_the_fleet_and_events_update_one_service():
    api = backend_api()
    changes: list[Change] = []
    lock = threading.Lock()

    def sink(change):
        with lock:
            changes.append(change)

    backend = KubernetesBackend(ClusterTarget("kind-a", None, "https://a", "alice"), api, backoff=(0.01, 0.05),
                                watch_timeout=(5, 5), check_access=False)
    dep = json.loads((DATA / "deployment_valuation.json").read_text())
    moved = json.loads(json.dumps(dep))
    moved["metadata"]["resourceVersion"] = "12"
    moved["status"]["readyReplicas"] = 3
    backend.start(sink)
    try:
        assert wait_for(lambda: any(c.snapshot for c in changes))
        live = api.live.setdefault("/apis/apps/v1/deployments", queue.Queue())
        bookmark = {"type": "BOOKMARK", "object": {"kind": "Deployment", "metadata": {"resourceVersion": "11"}}}
        live.put(json.dumps(bookmark))
        live.put(json.dumps({"type": "MODIFIED", "object": moved}))
        assert wait_for(lambda: any(c.services and not c.snapshot for c in changes))
    finally:
        backend.stop()
    snapshots = [c for c in changes if c.snapshot]
    assert len(snapshots) == 1
    (service,) = snapshots[0].services.values()
    assert service.ready == 2
    updates = [c for c in changes if c.services and not c.snapshot]
    assert len(updates) == 1  # the bookmark produced nothing
    (updated,) = updates[0].services.values()
    assert updated.ready == 3 and updated.key == service.key
    assert all(k.name for c in changes for k in c.services)
    states = [c.health.state for c in changes if c.health]
    assert states[0] is HealthState.CONNECTING and HealthState.CONNECTED in states
    assert api.watch_rvs("/apis/apps/v1/deployments")[:1] == ["10"]
    assert backend.reflectors[1].rv == "12"  # the bookmark's RV was taken, then the event's


def test_a_cluster_that_never_syncs_reports_error_with_the_reason_through_a_real_fleet():
    api = backend_api()
    api.lists["/api/v1/pods"] = [ApiError(0, "MaxRetryError", "connection refused")]
    backend = KubernetesBackend(ClusterTarget("down", None, "https://down", "bob"), api, backoff=(0.01, 0.05),
                                check_access=False)
    fleet = Fleet([backend], audit=[].append, max_rate=100)
    fleet.start()
    try:
        assert wait_for(lambda: fleet.flush() is not None and fleet.state.health.get("down") is not None
                        and fleet.state.health["down"].state is HealthState.ERROR)
    finally:
        fleet.stop()
    health = fleet.state.health["down"]
    assert "pods" in health.error and "connection refused" in health.error
    assert health.user == "bob"
    assert fleet.state.services == {}


def test_a_disconnect_after_sync_shows_stale_since_then_connected_again():
    api = backend_api()
    api.script_watch("/api/v1/pods", ApiError(0, "ProtocolError", "Connection reset"))
    api.watches["/api/v1/pods"].put(ApiError(0, "MaxRetryError", "connection refused"))
    changes: list[Change] = []
    backend = KubernetesBackend(ClusterTarget("flaky", None, "https://f", "c"), api, backoff=(0.05, 0.1),
                                check_access=False)
    backend.start(changes.append)
    try:
        assert wait_for(lambda: any(c.health and c.health.state is HealthState.STALE for c in changes))
        assert wait_for(lambda: changes[-1].health is not None
                        and changes[-1].health.state is HealthState.CONNECTED, timeout=5)
    finally:
        backend.stop()
    stale = next(c.health for c in changes if c.health and c.health.state is HealthState.STALE)
    assert stale.since is not None and "pods" in stale.error


class ChunkedResponse:
    """Stands in for urllib3's HTTPResponse: the watch body arrives in arbitrary chunks."""

    def __init__(self, chunks, error=None):
        self.chunks, self.error = chunks, error
        self.shut = False

    def stream(self, amt, decode_content=True):
        yield from self.chunks
        if self.error is not None:
            raise self.error

    def shutdown(self):
        self.shut = True

    def release_conn(self):
        pass


def test_the_http_line_splitter_rebuilds_events_cut_across_chunks():
    from mlops_tui.backends.kubernetes.client import _UrllibStream

    body = (DATA / "watch_stream.jsonl").read_bytes()
    chunks = [body[i:i + 7] for i in range(0, len(body), 7)]  # every event cut mid-line
    lines = list(_UrllibStream(ChunkedResponse(chunks)).lines())
    assert [json.loads(line)["type"] for line in lines] == ["ADDED", "BOOKMARK", "ERROR"]


def test_a_broken_stream_is_an_error_but_an_idle_timeout_is_a_normal_end():
    from mlops_tui.backends.kubernetes.client import _UrllibStream

    broken = _UrllibStream(ChunkedResponse([b'{"type":"ADDED"'], ConnectionResetError("reset by peer")))
    with pytest.raises(ApiError) as info:
        list(broken.lines())
    assert info.value.status == 0 and "reset" in str(info.value)
    quiet = _UrllibStream(ChunkedResponse([], TimeoutError("read timed out")))
    assert list(quiet.lines()) == []


def test_a_pod_event_recomputes_only_its_gpu_node_and_the_pending_list():
    api = backend_api()
    nodes = json.loads((DATA / "nodes.json").read_text())
    pods = json.loads((DATA / "pods.json").read_text())
    api.lists["/api/v1/nodes"] = [nodes]
    api.lists["/api/v1/pods"] = [pods]
    changes: list[Change] = []
    backend = KubernetesBackend(ClusterTarget("gpu", None, "https://g", "u"), api, check_access=False)
    backend.start(changes.append)
    try:
        assert wait_for(lambda: any(c.snapshot for c in changes))
        (snapshot,) = [c for c in changes if c.snapshot]
        assert set(snapshot.gpu_nodes) == {"gpu-a100-0", "gpu-shared-1"}
        assert snapshot.gpu_nodes["gpu-a100-0"].resource("nvidia.com/gpu").allocated == 4
        assert [p.name for p in snapshot.pending_gpu] == ["llm-reranker-0"]
        # The pending pod gets scheduled onto the A100 node and runs.
        placed = next(p for p in pods["items"] if p["metadata"]["name"] == "llm-reranker-0")
        placed = json.loads(json.dumps(placed))
        placed["metadata"]["resourceVersion"] = "21"
        placed["spec"]["nodeName"] = "gpu-a100-0"
        placed["status"] = {"phase": "Running", "conditions": [{"type": "PodScheduled", "status": "True"}]}
        before = len(changes)
        api.live.setdefault("/api/v1/pods", queue.Queue()).put(json.dumps({"type": "MODIFIED", "object": placed}))
        assert wait_for(lambda: len(changes) > before)
    finally:
        backend.stop()
    (update,) = changes[before:]
    assert not update.snapshot and update.services == {}
    assert set(update.gpu_nodes) == {"gpu-a100-0"}  # the other GPU node is not recomputed
    assert update.gpu_nodes["gpu-a100-0"].resource("nvidia.com/gpu").allocated == 6
    assert update.pending_gpu == ()


def test_without_permission_to_read_nodes_the_gpu_preview_says_nothing_rather_than_guess():
    # A user who may not list nodes: the placement check would see "0/0 nodes" and claim every new GPU
    # replica stays Pending. The backend hands it no nodes at all instead, and the preview stays silent.
    api = backend_api()
    api.lists["/api/v1/nodes"] = [ApiError(403, "Forbidden", 'nodes is forbidden: User "ana" cannot list')]
    changes: list[Change] = []
    backend = KubernetesBackend(ClusterTarget("ro", None, "https://ro", "ana"), api, check_access=False)
    backend.start(changes.append)
    try:
        assert wait_for(lambda: any(c.snapshot for c in changes))
        assert backend.fit_nodes() is None
    finally:
        backend.stop()
    readable = backend_api()
    readable.lists["/api/v1/nodes"] = [json.loads((DATA / "nodes.json").read_text())]
    backend = KubernetesBackend(ClusterTarget("rw", None, "https://rw", "bo"), readable, check_access=False)
    changes = []
    backend.start(changes.append)
    try:
        assert wait_for(lambda: any(c.snapshot for c in changes))
        assert sorted(n.name for n in backend.fit_nodes()) == ["cpu-0", "gpu-a100-0", "gpu-shared-1"]
    finally:
        backend.stop()


def test_the_facade_offers_every_optional_capability_the_screens_look_for():
    # The TUI offers the detail screen, the pickers, the audit Event and the fresh record only when the
    # backend is an instance of these protocols (isinstance, never getattr).
    from mlops_tui.backends.base import (
        ActionBackend,
        DescribesServices,
        ListsContainers,
        ListsRevisions,
        PublishesServices,
        RecordsActions,
    )

    backend = KubernetesBackend(ClusterTarget("kind-a", None, "https://a", "alice"), backend_api(),
                                check_access=False)
    for capability in (ActionBackend, DescribesServices, ListsRevisions, ListsContainers, RecordsActions,
                       PublishesServices):
        assert isinstance(backend, capability), capability.__name__



class Reduced:
    """A listed or watched pod as the cache keeps it (weakly referenceable, so a test can see it freed)."""

    def __init__(self, obj: dict) -> None:
        self.rv = obj["metadata"]["resourceVersion"]


class Store(ReflectorHandler):
    """Keeps one value per object, as the cluster cache does: an event replaces the listed value."""

    def __init__(self) -> None:
        self.values: dict = {}
        self.listed: dict = {}
        """Weak references to what the list delivered: they die when nothing else holds the values."""

    def on_list(self, reflector, items):
        self.values = dict(items)
        self.listed = {key: weakref.ref(value) for key, value in items}

    def on_event(self, reflector, kind, key, value):
        self.values[key] = value


def test_an_object_a_watch_event_replaced_is_freed_the_reflector_keeps_no_copy_of_its_list(api):
    # Under long churn, every object the first list read is replaced in turn; a list the reflector
    # kept while it watches would hold each old copy too (RSS +76 MB over 10 minutes at 5,000 services).
    path = "/api/v1/pods"
    api.lists[path] = [pod_list("100", "p-1", "p-2")]
    api.script_watch(path, json.dumps({"type": "MODIFIED", "object": {
        "kind": "Pod", "metadata": {"name": "p-1", "namespace": "ml", "resourceVersion": "101"}}}))
    store = Store()
    reflector = run_reflector(api, store, reduce=Reduced)
    try:
        assert wait_for(lambda: ("ml", "p-1") in store.values and store.values[("ml", "p-1")].rv == "101")
        assert wait_for(lambda: store.listed[("ml", "p-1")]() is None), "the listed p-1 outlived its replacement"
        assert store.listed[("ml", "p-2")]() is store.values[("ml", "p-2")]  # what no event replaced: the store's
    finally:
        reflector.stop()
        reflector.join(2)


class SelectingApi(FakeApi):
    """Watches keyed by path and field selector: the Warning and the Normal Events are two streams."""

    def stream(self, path, query=(), timeout=(5, 30)):
        selector = dict(query).get("fieldSelector")
        return super().stream(f"{path}?{selector}" if selector else path, query, timeout)


def normal_event(name: str, reason: str, message: str) -> dict:
    return {"kind": "Event", "metadata": {"name": name, "namespace": "ml-prod", "uid": f"uid-{name}",
                                          "resourceVersion": "2"},
            "involvedObject": {"kind": "Deployment", "namespace": "ml-prod", "name": "valuation"},
            "reason": reason, "message": message, "type": "Normal", "lastTimestamp": "2026-01-01T10:00:00Z"}


def test_normal_events_reach_the_timeline_and_are_not_kept_so_a_busy_cluster_does_not_grow_the_app():
    # Every scale under churn is a Normal Event; the API server keeps them an hour. The timeline keeps
    # its own bounded copy; the cache must not keep them all too.
    api = SelectingApi()
    api.lists.update(backend_api().lists)
    api.lists["/api/v1/events"] = [{"metadata": {"resourceVersion": "1"},
                                    "items": [normal_event("e1", "ScalingReplicaSet", "Scaled up to 3")]}]
    changes: list[Change] = []
    backend = KubernetesBackend(ClusterTarget("kind-a", None, "https://a", "alice"), api, backoff=(0.01, 0.05),
                                watch_timeout=(5, 5), check_access=False)
    backend.start(changes.append)
    try:
        assert wait_for(lambda: any("Scaled up to 3" in e.what for c in list(changes) for e in c.history))
        live = api.live.setdefault("/api/v1/events?type=Normal", queue.Queue())
        live.put(json.dumps({"type": "ADDED", "object": normal_event("e2", "ScalingReplicaSet", "Scaled down to 2")}))
        assert wait_for(lambda: any("Scaled down to 2" in e.what for c in list(changes) for e in c.history))
        assert backend.cache.keys("normalevents") == []  # told to the timeline, kept nowhere else
    finally:
        backend.stop()

def test_the_next_list_page_is_asked_for_while_this_one_is_reduced(api):
    # A 55,000-pod first sync is 110 pages: the server builds page N+1 and its bytes travel while we
    # translate page N, instead of one waiting for the other.
    path = "/api/v1/pods"
    api.lists[path] = [dict(pod_list("100", "a", "b"), metadata={"resourceVersion": "100", "continue": "tok1"}),
                       pod_list("100", "c")]
    asked_meanwhile: list[bool] = []

    def reduce(obj):
        if obj["metadata"]["name"] == "a":
            asked_meanwhile.append(wait_for(lambda: any(c[2].get("continue") == "tok1" for c in api.calls), 2.0))
        return obj

    recorder = Recorder()
    reflector = run_reflector(api, recorder, page_limit=2, reduce=reduce)
    try:
        assert wait_for(lambda: recorder.lists)
    finally:
        reflector.stop()
        reflector.join(2)
    assert asked_meanwhile == [True]
    assert recorder.lists == [["a", "b", "c"]]

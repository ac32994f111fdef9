"""Log streams, engine side, without an engine: the multiplexed frames dockerd sends are decoded
whatever way the bytes arrive, a Swarm engine gone mid-stream is said and reopened without showing a
line twice, and a Kubernetes stream says 403 and resumes where it stopped."""

from __future__ import annotations

import struct
import threading
import time
from datetime import datetime, timezone

from mlops_tui.backends.kubernetes import logs as kube_logs
from mlops_tui.backends.kubernetes.client import ApiError, Response, StreamHandle, Transport
from mlops_tui.backends.model import LogLine, LogOptions
from mlops_tui.backends.swarm import logs as swarm_logs
from mlops_tui.backends.swarm.client import EngineError


def frame(payload: bytes, stream: int = 1) -> bytes:
    return struct.pack(">BxxxL", stream, len(payload)) + payload


def reader(data: bytes, step: int):
    """`read(n)` over `data`, at most `step` bytes at a time (a slow link)."""
    pos = 0

    def read(n: int) -> bytes:
        nonlocal pos
        chunk = data[pos:pos + min(n, step)]
        pos += len(chunk)
        return chunk

    return read


def test_frames_are_decoded_however_the_bytes_are_cut_and_lines_split_over_frames_are_joined():
    data = frame(b"first line\nsecond ") + frame(b"oops\n", 2) + frame(b"line\n") + frame(b"")
    for step in (1, 3, 7, 1000):
        assert list(swarm_logs.lines(reader(data, step))) == ["first line", "oops", "second line"]


def test_a_tty_service_sends_raw_bytes_and_they_are_shown_as_lines():
    assert list(swarm_logs.lines(reader(b"plain output\nmore\n", 5))) == ["plain output", "more"]


def test_a_stream_cut_mid_frame_ends_without_inventing_bytes():
    data = frame(b"whole\n") + frame(b"cut short\n")[:10]
    assert list(swarm_logs.lines(reader(data, 4))) == ["whole", "cu"]


def test_a_line_is_split_into_time_task_attributes_and_text_as_dockerd_writes_it():
    moment, attrs, text = swarm_logs.parse_line(
        "2026-12-01T10:00:00.123456789Z com.docker.swarm.node.id=n1,com.docker.swarm.service.id=s1,"
        "com.docker.swarm.task.id=t1 GET /x 200 a=b", timestamps=True, details=True)
    assert moment == datetime(2026, 12, 1, 10, 0, 0, 123456, tzinfo=timezone.utc)
    assert attrs["com.docker.swarm.task.id"] == "t1" and text == "GET /x 200 a=b"


class GoneMidStream:
    """An engine that sends two lines, goes away, then answers again from where it was asked."""

    def __init__(self) -> None:
        self.opened: list[dict[str, str]] = []
        self.endpoint = type("E", (), {"display": "fake"})()
        self.timeout = 1.0

    def service(self, ref):
        return {"ID": "s1", "Spec": {"Name": "api"}}

    def nodes(self):
        return [{"ID": "n1", "Description": {"Hostname": "node-1"}}]

    def task_history(self, sid):
        return [{"ID": "t1aaaaaaaaaaaaaaa", "Slot": 1, "NodeID": "n1"}]


def test_the_engine_gone_mid_stream_is_said_and_the_stream_reopens_without_repeating_lines(monkeypatch):
    client = GoneMidStream()
    stamp = "2026-12-01T10:00:0{}.000000000Z com.docker.swarm.task.id=t1aaaaaaaaaaaaaaa line {}\n"
    bodies = [frame(stamp.format(1, 1).encode()) + frame(stamp.format(2, 2).encode()),
              frame(stamp.format(2, 2).encode()) + frame(stamp.format(3, 3).encode())]

    class Raw:
        def __init__(self, data: bytes, fail: bool) -> None:
            self.read_ = reader(data, 1000)
            self.fail = fail

        def read(self, n: int) -> bytes:
            chunk = self.read_(n)
            if not chunk and self.fail:
                raise ConnectionResetError("engine gone")
            return chunk

        def close(self) -> None:
            pass

    def open_logs(c, kind, ident, params, timeout):
        client.opened.append(dict(params))
        if len(client.opened) > len(bodies):
            raise EngineError(0, "cannot reach fake: connection refused")
        return Raw(bodies[len(client.opened) - 1], fail=len(client.opened) == 1)

    monkeypatch.setattr(swarm_logs, "open_logs", open_logs)
    monkeypatch.setattr(swarm_logs.Backoff, "next", lambda self: 0.01)
    lines: list[LogLine] = []
    statuses: list[str] = []
    stop = threading.Event()

    def on_status(message: str) -> None:
        statuses.append(message)
        if "connection refused" in message:
            stop.set()

    swarm_logs.stream_service(client, "api", LogOptions(), lines.append, on_status, stop)  # type: ignore[arg-type]
    assert [line.text for line in lines] == ["line 1", "line 2", "line 3"]
    assert {line.source for line in lines} == {"api.1.t1aaaaaaaaaa@node-1"}
    assert "the engine went away mid-stream (ConnectionResetError); reconnecting" in statuses
    assert "since" in client.opened[1] and client.opened[1]["since"].startswith(
        str(int(datetime(2026, 12, 1, 10, 0, 2, tzinfo=timezone.utc).timestamp())))


class KubeFake(Transport):
    def __init__(self, answers) -> None:
        self.answers = list(answers)
        self.queries: list[list[tuple[str, str]]] = []

    def request(self, method, path, query=(), body=None, content_type="application/json", timeout=(1, 1)):
        return Response(200, b'{"spec": {"containers": [{"name": "istio-proxy"}, {"name": "kserve-container"}]}}')

    def stream(self, path, query=(), timeout=(1, 1)):
        self.queries.append(list(query))
        answer = self.answers.pop(0) if self.answers else ApiError(0, "closed", "no more")
        if isinstance(answer, ApiError):
            raise answer
        handle = StreamHandle()
        handle.lines = lambda: iter(answer)  # type: ignore[method-assign]
        return handle


def test_kubernetes_says_403_then_resumes_from_the_last_line_and_picks_the_kserve_container(monkeypatch):
    forbidden = ApiError(403, "Forbidden", 'pods "p" is forbidden: User "viewer" cannot get resource "pods/log"')
    transport = KubeFake([forbidden, [b"2026-12-01T10:00:01.5Z one", b"2026-12-01T10:00:02Z two"],
                          [b"2026-12-01T10:00:02Z two", b"2026-12-01T10:00:03Z three"]])
    monkeypatch.setattr(kube_logs.Backoff, "next", lambda self: 0.01)
    lines: list[LogLine] = []
    statuses: list[str] = []
    stop = threading.Event()

    def on_status(message: str) -> None:
        statuses.append(message)
        if "no more" in message:
            stop.set()

    kube_logs.PodLogStream(transport, "ml-prod", "p", LogOptions(), lines.append, on_status, stop).run()
    assert statuses[0] == 'p: forbidden (403): pods "p" is forbidden: User "viewer" cannot get resource "pods/log"'
    assert [line.text for line in lines] == ["one", "two", "three"]
    assert ("container", "kserve-container") in transport.queries[0]
    assert ("sinceSeconds", "300") in transport.queries[1] and ("follow", "true") in transport.queries[1]
    assert ("sinceTime", "2026-12-01T10:00:02Z") in transport.queries[2]


def test_the_simulated_canary_logs_slow_requests_during_its_latency_regression():
    from mlops_tui.sim.requestlog import request_line

    def slow_share(slow: bool) -> float:
        lines = [request_line("property-price-predictor-canary-abc", "property-price-predictor", k, slow)
                 for k in range(400)]
        return sum(float(line.rsplit("latency_ms=", 1)[1]) > 500 for line in lines) / len(lines)

    assert slow_share(False) == 0
    assert 0.35 < slow_share(True) < 0.55, "about half its requests above 0.5 s, as the scenario's p95 says"


def test_a_rollouts_new_pods_are_followed_as_they_appear_and_a_deleted_pods_stream_ends():
    served: dict[str, int] = {}

    class PerPod(KubeFake):
        def stream(self, path, query=(), timeout=(1, 1)):
            pod = path.split("/")[-2]
            served[pod] = served.get(pod, 0) + 1
            if served[pod] > 1:
                raise ApiError(404, "NotFound", f'pods "{pod}" not found')
            handle = StreamHandle()
            handle.lines = lambda: iter([f"2026-12-01T10:00:0{len(served)}Z hello from {pod}".encode()])  # type: ignore[method-assign]
            return handle

    pods = ["old-pod"]
    lines: list[LogLine] = []
    statuses: list[str] = []
    stop = threading.Event()
    thread = threading.Thread(target=kube_logs.stream_pods, daemon=True, kwargs=dict(
        transport=PerPod([]), namespace="ml-prod", pods=lambda: list(pods), options=LogOptions(),
        on_line=lines.append, on_status=statuses.append, stop=stop, refresh=0.05))
    thread.start()
    deadline = time.monotonic() + 10
    while "old-pod: gone" not in statuses and time.monotonic() < deadline:
        stop.wait(0.02)
    pods[:] = ["new-pod"]  # the rollout replaced it
    while len(lines) < 2 and time.monotonic() < deadline:
        stop.wait(0.02)
    stop.set()
    thread.join(5)
    assert [line.text for line in lines] == ["hello from old-pod", "hello from new-pod"]
    assert [line.source for line in lines] == ["old-pod", "new-pod"]
    assert not thread.is_alive()


def test_a_kubernetes_stream_cut_mid_read_says_so_then_resumes_after_the_last_line(monkeypatch):
    """The API server goes away mid-stream (the connection reset between two lines): the view is told
    it is reconnecting, the reopened stream starts at the last line's time, and nothing shows twice."""

    def cut_after(lines: list[bytes]):
        def read():
            yield from lines
            raise ApiError(0, "ProtocolError", "Connection broken: connection reset by peer")
        return read()

    transport = KubeFake([cut_after([b"2026-12-01T10:00:01Z one", b"2026-12-01T10:00:02Z two"]),
                          [b"2026-12-01T10:00:02Z two", b"2026-12-01T10:00:03Z three"]])
    monkeypatch.setattr(kube_logs.Backoff, "next", lambda self: 0.01)
    lines: list[LogLine] = []
    statuses: list[str] = []
    stop = threading.Event()

    def on_status(message: str) -> None:
        statuses.append(message)
        if "no more" in message:
            stop.set()

    kube_logs.PodLogStream(transport, "ml-prod", "p", LogOptions(), lines.append, on_status, stop).run()
    assert "p: API server unreachable: Connection broken: connection reset by peer; reconnecting" in statuses
    assert statuses[statuses.index(
        "p: API server unreachable: Connection broken: connection reset by peer; reconnecting") + 1] == "", \
        "reconnected: the message goes"
    assert [line.text for line in lines] == ["one", "two", "three"]
    assert ("sinceTime", "2026-12-01T10:00:02Z") in transport.queries[1]

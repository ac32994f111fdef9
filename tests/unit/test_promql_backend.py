"""The Prometheus backend's poller against an in-memory Prometheus double: a constant number of
requests whatever the fleet size, NaN never reaches the model, degraded rather than broken."""

from __future__ import annotations

import requests

from mlops_tui.backends.fleet import Fleet
from mlops_tui.backends.model import HealthState, ModelService, Platform, ServiceKey, ServiceKind
from mlops_tui.backends.prometheus.watch import PrometheusBackend, PrometheusOptions


def svc(i: int) -> ModelService:
    return ModelService(key=ServiceKey("prod", "ml", ServiceKind.DEPLOYMENT, f"model-{i}"), platform=Platform.K8S)


class FakePrometheus:
    """Answers every query for `n` services; counts requests; can be told to fail."""

    def __init__(self, n: int, rules: list[dict] | None = None) -> None:
        self.n = n
        self.sent: list[str] = []
        self.fail: Exception | None = None
        self.rules = rules or []

    def _check(self, what: str) -> None:
        self.sent.append(what)
        if self.fail is not None:
            raise self.fail

    def metric_names(self):
        self._check("names")
        return ["model_inference_duration_seconds_bucket", "model_inference_duration_seconds_count", "up"]

    def alert_rules(self):
        self._check("rules")
        return [{"name": "ml", "rules": self.rules}]

    def query_range(self, promql, start, end, step):
        self._check(promql)
        return [
            {
                "metric": {"namespace": "ml", "service": f"model-{i}"},
                "values": [[start, "NaN"], [start + step, "0.05"], [end, "+Inf" if i % 2 else "0.07"]],
            }
            for i in range(self.n)
        ]

    def query(self, promql):
        self._check(promql)
        return [{"metric": {"namespace": "ml", "service": f"model-{i}"}, "value": [1.0, "3.5"]} for i in range(self.n)]

    def close(self):
        pass


def make(n: int, fake: FakePrometheus | None = None, **options) -> tuple[PrometheusBackend, FakePrometheus]:
    fake = fake or FakePrometheus(n)
    services = [svc(i) for i in range(n)]
    backend = PrometheusBackend(
        "http://127.0.0.1:9",
        services=lambda: services,
        client=fake,  # type: ignore[arg-type]
        options=PrometheusOptions(**options),
    )
    return backend, fake


def test_request_count_is_the_same_for_ten_and_two_thousand_services():
    counts = []
    for n in (10, 2000):
        backend, fake = make(n)
        change = backend.refresh()
        assert len(change.latency) == n
        counts.append(len(fake.sent))
    assert counts[0] == counts[1] == 5  # names + alert rules + p95 + p50 (range) + rps (instant)


def test_nan_and_inf_never_reach_the_latency_series():
    backend, _ = make(4)
    change = backend.refresh()
    for series in change.latency.values():
        assert all(v == v and v not in (float("inf"), float("-inf")) for _t, v in series.p95)
        assert series.rps == 3.5 and series.slo_seconds is None  # no SLO from any source
    assert change.snapshot and change.source == "prometheus"


def test_slo_per_service_and_default():
    backend, _ = make(2, slo={"ml/model-1": 0.5}, slo_seconds=0.2)
    change = backend.refresh()
    assert change.latency[svc(1).key].slo_seconds == 0.5
    assert change.latency[svc(0).key].slo_seconds == 0.2


def test_metric_names_and_alert_rules_are_cached_between_refreshes():
    backend, fake = make(3)
    backend.refresh()
    backend.refresh()
    assert fake.sent.count("names") == 1
    assert fake.sent.count("rules") == 1


def test_never_synced_is_error_then_stale_after_a_good_sync_keeping_the_data():
    backend, fake = make(3, timeout=0.5)
    fleet = Fleet([backend])
    fake.fail = requests.exceptions.ReadTimeout("read timed out")
    backend._sink = fleet.submit
    backend.poller.poll_once()
    fleet.flush()
    health = fleet.state.health["prometheus"]
    assert health.state is HealthState.ERROR
    assert health.error == "metrics unavailable: no answer within 0.5 s"

    fake.fail = None
    backend.poller.poll_once()
    fleet.flush()
    assert fleet.state.health["prometheus"].state is HealthState.CONNECTED
    assert len(fleet.state.latency) == 3

    fake.fail = requests.exceptions.ConnectionError("[Errno 111] Connection refused")
    backend.poller.poll_once()
    backend.poller.poll_once()
    fleet.flush()
    health = fleet.state.health["prometheus"]
    assert health.state is HealthState.STALE and health.error == "metrics unavailable: connection refused"
    assert health.last_sync is not None and health.since is not None and health.since >= health.last_sync
    assert len(fleet.state.latency) == 3  # the last good data stays


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class GridPrometheus(FakePrometheus):
    """Answers range queries with one point per step in [start, end], value = time / 1e6."""

    def __init__(self, n: int) -> None:
        super().__init__(n)
        self.ranges: list[tuple[float, float]] = []

    def query_range(self, promql, start, end, step):
        self._check(promql)
        self.ranges.append((start, end))
        stamps = [start + k * step for k in range(int((end - start) // step) + 1)]
        return [
            {"metric": {"namespace": "ml", "service": f"model-{i}"}, "values": [[ts, str(ts / 1e6)] for ts in stamps]}
            for i in range(self.n)
        ]


def test_range_queries_are_incremental_after_the_first_refresh():
    clock = Clock(1_000_000.0)
    fake = GridPrometheus(3)
    services = [svc(i) for i in range(3)]
    backend = PrometheusBackend(
        "http://127.0.0.1:9",
        services=lambda: services,
        client=fake,  # type: ignore[arg-type]
        options=PrometheusOptions(window_seconds=600, step_seconds=15),
        clock=clock,
    )
    first = backend.refresh()
    assert fake.ranges[-1] == (1_000_000.0 - 10 - 600, 999_990.0)  # aligned to the 15 s grid
    assert len(first.latency[svc(0).key].p95) == 41

    clock.now += 30
    sent = len(fake.sent)
    second = backend.refresh()
    assert len(fake.sent) - sent == 3  # the same requests...
    start, end = fake.ranges[-1]
    assert end - start == 60  # ...but only the last steps, re-reading two for late scrapes
    points = second.latency[svc(0).key].p95
    assert len(points) == 41 and points[-1][0] == end and points[0][0] == end - 600
    assert [p[0] for p in points] == sorted({p[0] for p in points})  # no duplicates, in order

    clock.now += 10_000  # a gap longer than the window: read it all again
    backend.refresh()
    start, end = fake.ranges[-1]
    assert end - start == 600


def test_before_any_stack_is_scraped_names_are_asked_once_per_refresh():
    fake = FakePrometheus(0)
    fake.metric_names = lambda: (fake.sent.append("names"), ["up"])[1]  # type: ignore[method-assign]
    backend = PrometheusBackend("http://127.0.0.1:9", client=fake, options=PrometheusOptions())  # type: ignore[arg-type]
    assert backend.refresh().latency == {}
    backend.refresh()
    assert fake.sent == ["names", "names"]  # no preset: nothing else asked, names not cached


def test_a_stack_detected_later_gets_its_whole_window():
    clock = Clock(1_000_020.0)
    fake = GridPrometheus(1)
    names = ["up"]
    fake.metric_names = lambda: (fake.sent.append("names"), names)[1]  # type: ignore[method-assign]
    services = [svc(0)]
    options = PrometheusOptions(window_seconds=600, step_seconds=15, presets=None)
    backend = PrometheusBackend("http://127.0.0.1:9", services=lambda: services, client=fake,  # type: ignore[arg-type]
                                options=options, clock=clock)
    backend.refresh()
    backend.refresh()
    names.append("model_inference_duration_seconds_bucket")
    clock.now += 15
    change = backend.refresh()
    start, end = fake.ranges[-1]
    assert end - start == 600 and len(change.latency[svc(0).key].p95) == 41

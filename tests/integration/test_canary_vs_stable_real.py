"""Canary against stable from a real Prometheus scraping a real `prometheus_client` exporter on
127.0.0.1 with known traffic: the operator's story is an Argo canary at its set 10 % but slower than
stable, a KServe canary set to 20 % that receives 10 % and fails a quarter of its requests (its
Knative revisions tell the sides apart), and an Istio pair of Deployments whose canary is slower."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Histogram

from mlops_tui.backends.canary_compare import actual_share, regression, share_diverges
from mlops_tui.backends.model import Canary, ModelService, Platform, ServiceKey, ServiceKind
from mlops_tui.backends.prometheus.watch import PrometheusBackend, PrometheusOptions
from tests.engines import require_binary
from tests.integration.metrics_servers import SEED_BUCKETS, Ticker, prometheus, serve_registry, wait_for

pytestmark = pytest.mark.integration

OPTIONS = PrometheusOptions(rate_window="5s", window_seconds=60, step_seconds=1, timeout=3, names_ttl=300)
_URL: list[str] = []
"""The module's Prometheus, for the test that builds backends of its own."""


def svc(name: str, kind: ServiceKind, canary: Canary) -> ModelService:
    return ModelService(key=ServiceKey("prod", "ml", kind, name), platform=Platform.K8S, desired=1, canary=canary)


ARGO = svc("ensemble", ServiceKind.ROLLOUT, Canary("argo", "v1.9", "v2.0", weight=10))
KSERVE = svc("price", ServiceKind.INFERENCE_SERVICE, Canary("kserve", "price-00001", "price-00002", weight=20))
PAIR = Canary("istio", "v1.1", "v1.2", weight=10, stable_service="rent-stable", canary_service="rent-canary")
RENT_STABLE = svc("rent-stable", ServiceKind.DEPLOYMENT, PAIR)
RENT_CANARY = svc("rent-canary", ServiceKind.DEPLOYMENT, PAIR)
SERVICES = [ARGO, KSERVE, RENT_STABLE, RENT_CANARY]


class CanaryExporter:
    """Per tick: 9 stable requests at 20 ms and 1 canary request at 300 ms for the Argo canary (by
    `track`) and the Istio pair (by service); 18 stable and 2 canary requests at 20 ms for the KServe
    canary (by Knative revision), one canary request in four answered 500."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.model = Histogram("model_inference_duration_seconds", "latency", ["namespace", "service", "track"],
                               buckets=SEED_BUCKETS, registry=self.registry)
        self.knative = Histogram("kn_serving_invocation_duration_seconds", "queue-proxy latency",
                                 ["k8s_namespace_name", "kn_service_name", "kn_revision_name",
                                  "http_response_status_code"], buckets=SEED_BUCKETS, registry=self.registry)
        self.ticks = 0
        self.lock = threading.Lock()

    def step(self) -> None:
        with self.lock:
            for _ in range(9):
                self.model.labels("ml", "ensemble", "stable").observe(0.02)
                self.model.labels("ml", "rent-stable", "").observe(0.02)
            self.model.labels("ml", "ensemble", "canary").observe(0.3)
            self.model.labels("ml", "rent-canary", "").observe(0.3)
            for _ in range(18):
                self.knative.labels("ml", "price", "price-00001", "200").observe(0.02)
            failed = self.ticks % 2 == 0
            self.knative.labels("ml", "price", "price-00002", "500" if failed else "200").observe(0.02)
            self.knative.labels("ml", "price", "price-00002", "200").observe(0.02)
            self.ticks += 1

    @contextlib.contextmanager
    def running(self) -> Iterator[str]:
        with serve_registry(self.registry) as address, Ticker(self.step, 0.1):
            yield address


@pytest.fixture(scope="module")
def figures():
    binary = require_binary("prometheus")
    exporter = CanaryExporter()
    with exporter.running() as address, prometheus(binary, [address]) as server:
        _URL[:] = [server.url]
        backend = PrometheusBackend(server.url, services=lambda: SERVICES, options=OPTIONS)

        seen: dict = {}

        def every_canary():
            latency = backend.refresh().latency
            seen.clear()
            seen.update({s.key: latency[s.key].canary for s in SERVICES
                         if s.key in latency and latency[s.key].canary})
            enough = all(f.canary.rps and f.stable.rps and f.canary.rps > 5 for f in seen.values())
            return len(seen) == len(SERVICES) and enough

        try:
            # Each test then says which canary is missing, rather than the fixture failing them all.
            with contextlib.suppress(AssertionError):
                wait_for(every_canary, 40, "every canary's figures")
            yield dict(seen)
        finally:
            backend.stop()


def test_an_argo_canary_split_by_track_is_at_its_set_share_and_slower_than_stable(figures):
    argo = figures[ARGO.key]
    assert 0.25 < (argo.canary.p95 or 0) <= 0.5  # 300 ms: its bucket (0.25, 0.5]
    assert 0.01 < (argo.stable.p95 or 0) <= 0.025
    assert actual_share(argo) == pytest.approx(10, abs=2) and not share_diverges(10, argo)
    assert regression(argo).reasons[0].startswith("p95 ")


def test_a_kserve_canary_split_by_revision_receives_half_its_set_share_and_fails_more(figures):
    price = figures[KSERVE.key]
    assert actual_share(price) == pytest.approx(10, abs=2) and share_diverges(20, price)
    assert price.canary.error_ratio == pytest.approx(0.25, abs=0.1) and price.stable.error_ratio == 0
    assert regression(price).reasons == (f"errors {100 * price.canary.error_ratio:.1f} % vs stable 0.0 %",)


def test_an_istio_pair_compares_its_two_deployments(figures):
    assert figures[RENT_STABLE.key] == figures[RENT_CANARY.key]
    pair = figures[RENT_CANARY.key]
    assert actual_share(pair) == pytest.approx(10, abs=2)
    assert 0.25 < (pair.canary.p95 or 0) <= 0.5 and regression(pair)


def test_the_side_split_costs_the_same_requests_for_4_canaries_or_400(figures):
    """Three fleet-wide instant queries per stack (p95, rate, errors where the stack has them) whatever
    the number of canaries: 2 stacks here, the generic one without errors, so 5 more than without."""
    from tests.integration.metrics_servers import model_service

    url = _URL[0]
    counts = []
    for services in ([model_service("x")], SERVICES, SERVICES + [
            svc(f"argo-{i}", ServiceKind.ROLLOUT, Canary("argo", "v1", "v2", weight=10)) for i in range(396)]):
        backend = PrometheusBackend(url, services=lambda s=services: s, options=OPTIONS)
        backend.refresh()  # names and rules read, cached from here on
        before = backend.client.requests_sent
        backend.refresh()
        counts.append(backend.client.requests_sent - before)
        backend.stop()
    assert counts[1] == counts[2] == counts[0] + 5, counts

"""The Prometheus backend against a real Prometheus (Debian's `prometheus`) scraping real
`prometheus_client` exporters on 127.0.0.1 with known latencies.

The operator's story: services are running, some fast, one slow; the latency pane must show each
one's p95 as the histogram says it, for whatever serving stack exports it, GPUs from DCGM, and keep
working (degraded, not frozen) when Prometheus is down or hangs.
"""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from mlops_tui.backends.fleet import Fleet
from mlops_tui.backends.gpu_idle import idle_by_workload
from mlops_tui.backends.model import (
    GpuHolder,
    GpuNode,
    GpuResource,
    HealthState,
    ServiceKey,
    ServiceKind,
    Slo,
    SloSource,
)
from mlops_tui.backends.prometheus import queries as q
from mlops_tui.backends.prometheus import translate as t
from mlops_tui.backends.prometheus.client import PrometheusClient
from mlops_tui.backends.prometheus.rules import latency_rules
from mlops_tui.backends.prometheus.watch import PrometheusBackend, PrometheusOptions
from tests.engines import require_binary
from tests.integration.metrics_servers import (
    SEED_RULES,
    STACKS,
    SeedExporter,
    StackExporter,
    StaticServices,
    closed_port_url,
    hanging_port,
    model_service,
    prometheus,
    wait_for,
)

pytestmark = pytest.mark.integration

FAST = model_service("fast-model")
SLOW = model_service("slow-model")
FAST_LATENCIES = [0.011 + 0.013 * i / 9 for i in range(10)]
"""Uniform 11-24 ms: every observation in the (10 ms, 25 ms] bucket."""
SLOW_LATENCIES = [0.3] * 9 + [0.8]
"""90 % at 300 ms, 10 % at 800 ms: the true p95 is 800 ms, in the (0.5 s, 1 s] bucket."""

COLON_STACKS = [s for s in STACKS if ":" in s.metric]
ESCAPED_STACKS = [
    replace(s, service=s.service + "-om", labels={**s.labels, "model_name": s.service + "-om"}) for s in COLON_STACKS
]

OPTIONS = PrometheusOptions(rate_window="5s", window_seconds=60, step_seconds=1, timeout=3, names_ttl=1)
"""names_ttl=1: the exporters are scraped one after the other at start; re-detect stacks quickly."""


@pytest.fixture(scope="module")
def seed_prometheus():
    """The seed exporter, and the seed's HighInferenceLatency rule loaded (its 0.5 s is the SLO)."""
    binary = require_binary("prometheus")
    exporter = SeedExporter({("ml", "fast-model"): FAST_LATENCIES, ("ml", "slow-model"): SLOW_LATENCIES})
    rules = SEED_RULES.format(window="5s", for_="1m")
    with exporter.running() as address, prometheus(binary, [address], rules=rules) as server:
        yield server


@pytest.fixture(scope="module")
def stacks_prometheus():
    """One Prometheus scraping every stack twice: once in the classic text format (metric names
    as the runtimes spell them, `vllm:…`, `:tensorflow:serving:…`) and once through
    prometheus_client's OpenMetrics output, which escapes the colons (`vllm_…`), under another
    namespace so both sets of series resolve to different services."""
    binary = require_binary("prometheus")
    exporter = StackExporter(dcgm=True)
    escaped = StackExporter(ESCAPED_STACKS)
    # The target labels collide with the DCGM exporter's pod/namespace: Prometheus renames those
    # exported_pod/exported_namespace, as behind dcgm-exporter's ServiceMonitor (honorLabels false).
    with (
        exporter.running(text_format=True) as address,
        escaped.running(text_format=False) as escaped_address,
        prometheus(
            binary,
            [address],
            target_labels={"pod": "dcgm-exporter-q7x2p", "container": "exporter"},
            extra_jobs=[("openmetrics", [escaped_address], {})],
        ) as server,
    ):
        yield server


def test_p95_shown_matches_the_injected_distribution(seed_prometheus):
    fleet = Fleet(
        [
            StaticServices("prod", [FAST, SLOW]),
            PrometheusBackend(
                seed_prometheus.url,
                services=lambda: fleet.state.services.values(),
                options=PrometheusOptions(**{**OPTIONS.__dict__, "refresh_seconds": 0.5}),
            ),
        ]
    )
    fleet.start()
    try:

        def both_have_p95():
            lat = fleet.state.latency
            # Enough points that the 5 s rate window is full of samples (rate() extrapolates less).
            return all(k in lat and len(lat[k].p95) >= 8 and lat[k].rps for k in (FAST.key, SLOW.key))

        wait_for(both_have_p95, 30, "p95 of both services in the Fleet")
        fast, slow = fleet.state.latency[FAST.key], fleet.state.latency[SLOW.key]
        assert 0.010 < fast.current_p95 <= 0.025, fast.p95
        assert 0.5 < slow.current_p95 <= 1.0, slow.p95
        assert 0.25 < slow.current_p50 <= 0.5  # the 300 ms bulk
        assert slow.breached and not fast.breached  # the rule's 0.5 s: no invented default
        assert slow.slo == fast.slo == Slo(0.5, SloSource.ALERT_RULE, "HighInferenceLatency")
        assert fast.rps == pytest.approx(100, rel=0.5)  # 10 observations per 0.1 s tick (on a busy CPU, fewer ticks)
        assert fast.preset == "generic" and fast.error_ratio is None
        assert fleet.state.health["prometheus"].state is HealthState.CONNECTED
    finally:
        fleet.stop()


def test_the_slo_is_the_threshold_of_the_alert_rule_the_real_prometheus_lists(seed_prometheus):
    """`/api/v1/rules` hands out the expression as Prometheus's printer writes it: that text, not the
    rule file's, is what the threshold is read from."""
    client = PrometheusClient(seed_prometheus.url, timeout=3)
    try:
        groups = client.alert_rules()
    finally:
        client.close()
    [rule] = latency_rules(groups)
    assert (rule.name, rule.metric, rule.kind, rule.threshold, rule.matchers) == (
        "HighInferenceLatency", "model_inference_duration_seconds", "histogram", 0.5, ())


def test_the_simulator_lists_its_rules_with_the_fields_and_text_the_real_prometheus_lists(seed_prometheus):
    import requests

    from mlops_tui.sim.prometheus import SimPrometheus, seed_rule

    real = requests.get(seed_prometheus.url + "/api/v1/rules", params={"type": "alert"}, timeout=5).json()
    sim = SimPrometheus.start(rules=[seed_rule(window="5s", for_seconds=60)], evaluate_rules=False)
    try:
        fake = requests.get(sim.url + "/api/v1/rules", params={"type": "alert"}, timeout=5).json()
    finally:
        sim.stop()
    [real_group], [sim_group] = real["data"]["groups"], fake["data"]["groups"]
    assert set(sim_group) == set(real_group)
    [real_rule], [sim_rule] = real_group["rules"], sim_group["rules"]
    assert set(sim_rule) == set(real_rule)
    for field in ("name", "query", "duration", "keepFiringFor", "labels", "type"):
        assert sim_rule[field] == real_rule[field], field


def test_request_count_per_refresh_does_not_grow_with_services(seed_prometheus):
    counts = []
    for n in (2, 200):
        services = [FAST, SLOW] + [model_service(f"other-{i}") for i in range(n - 2)]
        backend = PrometheusBackend(seed_prometheus.url, services=lambda s=services: s,
                                    options=replace(OPTIONS, names_ttl=300))
        wait_for(lambda b=backend: len(b.refresh().latency) == 2, 30, "latency")
        before = backend.client.requests_sent
        backend.refresh()
        counts.append(backend.client.requests_sent - before)
        backend.stop()
    assert counts[0] == counts[1] == 3  # p95 range, p50 range, rate (names are cached)


def expected(stack):
    """(low, high] of the p95 in seconds: the bucket the injected latency falls in, or the exact mean."""
    preset = q.PRESETS[stack.preset]
    if stack.kind == "histogram":
        bounds = (0.0, *stack.buckets)
        i = next(i for i, b in enumerate(stack.buckets) if stack.latency <= b)
        return bounds[i] / preset.divisor, bounds[i + 1] / preset.divisor
    return None


@pytest.fixture(scope="module")
def stack_change(stacks_prometheus):
    services = [model_service(s.service) for s in (*STACKS, *ESCAPED_STACKS)]
    backend = PrometheusBackend(stacks_prometheus.url, services=lambda: services, options=OPTIONS)

    def all_there():
        change = backend.refresh()
        ready = all(change.latency.get(s.key) and len(change.latency[s.key].p95) >= 8 for s in services)
        return change if ready and change.gpu_metrics else None

    change = wait_for(all_there, 40, "every stack's p95")
    backend.stop()
    return change


def test_every_stack_is_detected_from_real_metric_names(stacks_prometheus):
    backend = PrometheusBackend(stacks_prometheus.url, options=OPTIONS)
    wanted = {s.preset for s in STACKS}  # triton summaries replace triton's counters
    wait_for(lambda: set(backend.active_presets()) == wanted, 30, f"presets {sorted(wanted)} detected")
    assert "triton-mean" not in backend.active_presets()
    backend.stop()


@pytest.mark.parametrize(
    "stack",
    [*STACKS, *ESCAPED_STACKS],
    ids=[s.preset for s in STACKS] + [s.preset + "-escaped" for s in ESCAPED_STACKS],
)
def test_each_presets_query_on_a_real_prometheus(stack, stack_change):
    series = stack_change.latency[model_service(stack.service).key]
    assert series.preset == stack.preset
    bucket = expected(stack)
    if bucket is not None:
        low, high = bucket
        assert low < series.current_p95 <= high * 1.000001, (stack.preset, series.current_p95)
        assert series.estimate == "quantile"
    elif stack.preset == "triton":
        assert series.current_p95 == pytest.approx(0.045) and series.current_p50 == pytest.approx(0.020)
    else:  # torchserve: counters only, the mean
        assert series.estimate == "mean" and series.current_p95 == pytest.approx(stack.latency / 1e6, rel=1e-3)
    per_tick = stack.ok + stack.err
    assert series.rps == pytest.approx(per_tick * 10, rel=0.5)
    if q.PRESETS[stack.preset].errors is not None:
        assert series.error_ratio == pytest.approx(stack.err / per_tick, abs=0.03)
    else:
        assert series.error_ratio is None


def test_triton_without_summaries_shows_the_mean(stacks_prometheus):
    resnet = model_service("resnet50")
    backend = PrometheusBackend(
        stacks_prometheus.url,
        services=lambda: [resnet],
        options=PrometheusOptions(**{**OPTIONS.__dict__, "presets": ("triton-mean",)}),
    )
    series = wait_for(lambda: backend.refresh().latency.get(resnet.key), 30, "triton mean")
    assert series.estimate == "mean" and series.current_p95 == pytest.approx(0.025, rel=1e-3)
    assert series.error_ratio == pytest.approx(0.1, abs=0.03)
    backend.stop()


def test_dcgm_gpus_by_host_with_the_workload_pod(stack_change):
    gpus = stack_change.gpu_metrics
    assert set(gpus) == {"gpu-node-1", "gpu-node-2"}
    busy, idle = gpus["gpu-node-1"]
    assert (busy.utilisation, busy.memory_used_mib, busy.memory_free_mib) == (87.0, 30512.0, 10448.0)
    assert (busy.pod, busy.namespace) == ("llm-7d9f-abcde", "ml")  # exported_pod, not the exporter's pod
    assert idle.pod == "" and idle.utilisation == 0.0
    assert gpus["gpu-node-2"][0].pod == "vision-5c8-xyz"


@pytest.fixture(scope="module", params=["exported_pod", "pod"])
def dcgm_prometheus(request):
    """A real Prometheus scraping a dcgm-exporter look-alike, its pod labels either renamed
    `exported_pod`/`exported_namespace` (they collide with the target's, honorLabels false: the Helm
    chart's ServiceMonitor) or kept as `pod`/`namespace` (no collision, or honorLabels true)."""
    binary = require_binary("prometheus")
    exporter = StackExporter((), dcgm=True)
    collide = {"pod": "dcgm-exporter-q7x2p", "namespace": "gpu-operator"} if request.param == "exported_pod" else None
    with exporter.running(text_format=True) as address, prometheus(binary, [address], target_labels=collide) as server:
        yield request.param, server


def test_gpus_held_but_idle_are_found_on_a_real_prometheus_with_either_pod_label(dcgm_prometheus):
    """Utilisation is averaged over the window (avg_over_time) and joined to the pod holding each GPU,
    whichever label carries it; the idle GPU nobody holds is no finding."""
    label, server = dcgm_prometheus
    backend = PrometheusBackend(server.url, options=replace(OPTIONS, gpu_idle_window="30s", gpu_idle_percent=5.0))
    try:
        change = wait_for(lambda: (c := backend.refresh()).gpu_metrics.get("gpu-node-2") and c, 40, "DCGM series")
        raw = t.parse_vector(backend.client.query(q.dcgm_query(q.DCGM_UTIL)))
        assert any(labels.get(label) == "pvm-6c9-qwert" for labels, _value in raw)  # the variant under test
    finally:
        backend.stop()
    gpus = change.gpu_metrics
    busy, free = gpus["gpu-node-1"]
    vision, pvm = gpus["gpu-node-2"]
    assert (pvm.pod, pvm.namespace, pvm.utilisation, pvm.idle) == ("pvm-6c9-qwert", "ml-prod", 2.0, True)
    assert not busy.idle and not vision.idle and free.idle and free.pod == ""
    key = ServiceKey("prod-a", "ml-prod", ServiceKind.DEPLOYMENT, "pvm")
    other = ServiceKey("prod-a", "vision", ServiceKind.DEPLOYMENT, "vision")
    nodes = [
        GpuNode("prod-a", "gpu-node-1", (GpuResource("nvidia.com/gpu", 2, 2, 1),),
                holders=(GpuHolder("ml/llm-7d9f-abcde", 1),)),
        GpuNode("prod-a", "gpu-node-2", (GpuResource("nvidia.com/gpu", 2, 2, 2),),
                holders=(GpuHolder("vision/vision-5c8-xyz", 1, other), GpuHolder("ml-prod/pvm-6c9-qwert", 1, key))),
    ]
    [holding] = idle_by_workload(nodes, gpus)
    assert holding.line == "idle: 1 GPU held by pvm (prod-a/ml-prod)"


@pytest.mark.parametrize("where", ["refused", "hanging"])
def test_prometheus_down_or_hanging_is_degraded_and_other_sources_go_on(where, seed_prometheus):
    timeout = 0.5
    with hanging_port() as hanging:
        url = closed_port_url() if where == "refused" else hanging
        broken = PrometheusBackend(
            url,
            name="prometheus-broken",
            options=PrometheusOptions(timeout=timeout, connect_timeout=timeout, refresh_seconds=0.5),
        )
        working = PrometheusBackend(
            seed_prometheus.url,
            services=lambda: fleet.state.services.values(),
            options=PrometheusOptions(**{**OPTIONS.__dict__, "refresh_seconds": 0.5}),
        )
        fleet = Fleet([StaticServices("prod", [FAST, SLOW]), broken, working])
        started = time.monotonic()
        fleet.start()
        try:
            health = wait_for(
                lambda: (h := fleet.state.health.get("prometheus-broken")) and h.state is HealthState.ERROR and h,
                timeout + 3,
                "degraded health",
            )
            assert time.monotonic() - started < timeout + 3
            reason = "connection refused" if where == "refused" else f"no answer within {timeout:g} s"
            assert health.error == f"metrics unavailable: {reason}"
            # The cluster and the healthy Prometheus are unaffected.
            wait_for(lambda: SLOW.key in fleet.state.latency, 30, "latency from the working Prometheus")
            assert set(fleet.state.services) == {FAST.key, SLOW.key}
            assert fleet.state.health["prometheus"].state is HealthState.CONNECTED
        finally:
            t0 = time.monotonic()
            fleet.stop()
            assert time.monotonic() - t0 < 2.0  # stop() does not wait out a hanging request

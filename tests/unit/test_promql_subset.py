"""The simulator's PromQL subset: what the app's query templates send must parse and evaluate
with Prometheus's semantics, and anything else must fail with Prometheus's error body."""

from __future__ import annotations

import math

import pytest

from mlops_tui.backends.prometheus import queries as q
from mlops_tui.sim.prometheus import SimPrometheus, labels_of
from mlops_tui.sim.prometheus.evaluate import bucket_quantile, extrapolated_rate, format_value
from mlops_tui.sim.prometheus.promql import ParseError, parse
from mlops_tui.sim.prometheus.server import respond

T0 = 1_800_000_000.0
BUCKETS = ("0.1", "0.25", "0.5", "1", "+Inf")


def fill(prom: SimPrometheus, minutes: int = 10, step: float = 15.0) -> float:
    """Scrapes every 15 s: `fast` serves 2 req/s all under 100 ms; `slow` serves 1 req/s with 10 %
    of requests between 0.5 s and 1 s, and 10 % of its requests fail; GPUs at 40 % and 80 %."""
    t = T0
    n = int(minutes * 60 / step)
    for i in range(n + 1):
        t = T0 + i * step
        samples = []
        for svc, rps, dist in (("fast", 2.0, (1.0, 1.0, 1.0, 1.0, 1.0)), ("slow", 1.0, (0.5, 0.8, 0.9, 1.0, 1.0))):
            count = rps * step * i
            for le, frac in zip(BUCKETS, dist, strict=True):
                samples.append((labels_of("model_inference_duration_seconds_bucket", namespace="ml-prod",
                                          service=svc, le=le, pod=f"{svc}-0"), count * frac))
            samples.append((labels_of("model_inference_duration_seconds_count", namespace="ml-prod", service=svc,
                                      pod=f"{svc}-0"), count))
            samples.append((labels_of("http_requests_total", job=svc, status="2xx", handler="/predict"),
                            count * (0.9 if svc == "slow" else 1.0)))
            if svc == "slow":
                samples.append((labels_of("http_requests_total", job=svc, status="5xx", handler="/predict"),
                                count * 0.1))
        for gpu, util in (("0", 40.0), ("1", 80.0)):
            common = dict(gpu=gpu, UUID=f"GPU-{gpu}", Hostname="gpu-node-1", modelName="NVIDIA A100-SXM4-40GB",
                          exported_pod=f"llm-{gpu}", exported_namespace="ml-prod")
            samples.append((labels_of("DCGM_FI_DEV_GPU_UTIL", **common), util))
            samples.append((labels_of("DCGM_FI_DEV_FB_USED", **common), 10000.0 * (int(gpu) + 1)))
            samples.append((labels_of("DCGM_FI_DEV_FB_FREE", **common), 40000.0 - 10000.0 * (int(gpu) + 1)))
        prom.store.append(t, samples)
    return t


@pytest.fixture
def prom():
    p = SimPrometheus()
    p.now = fill(p)
    return p


def query(prom, text, t=None):
    status, body = respond(prom, "/api/v1/query", {"query": [text], "time": [str(t or prom.now)]})
    assert status == 200, body
    return {tuple(sorted(r["metric"].items())): float(r["value"][1]) for r in body["data"]["result"]}


def test_seed_p95_per_service_interpolates_inside_the_bucket():
    prom = SimPrometheus()
    prom.now = fill(prom)
    got = query(prom, "histogram_quantile(0.95, sum by (le, namespace, service) "
                      "(rate(model_inference_duration_seconds_bucket[5m])))")
    assert got[(("namespace", "ml-prod"), ("service", "fast"))] == pytest.approx(0.095)
    # slow: 90 % <= 0.5 s, 100 % <= 1 s: rank 0.95 is half-way through (0.5, 1]
    assert got[(("namespace", "ml-prod"), ("service", "slow"))] == pytest.approx(0.75)


def test_rate_of_a_steady_counter_is_exact_and_sums_by_label(prom):
    got = query(prom, "sum by (service) (rate(model_inference_duration_seconds_count[1m]))")
    assert got == {(("service", "fast"),): pytest.approx(2.0), (("service", "slow"),): pytest.approx(1.0)}
    assert query(prom, "sum(increase(model_inference_duration_seconds_count[1m]))") == {(): pytest.approx(180.0)}
    assert query(prom, "irate(model_inference_duration_seconds_count{service=\"slow\"}[1m])") == {
        (("namespace", "ml-prod"), ("pod", "slow-0"), ("service", "slow")): pytest.approx(1.0)}


def test_error_ratio_template_gives_zero_for_clean_services(prom):
    builder = q.QueryBuilder(rate_window="1m", service_labels=("job",))
    text = builder.error_ratio(q.PRESETS["fastapi"])
    got = query(prom, text)
    assert got == {(("handler", "/predict"), ("job", "fast")): 0.0,
                   (("handler", "/predict"), ("job", "slow")): pytest.approx(0.1)} or got == {
        (("job", "fast"),): 0.0, (("job", "slow"),): pytest.approx(0.1)}


def test_every_preset_query_parses(prom):
    builder = q.QueryBuilder()
    for name in q.PRESETS:
        qs = builder.queries(name)
        for text in (qs.p95, qs.p50, qs.rps, qs.errors):
            if text:
                parse(text)
    for metric in q.DCGM_METRICS:
        parse(q.dcgm_query(metric))


def test_dcgm_average_and_memory_fraction(prom):
    average = query(prom, "avg by (exported_namespace) (DCGM_FI_DEV_GPU_UTIL)")
    assert average == {(("exported_namespace", "ml-prod"),): 60.0}
    frac = query(prom, "DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE)")
    assert sorted(frac.values()) == [0.25, 0.5]
    assert all(("__name__", "DCGM_FI_DEV_FB_USED") not in k for k in frac)


def test_gpu_utilisation_averaged_over_the_window_for_the_series_present_now():
    """The GPU pane's idle query: avg_over_time over the samples in the window (not the last one),
    the name dropped, `and` keeping only the series still reported."""
    prom = SimPrometheus()
    for i, util in enumerate((90.0, 0.0, 10.0, 20.0, 30.0)):  # every 15 s
        samples = [(labels_of("DCGM_FI_DEV_GPU_UTIL", gpu="0", exported_pod="pvm-a"), util)]
        if i < 2:  # a pod that left the GPU a minute ago
            samples.append((labels_of("DCGM_FI_DEV_GPU_UTIL", gpu="0", exported_pod="gone"), 0.0))
        prom.store.append(T0 + 15 * i, samples)
    got = query(prom, q.dcgm_util_average("1m"), t=T0 + 65)  # the window (5 s, 65 s]: the last four samples
    assert got == {(("exported_pod", "pvm-a"), ("gpu", "0")): 15.0}


def test_comparison_filters_and_bool_and_clamp(prom):
    assert len(query(prom, "DCGM_FI_DEV_GPU_UTIL > 50")) == 1
    kept = query(prom, "DCGM_FI_DEV_GPU_UTIL > 50")
    assert ("__name__", "DCGM_FI_DEV_GPU_UTIL") in next(iter(kept))  # a filter keeps the series as is
    assert sorted(query(prom, "DCGM_FI_DEV_GPU_UTIL > bool 50").values()) == [0.0, 1.0]
    assert sorted(query(prom, "clamp_min(DCGM_FI_DEV_GPU_UTIL, 60)").values()) == [60.0, 80.0]
    _, body = respond(prom, "/api/v1/query", {"query": ["1 + 2 * 3 ^ 2"], "time": [str(prom.now)]})
    assert body["data"] == {"resultType": "scalar", "result": [prom.now, "19"]}


def test_vector_matching_on_and_ignoring(prom):
    by_on = query(prom, 'DCGM_FI_DEV_FB_USED / on (gpu) DCGM_FI_DEV_FB_FREE')
    assert by_on == {(("gpu", "0"),): pytest.approx(1 / 3), (("gpu", "1"),): pytest.approx(1.0)}
    ratio = query(prom, 'sum by (job) (rate(http_requests_total{status=~"5.."}[1m])) / ignoring (status) '
                        'sum by (job) (rate(http_requests_total[1m]))')
    assert ratio == {(("job", "slow"),): pytest.approx(0.1)}
    assert query(prom, 'http_requests_total{status!~"2..", job!="fast"}').keys() == {
        (("__name__", "http_requests_total"), ("handler", "/predict"), ("job", "slow"), ("status", "5xx"))}


def test_selector_by_name_regex_reaches_colon_and_escaped_names():
    prom = SimPrometheus()
    prom.store.append(T0, [(labels_of("vllm:e2e_request_latency_seconds_count", model_name="m"), 1.0),
                           (labels_of("vllm_e2e_request_latency_seconds_count", model_name="n"), 2.0)])
    got = query(prom, '{__name__=~"vllm:e2e_request_latency_seconds_count|vllm_e2e_request_latency_seconds_count"}', T0)
    assert sorted(got.values()) == [1.0, 2.0]


def test_quantile_edge_cases_follow_prometheus():
    assert math.isnan(bucket_quantile(0.95, [(0.1, 0.0), (math.inf, 0.0)]))  # no requests: NaN
    assert bucket_quantile(0.95, [(0.1, 0.0), (0.5, 1.0), (math.inf, 10.0)]) == 0.5  # in +Inf: highest bound
    assert math.isnan(bucket_quantile(0.5, [(0.1, 1.0), (0.5, 2.0)]))  # no +Inf bucket
    assert bucket_quantile(0.5, [(1.0, 10.0), (math.inf, 10.0)]) == 0.5
    # a counter seen mid-window is extrapolated to the window's edges, not further than zero
    mid_window = [(15.0, 30.0), (30.0, 60.0), (45.0, 90.0), (60.0, 120.0)]
    assert extrapolated_rate(mid_window, 0.0, 60.0, 60.0, True) == pytest.approx(2.0)
    assert format_value(1e21) == "1000000000000000000000" and format_value(float("inf")) == "+Inf"


def test_lookback_drops_series_that_stopped_reporting(prom):
    assert query(prom, "DCGM_FI_DEV_GPU_UTIL", prom.now + 299)
    assert query(prom, "DCGM_FI_DEV_GPU_UTIL", prom.now + 301) == {}


@pytest.mark.parametrize("text, message", [
    ("", '1:1: parse error: no expression found in input'),
    ("rate(x[5m]", "1:11: parse error: unclosed left parenthesis"),
    ("nofunc(x)", '1:1: parse error: unknown function with name "nofunc"'),
    ("sum by (a) (rate(x))",
     '1:18: parse error: expected type range vector in call to function "rate", got instant vector'),
    ("x +", "1:4: parse error: unexpected end of input"),
])
def test_parse_errors_read_like_prometheus(prom, text, message):
    with pytest.raises(ParseError) as err:
        parse(text)
    assert str(err.value) == message
    assert respond(prom, "/api/v1/query", {"query": [text]}) == (
        400, {"status": "error", "errorType": "bad_data", "error": f'invalid parameter "query": {message}'})


def test_outside_the_subset_is_bad_data_not_a_wrong_answer(prom):
    status, body = respond(prom, "/api/v1/query", {"query": ['label_replace(up, "a", "$1", "b", "(.*)")']})
    assert status == 400 and body["errorType"] == "bad_data" and "not supported by the simulator" in body["error"]
    status, body = respond(prom, "/api/v1/query", {"query": ["topk(3, DCGM_FI_DEV_GPU_UTIL)"]})
    assert status == 400 and body["status"] == "error"
    ignoring = "DCGM_FI_DEV_GPU_UTIL / ignoring (gpu, UUID, exported_pod) DCGM_FI_DEV_FB_FREE"
    status, body = respond(prom, "/api/v1/query", {"query": [ignoring], "time": [str(prom.now)]})
    assert status == 422 and body["errorType"] == "execution" and "many-to-many" in body["error"]


def test_api_parameter_errors(prom):
    assert respond(prom, "/api/v1/series", {}) == (400, {"status": "error", "errorType": "bad_data",
                                                         "error": "no match[] parameter provided"})
    status, body = respond(prom, "/api/v1/query_range", {"query": ["up"], "start": ["2"], "end": ["1"], "step": ["1"]})
    assert (status, body["error"]) == (400, 'invalid parameter "end": end timestamp must not be before start time')
    status, body = respond(prom, "/api/v1/query", {"query": ["up"], "time": ["abc"]})
    assert body["error"] == ('invalid parameter "time": Invalid time value for \'time\': '
                             'cannot parse "abc" to a valid timestamp')


def test_range_query_steps_and_metadata_endpoints(prom):
    status, body = respond(prom, "/api/v1/query_range", {"query": ["avg(DCGM_FI_DEV_GPU_UTIL)"],
                                                         "start": [str(prom.now - 60)], "end": [str(prom.now)],
                                                         "step": ["15s"]})
    assert status == 200 and body["data"]["resultType"] == "matrix"
    assert [v for _, v in body["data"]["result"][0]["values"]] == ["60"] * 5
    names = respond(prom, "/api/v1/label/__name__/values", {})[1]["data"]
    assert "model_inference_duration_seconds_bucket" in names and "DCGM_FI_DEV_GPU_UTIL" in names
    series = respond(prom, "/api/v1/series", {"match[]": ['DCGM_FI_DEV_GPU_UTIL{gpu="1"}']})[1]["data"]
    assert [s["UUID"] for s in series] == ["GPU-1"]
    assert "exported_pod" in respond(prom, "/api/v1/labels", {})[1]["data"]
    assert respond(prom, "/api/v1/status/buildinfo", {})[1]["data"]["version"].startswith("2.")

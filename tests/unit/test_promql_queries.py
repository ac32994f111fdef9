"""PromQL templates: fleet-wide, escaped, one set per serving stack, detected from metric names."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mlops_tui.backends.prometheus import queries as q

DATA = Path(__file__).parent / "data" / "prometheus"


def test_label_values_are_escaped_for_promql_strings():
    assert q.escape_label_value('a"b') == 'a\\"b'
    assert q.escape_label_value("a\\b") == "a\\\\b"
    assert q.escape_label_value("line\nbreak") == "line\\nbreak"
    # A hostile value cannot close the string and add a matcher of its own.
    rendered = q.selector("up", [q.Matcher("service", 'x",job="evil')])
    assert rendered == 'up{service="x\\",job=\\"evil"}'


def test_matchers_and_names_are_checked():
    with pytest.raises(ValueError):
        q.Matcher("bad-label", "x")
    with pytest.raises(ValueError):
        q.Matcher("job", "x", "==")
    with pytest.raises(ValueError):
        q.selector("rate(x)")
    with pytest.raises(ValueError):
        q.QueryBuilder(rate_window="5 minutes")
    assert q.selector(":tensorflow:serving:request_count") == ":tensorflow:serving:request_count"
    assert q.selector("vllm:e2e_request_latency_seconds_bucket", [q.Matcher("model_name", "llama", "=~")]) == (
        'vllm:e2e_request_latency_seconds_bucket{model_name=~"llama"}'
    )


def test_seed_histogram_p95_is_one_fleet_wide_query_keeping_le():
    qs = q.QueryBuilder(rate_window="5m").queries("generic")
    assert qs.p95 == (
        "histogram_quantile(0.95, sum by (le, model, cluster, namespace, service, swarm_service) "
        "(rate(model_inference_duration_seconds_bucket[5m])))"
    )
    assert qs.p50.startswith("histogram_quantile(0.5, ")
    assert qs.rps == (
        "sum by (model, cluster, namespace, service, swarm_service) "
        "(rate(model_inference_duration_seconds_count[5m]))"
    )
    assert qs.errors is None  # the seed histogram has no error signal


@pytest.mark.parametrize("name", list(q.PRESETS))
def test_every_preset_groups_by_service_labels_never_by_a_service_value(name):
    preset = q.PRESETS[name]
    qs = q.QueryBuilder().queries(name)
    for query in (qs.p95, qs.p50, qs.rps, qs.errors or ""):
        # Fleet-wide: no matcher pins one service, and the grouping has the service labels.
        assert "service=" not in query and 'namespace="' not in query
    for label in (*preset.labels, "namespace", "service"):
        assert label in qs.group_by
    if preset.latency == "histogram":
        assert "by (le, " in qs.p95 and preset.metric + "_bucket" in qs.p95
    assert qs.p95.count("(") == qs.p95.count(")")


def test_units_become_seconds():
    b = q.QueryBuilder()
    assert b.queries("tfserving").p95.endswith(" / 1000000")  # µs
    assert b.queries("knative-legacy").p95.endswith(" / 1000")  # ms
    assert b.queries("triton").p95 == (
        "max by (model, cluster, namespace, service, swarm_service) "
        '(nv_inference_request_summary_us{quantile="0.95"}) / 1000000'
    )
    assert not b.queries("vllm").p95.endswith("1000")


def test_counter_only_runtimes_give_a_mean_in_both_fields():
    qs = q.QueryBuilder(rate_window="1m").queries("torchserve")
    assert qs.p95 == qs.p50
    assert qs.p95 == (
        "sum by (model_name, cluster, namespace, service, swarm_service) "
        "(rate(ts_inference_latency_microseconds[1m])) / "
        "sum by (model_name, cluster, namespace, service, swarm_service) "
        "(rate(ts_inference_requests_total[1m])) / 1000000"
    )
    triton = q.QueryBuilder().queries("triton-mean")
    assert "nv_inference_request_success" in triton.p95 and "nv_inference_request_failure" in triton.p95


def test_error_ratio_is_zero_not_absent_for_services_without_errors():
    errors = q.QueryBuilder(rate_window="1m").queries("fastapi").errors
    assert errors is not None
    failed, rest = errors.split(" or ", 1)
    assert 'status=~"5.."' in failed
    assert rest.split(") / ")[0].endswith("* 0")


def test_service_labels_are_configurable_for_swarm():
    b = q.QueryBuilder(service_labels=("com_docker_swarm_service_name",))
    assert b.queries("vllm").group_by == ("model_name", "com_docker_swarm_service_name")
    with pytest.raises(ValueError):
        q.QueryBuilder(service_labels=("not a label",))


def test_extra_matchers_are_escaped_in_every_latency_query():
    b = q.QueryBuilder(matchers=[q.Matcher("job", 'inference"x', "=~")])
    qs = b.queries("generic")
    assert 'job=~"inference\\"x"' in qs.p95 and 'job=~"inference\\"x"' in qs.rps


def test_presets_are_detected_from_recorded_metric_names():
    names = json.loads((DATA / "label_names.json").read_text())["data"]
    assert q.detect_presets(names) == ("generic",)
    assert q.DCGM_UTIL in names


def test_detection_prefers_triton_summaries_over_counters_and_keeps_order():
    names = [
        "nv_inference_request_duration_us",
        "nv_inference_request_summary_us",
        "vllm:e2e_request_latency_seconds_bucket",
        ":tensorflow:serving:request_latency_bucket",
        "http_requests_total",
    ]
    assert q.detect_presets(names) == ("triton", "tfserving", "vllm")
    assert q.detect_presets(["nv_inference_request_duration_us"]) == ("triton-mean",)
    assert q.detect_presets(["http_requests_total", "up"]) == ()


def test_query_count_does_not_depend_on_the_number_of_services():
    # The builder never sees services: everything a refresh sends is a function of presets only.
    b = q.QueryBuilder()
    per_preset = [b.queries(name) for name in q.PRESETS]
    texts = {x for qs in per_preset for x in (qs.p95, qs.p50, qs.rps, qs.errors) if x}
    assert all(not re.search(r'\bservice="', text) for text in texts)


def test_colon_names_scraped_escaped_are_queried_under_the_form_that_exists():
    # prometheus_client's OpenMetrics output escapes ':' in sample names: vllm:x is stored as vllm_x.
    assert q.escaped_name(":tensorflow:serving:request_latency_bucket") == "_tensorflow_serving_request_latency_bucket"
    assert q.detect_presets(["vllm_e2e_request_latency_seconds_bucket"]) == ("vllm",)
    b = q.QueryBuilder(rate_window="1m")
    b.present = frozenset({"vllm_e2e_request_latency_seconds_bucket", "vllm_e2e_request_latency_seconds_count"})
    assert "rate(vllm_e2e_request_latency_seconds_bucket[1m])" in b.queries("vllm").p95
    b.present = frozenset({"vllm:e2e_request_latency_seconds_bucket", "vllm_e2e_request_latency_seconds_bucket"})
    assert (
        'rate({__name__=~"vllm:e2e_request_latency_seconds_bucket|vllm_e2e_request_latency_seconds_bucket"}[1m])'
        in b.queries("vllm").p95
    )
    b.present = None
    assert "rate(vllm:e2e_request_latency_seconds_bucket[1m])" in b.queries("vllm").p95

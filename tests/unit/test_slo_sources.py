"""Where a service's latency SLO comes from: the operator's config, the workload's annotation, the
threshold of the alert rule watching its p95, the operator's explicit default; otherwise none, and
then nothing about its latency is called breached."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from mlops_tui.backends.kubernetes import translate as k8s
from mlops_tui.backends.model import (
    SLO_ANNOTATION,
    LatencySeries,
    ModelService,
    Platform,
    ServiceKey,
    ServiceKind,
    SloSource,
    slo_from_annotation,
)
from mlops_tui.backends.prometheus.rules import latency_rules, parse_latency_rule
from mlops_tui.backends.prometheus.watch import PrometheusBackend, PrometheusOptions
from mlops_tui.backends.swarm import translate as swarm
from tests.unit.test_promql_backend import FakePrometheus

DATA = Path(__file__).parent / "data"
SEED_RULE = {
    "name": "HighInferenceLatency", "type": "alerting", "labels": {"severity": "warning"},
    "query": "histogram_quantile(0.95, rate(model_inference_duration_seconds_bucket[5m])) > 0.5",
}


def svc(i: int, slo_seconds: float | None = None) -> ModelService:
    return ModelService(key=ServiceKey("prod", "ml", ServiceKind.DEPLOYMENT, f"model-{i}"), platform=Platform.K8S,
                        desired=1, ready=1, updated=1, slo_seconds=slo_seconds)


def refresh(services: list[ModelService], rules: list[dict], **options) -> dict[ServiceKey, LatencySeries]:
    fake = FakePrometheus(len(services), rules=rules)
    backend = PrometheusBackend("http://127.0.0.1:9", services=lambda: services, client=fake,  # type: ignore[arg-type]
                                options=PrometheusOptions(**options))
    return backend.refresh().latency


def test_the_seed_alert_rules_threshold_is_the_slo_of_every_service_it_watches():
    latency = refresh([svc(0), svc(1)], [SEED_RULE])
    for series in latency.values():
        assert series.slo_seconds == 0.5
        assert series.slo is not None and series.slo.source is SloSource.ALERT_RULE
        assert series.slo.described == "alert rule HighInferenceLatency"


def test_config_beats_annotation_beats_alert_rule_beats_the_operators_default():
    services = [svc(0, slo_seconds=0.3), svc(1, slo_seconds=0.3), svc(2), svc(3)]
    latency = refresh(services, [SEED_RULE],
                      slo={"ml/model-0": 0.2}, slo_seconds=0.9)
    by_name = {k.name: s.slo for k, s in latency.items()}
    assert (by_name["model-0"].p95_seconds, by_name["model-0"].source, by_name["model-0"].origin) == (
        0.2, SloSource.CONFIG, "ml/model-0")
    assert (by_name["model-1"].p95_seconds, by_name["model-1"].source) == (0.3, SloSource.ANNOTATION)
    assert (by_name["model-2"].p95_seconds, by_name["model-2"].source) == (0.5, SloSource.ALERT_RULE)
    without_rule = refresh(services, [], slo_seconds=0.9)
    assert {k.name: s.slo.source for k, s in without_rule.items() if s.slo}["model-3"] is SloSource.CONFIG_DEFAULT


def test_a_service_with_no_known_slo_has_none_and_is_never_breached():
    latency = refresh([svc(0), svc(1)], [])  # no config, no annotation, no rule, no default
    for series in latency.values():
        assert series.slo is None and series.slo_seconds is None
        assert not series.breached  # its p95 is 70 ms: the old invented 100 ms default is gone
    slow = LatencySeries(svc(0).key, p95=((0.0, 30.0),))
    assert not slow.breached


def test_a_rule_naming_one_service_is_its_slo_and_beats_a_fleet_wide_rule():
    named = {"name": "Model1Slow", "type": "alerting",
             "query": 'histogram_quantile(0.95, sum by (le, service) (rate(model_inference_duration_seconds_bucket'
                      '{namespace="ml",service="model-1"}[5m]))) > 0.8'}
    latency = refresh([svc(0), svc(1)], [SEED_RULE, named])
    by_name = {k.name: s.slo for k, s in latency.items()}
    assert (by_name["model-1"].p95_seconds, by_name["model-1"].origin) == (0.8, "Model1Slow")
    assert (by_name["model-0"].p95_seconds, by_name["model-0"].origin) == (0.5, "HighInferenceLatency")


def test_a_rule_on_another_namespace_or_another_metric_is_not_this_services_slo():
    other_ns = {"name": "OtherNs", "type": "alerting",
                "query": 'histogram_quantile(0.95, rate(model_inference_duration_seconds_bucket{namespace="web"}[5m]))'
                         ' > 0.4'}
    other_metric = {"name": "Kserve", "type": "alerting",
                    "query": "histogram_quantile(0.95, rate(request_predict_seconds_bucket[5m])) > 0.4"}
    latency = refresh([svc(0)], [other_ns, other_metric])
    assert all(s.slo is None for s in latency.values())


@pytest.mark.parametrize("expr", [
    "histogram_quantile(0.99, rate(model_inference_duration_seconds_bucket[5m])) > 0.5",  # p99, not p95
    "histogram_quantile(0.95, rate(model_inference_duration_seconds_bucket[5m])) * 1000 > 500",  # scaled
    "rate(model_inference_duration_seconds_sum[5m]) / rate(model_inference_duration_seconds_count[5m]) > 0.5",
    "histogram_quantile(0.95, rate(model_inference_duration_seconds_bucket[5m])) < 0.5",  # fires when fast
    'up{job="models"} == 0',
])
def test_rules_that_do_not_bound_a_p95_from_above_give_no_slo(expr):
    assert parse_latency_rule("R", expr) is None


def test_the_rule_written_the_other_way_round_or_beside_a_traffic_guard_still_gives_its_threshold():
    assert parse_latency_rule("R", "0.3 < histogram_quantile(0.95, sum(rate(x_bucket[5m])) by (le))").threshold == 0.3
    guarded = "(histogram_quantile(0.95, rate(x_bucket[5m])) > 0.25) and rate(x_count[5m]) > 1"
    assert parse_latency_rule("R", guarded).threshold == 0.25


def test_a_triton_summary_rule_in_microseconds_becomes_seconds():
    [rule] = latency_rules([{"rules": [{"name": "TritonSlow", "type": "alerting",
                                        "query": 'nv_inference_request_summary_us{quantile="0.95"} > 250000'}]}])
    assert (rule.metric, rule.kind, rule.threshold) == ("nv_inference_request_summary_us", "summary", 250000.0)
    from mlops_tui.backends.prometheus.slo import SloTable

    table = SloTable(services=[svc(0)], rules=[rule])
    slo = table.slo_for(svc(0).key, "triton")
    assert slo is not None and slo.p95_seconds == 0.25


def test_latency_still_arrives_when_prometheus_cannot_list_its_rules():
    fake = FakePrometheus(2)

    def refuse():
        raise RuntimeError("403 Forbidden")

    fake.alert_rules = refuse  # type: ignore[method-assign]
    backend = PrometheusBackend("http://127.0.0.1:9", services=lambda: [svc(0), svc(1)], client=fake,  # type: ignore[arg-type]
                                options=PrometheusOptions())
    latency = backend.refresh().latency
    assert len(latency) == 2 and all(s.slo is None for s in latency.values())


@pytest.mark.parametrize(("value", "seconds"), [
    ("250", 0.25), ("250ms", 0.25), (" 0.5s ", 0.5), ("", None), ("fast", None), ("-3", None), ("0", None),
    ("inf", None), ("2m", None),
])
def test_the_slo_annotation_reads_milliseconds_or_an_explicit_unit(value, seconds):
    assert slo_from_annotation(value) == seconds


def test_the_workload_annotation_is_read_by_the_kubernetes_translator():
    dep = json.loads((DATA / "k8s" / "deployment_valuation.json").read_text())
    dep = copy.deepcopy(dep)
    dep["metadata"].setdefault("annotations", {})[SLO_ANNOTATION] = "350"
    assert k8s.deployment_service("prod", dep).slo_seconds == 0.35
    del dep["metadata"]["annotations"][SLO_ANNOTATION]
    assert k8s.deployment_service("prod", dep).slo_seconds is None


def test_the_same_name_as_a_swarm_service_label_is_read_by_the_swarm_translator():
    services = json.loads((DATA / "swarm" / "services.json").read_text())
    labelled = copy.deepcopy(services[0])
    labelled["Spec"].setdefault("Labels", {})[SLO_ANNOTATION] = "400"
    view = swarm.translate("lab", [labelled], [], [])
    [service] = view.services.values()
    assert service.slo_seconds == 0.4

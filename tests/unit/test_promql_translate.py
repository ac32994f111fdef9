"""Prometheus responses (recorded from a real Prometheus) → LatencySeries and GPU metrics."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from mlops_tui.backends.correlate import ServiceIndex
from mlops_tui.backends.model import ModelService, Platform, ServiceKey, ServiceKind, Slo, SloSource
from mlops_tui.backends.prometheus import translate as t

DATA = Path(__file__).parent / "data" / "prometheus"


def load(name: str):
    return json.loads((DATA / name).read_text())


def svc(name: str, namespace: str = "ml", cluster: str = "prod") -> ModelService:
    return ModelService(key=ServiceKey(cluster, namespace, ServiceKind.DEPLOYMENT, name), platform=Platform.K8S)


FAST, SLOW, IDLE = svc("fast-model"), svc("slow-model"), svc("idle-model")


def test_recorded_range_query_has_nan_and_translate_drops_it():
    raw = load("query_range_p95.json")
    idle_raw = next(r for r in raw["data"]["result"] if r["metric"]["service"] == "idle-model")
    assert "NaN" in [v[1] for v in idle_raw["values"]]  # what a real Prometheus sends for an idle window
    series = {labels["service"]: points for labels, points in t.parse_matrix(raw)}
    assert len(series["idle-model"]) < len(idle_raw["values"])
    for points in series.values():
        assert all(math.isfinite(v) and math.isfinite(ts) for ts, v in points)


def test_p95_matches_the_injected_distribution_within_its_bucket():
    series = {labels["service"]: points for labels, points in t.parse_matrix(load("query_range_p95.json"))}
    # fast: uniform 11-24 ms, all in the (10 ms, 25 ms] bucket; slow: 90 % 300 ms, 10 % 800 ms.
    assert all(0.010 < v <= 0.025 for _, v in series["fast-model"])
    assert all(0.5 < v <= 1.0 for _, v in series["slow-model"])


def test_build_latency_ties_series_to_services_with_slo_and_rate():
    p95 = t.parse_matrix(load("query_range_p95.json"))
    rps = t.parse_vector(load("query_rps.json"))
    index = ServiceIndex([FAST, SLOW, IDLE])
    out = t.build_latency(
        [t.PresetResult("generic", p95=p95, p50=p95, rps=rps)],
        index.resolve,
        slo_for=lambda key, _preset: Slo(0.5 if key.name == "slow-model" else 0.1, SloSource.CONFIG),
    )
    assert set(out) == {FAST.key, SLOW.key, IDLE.key}
    slow = out[SLOW.key]
    assert slow.preset == "generic" and slow.estimate == "quantile"
    assert slow.slo_seconds == 0.5 and slow.breached  # 0.75 s > 0.5 s
    assert not out[FAST.key].breached
    assert out[FAST.key].rps == pytest.approx(100.0, rel=0.3)  # 10 observations every 0.1 s
    assert out[IDLE.key].rps == 0.0


def test_series_of_unknown_services_are_ignored():
    p95 = t.parse_matrix(load("query_range_p95.json"))
    out = t.build_latency([t.PresetResult("generic", p95=p95, p50=(), rps=[])], ServiceIndex([FAST]).resolve)
    assert set(out) == {FAST.key}


def test_configured_preset_wins_over_first_with_data():
    labels = {"namespace": "ml", "service": "fast-model"}
    first = t.PresetResult("generic", p95=[(labels, ((1.0, 0.02),))], p50=[], rps=[])
    second = t.PresetResult("vllm", p95=[(labels, ((1.0, 3.0),))], p50=[], rps=[])
    resolve = ServiceIndex([FAST]).resolve
    assert t.build_latency([first, second], resolve)[FAST.key].preset == "generic"
    chosen = t.build_latency([first, second], resolve, preset_for=lambda _k: "vllm")[FAST.key]
    assert chosen.preset == "vllm" and chosen.current_p95 == 3.0


def test_mean_only_presets_say_so():
    labels = {"model": "resnet", "namespace": "ml"}
    result = t.PresetResult(
        "triton-mean",
        p95=[(labels, ((1.0, 0.004),))],
        p50=[(labels, ((1.0, 0.004),))],
        rps=[(labels, 12.0)],
        errors=[(labels, 0.0)],
        mean_only=True,
    )
    out = t.build_latency([result], ServiceIndex([svc("resnet")]).resolve)
    series = next(iter(out.values()))
    assert series.estimate == "mean" and series.error_ratio == 0.0


def test_label_aliases_map_a_custom_label_to_the_service():
    labels = {"svc": "fast-model", "namespace": "ml"}
    result = t.PresetResult("generic", p95=[(labels, ((1.0, 0.02),))], p50=[], rps=[])
    resolve = ServiceIndex([FAST]).resolve
    assert t.build_latency([result], resolve) == {}
    assert FAST.key in t.build_latency([result], resolve, aliases={"svc": "service"})


def test_vector_values_nan_and_inf_become_none():
    body = {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [
                {"metric": {"a": "1"}, "value": [1.0, "NaN"]},
                {"metric": {"a": "2"}, "value": [1.0, "+Inf"]},
                {"metric": {"a": "3"}, "value": [1.0, "0.25"]},
            ],
        },
    }
    assert [v for _l, v in t.parse_vector(body)] == [None, None, 0.25]


def test_error_bodies_raise():
    with pytest.raises(ValueError, match="bad_data"):
        t.parse_vector({"status": "error", "errorType": "bad_data", "error": "parse error"})


def test_dcgm_metrics_join_by_host_with_both_hostname_spellings_and_exported_pod():
    gpus = t.gpu_metrics(load("dcgm_gpu_util.json"), load("dcgm_fb_used.json"), load("dcgm_fb_free.json"))
    assert set(gpus) == {"gpu-node-1", "gpu-node-2"}  # `Hostname` and `hostname` both understood
    first, second = gpus["gpu-node-1"]
    assert (first.gpu, first.uuid, first.utilisation) == ("0", "GPU-1a2b", 87.0)
    assert (first.memory_used_mib, first.memory_free_mib) == (30512.0, 10448.0)
    # The exporter's pod label was renamed exported_pod by Prometheus; the target's pod is the exporter.
    assert (first.pod, first.namespace) == ("llm-7d9f-abcde", "ml")
    assert (second.pod, second.utilisation) == ("", 0.0)
    (other,) = gpus["gpu-node-2"]
    assert (other.pod, other.namespace, other.model) == ("vision-5c8-xyz", "vision", "NVIDIA A100-SXM4-40GB")


def test_dcgm_without_host_label_falls_back_to_instance_host():
    util = [{"metric": {"gpu": "0", "UUID": "u", "instance": "10.0.0.7:9400"}, "value": [1, "5"]}]
    assert set(t.gpu_metrics(util, [], [])) == {"10.0.0.7"}


def test_history_merge_keeps_old_points_replaces_the_refetched_and_ages_out():
    old = {(("service", "a"),): ((10.0, 1.0), (20.0, 2.0), (30.0, 3.0)), (("service", "gone"),): ((10.0, 9.0),)}
    new = [({"service": "a"}, ((30.0, 3.5), (40.0, 4.0))), ({"service": "b"}, ((40.0, 0.1),))]
    merged = t.merge_history(old, new, since=30.0, keep_from=15.0)
    assert merged[(("service", "a"),)] == ((20.0, 2.0), (30.0, 3.5), (40.0, 4.0))
    assert merged[(("service", "b"),)] == ((40.0, 0.1),)
    assert (("service", "gone"),) not in merged  # aged out
    assert t.history_rows(merged)[0][0] in ({"service": "a"}, {"service": "b"})

"""Which series are a canary's and which its stable's: one workload's series split by a side label
(Argo, KServe), or a pair's two workloads (Istio, Swarm); and the one PromQL that splits them."""

from __future__ import annotations

from mlops_tui.backends.correlate import ServiceIndex
from mlops_tui.backends.model import Canary, LatencySeries, ModelService, Platform, ServiceKey, ServiceKind
from mlops_tui.backends.prometheus import queries as q
from mlops_tui.backends.prometheus import translate as t

NOW = 1_000_000.0


def svc(name: str, kind: ServiceKind = ServiceKind.ROLLOUT, canary: Canary | None = None,
        platform: Platform = Platform.K8S) -> ModelService:
    return ModelService(key=ServiceKey("prod", "ml", kind, name), platform=platform, desired=1, canary=canary)


ARGO = svc("ensemble", canary=Canary("argo", stable_version="v1.9", canary_version="v2.0", weight=20))
KSERVE = svc("price", ServiceKind.INFERENCE_SERVICE,
             canary=Canary("kserve", stable_version="price-predictor-00001", canary_version="price-predictor-00002",
                           weight=20))
PAIR = Canary("istio", "v1.1", "v1.2", weight=10, stable_service="rent-stable", canary_service="rent-canary")
RENT_STABLE = svc("rent-stable", ServiceKind.DEPLOYMENT, PAIR)
RENT_CANARY = svc("rent-canary", ServiceKind.DEPLOYMENT, PAIR)
PLAIN = svc("plain", ServiceKind.DEPLOYMENT)
SERVICES = [ARGO, KSERVE, RENT_STABLE, RENT_CANARY, PLAIN]


def row(labels: dict[str, str], value: float) -> tuple[dict[str, str], float]:
    return ({"namespace": "ml", **labels}, value)


def figures(sides, latency=None):
    return t.canary_figures(SERVICES, latency or {}, sides, ServiceIndex(SERVICES).resolve, at=NOW, stale_after=30,
                            side_labels=q.DEFAULT_SIDE_LABELS)


def test_one_workloads_series_are_split_by_track_or_by_version_or_revision():
    sides = [t.SideResult(
        "generic",
        p95=[row({"service": "ensemble", "track": "stable"}, 0.2), row({"service": "ensemble", "track": "canary"}, 1.1),
             row({"service": "price", "kn_revision_name": "price-predictor-00001"}, 0.1),
             row({"service": "price", "kn_revision_name": "price-predictor-00002"}, 0.12),
             row({"service": "plain", "version": "v3"}, 0.3)],
        rps=[row({"service": "ensemble", "track": "stable"}, 16.0),
             row({"service": "ensemble", "track": "canary"}, 4.0),
             row({"service": "price", "kn_revision_name": "price-predictor-00001"}, 19.4),
             row({"service": "price", "kn_revision_name": "price-predictor-00002"}, 0.6)],
        errors=[row({"service": "ensemble", "track": "canary"}, 0.02)],
    )]
    out = figures(sides)
    assert set(out) == {ARGO.key, KSERVE.key}  # the pair has no series here, the plain service no canary
    argo = out[ARGO.key]
    assert (argo.canary.p95, argo.canary.rps, argo.canary.error_ratio) == (1.1, 4.0, 0.02)
    assert (argo.stable.p95, argo.stable.rps, argo.stable.error_ratio) == (0.2, 16.0, None)
    assert out[KSERVE.key].canary.rps == 0.6 and out[KSERVE.key].stable.p95 == 0.1
    assert argo.at == NOW and argo.stale_after == 30


def test_a_canary_with_one_side_missing_gets_no_figures_rather_than_half():
    sides = [t.SideResult("generic", p95=[row({"service": "ensemble", "track": "canary"}, 1.1)],
                          rps=[row({"service": "ensemble", "track": "canary"}, 4.0)])]
    assert figures(sides) == {}


def test_a_pairs_sides_are_its_two_workloads_own_series():
    latency = {
        RENT_STABLE.key: LatencySeries(RENT_STABLE.key, p95=((NOW, 0.21),), rps=18.0, error_ratio=0.002),
        RENT_CANARY.key: LatencySeries(RENT_CANARY.key, p95=((NOW, 0.95),), rps=2.0, error_ratio=0.02),
    }
    out = figures([], latency)
    assert out[RENT_STABLE.key] == out[RENT_CANARY.key]  # either row shows the same split
    pair = out[RENT_CANARY.key]
    assert (pair.canary.p95, pair.canary.rps, pair.stable.p95, pair.stable.rps) == (0.95, 2.0, 0.21, 18.0)


def test_the_side_split_is_one_fleet_wide_query_per_figure_keeping_the_side_labels():
    qs = q.QueryBuilder().side_queries("generic")
    assert qs.p95 == ("histogram_quantile(0.95, sum by (le, model, cluster, namespace, service, swarm_service, "
                      "track, version, app_kubernetes_io_version, rollouts_pod_template_hash, kn_revision_name, "
                      "revision_name, serving_knative_dev_revision) "
                      "(rate(model_inference_duration_seconds_bucket[1m])))")
    assert qs.rps.startswith("sum by (model, cluster, namespace, service, swarm_service, track, version,")
    assert q.QueryBuilder().side_queries("fastapi").errors is not None

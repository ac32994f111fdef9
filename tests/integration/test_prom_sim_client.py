"""`prometheus-api-client` (what a data scientist would point at Prometheus) reads the simulated
series, and the app's own query shapes return data: p95 per service, request rate, error ratio,
DCGM averages. A query outside the subset gets Prometheus's error format."""

from __future__ import annotations

import time

import pytest
import requests
from prometheus_api_client import PrometheusApiClientException, PrometheusConnect

from backends.prometheus import queries as q
from sim.alertmanager import SimAlertmanager
from sim.docker import SimSwarm
from sim.prometheus import SimPrometheus, seed_rule
from sim.scenario import Scenario

P95 = "histogram_quantile(0.95, sum by (le, namespace, service) (rate(model_inference_duration_seconds_bucket[5m])))"


@pytest.fixture(scope="module")
def engines():
    """Metrics of a Kubernetes demo fleet (labels only) and a running Swarm sim, with 10 minutes
    of history, scraped every second at 15x story speed."""
    swarm = SimSwarm.start(seed=1)
    am = SimAlertmanager.start()
    prom = SimPrometheus.start(eval_interval=1.0, notify=am.receive, evaluate_rules=False)
    scenario = Scenario(seed=1, time_scale=15.0, prometheus=prom, swarm=swarm, kube_names=["demo-prod"],
                        scrape_interval=1.0, backfill=600.0)
    prom.rules.rules.append(seed_rule(window=scenario.rule_window(), for_seconds=scenario.rule_for()))
    scenario.start()
    prom.rules.start()
    yield prom, am, swarm
    scenario.stop()
    prom.stop()
    am.stop()
    swarm.stop()


@pytest.fixture
def client(engines):
    return PrometheusConnect(url=engines[0].url, disable_ssl=True)


def test_client_connects_and_lists_metric_names(client):
    assert client.check_prometheus_connection()
    names = client.all_metrics()
    for name in ("model_inference_duration_seconds_bucket", "request_predict_seconds_bucket",
                 "vllm:e2e_request_latency_seconds_bucket", "http_requests_total", "DCGM_FI_DEV_GPU_UTIL",
                 "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE"):
        assert name in names
    assert set(q.detect_presets(names)) >= {"generic", "kserve", "vllm"}


def test_seed_p95_per_service_has_every_kubernetes_workload(client):
    result = client.custom_query(P95)
    by_service = {r["metric"]["service"]: float(r["value"][1]) for r in result if "service" in r["metric"]}
    assert {"ensemble-predictor", "property-price-predictor", "property-valuation-model",
            "rent-predictor-canary"} <= set(by_service)
    assert by_service["rent-predictor-canary"] > 0.5 > by_service["property-valuation-model"] > 0.0


def test_range_query_feeds_a_sparkline(client):
    end = time.time()
    result = client.custom_query_range(P95, start_time=_dt(end - 300), end_time=_dt(end), step="15")
    series = [r for r in result if r["metric"].get("service") == "property-valuation-model"]
    assert len(series) == 1 and len(series[0]["values"]) >= 20
    assert all(0 < float(v) < 0.5 for _, v in series[0]["values"])


def test_app_query_templates_return_data(client):
    builder = q.QueryBuilder(rate_window="1m")
    generic = builder.queries("generic")
    for text in (generic.p95, generic.p50, generic.rps):
        result = client.custom_query(text)
        assert any(r["metric"].get("swarm_service") == "proptech-ml_model-api" for r in result), text
        assert any(r["metric"].get("service") == "ensemble-predictor" for r in result), text
    kserve = builder.queries("kserve")
    assert [r["metric"]["model_name"] for r in client.custom_query(kserve.rps)] == ["property-price-predictor"]
    vllm = client.custom_query(builder.queries("vllm").p95)
    assert [r["metric"]["model_name"] for r in vllm] == ["llm-embedder"]
    ratio = client.custom_query('sum by (service) (rate(http_requests_total{status="5xx"}[1m])) / ignoring () '
                                'sum by (service) (rate(http_requests_total[1m]))')
    assert ratio and all(0 <= float(r["value"][1]) < 0.05 for r in ratio)


def test_dcgm_averages_for_kubernetes_pods_and_swarm_gpus(client):
    per_pod = client.custom_query("avg by (exported_namespace, exported_pod) (DCGM_FI_DEV_GPU_UTIL)")
    assert any(r["metric"].get("exported_namespace") == "ml-prod" for r in per_pod)
    per_host = client.custom_query("avg by (Hostname) (DCGM_FI_DEV_GPU_UTIL)")
    hosts = {r["metric"]["Hostname"] for r in per_host}
    assert {"gpu-node-1", "swarm-gpu-1", "swarm-gpu-2"} <= hosts
    memory = client.custom_query("DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE)")
    assert memory and all(0 < float(r["value"][1]) < 1 for r in memory)
    swarm_uuids = {r["metric"]["UUID"] for r in client.custom_query('DCGM_FI_DEV_GPU_UTIL{Hostname=~"swarm-.*"}')}
    assert len(swarm_uuids) == 4


def test_post_form_and_unknown_query_error_format(engines):
    url = engines[0].url
    posted = requests.post(url + "/api/v1/query", data={"query": "count(DCGM_FI_DEV_GPU_UTIL)"}, timeout=5).json()
    assert posted["status"] == "success" and float(posted["data"]["result"][0]["value"][1]) >= 4
    bad = requests.get(url + "/api/v1/query", params={"query": "nofunc(up)"}, timeout=5)
    assert bad.status_code == 400
    assert bad.json() == {"status": "error", "errorType": "bad_data",
                          "error": 'invalid parameter "query": 1:1: parse error: unknown function with name "nofunc"'}
    client = PrometheusConnect(url=url, disable_ssl=True)
    with pytest.raises(PrometheusApiClientException):
        client.custom_query("sum(rate(up))")


def test_firing_alert_reaches_prometheus_and_alertmanager(engines):
    prom, am, _ = engines
    rules = requests.get(prom.url + "/api/v1/rules", timeout=5).json()["data"]["groups"][0]["rules"][0]
    assert rules["name"] == "HighInferenceLatency" and rules["type"] == "alerting"
    alerts = requests.get(prom.url + "/api/v1/alerts", timeout=5).json()["data"]["alerts"]
    firing = [a for a in alerts if a["state"] == "firing"]
    assert any(a["labels"].get("service") == "rent-predictor-canary" for a in firing)
    deadline = time.time() + 5
    while time.time() < deadline and not am.store.list_alerts():
        time.sleep(0.2)
    received = requests.get(am.url + "/api/v2/alerts", timeout=5).json()
    assert any(a["labels"]["alertname"] == "HighInferenceLatency" and a["status"]["state"] == "active" for a in received)


def _dt(ts: float):
    from datetime import datetime, timezone
    return datetime.fromtimestamp(ts, tz=timezone.utc)


def test_start_demo_gives_working_endpoints_and_stops_cleanly():
    import socket

    import docker

    from sim.demo import start_demo

    env = start_demo(seed=0, time_scale=30.0)
    try:
        assert env.contexts == ["demo-prod"] and env.kubeconfig
        client = docker.DockerClient(base_url=env.docker_host, version="auto")
        names = {s.name for s in client.services.list()}
        assert {"proptech-ml_model-api", "proptech-multi_price-predictor", "llm-embedder"} <= names
        client.close()
        prom = PrometheusConnect(url=env.prometheus_url, disable_ssl=True)
        p95 = prom.custom_query(P95.replace("by (le, namespace, service)", "by (le, cluster, namespace, service)"))
        assert {r["metric"].get("cluster") for r in p95} >= {"demo-prod"}
        firing = requests.get(env.prometheus_url + "/api/v1/alerts", timeout=5).json()["data"]["alerts"]
        assert any(a["state"] == "firing" for a in firing)
        with open(env.kubeconfig) as f:
            assert "demo-prod" in f.read()
        ports = [int(u.rsplit(":", 1)[1]) for u in (env.docker_host, env.prometheus_url, env.alertmanager_url)]
    finally:
        env.stop()
    for port in ports:
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0

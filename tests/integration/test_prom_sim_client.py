"""`prometheus-api-client` (what a data scientist would point at Prometheus) reads the simulated
series, and the app's own query shapes return data: p95 per service, request rate, error ratio,
DCGM averages. A query outside the subset gets Prometheus's error format."""

from __future__ import annotations

import math
import random
import re
import subprocess
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests
from prometheus_api_client import PrometheusApiClientException, PrometheusConnect

from mlops_tui.backends.prometheus import queries as q
from mlops_tui.sim.alertmanager import SimAlertmanager
from mlops_tui.sim.docker import SimSwarm
from mlops_tui.sim.prometheus import SimPrometheus, seed_rule
from mlops_tui.sim.prometheus.series import labels_of
from mlops_tui.sim.prometheus.server import respond
from mlops_tui.sim.scenario import Scenario
from tests.engines import require_binary

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
    assert any(a["labels"]["alertname"] == "HighInferenceLatency" and a["status"]["state"] == "active"
               for a in received)


def _dt(ts: float):
    return datetime.fromtimestamp(ts, tz=timezone.utc)


def test_start_demo_gives_working_endpoints_and_stops_cleanly():
    import socket

    import docker

    from mlops_tui.sim.demo import start_demo

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


# --- the evaluator against Prometheus itself ----------------------------------------------------

SAME_AS_PROMETHEUS = [
    "histogram_quantile(0.95, sum by (le, namespace, service) (rate(model_inference_duration_seconds_bucket[5m])))",
    "histogram_quantile(0.95, rate(model_inference_duration_seconds_bucket[5m])) > 0.5",
    "histogram_quantile(0.5, sum by (le) (rate(model_inference_duration_seconds_bucket[1m])))",
    "sum by (service) (rate(model_inference_duration_seconds_count[1m]))",
    "rate(model_inference_duration_seconds_count[50s])",
    "increase(resetting_total[2m])",
    "rate(late_total[5m])",
    "irate(model_inference_duration_seconds_count[1m])",
    '(sum by (job) (rate(http_requests_total{status=~"5.."}[1m])) or sum by (job) (rate(http_requests_total[1m])) * 0)'
    " / sum by (job) (rate(http_requests_total[1m]))",
    "avg by (exported_namespace, exported_pod) (DCGM_FI_DEV_GPU_UTIL)",
    "DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE)",
    "DCGM_FI_DEV_GPU_UTIL > 50",
    "DCGM_FI_DEV_GPU_UTIL >= bool 50",
    "clamp_min(DCGM_FI_DEV_GPU_UTIL, 60)",
    "DCGM_FI_DEV_FB_USED / on (gpu) DCGM_FI_DEV_FB_FREE",
    "max without (gpu, UUID) (DCGM_FI_DEV_GPU_UTIL)",
    "count by (Hostname) (DCGM_FI_DEV_GPU_UTIL) - min by (Hostname) (DCGM_FI_DEV_GPU_UTIL) / 100",
    'sum(rate({__name__=~"vllm:e2e_request_latency_seconds_count|other_total"}[1m])) * 2 ^ 2',
    "-DCGM_FI_DEV_GPU_UTIL unless DCGM_FI_DEV_GPU_UTIL < 30",
]


def _series_for_promtool(steps: int = 60) -> dict[tuple, list[float | None]]:
    """Irregular counters and gauges every 15 s from t=0 (None: no sample)."""
    rng = random.Random(42)
    out: dict[tuple, list[float | None]] = {}
    for svc, median in (("fast", 0.05), ("slow", 0.4)):
        count = 0.0
        buckets = {le: 0.0 for le in ("0.05", "0.1", "0.25", "0.5", "1", "+Inf")}
        counts, hist = [], {le: [] for le in buckets}
        for _ in range(steps):
            n = rng.randint(5, 40)
            count += n
            for le in buckets:
                if le == "+Inf":
                    frac = 1.0
                elif float(le) >= median * 0.2:
                    frac = min(1.0, 0.5 + math.log(float(le) / median) / 3)
                else:
                    frac = 0.0
                buckets[le] += round(n * max(frac, 0.0))
                hist[le].append(buckets[le])
            counts.append(count)
        common = {"namespace": "ml-prod", "service": svc, "pod": f"{svc}-0"}
        for le, values in hist.items():
            out[labels_of("model_inference_duration_seconds_bucket", **common, le=le)] = values
        out[labels_of("model_inference_duration_seconds_count", **common)] = counts
        total = errors = 0.0
        oks, errs = [], []
        for _ in range(steps):
            total += rng.randint(10, 30)
            errors += rng.randint(0, 3) if svc == "slow" else 0
            oks.append(total)
            errs.append(errors)
        out[labels_of("http_requests_total", job=svc, status="2xx")] = oks
        if svc == "slow":
            out[labels_of("http_requests_total", job=svc, status="5xx")] = errs
    value, resetting = 0.0, []
    for i in range(steps):
        value = rng.randint(0, 5) if i == 30 else value + rng.randint(1, 9)
        resetting.append(value)
    out[labels_of("resetting_total", job="x")] = resetting
    out[labels_of("late_total", job="x")] = [None] * 35 + [float(10 * k + 7) for k in range(steps - 35)]
    out[labels_of("vllm:e2e_request_latency_seconds_count", model_name="m")] = [float(3 * k) for k in range(steps)]
    for gpu in range(3):
        common = {"gpu": str(gpu), "UUID": f"GPU-{gpu}", "Hostname": f"gpu-node-{1 + gpu // 2}",
                  "exported_pod": f"pod-{gpu % 2}", "exported_namespace": "ml-prod"}
        out[labels_of("DCGM_FI_DEV_GPU_UTIL", **common)] = [float(rng.randint(0, 100)) for _ in range(steps)]
        out[labels_of("DCGM_FI_DEV_FB_USED", **common)] = [float(rng.randint(1000, 30000)) for _ in range(steps)]
        out[labels_of("DCGM_FI_DEV_FB_FREE", **common)] = [40960.0 - rng.randint(1000, 30000) for _ in range(steps)]
    return out


def _promtool_values(text: str) -> dict[tuple, float]:
    got = {}
    for labels, value in re.findall(r"\{([^}]*)\} (\S+?)(?:,|$)", text):
        pairs = tuple(sorted(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', labels)))
        got[pairs] = float(value.replace("E", "e"))
    return got


def test_evaluator_agrees_with_prometheus_promtool(tmp_path):
    promtool = require_binary("promtool")
    data = _series_for_promtool()
    prom = SimPrometheus()
    for i in range(60):
        prom.store.append(i * 15.0, [(labels, v[i]) for labels, v in data.items() if v[i] is not None])
    eval_time = 13 * 60 + 7  # not on a scrape: extrapolation to the window's edges matters
    lines = ["tests:", "  - interval: 15s", "    input_series:"]
    for labels, values in data.items():
        name = dict(labels)["__name__"]
        inner = ",".join(f'{k}="{v}"' for k, v in labels if k != "__name__")
        lines.append(f"      - series: '{name}{{{inner}}}'")
        lines.append("        values: '" + " ".join("_" if v is None else repr(v) for v in values) + "'")
    lines.append("    promql_expr_test:")
    for expr in SAME_AS_PROMETHEUS:
        lines += [f"      - expr: '{expr}'", f"        eval_time: {eval_time}s", "        exp_samples: []"]
    (tmp_path / "t.yml").write_text("\n".join(lines) + "\n")
    done = subprocess.run([promtool, "test", "rules", str(tmp_path / "t.yml")],
                          capture_output=True, text=True, timeout=60)
    report = done.stdout + done.stderr
    blocks = re.split(r'\n\s*expr: "', report)[1:]
    assert len(blocks) == len(SAME_AS_PROMETHEUS), report
    for expr, block in zip(SAME_AS_PROMETHEUS, blocks, strict=True):  # counts asserted equal above
        real = _promtool_values(block.split("got:", 1)[1]) if "got:" in block else {}
        status, body = respond(prom, "/api/v1/query", {"query": [expr], "time": [str(eval_time)]})
        assert status == 200, body
        ours = {tuple(sorted(r["metric"].items())): float(r["value"][1]) for r in body["data"]["result"]}
        assert ours.keys() == real.keys(), expr
        for key, value in real.items():
            assert ours[key] == pytest.approx(value, rel=1e-9, abs=1e-12, nan_ok=True), (expr, key)
        assert real, f"{expr} returned nothing in Prometheus: the comparison would prove nothing"


# --- the Alertmanager sim against the real Alertmanager -------------------------------------------


@pytest.fixture(params=["sim", "real"])
def alertmanager_url(request):
    if request.param == "sim":
        am = SimAlertmanager.start()
        yield am.url
        am.stop()
    else:
        from tests.integration.metrics_servers import alertmanager

        binary = require_binary("prometheus-alertmanager", "alertmanager")
        with alertmanager(binary) as server:
            yield server.url


def _iso(delta_s: float = 0.0) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=delta_s)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_alertmanager_contract_silences_and_alerts(alertmanager_url):
    api = alertmanager_url + "/api/v2"
    labels = {"alertname": "HighInferenceLatency", "namespace": "ml-prod", "service": "ensemble-predictor",
              "severity": "warning"}
    posted = requests.post(api + "/alerts", json=[{"labels": labels, "annotations": {"summary": "slow"},
                                                   "startsAt": _iso(-60), "endsAt": _iso(600)}], timeout=5)
    assert posted.status_code == 200
    deadline = time.time() + 5
    alerts = []
    while time.time() < deadline and not alerts:
        alerts = requests.get(api + "/alerts", timeout=5).json()
        time.sleep(0.1)
    assert [a["labels"] for a in alerts] == [labels]
    from mlops_tui.sim.alertmanager.store import fingerprint as label_fingerprint

    assert alerts[0]["fingerprint"] == label_fingerprint(labels)  # the real one hashes labels the same way
    fingerprint = alerts[0]["fingerprint"]
    assert alerts[0]["status"] == {"state": "active", "silencedBy": [], "inhibitedBy": []}

    def silence(**overrides):
        body = {"matchers": [{"name": "service", "value": "ensemble-predictor", "isRegex": False}],
                "startsAt": _iso(), "endsAt": _iso(3600), "createdBy": "oncall", "comment": "investigating"}
        body.update(overrides)
        return requests.post(api + "/silences", json=body, timeout=5)

    bad = silence(startsAt=_iso(60), endsAt=_iso(30))
    assert (bad.status_code, bad.json()) == (400, "Failed to create silence: start time must be before end time")
    empty = silence(matchers=[])
    assert (empty.status_code, empty.json()["message"]) == (422, "matchers in body should have at least 1 items")
    matches_empty = silence(matchers=[{"name": "service", "value": "", "isRegex": False}])
    assert matches_empty.status_code == 400
    assert matches_empty.json() == "silence invalid: at least one matcher must not match the empty string"

    sid = silence().json()["silenceID"]
    suppressed = requests.get(api + "/alerts", timeout=5).json()[0]
    assert suppressed["status"] == {"state": "suppressed", "silencedBy": [sid], "inhibitedBy": []}
    assert requests.get(api + "/alerts", params={"silenced": "false"}, timeout=5).json() == []
    current = requests.get(api + f"/silence/{sid}", timeout=5).json()
    assert current["status"]["state"] == "active" and current["matchers"][0]["isEqual"] is True

    extended = silence(id=sid, startsAt=current["startsAt"], endsAt=_iso(7200))
    assert extended.json()["silenceID"] == sid
    moved = silence(id=sid, startsAt=current["startsAt"],
                    matchers=[{"name": "service", "value": "ensemble-.*", "isRegex": True}])
    new_id = moved.json()["silenceID"]
    assert new_id != sid
    assert requests.get(api + f"/silence/{sid}", timeout=5).json()["status"]["state"] == "expired"
    assert requests.get(api + "/alerts", timeout=5).json()[0]["status"]["silencedBy"] == [new_id]

    assert requests.delete(api + f"/silence/{new_id}", timeout=5).status_code == 200
    assert requests.delete(api + f"/silence/{new_id}", timeout=5).status_code == 200
    after = requests.get(api + "/alerts", timeout=5).json()[0]
    assert after["fingerprint"] == fingerprint and after["status"]["state"] == "active"
    listed = requests.get(api + "/silences", params={"filter": 'service="ensemble-predictor"'}, timeout=5).json()
    assert {s["id"] for s in listed} == {sid}
    assert {s["status"]["state"] for s in requests.get(api + "/silences", timeout=5).json()} == {"expired"}
    bad_filter = requests.get(api + "/alerts", params={"filter": "foo"}, timeout=5)
    assert (bad_filter.status_code, bad_filter.json()) == (400, "bad matcher format: foo")


def test_the_seed_rules_threshold_from_the_simulator_is_the_slo_of_the_services_it_watches(engines):
    """The simulator lists its rules as Prometheus does: the backend reads the seed rule's 0.5 s as the
    SLO of a service whose latency it watches."""
    from mlops_tui.backends.model import ModelService, Platform, ServiceKey, ServiceKind, Slo, SloSource
    from mlops_tui.backends.prometheus.watch import PrometheusBackend

    prom = engines[0]
    series = requests.get(prom.url + "/api/v1/series", params={"match[]": "model_inference_duration_seconds_count"},
                          timeout=5).json()["data"]
    labels = next(s for s in series if s.get("namespace") and s.get("service"))
    service = ModelService(ServiceKey("demo-prod", labels["namespace"], ServiceKind.DEPLOYMENT, labels["service"]),
                           Platform.K8S, desired=1, ready=1)
    backend = PrometheusBackend(prom.url, services=lambda: [service])
    try:
        latency = backend.refresh().latency
    finally:
        backend.stop()
    assert latency[service.key].slo == Slo(0.5, SloSource.ALERT_RULE, "HighInferenceLatency")

"""Re-record the API responses the unit tests read, from real Prometheus and Alertmanager.

    .venv/bin/python -m tests.unit.data.prometheus.record

Starts both on 127.0.0.1 (temp dirs), feeds Prometheus a seed-histogram exporter (fast, slow and
an idle service whose p95 turns NaN) and a dcgm-exporter look-alike (one host labelled `Hostname`,
one `hostname`; pod/namespace renamed exported_* by a colliding target label), fires alerts
(one silenced, one inhibited, one active, one pending) and writes the JSON bodies beside this file.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from pathlib import Path

from prometheus_client import CollectorRegistry

from tests.integration.metrics_servers import (
    ExactNames,
    SeedExporter,
    alertmanager,
    dcgm_families,
    http_json,
    prometheus,
    serve_registry,
    wait_for,
)

HERE = Path(__file__).parent

RULES = """\
groups:
- name: model.performance
  interval: 1s
  rules:
  - alert: HighInferenceLatency
    expr: histogram_quantile(0.95, rate(model_inference_duration_seconds_bucket[10s])) > 0.5
    for: 2s
    labels:
      severity: warning
    annotations:
      summary: "Model inference latency is high"
  - alert: ModelDown
    expr: vector(1)
    labels: {severity: critical, namespace: ml, service: slow-model}
    annotations: {summary: "slow-model has no ready replica", description: "0/3 replicas ready"}
  - alert: ModelInfo
    expr: vector(1)
    labels: {severity: info, namespace: ml, service: fast-model}
    annotations: {summary: "fast-model runs an old image"}
  - alert: LatencyBudgetBurn
    expr: vector(1)
    for: 1h
    labels: {severity: warning, namespace: ml, service: slow-model}
    annotations: {summary: "error budget burning"}
"""

INHIBIT = """\
inhibit_rules:
- source_matchers: ['alertname="ModelDown"']
  target_matchers: ['severity="warning"']
  equal: [service]
"""


def save(name: str, body: object) -> None:
    (HERE / name).write_text(json.dumps(body, indent=1, sort_keys=True) + "\n")
    print("wrote", name)


def main() -> None:
    seed = SeedExporter(
        {
            ("ml", "fast-model"): [0.011 + 0.013 * i / 9 for i in range(10)],
            ("ml", "slow-model"): [0.3] * 9 + [0.8],
            ("ml", "idle-model"): [0.05],
        }
    )
    gpu_registry = CollectorRegistry()
    gpu_registry.register(ExactNames(dcgm_families))
    with (
        alertmanager("prometheus-alertmanager", extra_config=INHIBIT) as am,
        seed.running() as seed_addr,
        serve_registry(gpu_registry) as gpu_addr,
        prometheus(
            "prometheus",
            [seed_addr],
            rules=RULES,
            alertmanager_url=am.url,
            extra_jobs=[("dcgm", [gpu_addr], {"namespace": "gpu-operator", "pod": "dcgm-exporter-q7x2p"})],
        ) as prom,
    ):
        q = lambda query: http_json(f"{prom.url}/api/v1/query?query={urllib.parse.quote(query)}")  # noqa: E731
        wait_for(lambda: q("model_inference_duration_seconds_count")["data"]["result"], 30, "first scrape")
        time.sleep(3)
        seed.set(("ml", "idle-model"), [])  # stops observing: its p95 turns NaN once the window passes
        with seed._lock:
            seed.services = {k: v for k, v in seed.services.items() if v}
        time.sleep(14)
        end = time.time()
        p95 = (
            "histogram_quantile(0.95, sum by (le, model, cluster, namespace, service, swarm_service) "
            "(rate(model_inference_duration_seconds_bucket[10s])))"
        )
        save(
            "query_range_p95.json",
            http_json(
                f"{prom.url}/api/v1/query_range?"
                + urllib.parse.urlencode({"query": p95, "start": end - 30, "end": end, "step": 2})
            ),
        )
        save(
            "query_rps.json",
            q(
                "sum by (model, cluster, namespace, service, swarm_service) "
                "(rate(model_inference_duration_seconds_count[10s]))"
            ),
        )
        save("label_names.json", http_json(f"{prom.url}/api/v1/label/__name__/values"))
        for metric in ("DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE"):
            save(f"dcgm_{metric.split('_DEV_')[1].lower()}.json", q(metric))
        wait_for(lambda: len(http_json(am.url + "/api/v2/alerts")) >= 3, 30, "alerts in Alertmanager")
        sid = http_json(
            am.url + "/api/v2/silences",
            "POST",
            {
                "matchers": [{"name": "alertname", "value": "ModelDown", "isRegex": False, "isEqual": True}],
                "startsAt": "",
                "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600)),
                "createdBy": "recorder",
                "comment": "known outage, ticket OPS-1",
            },
        )["silenceID"]
        old = http_json(
            am.url + "/api/v2/silences",
            "POST",
            {
                "matchers": [{"name": "service", "value": "fast-.*", "isRegex": True, "isEqual": True}],
                "startsAt": "",
                "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 600)),
                "createdBy": "recorder",
                "comment": "deploy window",
            },
        )["silenceID"]
        http_json(f"{am.url}/api/v2/silence/{old}", "DELETE")
        print("silence", sid)
        wait_for(
            lambda: any(a["status"]["inhibitedBy"] for a in http_json(am.url + "/api/v2/alerts")), 20, "inhibition"
        )
        save("am_alerts.json", http_json(am.url + "/api/v2/alerts"))
        save("am_silences.json", http_json(am.url + "/api/v2/silences"))
        save("prom_alerts.json", http_json(prom.url + "/api/v1/alerts"))


if __name__ == "__main__":
    threading.current_thread().name = "recorder"
    main()

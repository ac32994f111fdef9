"""Which cache to build the Kubernetes backend on: the client's SharedInformer, or our own reflector?

Serves one synthetic PodList (default 5,000 pods of about 2.5 KB) from a local HTTP server on
127.0.0.1 and measures, in the same run, the time until each has the whole list in its cache:

  informer   kubernetes.informer.SharedInformer(CoreV1Api.list_pod_for_all_namespaces): typed models
  typed      the same typed list call alone (what the informer spends most of its time in)
  reflector  backends.kubernetes.reflector.Reflector: raw paginated LIST, orjson, reduced to PodFacts

    .venv/bin/python bench/k8s_informer_choice.py [--pods 5000] [--runs 2]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def synthetic_pod(i: int) -> dict:
    return {
        "metadata": {
            "name": f"model-{i // 10}-{i:06d}",
            "namespace": f"ns-{i % 20}",
            "uid": f"00000000-0000-0000-0000-{i:012d}",
            "resourceVersion": str(1000 + i),
            "creationTimestamp": "2026-11-28T10:00:00Z",
            "labels": {"app": f"model-{i // 10}", "version": "v2.1", "pod-template-hash": "7d9c6b5f4"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"model-{i // 10}-7d9c6b5f4",
                                 "uid": f"rs-{i // 10}", "controller": True, "blockOwnerDeletion": True}],
        },
        "spec": {
            "nodeName": f"node-{i % 200}",
            "containers": [{
                "name": "model-server", "image": "registry.local/team/model:v2.1",
                "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                "env": [{"name": "MODEL_VERSION", "value": "2.1"}, {"name": "BATCH_SIZE", "value": "32"}],
                "resources": {"requests": {"cpu": "500m", "memory": "2Gi", "nvidia.com/gpu": "1"},
                              "limits": {"memory": "4Gi", "nvidia.com/gpu": "1"}},
                "volumeMounts": [{"name": "kube-api-access", "mountPath": "/var/run/secrets/kubernetes.io",
                                  "readOnly": True}],
                "terminationMessagePath": "/dev/termination-log", "imagePullPolicy": "IfNotPresent",
            }],
            "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default", "schedulerName": "default-scheduler",
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        },
        "status": {
            "phase": "Running", "hostIP": "10.0.0.1", "podIP": f"10.1.{i // 250 % 250}.{i % 250}",
            "startTime": "2026-11-28T10:00:01Z", "qosClass": "Burstable",
            "conditions": [{"type": t, "status": "True", "lastTransitionTime": "2026-11-28T10:00:02Z"}
                           for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
            "containerStatuses": [{"name": "model-server", "ready": True, "restartCount": 0, "started": True,
                                   "image": "registry.local/team/model:v2.1", "imageID": "sha256:abc",
                                   "containerID": "containerd://def",
                                   "state": {"running": {"startedAt": "2026-11-28T10:00:02Z"}}}],
        },
    }


def make_server(pods: list[dict]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            query = parse_qs(urlparse(self.path).query)
            if query.get("watch", ["false"])[0] in ("true", "1"):
                time.sleep(0.2)  # an idle watch that closes soon
                body = b""
            else:
                limit = int(query.get("limit", ["0"])[0] or 0)
                start = int(query.get("continue", ["0"])[0] or 0)
                end = start + limit if limit else len(pods)
                meta = {"resourceVersion": "999999"}
                if end < len(pods):
                    meta["continue"] = str(end)
                body = json.dumps({"kind": "PodList", "apiVersion": "v1", "metadata": meta,
                                   "items": pods[start:end]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def api_client(url: str):
    from kubernetes import client

    cfg = client.Configuration()
    cfg.host = url
    return client.ApiClient(cfg)


def time_informer(url: str, n: int) -> float:
    from kubernetes import client
    from kubernetes.informer import SharedInformer

    api = api_client(url)
    informer = SharedInformer(client.CoreV1Api(api).list_pod_for_all_namespaces)
    started = time.perf_counter()
    informer.start()
    while len(informer.cache.list()) < n:
        time.sleep(0.005)
    elapsed = time.perf_counter() - started
    informer._stop_event.set()
    return elapsed


def time_typed(url: str, n: int) -> float:
    from kubernetes import client

    api = api_client(url)
    started = time.perf_counter()
    items = client.CoreV1Api(api).list_pod_for_all_namespaces(_request_timeout=(5, 120)).items
    assert len(items) == n
    return time.perf_counter() - started


def time_reflector(url: str, n: int) -> float:
    from mlops_tui.backends.kubernetes import translate as tr
    from mlops_tui.backends.kubernetes.client import RawClient
    from mlops_tui.backends.kubernetes.reflector import Reflector, ReflectorHandler, ResourceSpec

    done = threading.Event()

    class Handler(ReflectorHandler):
        def on_list(self, reflector, items):
            assert len(items) == n
            done.set()

    reflector = Reflector(RawClient.for_server(url), ResourceSpec("pods", "", "v1", "pods"), Handler(),
                          reduce=tr.pod_facts, watch_timeout=(1, 1))
    started = time.perf_counter()
    reflector.start()
    done.wait(300)
    elapsed = time.perf_counter() - started
    reflector.stop()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    pods = [synthetic_pod(i) for i in range(args.pods)]
    size = len(json.dumps({"items": pods}))
    server = make_server(pods)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    print(f"{args.pods} pods, {size / 1e6:.1f} MB as one list; best of {args.runs} runs")
    results = {}
    for name, fn in (("reflector", time_reflector), ("typed", time_typed), ("informer", time_informer)):
        results[name] = min(fn(url, args.pods) for _ in range(args.runs))
    base = results["reflector"]
    for name, value in results.items():
        print(f"  {name:<10} {value * 1000:8.0f} ms   {value / base:5.1f}x the reflector")
    server.shutdown()


if __name__ == "__main__":
    main()

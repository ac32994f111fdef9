"""Initial sync at scale: start -> the Fleet holds every service, against kubectl and the raw floor.

For each size, the Kubernetes sims run in a child process (bench/harness.py SimHost) and, in turn:

  kubectl  `kubectl get deployments,replicasets,pods,nodes -A -o json > /dev/null`, one per cluster
           (for 20 clusters: the 20 run at once, wall time until the last ends; for one cluster
           `run_kubectl` from bench/k8s_initial_sync.py)
  floor    in Python: for every cluster and each of the four lists, one HTTPS GET (bearer token and CA
           from the kubeconfig, no pagination; clusters in parallel threads) and `orjson.loads` of the body
  ours     a fresh Python process (`--child`) that builds the Kubernetes backends the way the app
           does (`backends.kubernetes.backends_from_settings`, the function tui/sources.py
           calls, with the same --kubeconfig/--context values) into a real `Fleet`, starts it,
           and times until every cluster is connected and the Fleet's state holds every model
           service the sims hold (deployments + Argo Rollouts + InferenceServices); its peak RSS
           (VmHWM) and its RSS after imports, before the start, are reported too

Driven in-process rather than through `mlops-tui status --json`, so the figure is the sync alone
(no interpreter start, no JSON printing of thousands of services); the Swarm and metrics
backends are not involved.
Targets: ours <= 1.0x kubectl; RSS <= 400 MB at 50,000 pods.

    .venv/bin/python bench/initial_sync.py [--runs 2] [--full] [--write]
    quick: 1 cluster x 500 services x 10 pods; 20 clusters x 25 services x 10 pods
    --full adds: 1 cluster x 5,000 services x 11 pods (~50,000 pods); 20 clusters x 250 services x 1 pod
    every size has 200 GPU nodes in all
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import ssl
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (
    PYTHON,
    SimHost,
    best,
    command_line,
    kubectl,
    machine_line,
    ms,
    ratio,
    table,
    update_results,
    verdict,
)

RESOURCES = {
    "deployments": "/apis/apps/v1/deployments",
    "replicasets": "/apis/apps/v1/replicasets",
    "pods": "/api/v1/pods",
    "nodes": "/api/v1/nodes",
}


def child(spec: dict) -> None:
    """Runs in a fresh process: our initial sync, printed as one JSON line."""
    from mlops_tui.backends.fleet import Fleet
    from mlops_tui.backends.kubernetes import backends_from_settings
    from mlops_tui.backends.model import HealthState

    def status_kb(key: str) -> int:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return 0

    backends = backends_from_settings(contexts=spec["contexts"], kubeconfig=spec["kubeconfig"], explicit=True)
    fleet = Fleet(audit=lambda record: None)
    for b in backends:
        fleet.add_backend(b)
    expected, names = spec["expected"], set(spec["contexts"])
    done = threading.Event()

    def listener(state, delta) -> None:
        if len(state.services) >= expected and all(
                (h := state.health.get(n)) is not None and h.state is HealthState.CONNECTED for n in names):
            done.set()

    fleet.subscribe(listener)
    rss_before = status_kb("VmRSS")
    started = time.monotonic()
    fleet.start()
    ok = done.wait(spec.get("timeout", 600))
    elapsed = time.monotonic() - started
    state = fleet.state
    out = {"sync": elapsed if ok else None, "services": len(state.services), "gpu_nodes": len(state.gpu_nodes),
           "rss_before_kb": rss_before, "hwm_kb": status_kb("VmHWM")}
    fleet.stop()
    print(json.dumps(out), flush=True)


def kubeconfig_creds(path: str) -> dict[str, tuple[str, str]]:
    import yaml

    doc = yaml.safe_load(Path(path).read_text())
    clusters = {c["name"]: (c["cluster"]["server"], c["cluster"].get("certificate-authority-data"))
                for c in doc["clusters"]}
    users = {u["name"]: u["user"].get("token", "") for u in doc["users"]}
    return {c["name"]: (*clusters[c["context"]["cluster"]], users[c["context"]["user"]]) for c in doc["contexts"]}


def floor(creds: dict[str, tuple[str, str]], contexts: list[str]) -> tuple[float, int]:
    """HTTP GET + orjson.loads of the four lists of every cluster (clusters in parallel threads)."""
    import http.client

    import orjson

    total = [0]
    lock = threading.Lock()

    def one(context: str) -> None:
        server, ca, token = creds[context]
        u = urlparse(server)
        if u.scheme == "https":  # the sims serve TLS, as kubectl and our client see them
            tls = ssl.create_default_context(cadata=base64.b64decode(ca).decode()) if ca else \
                ssl.create_default_context()
            conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=300, context=tls)
        else:
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=300)
        for path in RESOURCES.values():
            conn.request("GET", path, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200:
                raise RuntimeError(f"GET {path}: {resp.status}")
            orjson.loads(body)
            with lock:
                total[0] += len(body)
        conn.close()

    started = time.monotonic()
    with ThreadPoolExecutor(len(contexts)) as pool:
        list(pool.map(one, contexts))
    return time.monotonic() - started, total[0]


def kubectl_all(kubeconfig: str, contexts: list[str]) -> float:
    if contexts == ["bench"]:
        from bench.k8s_initial_sync import run_kubectl  # the Kubernetes backend bench's own baseline

        return run_kubectl(kubeconfig)
    started = time.monotonic()
    procs = [subprocess.Popen(kubectl(kubeconfig, c, "get", "deployments,replicasets,pods,nodes", "-A", "-o", "json"),
                              stdout=subprocess.DEVNULL) for c in contexts]
    for p in procs:
        if p.wait(600) != 0:
            raise RuntimeError("kubectl failed")
    return time.monotonic() - started


def ours(kubeconfig: str, contexts: list[str], expected: int) -> dict:
    spec = {"kubeconfig": kubeconfig, "contexts": contexts, "expected": expected}
    out = subprocess.run([PYTHON, str(Path(__file__).resolve()), "--child", json.dumps(spec)],
                         capture_output=True, text=True, timeout=900, env={**os.environ, "KUBECONFIG": kubeconfig})
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"child failed: {out.stderr[-2000:]}")
    return json.loads(lines[-1])


def size(name: str, clusters: int, services: int, pods: int, gpu_nodes: int, runs: int) -> dict:
    from bench.harness import Env

    env = Env()
    contexts = ["bench"] if clusters == 1 else [f"sim-{i:02d}" for i in range(clusters)]
    spec = {"kubeconfig": env.kubeconfig, "kube": [
        {"name": c, "fleet": "scaled", "services": services, "pods_per_service": pods, "gpu_nodes": gpu_nodes,
         "seed": i, "extra": {"ready_delay": 0}} for i, c in enumerate(contexts)]}
    try:
        t = time.monotonic()
        with SimHost(spec, timeout=900) as sims:
            print(f"{name}: simulators up in {time.monotonic() - t:.0f} s", flush=True)
            counts = [sims.call("kube_count", cluster=c, resources=["deployments", "rollouts", "inferenceservices",
                                                                     "pods", "nodes", "replicasets"])
                      for c in contexts]
            expected = sum(c["deployments"] + c["rollouts"] + c["inferenceservices"] for c in counts)
            pods_total = sum(c["pods"] for c in counts)
            creds = kubeconfig_creds(env.kubeconfig)
            k, f, o = [], [], []
            nbytes = 0
            for _ in range(runs):  # interleaved
                k.append(kubectl_all(env.kubeconfig, contexts))
                ft, nbytes = floor(creds, contexts)
                f.append(ft)
                o.append(ours(env.kubeconfig, contexts, expected))
                print(f"  kubectl {ms(k[-1])}, floor {ms(f[-1])}, ours {ms(o[-1]['sync'] or float('inf'))}, "
                      f"peak RSS {o[-1]['hwm_kb'] / 1024:.0f} MB", flush=True)
    finally:
        env.cleanup()
    return {"name": name, "clusters": clusters, "services": expected, "pods": pods_total,
            "nodes": sum(c["nodes"] for c in counts), "bytes": nbytes, "kubectl": k, "floor": f, "ours": o}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--full", action="store_true", help="add the 50,000-pod and 20 x 250-service sizes")
    parser.add_argument("--only", help="run only sizes whose name contains this")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    sizes = [("1 cluster, 500 services", 1, 500, 10, 200), ("20 clusters, 500 services", 20, 25, 10, 10)]
    if args.full:
        sizes += [("1 cluster, 5,000 services, ~50,000 pods", 1, 5000, 11, 200),
                  ("20 clusters, 5,000 services", 20, 250, 1, 10)]
    if args.only:
        sizes = [s for s in sizes if args.only in s[0]]
    results = [size(*s, runs=args.runs) for s in sizes]
    rows = []
    for r in results:
        syncs = [o["sync"] for o in r["ours"] if o["sync"] is not None]
        o = best(syncs) if syncs else float("inf")
        k, f = best(r["kubectl"]), best(r["floor"])
        hwm = max(x["hwm_kb"] for x in r["ours"]) / 1024
        before = min(x["rss_before_kb"] for x in r["ours"]) / 1024
        big = r["pods"] >= 40000
        rows.append([f"{r['name']}: {r['pods']:,} pods, {r['nodes']:,} nodes, {r['services']:,} services "
                     f"({r['bytes'] / 1e6:.0f} MB of JSON)", ms(o), ms(k), ms(f), ratio(o, k), "<= 1.00x",
                     verdict(o <= k), f"{hwm:.0f} MB ({before:.0f} MB after imports)",
                     "<= 400 MB" if big else "", verdict(hwm <= 400) if big else ""])
    out = table(["size", "ours: start -> Fleet holds every service (best)", "kubectl get -o json (best)",
                 "floor: GET + orjson.loads (best)", "ours / kubectl", "target", "met?", "our peak RSS",
                 "RSS target", "met?"], rows)
    print(out)
    if args.write:
        body = f"`{command_line()}` ({machine_line()}; best of {args.runs} interleaved runs)\n\n{out}\n"
        update_results("Initial sync at scale (`bench/initial_sync.py`)", body)


if __name__ == "__main__":
    main()

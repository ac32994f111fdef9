"""The Kubernetes simulator's own cost of serving a big pod list, against kubectl on the same list.

Starts the simulator in a child process (its CPU is not ours) with N services x P pods on G GPU
nodes (default 2,000 x 10 = 20,000 pods on 200 nodes), then in the same run, best of --runs:

  sim        one GET /api/v1/pods (every pod, one response) read to the last byte with urllib
  sim paged  the same list in limit=500 pages, as kubectl and our reflector read it
  kubectl    `kubectl get pods -A -o json > /dev/null` (kubectl pages with limit=500)

and prints each time and its ratio to kubectl: the simulator is not the bottleneck when its share
of kubectl's time is small.

    .venv/bin/python bench/sim_overhead.py [--services 2000] [--pods-per-service 10] [--nodes 200] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import sys, json
from mlops_tui.sim.kube import SimKubeCluster, write_kubeconfig
from mlops_tui.sim.kube.tls import cert_paths
services, per, nodes, path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
cluster = SimKubeCluster.start(name="bench", seed=7, fleet="scaled", services=services, pods_per_service=per,
                               gpu_nodes=nodes, ready_delay=0)
write_kubeconfig(path, [cluster])
print(json.dumps({"url": cluster.url, "token": cluster.admin_token, "ca": cert_paths()[0],
                  "pods": cluster.store.count("pods")}), flush=True)
sys.stdin.readline()
cluster.stop()
"""


def read_all(url: str, token: str, ctx: ssl.SSLContext) -> int:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
    with urllib.request.urlopen(req, context=ctx, timeout=300) as resp:
        return len(resp.read())


def paged(base: str, token: str, ctx: ssl.SSLContext) -> int:
    total, cont = 0, ""
    while True:
        url = f"{base}/api/v1/pods?limit=500" + (f"&continue={cont}" if cont else "")
        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, context=ctx, timeout=300) as resp:
            data = resp.read()
        total += len(data)
        cont = json.loads(data)["metadata"].get("continue", "")
        if not cont:
            return total


def best(fn, runs: int) -> tuple[float, int]:
    times, size = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        size = fn()
        times.append(time.perf_counter() - started)
    return min(times), size


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--services", type=int, default=2000)
    parser.add_argument("--pods-per-service", type=int, default=10)
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = os.path.join(tmp, "config")
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(args.services), str(args.pods_per_service),
                                  str(args.nodes), kubeconfig], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        try:
            info = json.loads(child.stdout.readline())
            ctx = ssl.create_default_context(cafile=info["ca"])
            url, token = info["url"], info["token"]
            print(f"{info['pods']:,} pods on {args.nodes} GPU nodes, best of {args.runs}")
            full, size = best(lambda: read_all(f"{url}/api/v1/pods", token, ctx), args.runs)
            pages, psize = best(lambda: paged(url, token, ctx), args.runs)

            def kubectl() -> int:
                with open(os.devnull, "wb") as devnull:
                    subprocess.run(["kubectl", "--kubeconfig", kubeconfig, "--cache-dir", os.path.join(tmp, "cache"),
                                    "get", "pods", "-A", "-o", "json"], stdout=devnull, check=True, timeout=600)
                return 0

            kube, _ = best(kubectl, args.runs)
        finally:
            child.stdin.write("\n")
            child.stdin.flush()
            child.wait(timeout=30)
    print("| path | time | bytes | share of kubectl |")
    print("|---|---|---|---|")
    print(f"| sim: one GET, all pods (urllib) | {full * 1000:,.0f} ms | {size / 1e6:.1f} MB | {full / kube:.1%} |")
    print(f"| sim: limit=500 pages (urllib) | {pages * 1000:,.0f} ms | {psize / 1e6:.1f} MB | {pages / kube:.1%} |")
    print(f"| kubectl get pods -A -o json | {kube * 1000:,.0f} ms | | 100% |")
    print(f"ratio kubectl / sim (one GET): {kube / full:.1f}x; kubectl / sim (paged): {kube / pages:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

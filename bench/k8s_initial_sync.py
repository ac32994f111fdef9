"""Initial sync of a big cluster, against kubectl on the same simulator in the same run.

Starts the Kubernetes simulator in a child process (so its CPU and memory are not ours) with
20,000 pods / 2,000 deployments / 200 nodes, then measures:

  kubectl   `kubectl get pods,deployments,replicasets,nodes -A -o json > /dev/null` (best of N)
  ours      a `KubernetesBackend` from start() to its first snapshot in a real `Fleet`,
            every resource listed, watched and translated (best of N, a fresh backend each time)
  latency   change -> Fleet state: a deployment's replicas changed through the simulator's store,
            time until the Fleet's published state shows it (p50/p95 over --changes changes), and
            the backend's share (until its Change for that deployment reaches the Fleet)
  RSS       peak resident memory of this process (the backend and Fleet, not the simulator)

    .venv/bin/python bench/k8s_initial_sync.py [--services 2000] [--pods-per-service 10] [--nodes 200]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = r"""
import sys, time
from mlops_tui.sim.kube import SimKubeCluster, write_kubeconfig
services, per, nodes, path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
cluster = SimKubeCluster.start(name="bench", seed=7, fleet="scaled", services=services, pods_per_service=per,
                               gpu_nodes=nodes, ready_delay=0)
write_kubeconfig(path, [cluster])
print("READY", flush=True)
for line in sys.stdin:
    cmd = line.split()
    if not cmd:
        continue
    if cmd[0] == "scale":
        ns, name, n = cmd[1], cmd[2], int(cmd[3])
        cluster.store.patch("deployments", ns, name, {"spec": {"replicas": n}})
        print("OK", flush=True)
    elif cmd[0] == "quit":
        break
cluster.stop()
"""


PROBE: dict = {}


def run_kubectl(kubeconfig: str) -> float:
    started = time.perf_counter()
    with open(os.devnull, "wb") as devnull:
        subprocess.run(
            ["kubectl", "--kubeconfig", kubeconfig, "--context", "bench", "get",
             "pods,deployments,replicasets,nodes", "-A", "-o", "json"],
            stdout=devnull, check=True, timeout=600,
        )
    return time.perf_counter() - started


def run_ours(kubeconfig: str, keep: bool = False):
    from mlops_tui.backends.fleet import Fleet
    from mlops_tui.backends.kubernetes import resolve_backends
    from mlops_tui.backends.model import HealthState

    (backend,) = resolve_backends(contexts=["bench"], kubeconfig=kubeconfig)
    backend._check_access = False  # the SSAR sweep runs after the first snapshot anyway
    synced = threading.Event()
    fleet = Fleet([backend], audit=lambda record: None)
    start = backend.start

    def start_with_probe(sink):
        # Timestamps the backend's own Change for the awaited (key, replicas): the backend's share
        # of the latency, before the Fleet's 10 Hz coalescing.
        def probed(change):
            wanted = PROBE.get("wanted")
            if wanted is not None:
                service = change.services.get(wanted[0])
                if service is not None and service.desired == wanted[1]:
                    PROBE.setdefault("emitted", time.perf_counter())
            sink(change)

        start(probed)

    backend.start = start_with_probe

    def listener(state, delta):
        health = state.health.get("bench")
        if health is not None and health.state is HealthState.CONNECTED and state.services:
            synced.set()

    fleet.subscribe(listener)
    started = time.perf_counter()
    fleet.start()
    if not synced.wait(600):
        raise SystemExit("the backend never synced")
    elapsed = time.perf_counter() - started
    if keep:
        return elapsed, fleet
    fleet.stop()
    return elapsed, None


def latency(fleet, child, changes: int) -> tuple[list[float], list[float]]:
    from mlops_tui.backends.model import ServiceKind

    state = fleet.state
    deployments = sorted(k for k in state.services if k.kind is ServiceKind.DEPLOYMENT)[:changes]
    seen = threading.Condition()
    results = []
    backend_only = []
    for key in deployments:
        current = fleet.state.services[key].desired
        target = current + 1

        def arrived(state, delta, key=key, target=target):
            service = state.services.get(key)
            if service is not None and service.desired == target:
                with seen:
                    seen.notify_all()

        fleet.subscribe(arrived)
        PROBE.clear()
        PROBE["wanted"] = (key, target)
        started = time.perf_counter()
        child.stdin.write(f"scale {key.namespace} {key.name} {target}\n")
        child.stdin.flush()
        with seen:
            ok = seen.wait_for(lambda key=key, target=target: fleet.state.services[key].desired == target, 5)
        results.append(time.perf_counter() - started if ok else float("inf"))
        backend_only.append(PROBE.get("emitted", float("inf")) - started)
        child.stdout.readline()
        fleet._listeners.remove(arrived)
        time.sleep(0.15)  # past the Fleet's coalescing interval, so each change is measured alone
    return results, backend_only


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=2000)
    parser.add_argument("--pods-per-service", type=int, default=10)
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--changes", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = str(Path(tmp) / "kubeconfig")
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(args.services), str(args.pods_per_service), str(args.nodes), kubeconfig],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
        )
        try:
            if child.stdout.readline().strip() != "READY":
                raise SystemExit("the simulator did not start")
            kubectl = min(run_kubectl(kubeconfig) for _ in range(args.runs))
            ours = min(run_ours(kubeconfig)[0] for _ in range(args.runs - 1)) if args.runs > 1 else float("inf")
            last, fleet = run_ours(kubeconfig, keep=True)
            ours = min(ours, last)
            counts = fleet.state
            n_services = len(counts.services)
            n_gpu = len(counts.gpu_nodes)
            lat, lat_backend = latency(fleet, child, args.changes)
            fleet.stop()
            child.stdin.write("quit\n")
            child.stdin.flush()
        finally:
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
    def percentiles(values: list[float]) -> tuple[float, float]:
        ms = sorted(x * 1000 for x in values)
        return statistics.median(ms), ms[max(round(0.95 * len(ms)) - 1, 0)]

    p50, p95 = percentiles(lat)
    b50, b95 = percentiles(lat_backend)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"cluster: {args.services * args.pods_per_service} pods, {args.services} deployments, {args.nodes} nodes"
          f" -> {n_services} services, {n_gpu} GPU nodes in the Fleet")
    print(f"kubectl get pods,deployments,replicasets,nodes -A -o json: {kubectl:.2f} s (best of {args.runs})")
    print(f"our initial sync to the first Fleet snapshot:          {ours:.2f} s (best of {args.runs})")
    print(f"ratio ours/kubectl: {ours / kubectl:.2f} (target <= 1.0)")
    print(f"change -> Fleet state over {len(lat)} changes: p50 {p50:.1f} ms, p95 {p95:.1f} ms (target p95 <= 100)")
    print(f"  of which change -> the backend's Change: p50 {b50:.1f} ms, p95 {b95:.1f} ms (the rest is the Fleet's "
          "10 Hz coalescing while the simulator's controllers keep other objects moving)")
    print(f"peak RSS of this process: {rss:.0f} MB")


if __name__ == "__main__":
    main()

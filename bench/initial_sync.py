"""Initial sync at scale: start -> the Fleet holds every service, against kubectl and the raw floor.

For each size, the Kubernetes sims run in a child process (bench/harness.py SimHost) and, in turn:

  kubectl  `kubectl get deployments,replicasets,pods,nodes -A -o json > /dev/null`, one per cluster
           (for 20 clusters: the 20 run at once, wall time until the last ends, except the 200,000-pod
           size: one context after the other, as an operator would; for one cluster `run_kubectl`
           from bench/k8s_initial_sync.py)
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
Targets: ours <= 1.0x kubectl; at 55,000 pods ours <= 2.0x the floor and RSS <= 400 MB; at 20 clusters x
10,000 pods ours <= 0.3x kubectl run over the contexts in turn (as an operator would) and RSS <= 800 MB.

    .venv/bin/python bench/initial_sync.py [--runs 2] [--full] [--only NAME] [--write]
    quick: 1 cluster x 500 services x 10 pods; 20 clusters x 25 services x 10 pods
    --full adds: 1 cluster x 5,000 services x 11 pods (~50,000 pods); 20 clusters x 250 services x 1 pod;
    20 clusters x 1,000 services x 10 pods (200,000 pods; its sims in 4 SimHost children of 5 clusters,
    ~1 GB each, so four processes serve the lists, not one GIL)
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


def kubectl_all(kubeconfig: str, contexts: list[str], in_turn: bool = False) -> float:
    if contexts == ["bench"]:
        from bench.k8s_initial_sync import run_kubectl  # the Kubernetes backend bench's own baseline

        return run_kubectl(kubeconfig)
    command = ("get", "deployments,replicasets,pods,nodes", "-A", "-o", "json")
    started = time.monotonic()
    if in_turn:  # one context after the other, as an operator looping over contexts would
        for c in contexts:
            subprocess.run(kubectl(kubeconfig, c, *command), stdout=subprocess.DEVNULL, check=True, timeout=900)
        return time.monotonic() - started
    procs = [subprocess.Popen(kubectl(kubeconfig, c, *command), stdout=subprocess.DEVNULL) for c in contexts]
    for p in procs:
        if p.wait(600) != 0:
            raise RuntimeError("kubectl failed")
    return time.monotonic() - started


def merge_kubeconfigs(parts: list[str], path: str) -> None:
    """One kubeconfig with the contexts of every SimHost child's file."""
    import yaml

    docs = [yaml.safe_load(Path(p).read_text()) for p in parts]
    merged = dict(docs[0])
    for key in ("clusters", "users", "contexts"):
        merged[key] = [entry for doc in docs for entry in doc[key]]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(merged, f, sort_keys=False)


def ours(kubeconfig: str, contexts: list[str], expected: int) -> dict:
    spec = {"kubeconfig": kubeconfig, "contexts": contexts, "expected": expected}
    out = subprocess.run([PYTHON, str(Path(__file__).resolve()), "--child", json.dumps(spec)],
                         capture_output=True, text=True, timeout=900, env={**os.environ, "KUBECONFIG": kubeconfig})
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"child failed: {out.stderr[-2000:]}")
    return json.loads(lines[-1])


def size(name: str, clusters: int, services: int, pods: int, gpu_nodes: int, runs: int,
         hosts: int = 1, in_turn: bool = False) -> dict:
    """One size: its sims spread over `hosts` SimHost children (each serves its share of the clusters
    on its own core and GIL), kubectl over every context at once or `in_turn`."""
    from contextlib import ExitStack

    from bench.harness import Env

    env = Env()
    contexts = ["bench"] if clusters == 1 else [f"sim-{i:02d}" for i in range(clusters)]
    kube = [{"name": c, "fleet": "scaled", "services": services, "pods_per_service": pods, "gpu_nodes": gpu_nodes,
             "seed": i, "extra": {"ready_delay": 0}} for i, c in enumerate(contexts)]
    shares = [kube[i::hosts] for i in range(hosts)]
    parts = [env.kubeconfig if hosts == 1 else str(env.path / f"kubeconfig-{i}") for i in range(hosts)]
    try:
        with ExitStack() as stack:
            t = time.monotonic()
            sims = [SimHost({"kubeconfig": part, "kube": share}, timeout=1800)
                    for part, share in zip(parts, shares, strict=True)]
            with ThreadPoolExecutor(hosts) as pool:  # the children build their clusters in parallel
                started = list(pool.map(lambda host: stack.enter_context(host), sims))
            if hosts > 1:
                merge_kubeconfigs(parts, env.kubeconfig)
            print(f"{name}: simulators up in {time.monotonic() - t:.0f} s ({hosts} SimHost children)", flush=True)
            counts = [host.call("kube_count", cluster=c["name"],
                                resources=["deployments", "rollouts", "inferenceservices", "pods", "nodes",
                                           "replicasets"])
                      for host, share in zip(started, shares, strict=True) for c in share]
            expected = sum(c["deployments"] + c["rollouts"] + c["inferenceservices"] for c in counts)
            pods_total = sum(c["pods"] for c in counts)
            creds = kubeconfig_creds(env.kubeconfig)
            k, f, o = [], [], []
            nbytes = 0
            for _ in range(runs):  # interleaved
                k.append(kubectl_all(env.kubeconfig, contexts, in_turn))
                ft, nbytes = floor(creds, contexts)
                f.append(ft)
                o.append(ours(env.kubeconfig, contexts, expected))
                print(f"  kubectl {ms(k[-1])}, floor {ms(f[-1])}, ours {ms(o[-1]['sync'] or float('inf'))}, "
                      f"peak RSS {o[-1]['hwm_kb'] / 1024:.0f} MB (load average {os.getloadavg()[0]:.1f})", flush=True)
    finally:
        env.cleanup()
    return {"name": name, "clusters": clusters, "services": expected, "pods": pods_total,
            "nodes": sum(c["nodes"] for c in counts), "bytes": nbytes, "kubectl": k, "floor": f, "ours": o,
            "in_turn": in_turn}


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
    # (name, clusters, services per cluster, pods per service, GPU nodes per cluster, SimHost children,
    #  kubectl in turn?, target ours/kubectl, target ours/floor, RSS target MB)
    sizes: list[tuple[str, int, int, int, int, int, bool, float, float | None, int | None]] = [
        ("1 cluster, 500 services", 1, 500, 10, 200, 1, False, 1.0, None, None),
        ("20 clusters, 500 services", 20, 25, 10, 10, 1, False, 1.0, None, None)]
    if args.full:
        sizes += [("1 cluster, 5,000 services, ~50,000 pods", 1, 5000, 11, 200, 1, False, 1.0, 2.0, 400),
                  ("20 clusters, 5,000 services", 20, 250, 1, 10, 1, False, 1.0, None, None),
                  ("20 clusters x 10,000 pods", 20, 1000, 10, 10, 4, True, 0.3, None, 800)]
    if args.only:
        sizes = [s for s in sizes if args.only in s[0]]
    results = [(size(*s[:5], runs=args.runs, hosts=s[5], in_turn=s[6]), s[7:]) for s in sizes]
    rows = []
    for r, (k_target, f_target, rss_target) in results:
        syncs = [o["sync"] for o in r["ours"] if o["sync"] is not None]
        o = best(syncs) if syncs else float("inf")
        k, f = best(r["kubectl"]), best(r["floor"])
        hwm = max(x["hwm_kb"] for x in r["ours"]) / 1024
        before = min(x["rss_before_kb"] for x in r["ours"]) / 1024
        kubectl_how = " (contexts in turn)" if r["in_turn"] else ""
        rows.append([f"{r['name']}: {r['pods']:,} pods, {r['nodes']:,} nodes, {r['services']:,} services "
                     f"({r['bytes'] / 1e6:.0f} MB of JSON)", ms(o), ms(k) + kubectl_how, ms(f),
                     ratio(o, k), f"<= {k_target:.2f}x", verdict(o <= k * k_target),
                     ratio(o, f), f"<= {f_target:.1f}x" if f_target else "",
                     verdict(o <= f * f_target) if f_target else "",
                     f"{hwm:.0f} MB ({before:.0f} MB after imports)",
                     f"<= {rss_target} MB" if rss_target else "", verdict(hwm <= rss_target) if rss_target else ""])
    out = table(["size", "ours: start -> Fleet holds every service (best)", "kubectl get -o json (best)",
                 "floor: GET + orjson.loads (best)", "ours / kubectl", "target", "met?", "ours / floor", "target",
                 "met?", "our peak RSS", "RSS target", "met?"], rows)
    print(out)
    if args.write:
        body = f"`{command_line()}` ({machine_line()}; best of {args.runs} interleaved runs)\n\n{out}\n"
        # A size run alone (--only) gets a subsection of its own, so the table of every size stays.
        title = "Initial sync at scale (`bench/initial_sync.py`)"
        update_results(f"{title}: {sizes[0][0]}" if args.only and len(sizes) == 1 else title, body)


if __name__ == "__main__":
    main()

"""Freshness: a change in the simulator -> the changed cell on the app's screen, p50/p95/p99.

Setup: one Kubernetes sim ("scaled", --services x --pods, 200 GPU nodes) and an empty Swarm sim in
a child process; `mlops-tui` in a 200x50 pty (at 120x40 the READY column is beyond the services
pane's right edge since the columns got fixed widths). The changes are made to deployments whose rows are on
screen: `spec.replicas` is patched through the simulator's store (a new generation and a watch
event, as `kubectl scale` would cause), and the latency is from just before the store call (the
sim process's CLOCK_MONOTONIC) to the arrival of the frame after which the row's READY cell shows
the new desired count (`x/N`) on the virtual screen.

The rows are ordered by name (`N`) so that the measured ones stay on screen while others change.

  idle   only the measured changes (spaced 0.2-0.5 s apart)
  churn  the same, while other deployments are scaled so that the cluster makes --rate object
         changes/s in all (counted by the store's resourceVersion: our patches and the simulated
         controllers' reactions to them, pods, ReplicaSets, endpoints, events)

Baseline, for the same changes at the same time: `kubectl get deployments -A -w` (custom columns
name + spec.replicas) on a pipe: change -> the line showing the new count (kubectl's own watch
event latency, decoding and printing included; no screen).
Targets (issue 21): p95 <= 40 ms idle, p95 <= 100 ms under 200 object changes/s.

    .venv/bin/python bench/freshness.py [--changes 40] [--rate 200] [--write]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (
    FleetApp,
    ReplicaEvents,
    command_line,
    kubectl,
    machine_line,
    ms,
    percentile,
    ratio,
    row_for,
    table,
    update_results,
    verdict,
    visible_rows,
)

TIMEOUT = 10.0


class KubectlReplicasWatch(ReplicaEvents):
    """`kubectl get deployments -A -w -o custom-columns=NAME,REPLICAS`: (arrival, name, replicas)."""

    def __init__(self, kubeconfig: str, context: str) -> None:
        super().__init__(kubectl(kubeconfig, context, "get", "deployments", "-A", "-w", "--no-headers",
                                 "-o", "custom-columns=NAME:.metadata.name,R:.spec.replicas"))

    def parse(self, line: str) -> tuple[str, int] | None:
        parts = line.split()
        return (parts[0], int(parts[1])) if len(parts) == 2 and parts[1].isdigit() else None


def measure(fa: FleetApp, watch: KubectlReplicasWatch, targets: list[dict], n: int, rng: random.Random) -> tuple:
    app, sims = fa.app, fa.sims
    assert app is not None and sims is not None
    ours, theirs = [], []
    counts: dict[str, int] = {}
    for i in range(n):
        row = targets[i % len(targets)]
        k = counts[row["name"]] = counts.get(row["name"], 0) + 1
        replicas = row["base"] + k % 3  # base+1, base+2, base, ...: always a different value
        reply = sims.call("kube_patch", cluster=row["cluster_full"], namespace=row["ns"], name=row["name"],
                          patch={"spec": {"replicas": replicas}})
        t0 = reply["t"]
        seen = app.wait_for(lambda s, row=row, r=replicas: (x := row_for(s.lines(), row["name"], row["cluster_full"]))
                            is not None and int(x["desired"]) == r, TIMEOUT, after=t0)
        ours.append((seen - t0) if seen else float("inf"))
        got = watch.wait(row["name"], replicas, t0, TIMEOUT)
        theirs.append((got - t0) if got else float("inf"))
        time.sleep(rng.uniform(0.2, 0.5))
    return ours, theirs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=500)
    parser.add_argument("--pods", type=int, default=10)
    parser.add_argument("--changes", type=int, default=40, help="measured changes per phase")
    parser.add_argument("--rate", type=float, default=200.0, help="churn: other deployment changes per second")
    parser.add_argument("--churn-field", choices=("annotation", "replicas"), default="replicas",
                        help="what the churn patches on deployments (see harness._churn)")
    parser.add_argument("--cols", type=int, default=200)
    parser.add_argument("--rows", type=int, default=50)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    rng = random.Random(3)
    kube = [{"name": "sim-a", "fleet": "scaled", "services": args.services, "pods_per_service": args.pods,
             "gpu_nodes": 200}]
    results = {}
    with FleetApp(kube, cols=args.cols, rows=args.rows) as fa:
        app, sims = fa.app, fa.sims
        assert app is not None and sims is not None
        deployments = {tuple(k) for k in sims.call("kube_deployments", cluster="sim-a")["keys"]}

        def deployment_rows(lines: list[str]) -> list[dict]:  # rows on screen that are Deployments
            return [r for r in visible_rows(lines) if (r.get("ns", ""), r["name"]) in deployments
                    or (not r.get("ns") and any(name == r["name"] for _ns, name in deployments))]

        if app.wait_for(lambda s: len(deployment_rows(s.lines())) >= 5, 120) is None:
            raise SystemExit("no deployment rows appeared on screen")
        fa.wait_quiet(2.0, 60)
        # Order by name (`N`): under churn the default trouble-first order moves the churned rows up and
        # pushes the measured ones off screen, where no cell can be seen changing.
        app.press("N")
        if app.wait_for(lambda s: "NAME▲" in s.text(), 10) is None:
            raise SystemExit("the services did not sort by name")
        fa.wait_quiet(1.0, 30)
        targets = []
        for r in deployment_rows(app.snapshot()):
            ns = r.get("ns") or next(n for n, name in deployments if name == r["name"])
            targets.append({**r, "ns": ns, "base": int(r["desired"]), "cluster_full": "sim-a"})
        watch = KubectlReplicasWatch(sims.info["kubeconfig"], "sim-a")
        try:
            time.sleep(2.0)
            results["idle"] = measure(fa, watch, targets, args.changes, rng)
            print("idle done", flush=True)
            exclude = [["sim-a", t["ns"], t["name"]] for t in targets]
            sims.call("churn", rate=args.rate, duration=3600, exclude=exclude, field=args.churn_field)
            time.sleep(2.0)
            results["churn"] = measure(fa, watch, targets, args.changes, rng)
            sims.call("churn_stop")
            done = sims.wait_event("churn_done", 30)
            print(f"churn done: {done}", flush=True)
            churn_info = done or {}
        finally:
            watch.stop()

    rows = []
    targets_s = {"idle": 0.040, "churn": 0.100}
    for phase in ("idle", "churn"):
        ours, theirs = results[phase]
        label = "idle" if phase == "idle" else (
            f"churn ({churn_info.get('object_changes', 0) / max(churn_info.get('seconds', 1), 1e-9):,.0f} object "
            f"changes/s from {churn_info.get('changes', 0) / max(churn_info.get('seconds', 1), 1e-9):,.1f} "
            f"deployment {args.churn_field} patches/s)")
        p95, k95 = percentile(ours, 95), percentile(theirs, 95)
        rows.append([label, ms(percentile(ours, 50)), ms(p95), ms(percentile(ours, 99)),
                     ms(percentile(theirs, 50)), ms(k95), ms(percentile(theirs, 99)), ratio(p95, k95),
                     f"p95 <= {targets_s[phase] * 1000:.0f} ms", verdict(p95 <= targets_s[phase])])
    header = ["phase", "ours p50", "ours p95", "ours p99", "kubectl -w p50", "kubectl -w p95", "kubectl -w p99",
              "p95 ours / kubectl", "target", "met?"]
    out = table(header, rows)
    print(out)
    if args.write:
        body = (f"`{command_line()}` ({machine_line()}; pty {args.cols}x{args.rows}; one Kubernetes sim with "
                f"{args.services} services x {args.pods} pods, 200 GPU nodes; {args.changes} measured changes "
                f"per phase, change = `spec.replicas` patched in the sim's store, seen = the row's READY cell "
                f"shows the new desired count; kubectl on a pipe for the same changes)\n\n{out}\n")
        update_results("Freshness (`bench/freshness.py`)", body)


if __name__ == "__main__":
    main()

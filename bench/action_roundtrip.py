"""Action round trip: confirm -> API call -> verified converged, for scale and rollback.

Ours: a real `Fleet` in this process with the Kubernetes backend (a "scaled" Kubernetes sim) and the
Swarm backend (the Swarm sim's demo fleet), both sims in a child process. For each action the plan
is made first (what the preview shows), then the timer runs around `Fleet.apply(plan,
confirmed_text=...)`: the confirmed plan is applied once, re-read and followed until the backend
verifies it converged (Outcome.SUCCEEDED), and the audit record is written.

  scale     a Deployment / Swarm service from N to N+1 replicas and back (pods must become ready:
            the Kubernetes sim's pods are Ready --ready-delay s after binding)
  rollback  after an image update (not timed: `kubectl set image` for Deployments, which the Kubernetes
            backend does not update itself; the Fleet's UpdateImage for Swarm) the previous revision /
            spec is restored

Baselines, same sims, same kinds of object, interleaved with ours:
  Kubernetes  `kubectl scale deployment/X --replicas=N` + `kubectl rollout status deployment/X`;
              `kubectl rollout undo deployment/X` + `kubectl rollout status deployment/X`
  Swarm       `docker service scale X=N` and `docker service rollback X` (both wait for convergence,
              as the docker CLI does by default)

    .venv/bin/python bench/action_roundtrip.py [--runs 3] [--write]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (
    Env,
    SimHost,
    best,
    command_line,
    kubectl,
    machine_line,
    median,
    ms,
    ratio,
    table,
    timed_run,
    update_results,
)

DOCKER = shutil.which("docker") or "docker"


def start_fleet(kubeconfig: str, swarm_url: str):
    from mlops_tui.backends.fleet import Fleet
    from mlops_tui.backends.kubernetes import backends_from_settings as kube_backends
    from mlops_tui.backends.model import HealthState
    from mlops_tui.backends.swarm import backends_from_settings as swarm_backends

    fleet = Fleet(audit=lambda record: None)
    for b in [*kube_backends(contexts=["sim-a"], kubeconfig=kubeconfig, explicit=True),
              *swarm_backends([swarm_url])]:
        fleet.add_backend(b)
    ready = threading.Event()

    def listener(state, delta) -> None:
        if len(state.health) == 2 and all(h.state is HealthState.CONNECTED for h in state.health.values()):
            ready.set()

    fleet.subscribe(listener)
    fleet.start()
    if not ready.wait(120):
        fleet.stop()
        raise SystemExit("the Fleet did not connect to both sims")
    time.sleep(1.0)
    return fleet


def apply_timed(fleet, key, intent) -> tuple[float, str]:
    from mlops_tui.backends.plans import Outcome

    fleet.flush()
    service = fleet.state.services[key]
    plan = fleet.plan(service, intent)
    t = time.monotonic()
    outcome = fleet.apply(plan, confirmed_text=plan.confirm_text, verify_timeout=120)
    elapsed = time.monotonic() - t
    if outcome.outcome is not Outcome.SUCCEEDED:
        print(f"  {intent}: {outcome.outcome.value}: {outcome.detail}", file=sys.stderr)
        return float("inf"), outcome.outcome.value
    return elapsed, outcome.outcome.value


def wait_converged(fleet, key, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fleet.flush()
        s = fleet.state.services.get(key)
        if s is not None and s.ready == s.desired and s.updated == s.desired:
            return
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--services", type=int, default=200)
    parser.add_argument("--ready-delay", type=float, default=1.0)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    from mlops_tui.backends.model import Platform, ServiceKind
    from mlops_tui.backends.plans import Rollback, Scale, UpdateImage

    env = Env()
    spec = {"kubeconfig": env.kubeconfig, "swarm": {"fleet": "demo"},
            "kube": [{"name": "sim-a", "fleet": "scaled", "services": args.services, "pods_per_service": 2,
                      "gpu_nodes": 20, "extra": {"ready_delay": args.ready_delay}}]}
    res: dict[str, list[float]] = {k: [] for k in ("k8s scale", "kubectl scale", "k8s rollback", "kubectl rollback",
                                                    "swarm scale", "docker scale", "swarm rollback",
                                                    "docker rollback")}
    fleet = None
    try:
        with SimHost(spec) as sims:
            swarm_url = sims.info["swarm"]
            fleet = start_fleet(env.kubeconfig, swarm_url)
            state = fleet.state
            deps = sorted(k for k, s in state.services.items()
                          if k.kind is ServiceKind.DEPLOYMENT and k.cluster == "sim-a" and not s.autoscaler)
            ours_key, theirs_key = deps[0], deps[1]  # two alike deployments: one for us, one for kubectl
            swarm_keys = {k.name: k for k in state.services if k.platform is Platform.SWARM} \
                if hasattr(next(iter(state.services)), "platform") else {}
            if not swarm_keys:
                swarm_keys = {k.name: k for k, s in state.services.items() if s.platform is Platform.SWARM}
            s_ours, s_theirs = swarm_keys["rent-predictor"], swarm_keys["valuation-blue"]
            kc = lambda *a: kubectl(env.kubeconfig, "sim-a", *a)  # noqa: E731
            dh = ["-H", swarm_url]
            for i in range(args.runs):
                # -- Kubernetes scale
                n = state.services[ours_key].desired + 1 + (i % 2)
                res["k8s scale"].append(apply_timed(fleet, ours_key, Scale(n))[0])
                dep = f"deployment/{theirs_key.name}"
                m = state.services[theirs_key].desired + 1 + (i % 2)
                res["kubectl scale"].append(
                    timed_run(kc("scale", dep, "-n", theirs_key.namespace, f"--replicas={m}"))
                    + timed_run(kc("rollout", "status", dep, "-n", theirs_key.namespace, "--timeout=120s")))
                # -- Kubernetes rollback (after an image update each, not timed)
                # (the Kubernetes backend offers no image update for Deployments: a deploy, as CI does it)
                ours_dep = f"deployment/{ours_key.name}"
                subprocess.run(kc("set", "image", ours_dep, "-n", ours_key.namespace,
                                  f"server=registry.local/{ours_key.name}:bench-{i}"), check=True, capture_output=True)
                subprocess.run(kc("rollout", "status", ours_dep, "-n", ours_key.namespace, "--timeout=120s"),
                               check=True, capture_output=True)
                wait_converged(fleet, ours_key)
                res["k8s rollback"].append(apply_timed(fleet, ours_key, Rollback())[0])
                subprocess.run(kc("set", "image", dep, "-n", theirs_key.namespace,
                                  f"server=registry.local/{theirs_key.name}:bench-{i}"),
                               check=True, capture_output=True)
                subprocess.run(kc("rollout", "status", dep, "-n", theirs_key.namespace, "--timeout=120s"),
                               check=True, capture_output=True)
                res["kubectl rollback"].append(
                    timed_run(kc("rollout", "undo", dep, "-n", theirs_key.namespace))
                    + timed_run(kc("rollout", "status", dep, "-n", theirs_key.namespace, "--timeout=120s")))
                # -- Swarm scale
                fleet.flush()
                n = fleet.state.services[s_ours].desired + (1 if i % 2 == 0 else -1)
                res["swarm scale"].append(apply_timed(fleet, s_ours, Scale(n))[0])
                m = fleet.state.services[s_theirs].desired + (1 if i % 2 == 0 else -1)
                res["docker scale"].append(timed_run([DOCKER, *dh, "service", "scale", f"{s_theirs.name}={m}"],
                                                     timeout=180))
                # -- Swarm rollback (after an image update each, not timed)
                fleet.flush()
                img = fleet.state.services[s_ours].image.split("@")[0].rsplit(":", 1)[0]
                apply_timed(fleet, s_ours, UpdateImage(f"{img}:bench-{i}"))
                wait_converged(fleet, s_ours)
                res["swarm rollback"].append(apply_timed(fleet, s_ours, Rollback())[0])
                subprocess.run([DOCKER, *dh, "service", "update", "--detach", "--image",
                                f"proptechusa/valuation-model:bench-{i}", s_theirs.name], check=True,
                               capture_output=True, timeout=180)
                time.sleep(2.0)
                res["docker rollback"].append(timed_run([DOCKER, *dh, "service", "rollback", s_theirs.name],
                                                        timeout=180))
                print(f"run {i + 1}: " + ", ".join(f"{k} {ms(v[-1])}" for k, v in res.items()), flush=True)
    finally:
        if fleet is not None:
            fleet.stop()
        env.cleanup()

    rows = []
    for ours, theirs, label in (("k8s scale", "kubectl scale", "Kubernetes scale (Deployment, +1/+2 replicas)"),
                                ("k8s rollback", "kubectl rollback", "Kubernetes rollback (Deployment, previous)"),
                                ("swarm scale", "docker scale", "Swarm scale (service, +-1 replica)"),
                                ("swarm rollback", "docker rollback", "Swarm rollback (previous spec)")):
        o, t = best(res[ours]), best(res[theirs])
        base = "kubectl scale + rollout status" if "k8s" in ours and "scale" in ours else (
            "kubectl rollout undo + rollout status" if "k8s" in ours else
            ("docker service scale" if "scale" in ours else "docker service rollback"))
        rows.append([label, ms(o), ms(median(res[ours])), f"{base}: {ms(t)}", ms(median(res[theirs])),
                     ratio(o, t)])
    out = table(["action", "ours: confirm -> verified converged (best)", "ours (median)", "baseline (best)",
                 "baseline (median)", "ours / baseline"], rows)
    print(out)
    if args.write:
        body = (f"`{command_line()}` ({machine_line()}; best of {args.runs}; Kubernetes sim pods become Ready "
                f"{args.ready_delay:g} s after binding, Swarm sim tasks tick every 50 ms; no target in issue 9)"
                f"\n\n{out}\n")
        update_results("Action round trip (`bench/action_roundtrip.py`)", body)


if __name__ == "__main__":
    main()

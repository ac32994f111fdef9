"""`kubectl logs` against the Kubernetes simulator: kubectl is the judge of the log endpoint.

The operator's story: on call, they read a model server's logs the way they always do (`--tail`,
`--since`, `--timestamps`, `-c`, `-f`, `--previous`) and the simulator answers as an API server does,
refusals worded the same.
"""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.integration.test_kubectl_against_sim import Kubectl, sim  # noqa: F401  (the module's fixture)

pytestmark = pytest.mark.integration

NS = "ml-prod"


def _pods(kubectl: Kubectl) -> dict[str, list[str]]:
    out = kubectl("-n", NS, "get", "pods", "--no-headers",
                  "-o", "custom-columns=N:.metadata.name,C:.spec.containers[*].name")
    return {row.split()[0]: row.split()[1].split(",") for row in out.splitlines() if len(row.split()) == 2}


def test_kubectl_reads_a_pods_request_log_with_tail_since_timestamps_and_container(sim):  # noqa: F811
    _, kubectl = sim
    pods = _pods(kubectl)
    multi = next(name for name, containers in pods.items() if len(containers) > 1)
    deadline = time.monotonic() + 20  # a pod that started a moment ago has logged fewer than 3 lines yet
    while len(tail := kubectl("-n", NS, "logs", multi, "--tail", "3").splitlines()) < 3 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert len(tail) == 3 and all('HTTP/1.1" ' in line for line in tail), tail
    stamped = kubectl("-n", NS, "logs", multi, "-c", pods[multi][1], "--since", "5s", "--timestamps").splitlines()
    assert stamped and all(line[:4].isdigit() and line.split(" ", 1)[0].endswith("Z") for line in stamped)
    assert len(stamped) <= 12, "--since 5s at two lines a second"
    wrong = kubectl.run("-n", NS, "logs", multi, "-c", "no-such-container")
    assert wrong.returncode != 0 and f"container no-such-container is not valid for pod {multi}" in wrong.stderr


def test_kubectl_previous_shows_the_crash_or_says_there_was_none(sim):  # noqa: F811
    cluster, kubectl = sim
    name, containers = next(iter(_pods(kubectl).items()))
    none = kubectl.run("-n", NS, "logs", name, "-c", containers[0], "--previous")
    assert none.returncode != 0 and "previous terminated container" in none.stderr and "not found" in none.stderr
    pod = cluster.store.get("pods", NS, name)
    pod["status"]["containerStatuses"][0]["lastState"] = {"terminated": {"reason": "OOMKilled", "exitCode": 137}}
    cluster.store.update("pods", NS, name, pod, "status")
    crashed = kubectl("-n", NS, "logs", name, "-c", containers[0], "--previous")
    assert "OOMKilled, exit code 137" in crashed.splitlines()[-1]


def test_kubectl_follow_streams_new_lines_as_they_are_printed(sim):  # noqa: F811
    _, kubectl = sim
    name = next(iter(_pods(kubectl)))
    proc = subprocess.Popen([*kubectl.base, "--context", "sim-a", "-n", NS, "logs", "-f", name, "--tail", "1",
                             "--timestamps", "-c", _pods(kubectl)[name][0]], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        stamps = [proc.stdout.readline().split(" ", 1)[0] for _ in range(4)]
    finally:
        proc.kill()
        proc.wait()
    assert len(set(stamps)) == 4 and stamps == sorted(stamps), stamps


def test_a_pod_not_started_yet_is_refused_as_the_api_server_words_it(sim):  # noqa: F811
    cluster, kubectl = sim
    name, containers = list(_pods(kubectl).items())[-1]
    pod = cluster.store.get("pods", NS, name)
    pod["status"]["containerStatuses"][0]["state"] = {"waiting": {"reason": "ContainerCreating"}}
    cluster.store.update("pods", NS, name, pod, "status")
    deadline = time.monotonic() + 5
    out = kubectl.run("-n", NS, "logs", name, "-c", containers[0])
    while out.returncode == 0 and time.monotonic() < deadline:  # a controller may mark it running again
        out = kubectl.run("-n", NS, "logs", name, "-c", containers[0])
    assert f'container "{containers[0]}" in pod "{name}" is waiting to start: ContainerCreating' in out.stderr


def test_during_the_latency_regression_only_the_canarys_pods_log_slow_requests(sim):  # noqa: F811
    cluster, kubectl = sim
    rollout = cluster.store.get("rollouts", NS, "ensemble-predictor")["status"]
    canary_hash, stable_hash = rollout["currentPodHash"], rollout["stableRS"]
    pods = [name for name in _pods(kubectl) if name.startswith("ensemble-predictor-")]
    canary = next(name for name in pods if name.startswith(f"ensemble-predictor-{canary_hash}-"))
    stable = next(name for name in pods if name.startswith(f"ensemble-predictor-{stable_hash}-"))

    def logged(pod: str) -> list[str]:
        out = kubectl("-n", NS, "logs", pod, "-c", "aggregator", "--tail", "400")
        return [line for line in out.splitlines() if "latency_ms=" in line]

    def slow_share(pod: str, after: str | None = None, count: int = 40) -> float:
        """The share of the pod's requests logged after the line `after` (all, if None) answered
        above 0.5 s, once `count` of them are logged (a slow canary answers ~46 % of them so)."""
        deadline = time.monotonic() + 60
        while True:
            lines = logged(pod)
            if after is not None:
                lines = lines[len(lines) - lines[::-1].index(after):] if after in lines else lines
            if len(lines) >= count or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert len(lines) >= count, f"{pod} logged {len(lines)} requests"
        latencies = [float(line.rsplit("latency_ms=", 1)[1]) for line in lines[:count]]
        return sum(latency > 500 for latency in latencies) / len(latencies)

    before = (slow_share(canary, count=20), slow_share(stable, count=20))
    assert before == (0, 0), "before the regression nobody is slow"
    last_canary, last_stable = logged(canary)[-1], logged(stable)[-1]
    cluster.api.slow_services = {"ensemble-predictor"}  # what the demo's scenario does at its regression
    try:
        # Only what was logged after the switch counts (the tail also holds the fast answers from before).
        assert slow_share(canary, after=last_canary) > 0.2, "the canary prints its slow answers (latency_ms > 500)"
        assert slow_share(stable, after=last_stable) == 0, "the stable version still answers fast"
    finally:
        cluster.api.slow_services = set()

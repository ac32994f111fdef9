"""The log streams of both engines' backends against the simulators: what the log view receives.

The operator's story: they open a model's logs; every replica's lines arrive named by their pod or
task, new lines keep coming, a refused container is said in the API server's words, and `docker
service logs` (the judge) reads the same simulated Swarm."""

from __future__ import annotations

import subprocess
import threading
import time

import pytest

from mlops_tui.backends.kubernetes.client import RawClient
from mlops_tui.backends.kubernetes.logs import stream_pods
from mlops_tui.backends.model import LogLine, LogOptions
from mlops_tui.backends.swarm.client import EngineClient, SwarmEndpoint
from mlops_tui.backends.swarm.logs import stream_service
from tests.engines import require_binary

pytestmark = pytest.mark.integration


def collect(run, until, timeout: float = 20.0) -> tuple[list[LogLine], list[str]]:
    """Run a stream in a thread until `until(lines)` holds; the lines and the statuses it reported."""
    lines: list[LogLine] = []
    statuses: list[str] = []
    stop = threading.Event()
    thread = threading.Thread(target=run, args=(lines.append, statuses.append, stop), daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not until(lines, statuses) and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(10)
    assert not thread.is_alive(), "the stream stops when asked"
    return lines, statuses


@pytest.fixture(scope="module")
def kube():
    from mlops_tui.sim.kube import SimKubeCluster
    from mlops_tui.sim.kube.tls import ca_data

    cluster = SimKubeCluster.start(name="sim-logs", seed=5, fleet="demo", ready_delay=0.1, tick=0.05)
    try:
        assert cluster.settle(15)
        yield cluster, RawClient.for_server(cluster.url, cluster.readonly_token, ca_data=ca_data())
    finally:
        cluster.stop()


def _pods(cluster, prefix: str) -> list[str]:
    return sorted(p["metadata"]["name"] for p in cluster.store.list("pods", "ml-prod")
                  if p["metadata"]["name"].startswith(prefix))


def test_every_pod_of_a_workload_is_followed_and_each_line_names_its_pod(kube):
    cluster, client = kube
    pods = _pods(cluster, "ensemble-predictor")
    assert len(pods) > 1
    lines, statuses = collect(
        lambda on_line, on_status, stop: stream_pods(client, "ml-prod", pods, LogOptions(since_seconds=2),
                                                     on_line, on_status, stop),
        lambda lines, _: {line.source for line in lines} == set(pods) and len(lines) > 3 * len(pods))
    assert {line.source for line in lines} == set(pods)
    assert all(line.time is not None and 'HTTP/1.1" ' in line.text for line in lines)
    assert "" in statuses and not [s for s in statuses if s]


def test_a_wrong_container_is_said_in_the_api_servers_words(kube):
    cluster, client = kube
    pod = _pods(cluster, "ensemble-predictor")[0]
    _, statuses = collect(
        lambda on_line, on_status, stop: stream_pods(client, "ml-prod", [pod], LogOptions(container="nope"),
                                                     on_line, on_status, stop),
        lambda _, statuses: any(statuses))
    assert f"{pod}: container nope is not valid for pod {pod}" in statuses


@pytest.fixture(scope="module")
def swarm():
    from mlops_tui.sim.docker import SimSwarm

    sim = SimSwarm.start(seed=3, fleet="demo")
    assert sim.wait_until(lambda s: all(t["Status"]["State"] == "running" for t in s.tasks()), timeout=10)
    yield sim
    sim.stop()


def test_docker_service_logs_reads_the_simulated_swarm_with_the_task_prefix(swarm):
    docker = require_binary("docker")
    deadline = time.monotonic() + 20
    while True:  # the tasks have just started: wait until each printed two lines
        out = subprocess.run([docker, "-H", swarm.url, "service", "logs", "--tail", "2", "proptech-ml_model-api"],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        rows = out.stdout.splitlines()
        if len(rows) >= 6 or time.monotonic() > deadline:
            break
    assert len(rows) == 6, "two lines from each of the three tasks"
    assert {row.split("    | ")[0].split(".")[1] for row in rows} == {"1", "2", "3"}
    assert all("@swarm-" in row.split(" | ")[0] and 'HTTP/1.1" ' in row for row in rows)


def test_the_swarm_backend_decodes_every_tasks_lines_with_the_cli_prefix(swarm):
    client = EngineClient(SwarmEndpoint(url=swarm.url))
    lines, _ = collect(
        lambda on_line, on_status, stop: stream_service(client, "proptech-ml_model-api", LogOptions(since_seconds=3),
                                                        on_line, on_status, stop),
        lambda lines, _: len({line.source for line in lines}) == 3 and len(lines) > 9)
    sources = {line.source for line in lines}
    assert {s.split(".")[1] for s in sources} == {"1", "2", "3"}
    assert all(s.startswith("proptech-ml_model-api.") and "@swarm-" in s for s in sources)
    assert all(line.time is not None and line.text.startswith(("INFO", "WARNING", "ERROR")) for line in lines)
    times = [line.time for line in lines]
    assert len(set(times)) == len(times), "no line delivered twice"


def test_on_the_swarm_demo_the_slow_canary_logs_its_slow_answers_and_the_stable_service_does_not(swarm):
    from mlops_tui.sim.scenario import Scenario

    Scenario(swarm=swarm)  # the demo's story: rent-predictor-canary is slow from the start
    client = EngineClient(SwarmEndpoint(url=swarm.url))

    def slow_share(service: str) -> float:
        lines, _ = collect(
            lambda on_line, on_status, stop: stream_service(client, service, LogOptions(since_seconds=None),
                                                            on_line, on_status, stop),
            lambda lines, _: len(lines) >= 30)
        latencies = [float(line.text.rsplit("latency_ms=", 1)[1]) for line in lines if "latency_ms=" in line.text]
        assert len(latencies) >= 30, f"{service} logged {len(latencies)} requests"
        return sum(latency > 500 for latency in latencies) / len(latencies)

    try:
        assert slow_share("rent-predictor-canary") > 0.25, "WARNING lines with latency_ms above 500"
        assert slow_share("rent-predictor") == 0, "the stable service answers fast"
    finally:
        swarm.slow_services = set()

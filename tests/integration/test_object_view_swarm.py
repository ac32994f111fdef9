"""The object screen's text for Swarm, with the real docker CLI as the judge: `d` carries every line
`docker service inspect --pretty` (and `docker node inspect --pretty`) prints, in the CLI's order, and
`y` is the object `docker service inspect` prints. Against the real dockerd Swarm (.ci/start-swarm.sh)
and against the demo's Swarm simulator."""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest

from mlops_tui.backends.fleet import Fleet
from mlops_tui.backends.model import HealthState
from mlops_tui.backends.swarm.watch import SwarmBackend
from tests.engines import require
from tests.integration.test_object_view_k8s import eventually
from tests.integration.test_operator_keys_real_swarm import DOCKER, SOCKET

pytestmark = pytest.mark.integration


def in_order(theirs: str, ours: str) -> list[str]:
    """The lines of `theirs` that `ours` lacks or shows out of order (blank lines aside)."""
    mine = ours.splitlines()
    at, missing = 0, []
    for line in (line for line in theirs.splitlines() if line.strip()):
        try:
            at = mine.index(line, at) + 1
        except ValueError:
            missing.append(line)
    return missing


class Swarm:
    def __init__(self, url: str, cli: str) -> None:
        self.url, self.cli = url, cli
        self.fleet = Fleet([SwarmBackend(url, name="swarm", resync_seconds=0.5)], max_rate=20)
        self.fleet.start()
        eventually(lambda: self.fleet.state.health["swarm"].state is HealthState.CONNECTED, what="swarm connected")

    def docker(self, *args: str) -> str:
        out = subprocess.run([self.cli, "-H", self.url, *args], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return out.stdout

    def service(self, name: str):
        return eventually(lambda: next((s for k, s in self.fleet.state.services.items() if k.name == name), None),
                          what=f"{name} in the Fleet")


@pytest.fixture(scope="module")
def real_swarm():
    probe = subprocess.run([DOCKER, "-H", SOCKET, "info", "--format", "{{.Swarm.LocalNodeState}}"],
                           capture_output=True, text=True, timeout=20)
    require(probe.returncode == 0 and probe.stdout.strip() == "active",
            "no Swarm manager on /var/run/docker.sock (run .ci/start-swarm.sh)")
    swarm = Swarm(SOCKET, DOCKER)
    name = f"objview{uuid.uuid4().hex[:6]}-model"
    # What an operator's model service carries: labels, env, args, limits, a GPU, update and rollback policies.
    swarm.docker("service", "create", "--detach", "--quiet", "--name", name, "--network", "host",
                 "--replicas", "1", "--label", "version=v1", "--label", "team=ml", "--env", "MODEL=bert",
                 "--limit-memory", "64m", "--reserve-cpu", "0.1", "--generic-resource", "NVIDIA-GPU=1",
                 "--update-delay", "2s", "--update-order", "start-first", "--rollback-parallelism", "2",
                 "--constraint", "node.role==manager", "mlops/model:v1", "sleep", "3600")
    try:
        yield swarm, name
    finally:
        subprocess.run([DOCKER, "-H", SOCKET, "service", "rm", name], capture_output=True, timeout=60)
        swarm.fleet.stop()


@pytest.fixture(scope="module")
def sim_swarm():
    from mlops_tui.sim.docker import SimSwarm

    cli = "/usr/local/bin/docker" if os.access("/usr/local/bin/docker", os.X_OK) else DOCKER
    sim = SimSwarm.start(seed=3, fleet="demo")
    swarm = Swarm(sim.url, cli)
    try:
        yield swarm, "llm-embedder"
    finally:
        swarm.fleet.stop()
        sim.stop()


@pytest.fixture(params=["real", "sim"])
def swarm(request):
    return request.getfixturevalue("real_swarm" if request.param == "real" else "sim_swarm")


def test_d_carries_every_line_of_docker_service_inspect_pretty_and_the_gpus_reserved(swarm):
    swarm, name = swarm
    ours = swarm.fleet.object_text(swarm.service(name), "describe")
    theirs = swarm.docker("service", "inspect", "--pretty", name)
    assert ours.format == "text" and name in ours.title
    assert not in_order(theirs, ours.body), f"missing from d:\n{in_order(theirs, ours.body)}\n---\n{ours.body}"
    assert "NVIDIA-GPU=1" in ours.body.split("Generic resources (reserved):", 1)[1]


def test_y_is_the_object_docker_service_inspect_prints(swarm):
    swarm, name = swarm
    ours = swarm.fleet.object_text(swarm.service(name), "yaml")
    theirs = json.loads(swarm.docker("service", "inspect", name))
    assert ours.format == "json"
    shown = json.loads(ours.body)
    assert shown[0]["ID"] == theirs[0]["ID"] and shown[0]["Spec"] == theirs[0]["Spec"]
    assert ours.body.startswith('[\n    {\n        "ID": ')  # the CLI's four-space indent


def test_d_on_a_gpu_node_carries_docker_node_inspect_pretty_and_the_tasks_holding_gpus(swarm):
    swarm, name = swarm
    node = eventually(lambda: next((n for n in swarm.fleet.state.gpu_nodes.values()
                                    if any(h.workload.startswith(name) for h in n.holders)), None),
                      what=f"a GPU node holding {name}'s GPU")
    ours = swarm.fleet.object_text(node, "describe").body
    theirs = swarm.docker("node", "inspect", "--pretty", node.node)
    assert not in_order(theirs, ours), f"missing from d:\n{in_order(theirs, ours)}\n---\n{ours}"
    allocation = ours.split("GPUs (allocatable / allocated / free):", 1)[1]
    for resource in node.resources:
        assert f" {resource.name}:\t{resource.allocatable} / " in allocation
    holders = ours.split("Tasks holding GPUs:", 1)[1]
    assert f" {name}." in holders
    shown = json.loads(swarm.fleet.object_text(node, "yaml").body)
    assert shown[0]["ID"] == json.loads(swarm.docker("node", "inspect", node.node))[0]["ID"]

"""Both docker CLIs an operator may have (Debian's 20.10 and a 28.x client) against sim/docker:
they negotiate API 1.41 and print what a real Swarm would for the seed article's fleet."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from sim.docker import SimSwarm
from tests.engines import require

CLIS = ["/usr/bin/docker", "/usr/local/bin/docker"]


@pytest.fixture(scope="module")
def swarm():
    sim = SimSwarm.start(seed=3, fleet="demo")
    assert sim.wait_until(lambda s: all(t["Status"]["State"] == "running" for t in s.tasks()), timeout=10)
    yield sim
    sim.stop()


@pytest.fixture(params=CLIS)
def docker_cli(request, swarm):
    require(os.access(request.param, os.X_OK), f"{request.param} is not installed")

    def run(*args: str) -> str:
        done = subprocess.run([request.param, "-H", swarm.url, *args], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    return run


def table(text: str) -> list[list[str]]:
    """Rows of a CLI table split on runs of 2+ spaces (cells may hold single spaces)."""
    import re
    return [re.split(r"\s{2,}", line.strip()) for line in text.strip().splitlines()]


def test_service_ls_lists_the_stacks_with_running_replicas(docker_cli):
    rows = table(docker_cli("service", "ls"))
    assert rows[0] == ["ID", "NAME", "MODE", "REPLICAS", "IMAGE", "PORTS"] or rows[0][:5] == ["ID", "NAME", "MODE", "REPLICAS", "IMAGE"]
    by_name = {r[1]: r for r in rows[1:]}
    assert by_name["proptech-ml_model-api"][2:5] == ["replicated", "3/3", "proptechusa/rent-prediction:latest"]
    assert by_name["proptech-multi_demand-predictor"][3] == "2/2"
    assert by_name["llm-embedder"][3] == "2/2"


def test_node_ls_shows_the_leader_and_workers(docker_cli):
    rows = table(docker_cli("node", "ls"))
    assert rows[0][:4] == ["ID", "HOSTNAME", "STATUS", "AVAILABILITY"]
    leader = [r for r in rows[1:] if "Leader" in r]
    assert len(leader) == 1 and leader[0][0].endswith("*") and leader[0][1] == "swarm-manager-1"
    assert {r[1] for r in rows[1:]} >= {"swarm-gpu-1", "swarm-gpu-2", "swarm-cpu-1"}
    assert all(r[2] == "Ready" and r[3] == "Active" for r in rows[1:])


def test_service_ps_names_tasks_by_slot_on_gpu_nodes(docker_cli):
    rows = table(docker_cli("service", "ps", "llm-embedder"))
    assert rows[0][:6] == ["ID", "NAME", "IMAGE", "NODE", "DESIRED STATE", "CURRENT STATE"]
    assert sorted(r[1] for r in rows[1:]) == ["llm-embedder.1", "llm-embedder.2"]
    assert {r[3] for r in rows[1:]} == {"swarm-gpu-1", "swarm-gpu-2"}
    assert all(r[4] == "Running" and r[5].startswith("Running") for r in rows[1:])


def test_service_inspect_is_the_engine_json(docker_cli):
    data = json.loads(docker_cli("service", "inspect", "rent-predictor-canary"))
    assert data[0]["Spec"]["Labels"]["mlops.canary-of"] == "rent-predictor"
    pretty = docker_cli("service", "inspect", "--pretty", "valuation-blue")
    assert "Name:\t\tvaluation-blue" in pretty and "Replicated" in pretty


def test_scale_update_image_and_rollback_through_the_cli(docker_cli, swarm):
    name = "proptech-multi_model-gateway"
    assert docker_cli("service", "scale", "-d", f"{name}=4").strip() == f"{name} scaled to 4"
    assert swarm.service(name)["Spec"]["Mode"]["Replicated"]["Replicas"] == 4
    before = swarm.service(name)["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
    # not detached: the CLI follows the rollout to "converged" as it does on a real Swarm
    out = docker_cli("service", "update", "--update-monitor", "200ms", "--update-parallelism", "0",
                     "--image", "proptechusa/ml-gateway:v2", name)
    assert "Service converged" in out or "Service " + name + " converged" in out
    svc = swarm.service(name)
    assert svc["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] == "proptechusa/ml-gateway:v2"
    assert svc["UpdateStatus"]["State"] == "completed"
    assert docker_cli("service", "rollback", "-d", name).strip() == name
    svc = swarm.service(name)
    assert svc["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] == before
    assert svc["UpdateStatus"]["Message"] == "manually requested rollback"
    rows = table(docker_cli("service", "ls", "--filter", f"name={name}"))
    assert rows[1][4] == before

"""Both docker CLIs an operator may have (Debian's 20.10 and a 28.x client) against sim/docker:
they negotiate API 1.41 and print what a real Swarm would for the seed article's fleet."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from mlops_tui.sim.docker import SimSwarm
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
    assert (rows[0] == ["ID", "NAME", "MODE", "REPLICAS", "IMAGE", "PORTS"]
            or rows[0][:5] == ["ID", "NAME", "MODE", "REPLICAS", "IMAGE"])
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


# --- the scenario's Swarm incidents, as the CLI shows them ------------------------------------

def cli(sim: SimSwarm, *args: str, binary: str = "/usr/bin/docker") -> str:
    require(os.access(binary, os.X_OK), f"{binary} is not installed")
    done = subprocess.run([binary, "-H", sim.url, *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def fresh():
    sim = SimSwarm.start(seed=5, fleet="demo", restart_delay=0.3)
    assert sim.wait_until(lambda s: all(t["Status"]["State"] == "running" for t in s.tasks()), timeout=10)
    yield sim
    sim.stop()


def test_failing_update_pauses_and_inspect_says_why(fresh):
    name = "proptech-ml_model-api"
    fresh.fail_update(name)
    fresh.update_service(
        name, lambda spec: spec["TaskTemplate"]["ContainerSpec"].update(Image="proptechusa/rent-prediction:v1.2"))
    assert fresh.wait_until(lambda s: (s.service(name).get("UpdateStatus") or {}).get("State") == "paused", timeout=10)
    fmt = "{{.UpdateStatus.State}}|{{.UpdateStatus.Message}}"
    state, message = cli(fresh, "service", "inspect", "--format", fmt, name).strip().split("|")
    assert state == "paused" and message.startswith("update paused due to failure or early termination of task ")
    out = cli(fresh, "service", "ps", "--no-trunc", "--format",
              "{{.Name}}|{{.Image}}|{{.Node}}|{{.DesiredState}}|{{.CurrentState}}|{{.Error}}", name)
    rows = [line.split("|") for line in out.splitlines()]  # empty cells (no node yet) stay in place
    failed = [r for r in rows if r[4].startswith("Failed")]
    assert failed and failed[0][1] == "proptechusa/rent-prediction:v1.2" and "task: non-zero exit (1)" in failed[0][5]
    # stop-first with parallelism 1: the other two replicas still run the old image
    running_old = [r for r in rows if r[4].startswith("Running") and r[1].endswith(":latest")]
    assert len(running_old) == 2


def test_gpu_update_beyond_capacity_leaves_new_tasks_pending(fresh):
    name = "llm-embedder"

    def more_gpus(spec):
        spec["TaskTemplate"]["ContainerSpec"]["Image"] = "proptechusa/embedder:v1.1"
        spec["TaskTemplate"]["Resources"]["Reservations"]["GenericResources"] = [
            {"DiscreteResourceSpec": {"Kind": "NVIDIA-GPU", "Value": 4}}]  # GPU nodes have 2

    fresh.update_service(name, more_gpus)

    def pending(s):
        return [t for t in s.tasks(name) if t["Status"]["State"] == "pending" and t["Status"].get("Err")]

    assert fresh.wait_until(pending, timeout=10)
    err = pending(fresh)[0]["Status"]["Err"]
    # stop-first freed one replica's GPU, but no node has 4; swarmkit's pipeline checks resources
    # before placement constraints, so every node counts as short of resources
    assert err == "no suitable node (insufficient resources on 6 nodes)"
    rows = table(cli(fresh, "service", "ls", "--filter", f"name={name}"))
    assert rows[1][3] == "1/2"
    assert fresh.service(name)["UpdateStatus"]["State"] == "updating"


def test_node_down_reschedules_tasks_and_node_ls_shows_it(fresh):
    before = {t["ID"] for t in fresh.tasks("proptech-multi_price-predictor") if t["DesiredState"] == "running"}
    fresh.set_node_state("swarm-cpu-1", "down")
    rows = {r[1]: r for r in table(cli(fresh, "node", "ls"))[1:]}
    assert rows["swarm-cpu-1"][2] == "Down"

    def moved(s):
        live = [t for t in s.tasks("proptech-multi_price-predictor") if t["DesiredState"] == "running"]
        return (len(live) == 3 and all(t["Status"]["State"] == "running" for t in live)
                and {t["ID"] for t in live} != before)

    assert fresh.wait_until(moved, timeout=10)
    cpu1 = fresh.state.find_node("swarm-cpu-1")["ID"]
    running = [t for t in fresh.tasks("proptech-multi_price-predictor") if t["DesiredState"] == "running"]
    assert all(t.get("NodeID") != cpu1 for t in running)


def test_rolling_update_respects_parallelism_and_start_first(fresh):
    name = "rent-predictor"

    def start_first(spec):
        spec["TaskTemplate"]["ContainerSpec"]["Image"] = "proptechusa/model:v2.1"
        spec["UpdateConfig"].update(Parallelism=2, Order="start-first", Monitor=0)

    fresh.update_service(name, start_first)
    most_running = []

    def done(s):
        most_running.append(sum(1 for t in s.tasks(name) if t["Status"]["State"] == "running"))
        return (s.service(name).get("UpdateStatus") or {}).get("State") == "completed"

    assert fresh.wait_until(done, timeout=15)
    assert min(most_running) >= 3  # start-first never drops below the replica count
    images = {t["Spec"]["ContainerSpec"]["Image"] for t in fresh.tasks(name) if t["DesiredState"] == "running"}
    assert images == {"proptechusa/model:v2.1"}


def test_global_service_runs_one_task_per_eligible_node():
    sim = SimSwarm.start(seed=1, fleet="demo")
    try:
        import docker
        client = docker.DockerClient(base_url=sim.url, version="auto")
        client.services.create("mlops/busybox:1", name="node-exporter", mode=docker.types.ServiceMode("global"))
        assert sim.wait_until(lambda s: sum(t["Status"]["State"] == "running" for t in s.tasks("node-exporter")) == 6)
        rows = table(cli(sim, "service", "ls", "--filter", "name=node-exporter"))
        assert rows[1][2:4] == ["global", "6/6"]
        client.close()
    finally:
        sim.stop()


def test_draining_a_node_moves_its_tasks(fresh):
    cli(fresh, "node", "update", "--availability", "drain", "swarm-cpu-1", binary="/usr/local/bin/docker")
    cpu1 = fresh.state.find_node("swarm-cpu-1")["ID"]

    def drained(s):
        live = [t for t in s.tasks() if t["DesiredState"] == "running"]
        return all(t.get("NodeID") != cpu1 for t in live) and all(t["Status"]["State"] == "running" for t in live)

    assert fresh.wait_until(drained, timeout=10)
    rows = {r[1]: r for r in table(cli(fresh, "node", "ls"))[1:]}
    assert rows["swarm-cpu-1"][3] == "Drain"
    # price-predictor is constrained to model-type=price nodes: cpu-3 now holds all three
    nodes = {fresh.state.nodes[t["NodeID"]]["Description"]["Hostname"]
             for t in fresh.tasks("proptech-multi_price-predictor") if t["DesiredState"] == "running"}
    assert nodes == {"swarm-cpu-3"}

"""The Swarm simulator at the size of issue 21's row (2,000 services x 5 tasks, here 200 x 5 to stay
quick): what the app and `docker service ls` read from it is still exact, and a task container's
events name its service, as dockerd's do (it copies the container's labels)."""

from __future__ import annotations

import http.client
import json
from collections import Counter

import pytest

from mlops_tui.sim.docker import SimSwarm


@pytest.fixture(scope="module")
def swarm():
    sim = SimSwarm.start(fleet="scaled", services=200, replicas=5)
    # GPU services wait for GPUs the fleet does not have; every other task runs
    assert sim.wait_until(lambda s: sum(t["Status"]["State"] == "running" for t in s.tasks()) >= 900, timeout=60)
    yield sim
    sim.stop()


def get(sim: SimSwarm, path: str):
    conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=30)
    conn.request("GET", path)
    body = json.loads(conn.getresponse().read())
    conn.close()
    return body


def test_a_scaled_fleet_asked_for_5_replicas_has_5_tasks_per_service(swarm):
    per_service = Counter(t["ServiceID"] for t in swarm.tasks() if t["DesiredState"] == "running")
    assert len(per_service) == 200 and set(per_service.values()) == {5}


def test_service_status_counts_each_services_own_running_tasks(swarm):
    running = Counter(t["ServiceID"] for t in swarm.tasks() if t["Status"]["State"] == "running")
    listed = get(swarm, "/v1.41/services?status=true")
    assert len(listed) == 200
    assert {s["ID"]: s["ServiceStatus"]["RunningTasks"] for s in listed} == {s["ID"]: running[s["ID"]] for s in listed}
    assert {s["ServiceStatus"]["DesiredTasks"] for s in listed} == {5}


def test_a_task_containers_start_event_names_its_service(swarm):
    name = "model-00001"
    sid = swarm.service(name)["ID"]
    swarm.update_service(name, lambda spec: spec["Mode"].__setitem__("Replicated", {"Replicas": 6}))
    assert swarm.wait_until(lambda s: any(e["Type"] == "container" and e["Action"] == "start"
                                          and e["Actor"]["Attributes"].get("com.docker.swarm.service.id") == sid
                                          for e in list(s.state.events)), timeout=30)
    event = next(e for e in list(swarm.state.events) if e["Type"] == "container"
                 and e["Actor"]["Attributes"].get("com.docker.swarm.service.id") == sid)
    assert event["Actor"]["Attributes"]["com.docker.swarm.service.name"] == name

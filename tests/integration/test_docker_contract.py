"""One contract, two engines: the same operator story against `sim/docker` and the real dockerd
Swarm, through the docker SDK and the docker CLI. The fake may not drift from the real thing.

The operator lists model services, scales one, rolls out a new image, rolls it back (and back
again: Swarm swaps Spec and PreviousSpec), races a colleague (stale version: "update out of
sequence"), asks for more GPUs than the Swarm has (the task stays pending with Swarm's own
reason), and lists the nodes.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid

import docker
import pytest
from docker.errors import APIError

from mlops_tui.sim.docker import SimSwarm
from tests.engines import require

pytestmark = pytest.mark.integration

REAL_SOCKET = "/var/run/docker.sock"
CLI = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else "docker"


def _real_swarm_active() -> tuple[bool, str]:
    if not os.path.exists(REAL_SOCKET):
        return False, f"no dockerd socket at {REAL_SOCKET} (run .ci/start-swarm.sh)"
    try:
        client = docker.DockerClient(base_url=f"unix://{REAL_SOCKET}", version="auto", timeout=5)
        state = client.info()["Swarm"]["LocalNodeState"]
        client.close()
    except Exception as e:
        return False, f"dockerd is not answering on {REAL_SOCKET}: {e}"
    if state != "active":
        return False, f"dockerd is not a Swarm manager (LocalNodeState={state!r})"
    return True, ""


class Engine:
    """Where the story runs: a docker SDK client, the CLI's -H, and the images to use."""

    def __init__(self, kind: str, host: str) -> None:
        self.kind = kind
        self.host = host
        self.client = docker.DockerClient(base_url=host, version="auto", timeout=20)
        self.prefix = f"ctr{uuid.uuid4().hex[:6]}-"

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run([CLI, "-H", self.host, *args], capture_output=True, text=True, timeout=60, check=check)

    def create(self, suffix: str, image: str = "mlops/model:v1", replicas: int = 1, **kwargs):
        # A short watch after each batch and a short stop grace (busybox sleep ignores SIGTERM),
        # so the real Swarm finishes rollouts in about a second, like the sim.
        quick = dict(parallelism=0, monitor=200_000_000, failure_action="pause")
        return self.client.services.create(
            image, name=self.prefix + suffix, networks=["host"], stop_grace_period=100_000_000,
            mode=docker.types.ServiceMode("replicated", replicas),
            update_config=docker.types.UpdateConfig(**quick), rollback_config=docker.types.RollbackConfig(**quick),
            **kwargs)

    def cleanup(self) -> None:
        for svc in self.client.services.list(filters={"name": self.prefix}):
            if svc.name.startswith(self.prefix):
                svc.remove()
        self.client.close()


@pytest.fixture(params=["sim", "real"])
def engine(request):
    if request.param == "sim":
        sim = SimSwarm.start(seed=7, fleet="demo")
        eng = Engine("sim", sim.url)
        yield eng
        eng.cleanup()
        sim.stop()
    else:
        ok, reason = _real_swarm_active()
        require(ok, reason)
        eng = Engine("real", f"unix://{REAL_SOCKET}")
        yield eng
        eng.cleanup()


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def running(svc) -> int:
    return sum(1 for t in svc.tasks(filters={"desired-state": "running"}) if t["Status"]["State"] == "running")


def rollback(client, svc):
    """`docker service rollback` as the API call it is (docker-py has no rollback parameter)."""
    svc.reload()
    api = client.api
    resp = api._post_json(api._url("/services/{0}/update", svc.id), data=svc.attrs["Spec"],
                          params={"version": svc.version, "rollback": "previous"})
    api._raise_for_status(resp)
    svc.reload()


def reloaded(svc, action, attempts: int = 5):
    """Reload then act, retrying on "update out of sequence" (docker-py's `Service.version` is the
    cached `Version.Index`, and swarmkit's allocator may still move it right after create)."""
    for attempt in range(attempts):
        svc.reload()
        try:
            return action()
        except APIError as e:
            if "update out of sequence" not in str(e.explanation) or attempt == attempts - 1:
                raise
            time.sleep(0.2)


def image_of(svc) -> str:
    return svc.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]


def test_list_shows_the_new_service_and_its_tasks_come_up(engine):
    svc = engine.create("list", replicas=1)
    found = engine.client.services.list(filters={"name": engine.prefix + "list"})
    assert [s.id for s in found] == [svc.id]
    assert wait_for(lambda: running(svc) == 1), svc.tasks()
    out = engine.cli("service", "ls", "--filter", f"name={engine.prefix}",
                     "--format", "{{.Name}} {{.Mode}} {{.Replicas}}")
    assert out.stdout.split("\n")[0].split() == [engine.prefix + "list", "replicated", "1/1"]
    inspected = json.loads(engine.cli("service", "inspect", engine.prefix + "list").stdout)
    assert inspected[0]["ID"] == svc.id and inspected[0]["Spec"]["Mode"] == {"Replicated": {"Replicas": 1}}


def test_scale_with_sdk_and_cli(engine):
    svc = engine.create("scale")
    reloaded(svc, lambda: svc.scale(3))
    svc.reload()
    assert svc.attrs["Spec"]["Mode"]["Replicated"]["Replicas"] == 3
    assert svc.attrs["PreviousSpec"]["Mode"]["Replicated"]["Replicas"] == 1
    assert wait_for(lambda: running(svc) == 3)
    # The real dockerd may still be writing the scale to 3 into the service's version (its orchestrator
    # updates the object as tasks start): the CLI then gets "update out of sequence", which an operator
    # answers by running it again, as here.
    for _ in range(5):
        out = engine.cli("service", "scale", "-d", f"{engine.prefix}scale=2", check=False)
        if "update out of sequence" not in out.stderr:
            break
        time.sleep(0.5)
    assert out.returncode == 0, out.stderr
    assert f"{engine.prefix}scale scaled to 2" in out.stdout
    svc.reload()
    assert svc.attrs["Spec"]["Mode"]["Replicated"]["Replicas"] == 2
    assert wait_for(lambda: running(svc) == 2)


def test_update_image_then_rollback_twice_toggles_back(engine):
    svc = engine.create("roll", image="mlops/model:v1")
    assert wait_for(lambda: running(svc) == 1)
    reloaded(svc, lambda: svc.update(image="mlops/model:v2"))
    svc.reload()
    assert image_of(svc) == "mlops/model:v2"
    assert svc.attrs["PreviousSpec"]["TaskTemplate"]["ContainerSpec"]["Image"] == "mlops/model:v1"
    assert wait_for(lambda: (svc.reload() or svc.attrs.get("UpdateStatus", {}).get("State")) == "completed"), svc.attrs
    running_tasks = svc.tasks(filters={"desired-state": "running"})
    assert {t["Spec"]["ContainerSpec"]["Image"] for t in running_tasks} == {"mlops/model:v2"}

    reloaded(svc, lambda: rollback(engine.client, svc))
    assert image_of(svc) == "mlops/model:v1"
    assert svc.attrs["PreviousSpec"]["TaskTemplate"]["ContainerSpec"]["Image"] == "mlops/model:v2"
    assert svc.attrs["UpdateStatus"]["State"] in ("rollback_started", "rollback_completed")
    assert svc.attrs["UpdateStatus"]["Message"] in ("manually requested rollback", "rollback completed")

    out = engine.cli("service", "rollback", "-d", engine.prefix + "roll")
    assert out.stdout.strip() == engine.prefix + "roll"
    svc.reload()
    assert image_of(svc) == "mlops/model:v2"
    assert wait_for(lambda: (svc.reload() or svc.attrs["UpdateStatus"]["State"]) == "rollback_completed")


def test_cli_update_image_and_rollback(engine):
    svc = engine.create("cliimg", image="mlops/model:v1")
    out = engine.cli("service", "update", "-d", "--image", "mlops/model:v2.1", engine.prefix + "cliimg")
    assert out.stdout.strip() == engine.prefix + "cliimg"
    svc.reload()
    assert image_of(svc).split("@")[0] == "mlops/model:v2.1"
    fmt = "{{.Spec.TaskTemplate.ContainerSpec.Image}}|{{.PreviousSpec.TaskTemplate.ContainerSpec.Image}}"
    engine.cli("service", "rollback", "-d", engine.prefix + "cliimg")
    inspected = engine.cli("service", "inspect", "--format", fmt, engine.prefix + "cliimg")
    current, previous = inspected.stdout.strip().split("|")
    assert current == "mlops/model:v1" and previous.split("@")[0] == "mlops/model:v2.1"


def test_stale_version_is_refused_out_of_sequence_then_reload_and_retry(engine):
    svc = engine.create("race")
    assert wait_for(lambda: running(svc) == 1)
    svc.reload()
    stale = svc.version
    reloaded(svc, lambda: svc.scale(2))  # a colleague's change bumps the version index
    with pytest.raises(APIError) as err:
        engine.client.api.update_service(svc.id, stale, task_template=svc.attrs["Spec"]["TaskTemplate"],
                                         name=svc.name, mode=docker.types.ServiceMode("replicated", 3),
                                         networks=["host"])
    assert err.value.status_code == 500
    assert err.value.explanation == "rpc error: code = Unknown desc = update out of sequence"
    reloaded(svc, lambda: svc.scale(3))
    svc.reload()
    assert svc.attrs["Spec"]["Mode"]["Replicated"]["Replicas"] == 3


def test_rollback_without_previous_spec_is_a_failed_precondition(engine):
    svc = engine.create("noprev")
    with pytest.raises(APIError) as err:
        reloaded(svc, lambda: rollback(engine.client, svc))
    assert err.value.status_code == 400
    assert err.value.explanation == (
        f"rpc error: code = FailedPrecondition desc = service {svc.id} does not have a previous spec")


def test_gpu_over_ask_leaves_the_task_pending_with_swarms_reason(engine):
    svc = engine.create("gpu", resources=docker.types.Resources(generic_resources={"NVIDIA-GPU": 3}))

    def pending_with_reason():
        tasks = svc.tasks()
        return tasks and tasks[0]["Status"].get("Err") and tasks[0]

    task = wait_for(pending_with_reason, timeout=15)
    assert task, svc.tasks()
    assert task["Status"]["State"] == "pending" and task["DesiredState"] == "running"
    assert re.fullmatch(r"no suitable node \(insufficient resources on \d+ nodes?\)", task["Status"]["Err"])
    assert "GenericResources" not in task
    out = engine.cli("service", "ps", "--no-trunc", "--format", "{{.CurrentState}}|{{.Error}}", engine.prefix + "gpu")
    state, error = out.stdout.splitlines()[0].split("|")
    assert state.startswith("Pending") and "no suitable node (insufficient resources on" in error


def test_gpu_task_gets_a_gpu_assigned_by_uuid(engine):
    svc = engine.create("gpuok", resources=docker.types.Resources(generic_resources={"NVIDIA-GPU": 1}))
    assert wait_for(lambda: running(svc) == 1)
    task = svc.tasks(filters={"desired-state": "running"})[0]
    # The Engine API names the task's assigned GPUs `GenericResources` (swarmkit's
    # AssignedGenericResources): one NamedResourceSpec per GPU, by the node's UUID.
    assigned = task["GenericResources"]
    assert [r["NamedResourceSpec"]["Kind"] for r in assigned] == ["NVIDIA-GPU"]
    node = engine.client.nodes.get(task["NodeID"]).attrs
    uuids = [r["NamedResourceSpec"]["Value"] for r in node["Description"]["Resources"]["GenericResources"]]
    assert assigned[0]["NamedResourceSpec"]["Value"] in uuids


def test_node_ls_marks_the_leader_and_gpus_are_generic_resources(engine):
    out = engine.cli("node", "ls", "--format", "{{.Self}} {{.Status}} {{.Availability}} {{.ManagerStatus}}")
    rows = [line.split() for line in out.stdout.splitlines()]
    assert ["true", "Ready", "Active", "Leader"] in rows
    nodes = engine.client.nodes.list()
    kinds = {r["NamedResourceSpec"]["Kind"] for n in nodes
             for r in n.attrs["Description"]["Resources"].get("GenericResources", []) if "NamedResourceSpec" in r}
    assert kinds == {"NVIDIA-GPU"}
    info = engine.client.info()["Swarm"]
    assert info["LocalNodeState"] == "active" and info["ControlAvailable"] is True and info["Cluster"]["ID"]


def test_events_stream_service_create_and_update_with_filters(engine):
    since = time.time() - 1
    svc = engine.create("events")
    reloaded(svc, lambda: svc.scale(2))
    until = time.time() + 1
    events = list(engine.client.events(since=since, until=until, decode=True,
                                       filters={"type": "service", "service": engine.prefix + "events"}))
    actions = [(e["Type"], e["Action"]) for e in events]
    assert actions[0] == ("service", "create") and ("service", "update") in actions
    assert all(e["Actor"]["ID"] == svc.id and e["scope"] == "swarm" for e in events)
    scaled = [e for e in events if "replicas.new" in e["Actor"]["Attributes"]]
    assert scaled and scaled[0]["Actor"]["Attributes"]["replicas.new"] == "2"
    assert scaled[0]["Actor"]["Attributes"]["replicas.old"] == "1"
    assert scaled[0]["Actor"]["Attributes"]["name"] == engine.prefix + "events"

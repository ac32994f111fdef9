"""The Swarm backend on the real Swarm (dockerd started by .ci/start-swarm.sh).

Each test creates its own services under a unique prefix with the engine's own CLI, acts through the
backend (or through a real Fleet), and checks what `docker service inspect` shows afterwards. Services
are removed in teardown. The dockerd-restart test starts a dockerd of its own and restarts only that one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mlops_tui.backends.fleet import Fleet
from mlops_tui.backends.model import HealthState, ModelService
from mlops_tui.backends.plans import (
    ActionConflict,
    ActionRefused,
    Outcome,
    Rollback,
    Scale,
    SetCanaryWeight,
    SwitchBlueGreen,
    UpdateImage,
)
from mlops_tui.backends.swarm.client import SwarmEndpoint, is_swarm_manager, local_socket_info
from mlops_tui.backends.swarm.watch import SwarmBackend
from tests.engines import require, require_binary

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DOCKER = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else "docker"
SOCKET = "/var/run/docker.sock"
FAST = ["--detach", "--init", "--stop-grace-period", "1s", "--update-monitor", "1s", "--rollback-monitor", "1s"]


def docker(*args: str, check: bool = True) -> str:
    out = subprocess.run([DOCKER, *args], capture_output=True, text=True, timeout=60)
    if check and out.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {out.stderr.strip()}")
    return out.stdout.strip()


def inspect(name: str) -> dict:
    return json.loads(docker("service", "inspect", name))[0]


def wait_for(what: str, check: Callable[[], object], timeout: float = 30.0, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(every)


@pytest.fixture(scope="module", autouse=True)
def swarm_engine() -> None:
    info = local_socket_info(SOCKET)
    require(info is not None, f"dockerd is not answering on {SOCKET} (run .ci/start-swarm.sh)")
    require(is_swarm_manager(info), "the local dockerd is not a Swarm manager (run .ci/start-swarm.sh)")
    images = docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}").split()
    require("mlops/model:v1" in images and "mlops/model:v2" in images,
            "the local images mlops/model:v1/v2 are missing (run .ci/start-swarm.sh)")


class Lab:
    """Services (and networks) one test creates, all named with its own prefix, removed at the end."""

    def __init__(self) -> None:
        self.prefix = f"it{uuid.uuid4().hex[:6]}-"
        self.networks: list[str] = []

    def create(self, name: str, *args: str, network: list[str] | None = None) -> str:
        full = self.prefix + name
        docker("service", "create", "--name", full, *FAST, *(network or ["--network", "host"]), *args)
        return full

    def network(self, name: str) -> str:
        full = self.prefix + name
        docker("network", "create", "--driver", "overlay", full)
        self.networks.append(full)
        return full

    def cleanup(self) -> None:
        names = docker("service", "ls", "--filter", f"name={self.prefix}", "--format", "{{.Name}}", check=False).split()
        if names:
            docker("service", "rm", *names, check=False)
        for net in self.networks:
            for _ in range(40):  # the overlay is in use until the tasks are gone
                if subprocess.run([DOCKER, "network", "rm", net], capture_output=True).returncode == 0:
                    break
                time.sleep(0.5)


@pytest.fixture
def lab() -> Iterator[Lab]:
    lab = Lab()
    yield lab
    lab.cleanup()


@pytest.fixture
def backend() -> Iterator[SwarmBackend]:
    changes: list = []
    b = SwarmBackend(SwarmEndpoint(url=f"unix://{SOCKET}"), name="it-swarm", resync_seconds=1.0)
    b.changes = changes  # type: ignore[attr-defined]
    b.start(changes.append)
    wait_for("the first sync", lambda: b.health and b.health.state is HealthState.CONNECTED, 15)
    yield b
    b.stop()


def service(b: SwarmBackend, name: str, check: Callable[[ModelService], bool] = lambda s: True,
            timeout: float = 30.0) -> ModelService:
    """The backend's own view of a service, once `check` holds."""
    def find():
        view = b.view
        found = [s for k, s in (view.services.items() if view else ()) if k.name == name]
        return found[0] if found and check(found[0]) else None

    return wait_for(f"{name} in the backend's cache", find, timeout)


def running(name: str) -> int:
    ls = docker("service", "ls", "--filter", f"name={name}", "--format", "{{.Name}} {{.Replicas}}").splitlines()
    for line in ls:
        svc, replicas = line.split(" ", 1)
        if svc == name:
            return int(replicas.split("/")[0])
    return -1


# ----------------------------------------------------------------------------------------------


def test_services_nodes_and_gpus_translate_as_the_engine_shows_them(backend, lab):
    llm = lab.create("llm", "--replicas", "1", "--generic-resource", "NVIDIA-GPU=1",
                     "--label", "com.docker.stack.namespace=itml", "mlops/model:v1")
    big = lab.create("big", "--replicas", "1", "--generic-resource", "NVIDIA-GPU=3", "mlops/model:v1")
    agent = lab.create("agent", "--mode", "global", "mlops/busybox:1")

    model = service(backend, llm, lambda s: s.ready == 1)
    assert (model.key.namespace, model.image, model.version, model.desired, model.gpus_per_replica) == (
        "itml", "mlops/model:v1", "v1", 1, 1)
    assert service(backend, agent, lambda s: s.ready == 1).replicated is False

    # The operator sees the big model pending, with Swarm's own words.
    # (Swarm first says "pending task scheduling", then the scheduler gives its reason.)
    pending = wait_for("the GPU-pending task with the scheduler's reason", lambda: [
        p for p in backend.view.pending_gpu
        if p.name == f"{big}.1" and p.message.startswith("no suitable node (insufficient resources on")])
    assert pending[0].requests == (("NVIDIA-GPU", 3),)
    cli_error = docker("service", "ps", big, "--no-trunc", "--format", "{{.Error}}").splitlines()[0]
    assert cli_error.strip('"') == pending[0].message  # the CLI quotes it

    # The node's GPUs, per generic-resource kind: ids from the node's generic resources, one held by the llm.
    node_json = json.loads(docker("node", "inspect", "self"))[0]
    gpu_ids = sorted(g["NamedResourceSpec"]["Value"] for g in node_json["Description"]["Resources"]["GenericResources"])
    gpu_node = backend.view.gpu_nodes[node_json["Description"]["Hostname"]]
    assert [(r.name, r.capacity) for r in gpu_node.resources] == [("NVIDIA-GPU", len(gpu_ids))] == [("NVIDIA-GPU", 2)]
    holder = wait_for("the llm as a GPU holder", lambda: [
        h for n in backend.view.gpu_nodes.values() for h in n.holders if h.workload == f"{llm}.1"])[0]
    assert holder.gpus == 1 and holder.devices[0] in gpu_ids and holder.service == model.key

    # Scaling the GPU service past the free GPUs warns before anything is sent, in Swarm's words.
    free = sum(n.free_of("NVIDIA-GPU") for n in backend.view.gpu_nodes.values())
    plan = backend.plan(model, Scale(1 + free + 2))
    warning = next(w for w in plan.warnings if w.code == "gpu-pending")
    host = node_json["Description"]["Hostname"]
    fits = f" ({free} fit{'s' if free == 1 else ''}: {host}{f'×{free}' if free > 1 else ''})" if free else ""
    assert warning.text == (f"2 of {free + 2} new replicas will stay Pending{fits}: each reserves 1 NVIDIA-GPU on one "
                            f"node; {cli_error.strip(chr(34))}")

    # Global services cannot be scaled: refused, nothing sent.
    with pytest.raises(ActionRefused, match="global service"):
        backend.plan(service(backend, agent), Scale(3))

    # `mlops-tui status --json` lists these services with `docker service ls`'s replica counts.
    out = subprocess.run([sys.executable, "-m", "mlops_tui.tui.cli", "status", "--json", "--swarm", f"unix://{SOCKET}",
                          "--timeout", "20"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    document = json.loads(out.stdout)
    ours = {s["name"]: f"{s['ready']}/{s['desired']}" for s in document["services"]
            if s["name"].startswith(lab.prefix)}
    listed = dict(line.split(" ", 1) for line in docker(
        "service", "ls", "--filter", f"name={lab.prefix}", "--format", "{{.Name}} {{.Replicas}}").splitlines())
    assert ours == listed
    holders = [h["workload"] for n in document["gpu_nodes"] for h in n["holders"]]
    assert f"{llm}.1" in holders


def test_scaling_past_the_gpus_ends_early_with_swarms_reason_once_the_tasks_are_refused(backend, lab):
    # The operator scales up a model reserving 3 GPUs per task on nodes of 2 GPUs: the preview says both
    # new tasks stay Pending, in Swarm's words, and the outcome says so as soon as Swarm has refused them,
    # not after the 120 s deadline. (3 per task: whatever other services hold, none can ever fit.)
    big = lab.create("big", "--replicas", "0", "--generic-resource", "NVIDIA-GPU=3", "mlops/model:v1")
    model = service(backend, big, lambda s: s.desired == 0)
    plan = backend.plan(model, Scale(2))
    (warning,) = [w for w in plan.warnings if w.code == "gpu-pending"]
    assert len(docker("node", "ls", "-q").split()) == 1  # a single-node Swarm: "on 1 node"
    assert warning.text == ("2 of 2 new replicas will stay Pending: each reserves 3 NVIDIA-GPU on one node; "
                            "no suitable node (insufficient resources on 1 node)")
    backend.apply(plan)
    started = time.monotonic()
    result = backend.verify(plan, 120.0, lambda _line: None)
    assert time.monotonic() - started < 30
    assert not result.converged
    pending = [line.split("|", 1)[1].strip('"') for line in docker(
        "service", "ps", big, "--no-trunc", "--filter", "desired-state=running",
        "--format", "{{.CurrentState}}|{{.Error}}").splitlines() if line.startswith("Pending")]
    assert pending == ["no suitable node (insufficient resources on 1 node)"] * 2
    assert result.detail == f"2 replicas Pending: {pending[0]}"


def test_scale_changes_only_the_replicas_in_the_spec(backend, lab):
    name = lab.create("scale", "--replicas", "1", "--label", "mlops.environment=production", "mlops/model:v1")
    model = service(backend, name, lambda s: s.ready == 1)
    spec_before = inspect(name)["Spec"]

    plan = backend.plan(model, Scale(3))
    assert (plan.before, plan.after) == ({"replicas": "1"}, {"replicas": "3"})
    [mutation] = plan.mutations
    assert (mutation.method, mutation.path) == ("POST", f"/services/{inspect(name)['ID']}/update")
    assert mutation.params == {"version": str(inspect(name)["Version"]["Index"])}
    assert plan.precondition_version == mutation.params["version"]
    backend.apply(plan)
    result = backend.verify(plan, 60, lambda _t: None)
    assert result.converged and result.after == {"replicas": "3"}

    spec_after = inspect(name)["Spec"]
    assert spec_after["Mode"] == {"Replicated": {"Replicas": 3}}
    assert {k: v for k, v in spec_after.items() if k != "Mode"} == {k: v for k, v in spec_before.items() if k != "Mode"}
    assert running(name) == 3

    # Production to zero asks for the name to be typed.
    zero = backend.plan(service(backend, name, lambda s: s.desired == 3), Scale(0))
    assert zero.confirm_text == name and "production-scale-to-zero" in [w.code for w in zero.warnings]


def test_update_image_then_rollback_and_a_second_rollback_toggles_back(backend, lab):
    name = lab.create("upd", "--replicas", "1", "--update-parallelism", "1", "--update-order", "start-first",
                      "mlops/model:v1")
    model = service(backend, name, lambda s: s.ready == 1)
    with pytest.raises(ActionRefused, match="does not have a previous spec"):
        backend.plan(model, Rollback())

    plan = backend.plan(model, UpdateImage("mlops/model:v2"))
    assert (plan.before, plan.after) == ({"image": "mlops/model:v1", "version": "v1"},
                                         {"image": "mlops/model:v2", "version": "v2"})
    assert "order start-first" in next(w.text for w in plan.warnings if w.code == "rolling-update")
    spec_before = inspect(name)["Spec"]
    backend.apply(plan)
    assert backend.verify(plan, 60, lambda _t: None).converged
    shown = inspect(name)
    assert shown["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] == "mlops/model:v2"
    assert shown["PreviousSpec"]["TaskTemplate"]["ContainerSpec"]["Image"] == "mlops/model:v1"
    assert shown["Spec"]["UpdateConfig"] == spec_before["UpdateConfig"]  # the rolling update honoured it
    assert shown["UpdateStatus"]["State"] == "completed"

    model = service(backend, name, lambda s: s.version == "v2")
    assert [(r.revision, r.image, r.held_by) for r in backend.revisions(model)] == [
        ("previous", "mlops/model:v1", "PreviousSpec")]
    plan = backend.plan(model, Rollback())
    [mutation] = plan.mutations
    assert mutation.params == {"version": str(shown["Version"]["Index"]), "rollback": "previous"}
    assert (plan.before["image"], plan.after["image"]) == ("mlops/model:v2", "mlops/model:v1")
    backend.apply(plan)
    assert backend.verify(plan, 60, lambda _t: None).converged
    shown = inspect(name)
    assert shown["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] == "mlops/model:v1"
    assert shown["UpdateStatus"]["State"] == "rollback_completed"

    # Swarm swapped Spec and PreviousSpec: rolling back again returns to v2.
    model = service(backend, name, lambda s: s.version == "v1")
    plan = backend.plan(model, Rollback())
    assert plan.after["image"] == "mlops/model:v2"
    backend.apply(plan)
    assert backend.verify(plan, 60, lambda _t: None).converged
    assert inspect(name)["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] == "mlops/model:v2"


def test_canary_weight_moves_replicas_between_the_pair_keeping_the_total(backend, lab):
    stable = lab.create("fraud", "--replicas", "3", "mlops/model:v1")
    canary = lab.create("fraud-canary", "--replicas", "1", "--label", f"mlops.canary-of={stable}", "mlops/model:v2")
    model = service(backend, stable, lambda s: s.canary is not None and s.canary.weight == 25 and s.ready == 3)
    assert model.canary.reachable_weights == (0, 25, 50, 75, 100)

    approx = backend.plan(model, SetCanaryWeight(20))
    assert approx.noop and approx.after["weight"] == "25%"
    assert "20% becomes 25%" in next(w.text for w in approx.warnings if w.code == "weight-approximated")

    plan = backend.plan(model, SetCanaryWeight(50))
    assert (plan.before["weight"], plan.after["weight"]) == ("25%", "50%")
    versions = {inspect(n)["ID"]: str(inspect(n)["Version"]["Index"]) for n in (stable, canary)}
    assert [(m.path.split("/")[2], m.params["version"]) for m in plan.mutations] == [
        (inspect(canary)["ID"], versions[inspect(canary)["ID"]]),  # the growing side first
        (inspect(stable)["ID"], versions[inspect(stable)["ID"]]),
    ]
    backend.apply(plan)
    result = backend.verify(plan, 60, lambda _t: None)
    assert result.converged and result.after["weight"] == "50%"
    assert inspect(stable)["Spec"]["Mode"]["Replicated"]["Replicas"] == 2
    assert inspect(canary)["Spec"]["Mode"]["Replicated"]["Replicas"] == 2
    assert service(backend, canary, lambda s: s.canary.weight == 50).canary.weight == 50


def test_blue_green_switch_moves_the_alias_only_when_the_target_is_running(backend, lab):
    net = lab.network("bg-net")
    alias = lab.prefix + "rank"
    blue = lab.create("rank-blue", "--replicas", "1", "--label", f"mlops.bluegreen={alias}",
                      "--label", "mlops.color=blue", "mlops/model:v1",
                      network=["--network", f"name={net},alias={alias}"])
    green = lab.create("rank-green", "--replicas", "1", "--label", f"mlops.bluegreen={alias}",
                       "--label", "mlops.color=green", "--constraint", "node.labels.mlops-nowhere==1",
                       "mlops/model:v2", network=["--network", net])
    model = service(backend, blue, lambda s: s.blue_green is not None and s.ready == 1)
    assert (model.blue_green.active, model.blue_green.router) == ("blue", alias)

    # Green cannot run anywhere: the switch is refused by the Fleet unless overridden.
    fleet = Fleet([], audit=None)
    plan = backend.plan(model, SwitchBlueGreen("green"))
    assert [w.code for w in plan.blocked] == ["selector-no-ready-pods"]
    fleet.add_backend(backend)
    assert fleet.apply(plan).outcome is Outcome.REFUSED
    assert any(alias in (n.get("Aliases") or []) for n in inspect(blue)["Spec"]["TaskTemplate"]["Networks"])

    docker("service", "update", "--detach", "--constraint-rm", "node.labels.mlops-nowhere==1", green)
    model = service(backend, blue, lambda s: s.blue_green.colours[1].ready == 1)
    plan = backend.plan(model, SwitchBlueGreen("green"))
    assert not plan.blocked and "tasks-restart" in [w.code for w in plan.warnings]
    assert (plan.before, plan.after) == ({"active": "blue", "alias holder": blue},
                                         {"active": "green", "alias holder": green})
    # Green's own update may still be in its monitor period at the preview; when it ends, Swarm writes
    # its status (a new version index, the same spec). The switch is confirmed after that, and applies.
    wait_for("green's update to end", lambda: (inspect(green).get("UpdateStatus") or {}).get("State") == "completed")
    backend.apply(plan)
    assert backend.verify(plan, 60, lambda _t: None).converged
    green_nets = inspect(green)["Spec"]["TaskTemplate"]["Networks"]
    blue_nets = inspect(blue)["Spec"]["TaskTemplate"]["Networks"]
    net_id = json.loads(docker("network", "inspect", net))[0]["Id"]
    assert green_nets == [{"Target": net_id, "Aliases": [alias]}]
    assert blue_nets == [{"Target": net_id}]
    assert service(backend, green, lambda s: s.blue_green.active == "green").blue_green.active == "green"


def test_a_stale_version_index_is_a_conflict_and_a_new_plan_succeeds(backend, lab):
    name = lab.create("stale", "--replicas", "1", "mlops/model:v1")
    model = service(backend, name, lambda s: s.ready == 1)
    plan = backend.plan(model, Scale(2))
    docker("service", "update", "--detach", "--label-add", "touched-by=another-operator", name)  # moves the version

    with pytest.raises(ActionConflict) as conflict:
        backend.apply(plan)
    assert "update out of sequence" in str(conflict.value)
    assert "labels" in conflict.value.changed and "touched-by" in conflict.value.changed
    assert inspect(name)["Spec"]["Mode"]["Replicated"]["Replicas"] == 1  # nothing was changed

    fresh = backend.plan(model, Scale(2))
    assert int(fresh.precondition_version) > int(plan.precondition_version)
    backend.apply(fresh)
    assert backend.verify(fresh, 60, lambda _t: None).converged
    assert inspect(name)["Spec"]["Mode"]["Replicated"]["Replicas"] == 2
    assert inspect(name)["Spec"]["Labels"]["touched-by"] == "another-operator"


def test_a_scale_previewed_while_swarm_finishes_an_update_applies_at_the_first_confirm(backend, lab):
    """The operator previews a scale while the service's image update is in its monitor period. When the
    period ends Swarm writes the update's status: the version index moves, the spec does not. Nothing the
    preview showed changed, so their `y` applies it (a conflict here would ask them to confirm the same
    thing twice, at 3 a.m.)."""
    name = lab.create("finishing", "--replicas", "1", "--update-monitor", "3s", "mlops/model:v1")
    model = service(backend, name, lambda s: s.ready == 1)
    docker("service", "update", "--detach", "--image", "mlops/model:v2", name)
    plan = backend.plan(model, Scale(2))
    sid = plan.context["service_id"]
    assert plan.context["seen"][sid]["update"] == "updating"
    wait_for("the update's status written",
             lambda: (inspect(name).get("UpdateStatus") or {}).get("State") == "completed")
    assert inspect(name)["Version"]["Index"] > int(plan.precondition_version)  # Swarm moved it, not a colleague

    backend.apply(plan)
    assert backend.verify(plan, 60, lambda _t: None).converged
    spec = inspect(name)["Spec"]
    assert spec["Mode"]["Replicated"]["Replicas"] == 2
    assert spec["TaskTemplate"]["ContainerSpec"]["Image"].startswith("mlops/model:v2")  # the update is kept


def test_an_action_through_the_fleet_is_applied_verified_and_audited(lab):
    name = lab.create("fleet", "--replicas", "1", "mlops/model:v1")
    audit: list[dict] = []
    b = SwarmBackend(SwarmEndpoint(url=f"unix://{SOCKET}"), name="it-fleet", resync_seconds=1.0)
    fleet = Fleet([b], audit=audit.append, operator="oncall-ana")
    fleet.start()
    try:
        def in_fleet():
            fleet.flush()
            return next((s for k, s in fleet.state.services.items() if k.name == name and s.ready == 1), None)

        model = wait_for("the service in the fleet", in_fleet)
        assert fleet.state.health["it-fleet"].state is HealthState.CONNECTED
        plan = fleet.plan(model, Scale(2))
        outcome = fleet.apply(plan, confirmed_text=plan.confirm_text, verify_timeout=60)
        assert outcome.outcome is Outcome.SUCCEEDED, outcome.detail
        [intent, record] = audit  # write-ahead: the intent before the call, the result after
        assert (intent["phase"], intent["id"], record["phase"]) == ("intent", record["id"], "result")
        sid = inspect(name)["ID"]
        assert {k: record[k] for k in ("operator", "cluster", "target", "action", "before", "planned", "after",
                                       "result", "calls")} == {
            "operator": "oncall-ana", "cluster": "it-fleet", "target": f"it-fleet/{name}", "action": "scale",
            "before": {"replicas": "1"}, "planned": {"replicas": "2"}, "after": {"replicas": "2"},
            "result": "succeeded", "calls": [f"POST /services/{sid}/update"],
        }
        assert inspect(name)["Spec"]["Mode"]["Replicated"]["Replicas"] == 2
        wait_for("the fleet to show 2 ready", lambda: (fleet.flush(), next(
            s for k, s in fleet.state.services.items() if k.name == name).ready == 2)[1])

        # Someone else changes the service between the preview and the confirm: the Fleet reports the
        # conflict with what changed, hands back a fresh plan, and audits the attempt.
        model = next(s for k, s in fleet.state.services.items() if k.name == name)
        stale = fleet.plan(model, Scale(3))
        docker("service", "update", "--detach", "--label-add", "owner=team-b", name)
        outcome = fleet.apply(stale, confirmed_text=stale.confirm_text, verify_timeout=60)
        assert outcome.outcome is Outcome.CONFLICT
        assert "update out of sequence" in outcome.detail and "owner" in outcome.detail
        assert outcome.replanned is not None
        assert int(outcome.replanned.precondition_version) > int(stale.precondition_version)
        assert [r["result"] for r in audit] == ["intent", "succeeded", "intent", "conflict"]
        assert inspect(name)["Spec"]["Mode"]["Replicated"]["Replicas"] == 2
        fresh = outcome.replanned
        assert fleet.apply(fresh, confirmed_text=fresh.confirm_text, verify_timeout=60).outcome is Outcome.SUCCEEDED
        assert inspect(name)["Spec"]["Mode"]["Replicated"]["Replicas"] == 3
    finally:
        fleet.stop()


def test_events_bring_changes_between_resyncs_as_small_upserts(lab):
    changes: list = []
    b = SwarmBackend(SwarmEndpoint(url=f"unix://{SOCKET}"), name="it-events", resync_seconds=300.0)
    b.start(changes.append)
    try:
        wait_for("the first sync", lambda: b.health and b.health.state is HealthState.CONNECTED, 15)
        name = lab.create("evt", "--replicas", "1", "mlops/model:v1")
        service(b, name, lambda s: s.ready == 1, timeout=15)
        docker("service", "scale", "--detach", f"{name}=2")
        service(b, name, lambda s: s.ready == 2, timeout=15)
        # The first change that showed two ready tasks was an event's small upsert, not a full resync
        # (which may also run meanwhile: the event stream's opening, or a refresh of another test's
        # removed service, asks for one).
        first = next(c for c in changes if any(k.name == name and s is not None and s.ready == 2
                                               for k, s in c.services.items()))
        assert not first.snapshot, "the changes came from events, not from a full resync"
        upserts = [c for c in changes if not c.snapshot and any(k.name == name for k in c.services)]
        assert upserts and all(set(k.name for k in c.services) == {name} for c in upserts)
        detail = b.describe(service(b, name))
        assert sorted(r.name for r in detail.replicas if r.ready) == [f"{name}.1", f"{name}.2"]
        docker("service", "rm", name)
        wait_for("the removal", lambda: any(c.services.get(k) is None and k.name == name
                                            for c in changes for k in c.services), 15)
    finally:
        b.stop()


class PrivateDockerd:
    """A dockerd of this test's own (own socket, data root and Swarm ports), so that the test stops and
    restarts only a process it started, by its PID, never the suite's shared daemon."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket = root / "docker.sock"
        self.process: subprocess.Popen | None = None

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def docker(self, *args: str) -> str:
        out = subprocess.run([DOCKER, "-H", self.host, *args], capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)}: {out.stderr.strip()}")
        return out.stdout.strip()

    def start(self) -> None:
        dockerd = require_binary("dockerd")
        log = (self.root / "dockerd.log").open("ab")
        self.process = subprocess.Popen(
            [dockerd, "--host", self.host, "--data-root", str(self.root / "data"),
             "--exec-root", str(self.root / "exec"), "--pidfile", str(self.root / "dockerd.pid"),
             "--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-forward=false"],
            stdout=log, stderr=log,
            # No registry here: pulls go to a closed local port, never to the network.
            env={**os.environ, "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""})
        wait_for("the private dockerd to answer", lambda: local_socket_info(str(self.socket)) is not None, 60)

    def init_swarm(self) -> None:
        # Ports of its own: the suite's Swarm holds 2377 and the default data path port.
        self.docker("swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr", "127.0.0.1:2378",
                    "--data-path-port", "4790")
        image = subprocess.run([DOCKER, "save", "mlops/model:v1"], capture_output=True, check=True, timeout=60)
        subprocess.run([DOCKER, "-H", self.host, "load"], input=image.stdout, capture_output=True, check=True,
                       timeout=60)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=60)


@pytest.fixture
def private_dockerd(tmp_path_factory) -> Iterator[PrivateDockerd]:
    daemon = PrivateDockerd(tmp_path_factory.mktemp("dockerd", numbered=True))
    daemon.start()
    try:
        daemon.init_swarm()
        yield daemon
    finally:
        with_services = daemon.process is not None and daemon.process.poll() is None
        if with_services:
            daemon.docker("swarm", "leave", "--force")
        daemon.stop()


def test_dockerd_killed_and_restarted_mid_watch_is_survived(private_dockerd):
    """The operator's engine restarts under them: the rows stay (stale), then come back as they are."""
    daemon = private_dockerd
    name = f"survivor-{uuid.uuid4().hex[:6]}"
    daemon.docker("service", "create", "--name", name, "--replicas", "2", *FAST, "mlops/model:v1")
    healths: list = []
    b = SwarmBackend(SwarmEndpoint(url=daemon.host), name="it-restart", resync_seconds=1.0)
    b.start(lambda change: healths.append(change.health) if change.health else None)
    try:
        service(b, name, lambda s: s.ready == 2, timeout=60)
        assert daemon.process is not None
        pid = daemon.process.pid
        os.kill(pid, signal.SIGTERM)  # only the daemon this test started, by its own PID
        daemon.process.wait(timeout=60)
        stale = wait_for("the backend to go stale", lambda: b.health.state is HealthState.STALE and b.health, 20)
        assert stale.since is not None and stale.error
        assert any(s.key.name == name for s in b.view.services.values())  # the last data stays shown

        daemon.start()  # same data root: the Swarm and its service survive on disk
        wait_for("the backend to reconnect", lambda: b.health.state is HealthState.CONNECTED, 60)
        states = [h.state for h in healths]
        assert states.index(HealthState.STALE) < len(states) - 1 - states[::-1].index(HealthState.CONNECTED)

        def matches_service_ls():
            listed = dict(line.split(" ", 1) for line in daemon.docker(
                "service", "ls", "--format", "{{.Name}} {{.Replicas}}").splitlines())
            cached = {k.name: f"{s.ready}/{s.desired}" for k, s in b.view.services.items()}
            return listed == cached and listed.get(name) == "2/2"

        wait_for("the cache to match `docker service ls`", matches_service_ls, 90, every=0.5)
    finally:
        b.stop()

"""Swarm JSON -> model, on JSON recorded from the real dockerd (tests/unit/data/swarm/record.py).

The recorded fleet: a production LLM in stack `rec-ml` holding both GPUs (updated once, so it has a
PreviousSpec), `rec-big` asking for 3 GPUs (pending), a global `rec-agent`, a canary pair
`rec-fraud`/`rec-fraud-canary` (3+1), an update paused, a rollback paused, and a blue-green pair
`rec-rank-blue`/`rec-rank-green` where blue holds the alias `rec-rank`.
"""

from __future__ import annotations

import json
import pathlib
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_tui.backends.model import ActionKind, ColourState, Platform, ServiceKind
from mlops_tui.backends.swarm import translate as tr

DATA = pathlib.Path(__file__).parent / "data" / "swarm"
GPU1 = "GPU-5e7a1c1e-0000-4000-8000-000000000001"
GPU2 = "GPU-5e7a1c1e-0000-4000-8000-000000000002"


def load(name: str):
    return json.loads((DATA / name).read_text())


@pytest.fixture(scope="module")
def view() -> tr.SwarmView:
    return tr.translate("lab", load("services.json"), load("tasks.json"), load("nodes.json"))


def svc(view: tr.SwarmView, name: str):
    matches = [s for k, s in view.services.items() if k.name == name]
    assert len(matches) == 1, name
    return matches[0]


def test_every_recorded_service_is_a_swarm_service_keyed_by_stack_and_full_name(view):
    names = sorted(k.name for k in view.services)
    assert names == ["rec-agent", "rec-big", "rec-fraud", "rec-fraud-canary", "rec-ml_llm", "rec-paused",
                     "rec-rank-blue", "rec-rank-green", "rec-rbpaused"]
    llm = svc(view, "rec-ml_llm")
    assert (llm.key.cluster, llm.key.namespace, llm.key.kind) == ("lab", "rec-ml", ServiceKind.SWARM_SERVICE)
    assert svc(view, "rec-big").key.namespace == ""
    assert all(s.platform is Platform.SWARM for s in view.services.values())


def test_replica_counts_match_what_the_engine_reports_in_service_status(view):
    for raw in load("services.json"):
        model = svc(view, raw["Spec"]["Name"])
        status = raw["ServiceStatus"]
        assert (model.desired, model.ready) == (status["DesiredTasks"], status["RunningTasks"])


def test_replicated_service_image_version_revision_and_previous_spec(view):
    llm = svc(view, "rec-ml_llm")
    assert (llm.image, llm.version, llm.desired, llm.ready, llm.updated) == ("mlops/model:v2", "v2", 2, 2, 2)
    assert llm.rollout_state == "completed" and llm.rollout_message == "update completed"
    assert llm.revision.isdigit() and int(llm.revision) > 0
    assert llm.production is True  # mlops.environment=production on the service
    assert llm.gpus_per_replica == 1
    conditions = {c.type: c for c in llm.conditions}
    assert conditions["PreviousSpec"].status == "True" and conditions["PreviousSpec"].message == "mlops/model:v1"
    assert conditions["Placement"].message == "node.role==manager"
    assert conditions["RestartPolicy"].reason == "on-failure"
    assert conditions["RestartPolicy"].message == "max 3 attempts, delay 5s"
    assert llm.actions == {ActionKind.SCALE, ActionKind.UPDATE_IMAGE, ActionKind.ROLLBACK, ActionKind.RESTART}


def test_version_label_wins_over_the_tag(view):
    assert svc(view, "rec-fraud").version == "v1"
    assert tr.image_version("mlops/model:v2", {"version": "2.1-rc"}) == "2.1-rc"
    assert tr.image_version("registry:5000/team/model:v3@sha256:abc") == "v3"
    assert tr.image_version("registry:5000/team/model") == "latest"


def test_global_service_desired_follows_the_nodes_and_cannot_be_scaled(view):
    agent = svc(view, "rec-agent")
    assert agent.replicated is False
    assert (agent.desired, agent.ready) == (1, 1)
    assert ActionKind.SCALE not in agent.actions


def test_global_service_without_service_status_counts_eligible_nodes():
    raw = next(s for s in load("services.json") if s["Spec"]["Name"] == "rec-agent")
    raw = {k: v for k, v in raw.items() if k != "ServiceStatus"}  # an engine older than API 1.41
    nodes = load("nodes.json")
    view = tr.translate("lab", [raw], [], nodes)
    assert next(iter(view.services.values())).desired == 1
    raw["Spec"]["TaskTemplate"]["Placement"] = {"Constraints": ["node.role==worker"]}
    view = tr.translate("lab", [raw], [], nodes)
    assert next(iter(view.services.values())).desired == 0


def test_update_paused_and_rollback_paused_carry_swarm_messages(view):
    paused = svc(view, "rec-paused")
    assert paused.rollout_state == "paused"
    assert paused.rollout_message.startswith("update paused due to failure or early termination of task")
    rb = svc(view, "rec-rbpaused")
    assert rb.rollout_state == "rollback_paused"
    assert "paused due to failure" in rb.rollout_message
    assert (rb.desired, rb.ready) == (1, 0)


def test_pending_gpu_task_is_shown_with_swarms_own_message(view):
    assert len(view.pending_gpu) == 1
    pending = view.pending_gpu[0]
    assert (pending.name, pending.requests, pending.cluster) == ("rec-big.1", (("NVIDIA-GPU", 3),), "lab")
    assert pending.message == "no suitable node (insufficient resources on 1 node)"
    assert pending.service == svc(view, "rec-big").key
    assert pending.since is not None and pending.since.tzinfo is not None
    big = svc(view, "rec-big")
    assert (big.desired, big.ready, big.gpus_per_replica) == (1, 0, 3)


def test_named_gpus_on_the_node_and_their_holders(view):
    assert list(view.gpu_nodes) == ["vm"]
    node = view.gpu_nodes["vm"]
    assert [(r.name, r.capacity, r.allocatable, r.allocated, r.free) for r in node.resources] == [
        ("NVIDIA-GPU", 2, 2, 2, 0)]
    assert node.ready and node.schedulable
    held = {h.workload: h.devices for h in node.holders}
    assert held == {"rec-ml_llm.1": (GPU1,), "rec-ml_llm.2": (GPU2,)}
    assert all(h.service == svc(view, "rec-ml_llm").key and h.resource == "NVIDIA-GPU" for h in node.holders)


def test_discrete_gpus_on_a_node_count_by_value_and_other_kinds_are_ignored():
    view = tr.translate("lab", load("services.json"), load("tasks.json"), load("nodes_discrete.json"))
    node = view.gpu_nodes["vm"]
    # SSD=3 is not a GPU
    assert [(r.name, r.capacity, r.allocated, r.free) for r in node.resources] == [("NVIDIA-GPU", 4, 2, 2)]


def test_drained_or_down_node_has_no_free_gpus():
    nodes = load("nodes.json")
    nodes[0]["Spec"]["Availability"] = "drain"
    node = tr.translate("lab", [], [], nodes).gpu_nodes["vm"]
    (gpu,) = node.resources
    assert (gpu.capacity, gpu.allocated, node.schedulable, node.free_of(gpu.name)) == (2, 0, False, 0)
    nodes[0]["Spec"]["Availability"] = "active"
    nodes[0]["Status"]["State"] = "down"
    assert tr.translate("lab", [], [], nodes).gpu_nodes["vm"].ready is False


def test_canary_pair_weight_by_task_count_on_both_rows(view):
    stable, canary = svc(view, "rec-fraud"), svc(view, "rec-fraud-canary")
    assert stable.canary == canary.canary
    c = stable.canary
    assert (c.source, c.stable_version, c.canary_version, c.weight) == ("swarm", "v1", "v2", 25)
    assert (c.stable_service, c.canary_service) == ("rec-fraud", "rec-fraud-canary")  # their series: the figures
    assert c.reachable_weights == (0, 25, 50, 75, 100)
    assert ActionKind.CANARY_WEIGHT in stable.actions and ActionKind.CANARY_WEIGHT in canary.actions


def test_split_for_weight_keeps_the_total_and_says_what_it_reached():
    assert tr.split_for_weight(20, 4) == (3, 1, 25)
    assert tr.split_for_weight(50, 4) == (2, 2, 50)
    assert tr.split_for_weight(10, 3) == (3, 0, 0)
    assert tr.split_for_weight(100, 3) == (0, 3, 100)
    assert tr.reachable_weights(3) == (0, 33, 67, 100)


def test_blue_green_pair_active_is_the_alias_holder(view):
    blue, green = svc(view, "rec-rank-blue"), svc(view, "rec-rank-green")
    bg = blue.blue_green
    assert bg == green.blue_green
    assert (bg.source, bg.active, bg.preview, bg.router, bg.selector_key) == ("swarm", "blue", "green", "rec-rank",
                                                                           "mlops.color")
    assert bg.colours == (ColourState("blue", 2, 2), ColourState("green", 2, 2))
    assert ActionKind.BLUE_GREEN_SWITCH in blue.actions


def test_task_on_an_old_image_is_running_but_not_updated():
    services = [s for s in load("services.json") if s["Spec"]["Name"] == "rec-ml_llm"]
    tasks = [t for t in load("tasks.json") if t["ServiceID"] == services[0]["ID"]]
    running = [t for t in tasks if tr.is_running(t)]
    running[0]["Spec"]["ContainerSpec"]["Image"] = "mlops/model:v1"
    model = next(iter(tr.translate("lab", services, tasks, []).services.values()))
    assert (model.ready, model.updated, model.progressing) == (2, 1, True)


def test_production_marked_by_another_service_of_the_stack():
    services = load("services.json")
    other = json.loads(json.dumps(next(s for s in services if s["Spec"]["Name"] == "rec-big")))
    other["ID"] = "other"
    other["Spec"]["Name"] = "rec-ml_embed"
    other["Spec"]["Labels"] = {"com.docker.stack.namespace": "rec-ml"}
    view = tr.translate("lab", [*services, other], [], [])
    assert svc(view, "rec-ml_embed").production is True
    assert svc(view, "rec-big").production is False


def test_detail_lists_tasks_with_errors_and_the_two_specs():
    services = load("services.json")
    raw = next(s for s in services if s["Spec"]["Name"] == "rec-big")
    tasks = [t for t in load("tasks.json") if t["ServiceID"] == raw["ID"]]
    detail = tr.detail(raw, tasks, load("nodes.json"))
    assert [r.name for r in detail.replicas] == ["rec-big.1"]
    assert detail.replicas[0].message == "no suitable node (insufficient resources on 1 node)"
    assert detail.events[0].message == "rec-big.1: no suitable node (insufficient resources on 1 node)"
    assert [(r.revision, r.image, r.held_by, r.current) for r in detail.revisions] == [
        (str(raw["Version"]["Index"]), "mlops/model:v1", "Spec", True)]


def test_parse_time_keeps_utc_and_drops_nanoseconds():
    assert tr.parse_time("2026-11-29T02:22:27.939799157Z") == datetime(2026, 11, 29, 2, 22, 27, 939799,
                                                                        tzinfo=timezone.utc)
    assert tr.parse_time("0001-01-01T00:00:00Z") is None


@settings(max_examples=300, deadline=None)
@given(total=st.integers(min_value=1, max_value=60), weight=st.integers(min_value=0, max_value=100))
def test_any_weight_keeps_the_total_and_lands_on_the_nearest_reachable_weight(total, weight):
    stable, canary, reached = tr.split_for_weight(weight, total)
    assert stable + canary == total and stable >= 0 and canary >= 0
    assert reached in tr.reachable_weights(total)
    assert all(abs(reached - weight) <= abs(w - weight) + 1 for w in tr.reachable_weights(total))

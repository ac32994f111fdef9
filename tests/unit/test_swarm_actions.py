"""Swarm action plans on recorded JSON: the exact calls, previews and warnings, and how apply maps
the engine's errors. The engine behind them is exercised in tests/integration/test_swarm_backend.py."""

from __future__ import annotations

import copy
import json
import pathlib
import time

import pytest

from mlops_tui.backends.plans import (
    ActionConflict,
    ActionError,
    ActionForbidden,
    ActionRefused,
    Rollback,
    Scale,
    SetCanaryWeight,
    SwitchBlueGreen,
    UpdateImage,
)
from mlops_tui.backends.swarm import translate as tr
from mlops_tui.backends.swarm.actions import SwarmActions
from mlops_tui.backends.swarm.client import EngineError

DATA = pathlib.Path(__file__).parent / "data" / "swarm"


def load(name: str):
    return json.loads((DATA / name).read_text())


class RecordedSwarm:
    """The Engine API client SwarmActions reads through, served from the recorded JSON; POSTs are recorded."""

    def __init__(self, nodes: str = "nodes.json") -> None:
        self.recorded_services = load("services.json")
        self.recorded_tasks = load("tasks.json")
        self.recorded_nodes = load(nodes)
        self.posts: list[tuple[str, dict, dict]] = []
        self.fail_with: EngineError | None = None

    def by_name(self, name: str) -> dict:
        return next(s for s in self.recorded_services if s["Spec"]["Name"] == name or s["ID"] == name)

    def service(self, ident: str) -> dict:
        try:
            return copy.deepcopy(self.by_name(ident))
        except StopIteration:
            raise EngineError(404, f"service {ident} not found") from None

    def services(self, ids=None):
        return copy.deepcopy(self.recorded_services)

    def tasks(self, service_ids=None):
        wanted = set(service_ids or ())
        return [t for t in self.recorded_tasks if t["DesiredState"] in ("running", "ready")
                and (not wanted or t["ServiceID"] in wanted)]

    def nodes(self):
        return self.recorded_nodes

    def request(self, method, path, params=None, body=None, timeout=None):
        if self.fail_with is not None:
            raise self.fail_with
        self.posts.append((path, dict(params or {}), body))


def actions(swarm: RecordedSwarm) -> SwarmActions:
    return SwarmActions(swarm, "lab")  # type: ignore[arg-type]  # a recorded stand-in for EngineClient


@pytest.fixture
def swarm() -> RecordedSwarm:
    return RecordedSwarm()


def model(swarm: RecordedSwarm, name: str):
    view = tr.translate("lab", swarm.recorded_services, swarm.recorded_tasks, swarm.recorded_nodes)
    return next(s for k, s in view.services.items() if k.name == name)


def test_scale_sends_the_full_spec_with_only_the_replicas_changed(swarm):
    plan = actions(swarm).plan(model(swarm, "rec-fraud"), Scale(5))
    raw = swarm.by_name("rec-fraud")
    [m] = plan.mutations
    assert (m.method, m.path, m.params) == ("POST", f"/services/{raw['ID']}/update",
                                            {"version": str(raw["Version"]["Index"])})
    assert m.body == {**raw["Spec"], "Mode": {"Replicated": {"Replicas": 5}}}
    assert (plan.before, plan.after, plan.precondition_version) == (
        {"replicas": "3"}, {"replicas": "5"}, str(raw["Version"]["Index"]))
    assert plan.warnings == () and not plan.noop


def test_scale_to_the_same_count_is_a_noop(swarm):
    assert actions(swarm).plan(model(swarm, "rec-fraud"), Scale(3)).noop


def test_a_global_service_is_refused_clearly(swarm):
    with pytest.raises(ActionRefused, match="rec-agent is a global service"):
        actions(swarm).plan(model(swarm, "rec-agent"), Scale(2))


def test_scaling_a_gpu_service_past_the_free_gpus_warns_how_many_stay_pending():
    swarm = RecordedSwarm()
    for node in swarm.recorded_nodes:  # three GPUs, the llm's two tasks hold two of them
        node["Description"]["Resources"]["GenericResources"].append(
            {"NamedResourceSpec": {"Kind": "NVIDIA-GPU", "Value": "GPU-third"}})
    plan = actions(swarm).plan(model(swarm, "rec-ml_llm"), Scale(5))
    [warning] = [w for w in plan.warnings if w.code == "gpu-pending"]
    assert warning.text == ("2 of 3 new replicas will stay Pending (1 fits: vm): each reserves 1 NVIDIA-GPU on one "
                            "node; no suitable node (insufficient resources on 1 node)")
    assert not warning.blocking

    discrete = RecordedSwarm("nodes_discrete.json")  # 4 GPUs, 2 held
    plan = actions(discrete).plan(model(discrete, "rec-ml_llm"), Scale(4))
    assert "gpu-pending" not in [w.code for w in plan.warnings]


def test_a_swarm_task_already_pending_for_gpus_goes_first_and_is_named():
    # rec-big reserves 3 GPUs a task and already has one task refused ("no suitable node"); one more
    # cannot fit either, and the preview says which task waits before it.
    swarm = RecordedSwarm("nodes_discrete.json")  # 4 GPUs, 2 held by rec-ml_llm
    plan = actions(swarm).plan(model(swarm, "rec-big"), Scale(2))
    [warning] = [w for w in plan.warnings if w.code == "gpu-pending"]
    assert warning.text == ("1 of 1 new replicas will stay Pending: each reserves 3 NVIDIA-GPU on one node; "
                            "no suitable node (insufficient resources on 1 node); 1 task of rec-big already waits "
                            "for GPUs and goes first.")
    assert plan.context["gpu_pending"] == 2


def test_scaling_production_to_zero_needs_the_name_typed(swarm):
    plan = actions(swarm).plan(model(swarm, "rec-ml_llm"), Scale(0))
    assert plan.confirm_text == "rec-ml_llm"
    assert [w.code for w in plan.warnings] == ["production-scale-to-zero"]
    assert actions(swarm).plan(model(swarm, "rec-fraud"), Scale(0)).confirm_text == ""


def test_mid_rollout_is_warned(swarm):
    swarm.by_name("rec-fraud")["UpdateStatus"] = {"State": "updating", "Message": "update in progress"}
    plan = actions(swarm).plan(model(swarm, "rec-fraud"), Scale(4))
    assert [w.code for w in plan.warnings] == ["mid-rollout"]


def test_update_image_changes_only_the_image_and_says_how_it_rolls(swarm):
    plan = actions(swarm).plan(model(swarm, "rec-ml_llm"), UpdateImage("mlops/model:v2.1"))
    raw = swarm.by_name("rec-ml_llm")
    [m] = plan.mutations
    expected = copy.deepcopy(raw["Spec"])
    expected["TaskTemplate"]["ContainerSpec"]["Image"] = "mlops/model:v2.1"
    assert m.body == expected
    assert (plan.before, plan.after) == ({"image": "mlops/model:v2", "version": "v2"},
                                         {"image": "mlops/model:v2.1", "version": "v2.1"})
    rolling = next(w for w in plan.warnings if w.code == "rolling-update")
    assert rolling.text.endswith("parallelism 1, delay 0s, order stop-first, on failure pause, monitor 2s")


def test_rollback_is_server_side_with_the_version_and_refused_without_previous_spec(swarm):
    plan = actions(swarm).plan(model(swarm, "rec-ml_llm"), Rollback())
    raw = swarm.by_name("rec-ml_llm")
    [m] = plan.mutations
    assert m.params == {"version": str(raw["Version"]["Index"]), "rollback": "previous"}
    assert (plan.before["image"], plan.after["image"]) == ("mlops/model:v2", "mlops/model:v1")
    with pytest.raises(ActionRefused, match="rec-fraud does not have a previous spec"):
        actions(swarm).plan(model(swarm, "rec-fraud"), Rollback())
    with pytest.raises(ActionRefused, match="previous' only"):
        actions(swarm).plan(model(swarm, "rec-ml_llm"), Rollback(revision="7"))


def test_canary_weight_splits_by_task_count_growing_side_first(swarm):
    plan = actions(swarm).plan(model(swarm, "rec-fraud"), SetCanaryWeight(75))
    stable, canary = swarm.by_name("rec-fraud"), swarm.by_name("rec-fraud-canary")
    assert [(m.path, m.params["version"], m.body["Mode"]) for m in plan.mutations] == [
        (f"/services/{canary['ID']}/update", str(canary["Version"]["Index"]), {"Replicated": {"Replicas": 3}}),
        (f"/services/{stable['ID']}/update", str(stable["Version"]["Index"]), {"Replicated": {"Replicas": 1}}),
    ]
    assert plan.after == {"weight": "75%", "stable": "rec-fraud ×1", "canary": "rec-fraud-canary ×3"}


def test_canary_weight_that_cannot_be_reached_is_approximated_and_said(swarm):
    plan = actions(swarm).plan(model(swarm, "rec-fraud-canary"), SetCanaryWeight(40))
    assert plan.after["weight"] == "50%"
    [warning] = [w for w in plan.warnings if w.code == "weight-approximated"]
    assert "with 4 tasks in all, 40% becomes 50% (2 of 4); reachable: 0%, 25%, 50%, 75%, 100%" in warning.text
    assert actions(swarm).plan(model(swarm, "rec-fraud"), SetCanaryWeight(20)).noop


def test_blue_green_switch_moves_the_alias_to_the_target_first(swarm):
    plan = actions(swarm).plan(model(swarm, "rec-rank-blue"), SwitchBlueGreen("green"))
    blue, green = swarm.by_name("rec-rank-blue"), swarm.by_name("rec-rank-green")
    net = blue["Spec"]["TaskTemplate"]["Networks"][0]["Target"]
    assert [m.path.split("/")[2] for m in plan.mutations] == [green["ID"], blue["ID"]]
    assert plan.mutations[0].body["TaskTemplate"]["Networks"] == [{"Target": net, "Aliases": ["rec-rank"]}]
    assert plan.mutations[1].body["TaskTemplate"]["Networks"] == [{"Target": net}]
    assert not plan.blocked and "tasks-restart" in [w.code for w in plan.warnings]
    assert actions(swarm).plan(model(swarm, "rec-rank-green"), SwitchBlueGreen("blue")).noop


def test_blue_green_switch_to_a_colour_with_tasks_not_running_is_blocked(swarm):
    green = swarm.by_name("rec-rank-green")
    swarm.recorded_tasks = [t for t in swarm.recorded_tasks
                            if not (t["ServiceID"] == green["ID"] and t.get("Slot") == 2)]
    plan = actions(swarm).plan(model(swarm, "rec-rank-blue"), SwitchBlueGreen("green"))
    [blocked] = plan.blocked
    assert blocked.code == "selector-no-ready-pods" and "has 1 of 2 tasks running" in blocked.text
    with pytest.raises(ActionRefused, match="no 'purple' colour"):
        actions(swarm).plan(model(swarm, "rec-rank-blue"), SwitchBlueGreen("purple"))


def test_apply_sends_each_mutation_once_with_its_version(swarm):
    swarm_actions = actions(swarm)
    plan = swarm_actions.plan(model(swarm, "rec-fraud"), SetCanaryWeight(50))
    swarm_actions.apply(plan)
    assert [(p, params) for p, params, _ in swarm.posts] == [(m.path, dict(m.params)) for m in plan.mutations]


def test_out_of_sequence_is_a_conflict_that_says_what_changed(swarm):
    swarm_actions = actions(swarm)
    plan = swarm_actions.plan(model(swarm, "rec-fraud"), Scale(4))
    raw = swarm.by_name("rec-fraud")
    raw["Version"]["Index"] += 3
    raw["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] = "mlops/model:v2"
    swarm.fail_with = EngineError(500, "rpc error: code = Unknown desc = update out of sequence")
    with pytest.raises(ActionConflict) as err:
        swarm_actions.apply(plan)
    old = int(plan.precondition_version)
    assert err.value.changed == f"version {old} → {old + 3}; image mlops/model:v1 → mlops/model:v2"


@pytest.mark.parametrize(("error", "raised"), [
    (EngineError(403, "authorization denied by plugin opa: service update"), ActionForbidden),
    (EngineError(400, "rpc error: code = FailedPrecondition desc = service x does not have a previous spec"),
     ActionRefused),
    (EngineError(0, "Connection aborted"), ActionError),
])
def test_engine_errors_map_to_action_errors(swarm, error, raised):
    swarm_actions = actions(swarm)
    plan = swarm_actions.plan(model(swarm, "rec-fraud"), Scale(4))
    swarm.fail_with = error
    with pytest.raises(raised):
        swarm_actions.apply(plan)


def test_an_image_update_is_done_only_when_every_task_runs_it_and_a_paused_update_ends_the_wait(swarm):
    """The operator updates rec-fraud's image: the outcome waits for every task on the new image, and
    when Swarm pauses the update (a task failed) it says so at once instead of waiting out the timeout."""
    swarm_actions = actions(swarm)
    plan = swarm_actions.plan(model(swarm, "rec-fraud"), UpdateImage("mlops/model:v2"))
    swarm_actions.apply(plan)
    raw = swarm.by_name("rec-fraud")  # what Swarm holds once it accepted the update
    raw["Version"]["Index"] += 1
    raw["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] = "mlops/model:v2"
    tasks = [t for t in swarm.recorded_tasks if t["ServiceID"] == raw["ID"]]
    seen_progress: list[str] = []
    result = swarm_actions.verify(plan, timeout=0.0, progress=seen_progress.append)
    assert not result.converged and "rec-fraud: 0/3 tasks running on the current spec" in result.detail
    raw["UpdateStatus"] = {"State": "paused", "Message": "update paused due to failure of task x"}
    started = time.monotonic()
    result = swarm_actions.verify(plan, timeout=30, progress=seen_progress.append)
    assert not result.converged and "update paused: update paused due to failure of task x" in result.detail
    assert time.monotonic() - started < 5  # stuck: no waiting for the 30 s timeout
    del raw["UpdateStatus"]
    for task in tasks:
        task["Spec"]["ContainerSpec"]["Image"] = "mlops/model:v2"
    result = swarm_actions.verify(plan, timeout=30, progress=seen_progress.append)
    assert result.converged and result.after["image"] == "mlops/model:v2"
    assert "rec-fraud: 3/3 tasks running on the current spec" in result.detail


def test_a_canary_split_is_done_when_both_services_hold_the_planned_counts(swarm):
    swarm_actions = actions(swarm)
    plan = swarm_actions.plan(model(swarm, "rec-fraud"), SetCanaryWeight(50))
    stable, canary = swarm.by_name("rec-fraud"), swarm.by_name("rec-fraud-canary")
    result = swarm_actions.verify(plan, timeout=0.0, progress=lambda _: None)
    assert not result.converged and result.after["weight"] != "50%"
    for raw, n in ((stable, plan.context["stable_replicas"]), (canary, plan.context["canary_replicas"])):
        raw["Spec"]["Mode"]["Replicated"]["Replicas"] = n
        running = [t for t in swarm.recorded_tasks if t["ServiceID"] == raw["ID"]]
        swarm.recorded_tasks = [t for t in swarm.recorded_tasks if t["ServiceID"] != raw["ID"]]
        template = running[0]
        swarm.recorded_tasks += [dict(copy.deepcopy(template), ID=f"{raw['ID']}-{i}", Slot=i + 1) for i in range(n)]
    result = swarm_actions.verify(plan, timeout=0.0, progress=lambda _: None)
    assert result.converged and result.after["weight"] == "50%", result.detail

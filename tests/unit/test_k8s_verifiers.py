"""Every plan the operator can confirm is followed by the verifier of the mechanism that made it.

The plan names its verifier (its context's `kind`), looked up in `actions.planner.VERIFIERS`; a plan
whose kind no module verifies would be reported done at once ("nothing to follow") while the cluster
still converges, so the operator would read "succeeded" for a rollout that later fails.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from mlops_tui.backends.kubernetes import actions as ka
from mlops_tui.backends.kubernetes import translate as tr
from mlops_tui.backends.kubernetes.actions import argo, blue_green, image, istio, kserve, scale, template
from mlops_tui.backends.kubernetes.actions.planner import VERIFIERS, _verifiers
from mlops_tui.backends.kubernetes.client import Response
from mlops_tui.backends.plans import (
    Abort,
    Promote,
    Restart,
    Retry,
    Rollback,
    Scale,
    SetAutoscalerBounds,
    SetCanaryWeight,
    SwitchBlueGreen,
    UpdateImage,
)

DATA = Path(__file__).parent / "data" / "k8s"


def load(name: str):
    return json.loads((DATA / name).read_text())


def _plans():
    """(what the operator did, the plan, the module that must follow it)."""
    dep = load("deployment_valuation.json")
    deployment = tr.deployment_service("prod", dep)
    rollout_obj = load("rollout_ensemble.json")
    rollout = tr.rollout_service("prod", rollout_obj)
    isvc_obj = load("isvc_price.json")
    isvc = tr.isvc_service("prod", isvc_obj)
    vs = load("virtualservice_rent.json")
    (split,) = tr.istio_splits(vs)
    bluegreen = load("bluegreen.json")
    (switch,) = tr.selector_switches([bluegreen["service"]], bluegreen["deployments"])
    coloured = tr.deployment_service("prod", bluegreen["deployments"][1], blue_green=switch.blue_green())
    isvc_with_image = copy.deepcopy(isvc_obj)
    isvc_with_image["spec"]["predictor"] = {"containers": [{"name": "kserve-container", "image": "p:v1"}]}
    rollout_rs = [{"metadata": {"annotations": {"rollout.argoproj.io/revision": r}, "ownerReferences": [
        {"uid": "r-uid-1", "controller": True}]}, "spec": {"template": {
        "spec": {"containers": [{"name": "c", "image": i}]}}}} for r, i in (("1", "p:v1"), ("2", "p:v2"))]
    return [
        ("scale", ka.plan_scale("prod", "a", deployment, Scale(5), dep), scale),
        ("autoscaler bounds", ka.plan_autoscaler_bounds("prod", "a", deployment, SetAutoscalerBounds(2, 9),
                                                        load("hpa_model.json")), scale),
        ("KServe weight", ka.plan_kserve_weight("prod", "a", isvc, SetCanaryWeight(30), isvc_obj), kserve),
        ("KServe rollback", ka.plan_kserve_rollback("prod", "a", isvc, Rollback(), isvc_obj), kserve),
        ("Istio weight", ka.plan_istio_weight("prod", "a", deployment, SetCanaryWeight(25), vs, split), istio),
        ("promote", ka.plan_argo("prod", "a", rollout, Promote(), rollout_obj), argo),
        ("promote --full", ka.plan_argo("prod", "a", rollout, Promote(full=True), rollout_obj), argo),
        ("abort", ka.plan_argo("prod", "a", rollout, Abort(), rollout_obj), argo),
        ("retry", ka.plan_argo("prod", "a", rollout, Retry(), rollout_obj), argo),
        ("selector switch", ka.plan_selector_switch("prod", "a", coloured, SwitchBlueGreen("v2.1"),
                                                    bluegreen["service"], "version", 2, 3), blue_green),
        ("Deployment rollback", ka.plan_deployment_rollback("prod", "a", deployment, Rollback(), dep,
                                                            load("replicasets_valuation.json")["items"]), template),
        ("Rollout undo", ka.plan_rollout_undo("prod", "a", rollout, Rollback(), rollout_obj, rollout_rs), template),
        ("Deployment image", ka.plan_image_update("prod", "a", deployment, UpdateImage("p:v9"), dep), template),
        ("KServe image", ka.plan_image_update("prod", "a", tr.isvc_service("prod", isvc_with_image),
                                              UpdateImage("p:v2"), isvc_with_image), image),
        ("restart", ka.plan_restart("prod", "a", deployment, Restart(), dep, now="2026-01-01T00:00:00Z"), image),
    ]


@pytest.mark.parametrize(("action", "plan", "module"), _plans(), ids=[p[0] for p in _plans()])
def test_every_plan_is_followed_by_its_own_mechanisms_verifier(action, plan, module):
    kind = plan.context["kind"]
    assert kind in VERIFIERS, f"{action}: no mechanism verifies {kind!r}"
    assert VERIFIERS[kind] is module.VERIFIERS[kind]


def test_two_mechanisms_claiming_one_plan_kind_is_refused_at_import():
    with pytest.raises(ValueError, match="two mechanisms verify 'scale'"):
        _verifiers(scale.VERIFIERS, {"scale": istio.verify_istio_weight})


class _Cluster:
    """A cluster whose API server answers every GET with `obj` (what the verifier reads back)."""

    def __init__(self, obj):
        self.obj = obj
        self.name, self.user = "prod", "alice"
        self.optional_available: dict[str, str] = {}
        self.transport = self
        self.reads: list[str] = []

    def request(self, method, path, query=(), body=None, content_type="application/json", timeout=(5, 30)):
        self.reads.append(path)
        return Response(200, json.dumps(self.obj).encode())


def test_after_a_scale_to_five_the_operator_reads_five_of_five_ready_from_the_deployment():
    dep = load("deployment_valuation.json")
    plan = ka.plan_scale("prod", "a", tr.deployment_service("prod", dep), Scale(5), dep)
    dep["spec"]["replicas"] = 5
    dep["status"].update({"replicas": 5, "readyReplicas": 5})
    cluster = _Cluster(dep)
    progress: list[str] = []

    result = ka.ActionPlanner(cluster).verify(plan, timeout=5, progress=progress.append)

    assert result.converged and progress == ["5/5 ready"]
    assert cluster.reads == ["/apis/apps/v1/namespaces/ml-prod/deployments/property-valuation-model"]


def test_an_autoscaler_setting_the_count_back_ends_the_follow_as_not_converged():
    dep = load("deployment_valuation.json")
    plan = ka.plan_scale("prod", "a", tr.deployment_service("prod", dep), Scale(5), dep)
    dep["spec"]["replicas"] = 2  # the HPA's next sync

    cluster = _Cluster(dep)

    result = ka.ActionPlanner(cluster).verify(plan, timeout=5, progress=lambda _: None)

    assert not result.converged and "set back to 2" in result.detail
    assert len(cluster.reads) == 1  # given up at the first look, not followed until the deadline

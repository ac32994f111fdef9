"""Action plans and their exact request bodies, as kubectl and the Argo Rollouts plugin send them."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from backends.gpu_fit import FitNode
from backends.kubernetes import actions as ka
from backends.kubernetes import translate as tr
from backends.plans import (
    Abort,
    ActionRefused,
    Promote,
    Retry,
    Rollback,
    Scale,
    SetAutoscalerBounds,
    SetCanaryWeight,
    SwitchBlueGreen,
)

DATA = Path(__file__).parent / "data" / "k8s"


def load(name: str):
    return json.loads((DATA / name).read_text())


@pytest.fixture
def deployment():
    return load("deployment_valuation.json")


def gpu_nodes(*free: int) -> list[FitNode]:
    """Ready GPU nodes gpu-0, gpu-1, ... with that many free nvidia.com/gpu each."""
    return [FitNode(f"gpu-{i}", {"nvidia.com/gpu": n}) for i, n in enumerate(free)]


def service_of(dep, production=False):
    return tr.deployment_service("prod", dep, production=production)


def test_scale_is_a_merge_patch_to_the_scale_subresource(deployment):
    plan = ka.plan_scale("prod", "alice", service_of(deployment), Scale(5), deployment, gpu_nodes=gpu_nodes(8))
    (m,) = plan.mutations
    assert (m.method, m.path, m.content_type) == (
        "PATCH", "/apis/apps/v1/namespaces/ml-prod/deployments/property-valuation-model/scale",
        "application/merge-patch+json")
    assert m.body == {"spec": {"replicas": 5}}
    assert (plan.before, plan.after) == ({"replicas": "3"}, {"replicas": "5"})
    assert plan.warnings == () and plan.user == "alice" and not plan.noop


def test_scaling_under_an_hpa_warns_and_offers_its_bounds_instead(deployment):
    plan = ka.plan_scale("prod", "alice", service_of(deployment), Scale(6), deployment, hpa=load("hpa_model.json"),
                         gpu_nodes=gpu_nodes(8))
    assert [w.code for w in plan.warnings] == ["hpa-owns-replicas"]
    assert "model-hpa" in plan.warnings[0].text and "15 s" in plan.warnings[0].text
    assert plan.alternatives == (SetAutoscalerBounds(min_replicas=6, max_replicas=20),)


def test_new_replicas_that_cannot_get_gpus_are_announced(deployment):
    plan = ka.plan_scale("prod", "a", service_of(deployment), Scale(6), deployment, gpu_nodes=gpu_nodes(1))
    (warning,) = plan.warnings
    assert warning.code == "gpu-pending"
    assert warning.text == ("2 of 3 new replicas will stay Pending (1 fits: gpu-0): each needs 1 nvidia.com/gpu on "
                            "one node; 0/1 nodes are available: 1 Insufficient nvidia.com/gpu.")
    assert plan.context["gpu_pending"] == 2


def test_a_replica_fits_on_one_node_and_pods_already_pending_go_first(deployment):
    resources = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]
    resources["requests"]["nvidia.com/gpu"] = resources["limits"]["nvidia.com/gpu"] = "4"
    service = service_of(deployment)
    assert service.gpus_per_replica == 4
    # 6 GPUs free, but 3 + 3 on two nodes: not one 4-GPU replica fits.
    plan = ka.plan_scale("prod", "a", service, Scale(5), deployment, gpu_nodes=gpu_nodes(3, 3))
    assert [w.text for w in plan.warnings] == [
        "2 of 2 new replicas will stay Pending: each needs 4 nvidia.com/gpu on one node; "
        "0/2 nodes are available: 2 Insufficient nvidia.com/gpu."]
    plan = ka.plan_scale("prod", "a", service, Scale(5), deployment, gpu_nodes=gpu_nodes(8), pending=1)
    assert plan.warnings[0].text == (
        "1 of 2 new replicas will stay Pending (1 fits: gpu-0): each needs 4 nvidia.com/gpu on one node; "
        "0/1 nodes are available: 1 Insufficient nvidia.com/gpu. 1 pod of property-valuation-model already "
        "waits for GPUs and goes first.")
    assert plan.context["gpu_pending"] == 2  # the one already waiting and the new one that fits nowhere
    assert ka.plan_scale("prod", "a", service, Scale(5), deployment, gpu_nodes=gpu_nodes(8, 4)).warnings == ()


def test_scaling_production_to_zero_needs_the_name_typed(deployment):
    plan = ka.plan_scale("prod", "a", service_of(deployment, production=True), Scale(0), deployment)
    assert plan.confirm_text == "property-valuation-model"
    assert "production-scale-to-zero" in [w.code for w in plan.warnings]


def test_scaling_mid_rollout_warns(deployment):
    deployment["status"]["updatedReplicas"] = 1
    plan = ka.plan_scale("prod", "a", service_of(deployment), Scale(4), deployment)
    assert "mid-rollout" in [w.code for w in plan.warnings]


def test_scale_to_the_current_count_is_a_noop(deployment):
    assert ka.plan_scale("prod", "a", service_of(deployment), Scale(3), deployment).noop


def test_autoscaler_bounds_patch_min_and_max(deployment):
    plan = ka.plan_autoscaler_bounds("prod", "a", service_of(deployment), SetAutoscalerBounds(4, 30),
                                     load("hpa_model.json"))
    (m,) = plan.mutations
    assert m.path == "/apis/autoscaling/v2/namespaces/ml-prod/horizontalpodautoscalers/model-hpa"
    assert m.body == {"spec": {"minReplicas": 4, "maxReplicas": 30}}
    assert (plan.before, plan.after) == ({"min": "2", "max": "20"}, {"min": "4", "max": "30"})
    with pytest.raises(ActionRefused):
        ka.plan_autoscaler_bounds("prod", "a", service_of(deployment), SetAutoscalerBounds(5, 2),
                                  load("hpa_model.json"))


def test_rollback_is_kubectl_rollout_undos_json_patch(deployment):
    replicasets = load("replicasets_valuation.json")["items"]
    plan = ka.plan_deployment_rollback("prod", "a", service_of(deployment), Rollback(), deployment, replicasets)
    (m,) = plan.mutations
    assert m.content_type == "application/json-patch+json"
    template_op, annotations_op = m.body
    assert template_op["op"] == "replace" and template_op["path"] == "/spec/template"
    rs2 = replicasets[1]["spec"]["template"]
    assert template_op["value"]["metadata"]["labels"] == {"app": "valuation-model"}  # no pod-template-hash
    assert template_op["value"]["spec"] == rs2["spec"]
    assert annotations_op == {
        "op": "replace",
        "path": "/metadata/annotations",
        "value": {
            # kept from the Deployment
            "deployment.kubernetes.io/revision": "3",
            "kubectl.kubernetes.io/last-applied-configuration": "{}",
            # copied from the ReplicaSet (its desired-replicas and revision are not copied)
            "team": "pricing",
            "note": "from-rs",
        },
    }
    assert plan.after["image"] == "proptechusa/valuation-model:v2.0"
    assert plan.precondition_version == "1201"


def test_rollback_to_a_named_revision_and_its_errors(deployment):
    replicasets = load("replicasets_valuation.json")["items"]
    plan = ka.plan_deployment_rollback("prod", "a", service_of(deployment), Rollback("1"), deployment, replicasets)
    assert plan.mutations[0].body[0]["value"]["spec"]["containers"][0]["image"].endswith(":v1.9")
    with pytest.raises(ActionRefused, match="unable to find specified revision 9 in history"):
        ka.plan_deployment_rollback("prod", "a", service_of(deployment), Rollback("9"), deployment, replicasets)
    with pytest.raises(ActionRefused, match='no rollout history found for deployment "property-valuation-model"'):
        ka.plan_deployment_rollback("prod", "a", service_of(deployment), Rollback(), deployment, replicasets[2:])
    paused = copy.deepcopy(deployment)
    paused["spec"]["paused"] = True
    with pytest.raises(ActionRefused, match="you cannot rollback a paused deployment"):
        ka.plan_deployment_rollback("prod", "a", service_of(paused), Rollback(), paused, replicasets)


def test_rollback_to_the_current_template_is_skipped(deployment):
    replicasets = load("replicasets_valuation.json")["items"]
    plan = ka.plan_deployment_rollback("prod", "a", service_of(deployment), Rollback("3"), deployment, replicasets)
    assert plan.noop
    assert plan.warnings[0].text == "skipped rollback (current template already matches revision 3)"


def rollout_service():
    return tr.rollout_service("prod", load("rollout_ensemble.json"))


def test_argo_promote_clears_the_pause_condition_on_the_status_subresource():
    rollout = load("rollout_ensemble.json")
    plan = ka.plan_argo("prod", "a", rollout_service(), Promote(), rollout)
    (m,) = plan.mutations
    assert m.path == "/apis/argoproj.io/v1alpha1/namespaces/ml-prod/rollouts/ensemble-predictor/status"
    assert (m.method, m.content_type, m.body) == ("PATCH", "application/merge-patch+json",
                                                  {"status": {"pauseConditions": None}})


def test_argo_promote_of_a_paused_spec_unpauses_it_first():
    rollout = load("rollout_ensemble.json")
    rollout["spec"]["paused"] = True
    plan = ka.plan_argo("prod", "a", rollout_service(), Promote(), rollout)
    assert [(m.path.rsplit("/", 1)[-1], m.body) for m in plan.mutations] == [
        ("ensemble-predictor", {"spec": {"paused": False}}),
        ("status", {"status": {"pauseConditions": None}}),
    ]


def test_argo_promote_mid_analysis_moves_to_the_next_step():
    rollout = load("rollout_ensemble.json")
    rollout["status"]["pauseConditions"] = []
    rollout["status"]["currentStepIndex"] = 2
    (m,) = ka.plan_argo("prod", "a", rollout_service(), Promote(), rollout).mutations
    assert m.body == {"status": {"pauseConditions": None, "currentStepIndex": 3}}
    rollout["status"]["pauseConditions"] = [{"reason": "InconclusiveAnalysisRun"}]
    rollout["status"]["controllerPause"] = True
    (m,) = ka.plan_argo("prod", "a", rollout_service(), Promote(), rollout).mutations
    assert m.body == {"status": {"pauseConditions": None, "controllerPause": False, "currentStepIndex": 3}}


def test_argo_promote_full_abort_and_retry_bodies():
    rollout = load("rollout_ensemble.json")
    (m,) = ka.plan_argo("prod", "a", rollout_service(), Promote(full=True), rollout).mutations
    assert m.body == {"status": {"promoteFull": True}} and m.path.endswith("/status")
    (m,) = ka.plan_argo("prod", "a", rollout_service(), Abort(), rollout).mutations
    assert m.body == {"status": {"abort": True}} and m.path.endswith("/status")
    rollout["status"]["abort"] = True
    (m,) = ka.plan_argo("prod", "a", rollout_service(), Retry(), rollout).mutations
    assert m.body == {"status": {"abort": False}} and m.path.endswith("/status")
    rollout["status"]["currentPodHash"] = rollout["status"]["stableRS"]
    assert ka.plan_argo("prod", "a", rollout_service(), Promote(full=True), rollout).noop


def test_argo_undo_replaces_the_template_without_the_rollouts_hash():
    rollout = load("rollout_ensemble.json")
    def rs(rev, image, h):
        return {"metadata": {"name": f"ensemble-predictor-{h}", "annotations": {"rollout.argoproj.io/revision": rev},
                             "ownerReferences": [{"uid": "r-uid-1", "controller": True}]},
                "spec": {"template": {"metadata": {"labels": {"app": "ensemble-predictor",
                                                              "rollouts-pod-template-hash": h}},
                                      "spec": {"containers": [{"name": "price-model", "image": image}]}}}}
    plan = ka.plan_rollout_undo("prod", "a", rollout_service(), Rollback(), rollout,
                                [rs("1", "p:v1.9", "old"), rs("2", "p:v2.0", "abc")])
    (m,) = plan.mutations
    assert m.content_type == "application/json-patch+json"
    # As the plugin's Go structs encode it: creationTimestamp null, resources {}.
    assert m.body == [{"op": "replace", "path": "/spec/template", "value": {
        "metadata": {"labels": {"app": "ensemble-predictor"}, "creationTimestamp": None},
        "spec": {"containers": [{"name": "price-model", "image": "p:v1.9", "resources": {}}]}}}]


def test_kserve_weight_and_rollback_patch_canary_traffic_percent():
    isvc = load("isvc_price.json")
    service = tr.isvc_service("prod", isvc)
    plan = ka.plan_kserve_weight("prod", "a", service, SetCanaryWeight(30), isvc)
    (m,) = plan.mutations
    assert m.path == "/apis/serving.kserve.io/v1beta1/namespaces/ml-prod/inferenceservices/property-price-predictor"
    assert m.body == {"spec": {"predictor": {"canaryTrafficPercent": 30}}}
    assert (plan.before, plan.after) == ({"canary weight": "10"}, {"canary weight": "30"})
    back = ka.plan_kserve_rollback("prod", "a", service, Rollback(), isvc)
    assert back.mutations[0].body == {"spec": {"predictor": {"canaryTrafficPercent": 0}}}
    assert back.after["serving"] == "property-price-predictor-predictor-00001"
    with pytest.raises(ActionRefused):
        ka.plan_kserve_weight("prod", "a", service, SetCanaryWeight(101), isvc)


def test_istio_weights_are_a_full_pair_summing_to_100_sent_with_the_resource_version(deployment):
    vs = load("virtualservice_rent.json")
    (split,) = tr.istio_splits(vs)
    plan = ka.plan_istio_weight("prod", "a", service_of(deployment), SetCanaryWeight(25), vs, split)
    (m,) = plan.mutations
    assert m.method == "PUT"
    assert m.path == "/apis/networking.istio.io/v1/namespaces/ml-prod/virtualservices/rent-predictor"
    assert m.body["metadata"]["resourceVersion"] == "4242" == plan.precondition_version
    weights = [r["weight"] for r in m.body["spec"]["http"][0]["route"]]
    assert weights == [75, 25] and sum(weights) == 100
    assert vs["spec"]["http"][0]["route"][0]["weight"] == 90  # the cached object is untouched


def test_blue_green_switch_is_the_seeds_strategic_merge_patch_and_refused_without_ready_pods():
    data = load("bluegreen.json")
    (switch,) = tr.selector_switches([data["service"]], data["deployments"])
    service = tr.deployment_service("prod", data["deployments"][1], blue_green=switch.blue_green())
    plan = ka.plan_selector_switch("prod", "a", service, SwitchBlueGreen("v2.1"), data["service"], "version", 2, 3)
    (m,) = plan.mutations
    assert (m.method, m.path, m.content_type) == ("PATCH", "/api/v1/namespaces/ml-prod/services/ml-model-service",
                                                  "application/strategic-merge-patch+json")
    assert m.body == {"spec": {"selector": {"version": "v2.1"}}}
    assert [(w.code, w.blocking) for w in plan.warnings] == [("selector-fewer-ready", False)]
    refused = ka.plan_selector_switch("prod", "a", service, SwitchBlueGreen("v2.1"), data["service"], "version", 0, 3)
    assert [(w.code, w.blocking) for w in refused.warnings] == [("selector-no-ready-pods", True)]
    assert "app=ml-model,version=v2.1" in refused.warnings[0].text
    assert ka.plan_selector_switch("prod", "a", service, SwitchBlueGreen("v2.0"), data["service"], "version", 3,
                                   3).noop


class _Transport:
    def __init__(self, error):
        self.error = error
        self.sent = []

    def request(self, method, path, query=(), body=None, content_type="application/json", timeout=(5, 30)):
        from backends.kubernetes.client import Response

        self.sent.append((method, path))
        if method == "GET":
            return Response(200, b'{"metadata":{"resourceVersion":"4300"}}')
        raise self.error


class _Backend:
    def __init__(self, error):
        self.transport = _Transport(error)
        self.user = "sim-viewer"
        self.name = "prod"


def test_apply_maps_403_to_forbidden_for_the_user_and_namespace_and_409_to_a_conflict_that_says_what_moved():
    from backends.kubernetes.client import ApiError
    from backends.plans import ActionConflict, ActionForbidden

    vs = load("virtualservice_rent.json")
    (split,) = tr.istio_splits(vs)
    dep = load("deployment_valuation.json")
    plan = ka.plan_istio_weight("prod", "a", service_of(dep), SetCanaryWeight(25), vs, split)
    forbidden = ka.ActionPlanner(_Backend(ApiError(403, "Forbidden", "virtualservices is forbidden")))
    with pytest.raises(ActionForbidden, match=r"^not allowed for sim-viewer in ml-prod$"):
        forbidden.apply(plan)
    conflict = ka.ActionPlanner(_Backend(ApiError(409, "Conflict", "the object has been modified")))
    with pytest.raises(ActionConflict) as info:
        conflict.apply(plan)
    assert info.value.changed == "resourceVersion 4242 is now 4300"
    assert conflict.transport.sent == [("PUT", plan.mutations[0].path), ("GET", plan.mutations[0].path)]


def _nodes_from_recording() -> list[FitNode]:
    """The recorded nodes as the backend hands them to the check: a tainted A100 with 4 GPUs (1 free after
    the recorded pods) and 7 MIG slices, a cordoned time-sliced node, a CPU node."""
    nodes = load("nodes.json")["items"]
    pods = [tr.pod_facts(p) for p in load("pods.json")["items"]]
    out = []
    for obj in nodes:
        facts = tr.node_facts(obj)
        gpu = tr.gpu_node("prod", facts, [p for p in pods if p.node == facts.name])
        out.append(tr.fit_node(facts, gpu))
    return out


def test_the_preview_reads_the_templates_tolerations_and_node_selector(deployment):
    # The A100 node carries the usual `nvidia.com/gpu:NoSchedule` taint: a template without the
    # toleration cannot land there, whatever is free, and the preview says so in the scheduler's words.
    nodes = _nodes_from_recording()
    assert {n.name: dict(n.free) for n in nodes}["gpu-a100-0"] == {"nvidia.com/gpu": 0, "nvidia.com/mig-1g.5gb": 6}
    template = deployment["spec"]["template"]["spec"]
    template["containers"][0]["resources"] = {"limits": {"nvidia.com/mig-1g.5gb": "1"}}
    service = service_of(deployment)
    plan = ka.plan_scale("prod", "a", service, Scale(5), deployment, gpu_nodes=nodes)
    (warning,) = plan.warnings
    assert warning.text == (
        "2 of 2 new replicas will stay Pending: each needs 1 nvidia.com/mig-1g.5gb on one node; 0/3 nodes are "
        "available: 1 Insufficient nvidia.com/mig-1g.5gb, 1 node(s) had untolerated taint {nvidia.com/gpu: }, "
        "1 node(s) were unschedulable.")
    # With the toleration and a selector that picks the A100, both new replicas fit in its MIG slices.
    template["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    template["nodeSelector"] = {"nvidia.com/gpu.product": "A100"}
    plan = ka.plan_scale("prod", "a", service, Scale(5), deployment, gpu_nodes=nodes)
    assert plan.warnings == () and plan.context["gpu_pending"] == 0
    # A required node affinity that no GPU node meets keeps them Pending again.
    template["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [
            {"key": "nvidia.com/gpu.product", "operator": "In", "values": ["H100"]}]}]}}}
    plan = ka.plan_scale("prod", "a", service, Scale(5), deployment, gpu_nodes=nodes)
    assert "2 node(s) didn't match Pod's node affinity/selector" in plan.warnings[0].text
    assert plan.context["gpu_pending"] == 2

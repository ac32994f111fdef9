"""Action plans and their exact request bodies, as kubectl and the Argo Rollouts plugin send them."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from mlops_tui.backends.gpu_fit import FitNode
from mlops_tui.backends.kubernetes import actions as ka
from mlops_tui.backends.kubernetes import translate as tr
from mlops_tui.backends.plans import (
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


def test_scale_is_a_json_patch_to_the_scale_subresource_testing_the_previewed_count(deployment):
    plan = ka.plan_scale("prod", "alice", service_of(deployment), Scale(5), deployment, gpu_nodes=gpu_nodes(8))
    (m,) = plan.mutations
    assert (m.method, m.path, m.content_type) == (
        "PATCH", "/apis/apps/v1/namespaces/ml-prod/deployments/property-valuation-model/scale",
        "application/json-patch+json")
    # kubectl scale --current-replicas, checked by the server: a count someone changed after the
    # preview fails the test (never overwritten); a status write (pods becoming ready) does not.
    assert m.body == [{"op": "test", "path": "/metadata/uid", "value": "d-uid-1"},
                      {"op": "test", "path": "/spec/replicas", "value": 3},
                      {"op": "replace", "path": "/spec/replicas", "value": 5}]
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
    assert m.content_type == "application/json-patch+json"
    assert m.body == [{"op": "test", "path": "/metadata/uid", "value": "h-uid-1"},
                      {"op": "test", "path": "/metadata/generation", "value": 2},
                      {"op": "test", "path": "/spec/minReplicas", "value": 2},
                      {"op": "test", "path": "/spec/maxReplicas", "value": 20},
                      {"op": "add", "path": "/spec/minReplicas", "value": 4},
                      {"op": "add", "path": "/spec/maxReplicas", "value": 30}]
    assert (plan.before, plan.after) == ({"min": "2", "max": "20"}, {"min": "4", "max": "30"})
    with pytest.raises(ActionRefused):
        ka.plan_autoscaler_bounds("prod", "a", service_of(deployment), SetAutoscalerBounds(5, 2),
                                  load("hpa_model.json"))


def test_rollback_is_kubectl_rollout_undos_json_patch(deployment):
    replicasets = load("replicasets_valuation.json")["items"]
    plan = ka.plan_deployment_rollback("prod", "a", service_of(deployment), Rollback(), deployment, replicasets)
    (m,) = plan.mutations
    assert m.content_type == "application/json-patch+json"
    uid_test, generation_test, template_op, *annotation_ops = m.body
    assert uid_test == {"op": "test", "path": "/metadata/uid", "value": "d-uid-1"}
    assert generation_test == {"op": "test", "path": "/metadata/generation", "value": 4}
    assert template_op["op"] == "replace" and template_op["path"] == "/spec/template"
    rs2 = replicasets[1]["spec"]["template"]
    assert template_op["value"]["metadata"]["labels"] == {"app": "valuation-model"}  # no pod-template-hash
    assert template_op["value"]["spec"] == rs2["spec"]
    # kubectl's result (revision and last-applied kept from the Deployment, the rest from the
    # ReplicaSet) reached key by key: only "note" differs, so only "note" is touched; the map read
    # at preview time is never written back over annotations someone else set meanwhile.
    assert annotation_ops == [{"op": "add", "path": "/metadata/annotations/note", "value": "from-rs"}]
    assert plan.after["image"] == "proptechusa/valuation-model:v2.0"
    assert plan.precondition_version == "1201"


def test_rollback_to_a_named_revision_and_its_errors(deployment):
    replicasets = load("replicasets_valuation.json")["items"]
    plan = ka.plan_deployment_rollback("prod", "a", service_of(deployment), Rollback("1"), deployment, replicasets)
    template = next(op for op in plan.mutations[0].body if op["path"] == "/spec/template" and op["op"] == "replace")
    assert template["value"]["spec"]["containers"][0]["image"].endswith(":v1.9")
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


ROLLOUT_IDENTITY = [{"op": "test", "path": "/metadata/uid", "value": "r-uid-1"},
                    {"op": "test", "path": "/metadata/generation", "value": 6}]


def rollout_service():
    return tr.rollout_service("prod", load("rollout_ensemble.json"))


def test_argo_promote_clears_the_pause_condition_on_the_status_subresource():
    rollout = load("rollout_ensemble.json")
    plan = ka.plan_argo("prod", "a", rollout_service(), Promote(), rollout)
    (m,) = plan.mutations
    assert m.path == "/apis/argoproj.io/v1alpha1/namespaces/ml-prod/rollouts/ensemble-predictor/status"
    # The step and the pause it lifts are tested: two promotes from two previews move one step.
    assert (m.method, m.content_type, m.body) == ("PATCH", "application/json-patch+json", [
        *ROLLOUT_IDENTITY,
        {"op": "test", "path": "/status/currentStepIndex", "value": 1},
        {"op": "test", "path": "/status/pauseConditions", "value": rollout["status"]["pauseConditions"]},
        {"op": "remove", "path": "/status/pauseConditions"}])


def test_argo_promote_of_a_paused_spec_unpauses_it_first():
    rollout = load("rollout_ensemble.json")
    rollout["spec"]["paused"] = True
    plan = ka.plan_argo("prod", "a", rollout_service(), Promote(), rollout)
    assert [(m.path.rsplit("/", 1)[-1], m.body) for m in plan.mutations] == [
        # Both calls test the step and pause the preview showed: a colleague's promote or abort since
        # then stops the first call already.
        ("ensemble-predictor", [*ROLLOUT_IDENTITY, {"op": "test", "path": "/spec/paused", "value": True},
                                {"op": "test", "path": "/status/currentStepIndex", "value": 1},
                                {"op": "test", "path": "/status/pauseConditions",
                                 "value": rollout["status"]["pauseConditions"]},
                                {"op": "add", "path": "/spec/paused", "value": False}]),
        # apply() re-guards this second call with the generation the first one produced
        ("status", [*ROLLOUT_IDENTITY, {"op": "test", "path": "/status/currentStepIndex", "value": 1},
                    {"op": "test", "path": "/status/pauseConditions", "value": rollout["status"]["pauseConditions"]},
                    {"op": "remove", "path": "/status/pauseConditions"}]),
    ]


def test_argo_promote_mid_analysis_moves_to_the_next_step():
    rollout = load("rollout_ensemble.json")
    rollout["status"]["pauseConditions"] = []
    rollout["status"]["currentStepIndex"] = 2
    (m,) = ka.plan_argo("prod", "a", rollout_service(), Promote(), rollout).mutations
    # An empty pauseConditions list is removed, as the merge patch's null does.
    assert m.body == [*ROLLOUT_IDENTITY, {"op": "test", "path": "/status/currentStepIndex", "value": 2},
                      {"op": "test", "path": "/status/pauseConditions", "value": []},
                      {"op": "remove", "path": "/status/pauseConditions"},
                      {"op": "add", "path": "/status/currentStepIndex", "value": 3}]
    rollout["status"]["pauseConditions"] = [{"reason": "InconclusiveAnalysisRun"}]
    rollout["status"]["controllerPause"] = True
    (m,) = ka.plan_argo("prod", "a", rollout_service(), Promote(), rollout).mutations
    assert [op for op in m.body if op["op"] != "test"] == [
        {"op": "remove", "path": "/status/pauseConditions"},
        {"op": "add", "path": "/status/controllerPause", "value": False},
        {"op": "add", "path": "/status/currentStepIndex", "value": 3}]
    assert m.body[:3] == [*ROLLOUT_IDENTITY, {"op": "test", "path": "/status/currentStepIndex", "value": 2}]


def test_argo_promote_full_abort_and_retry_bodies():
    rollout = load("rollout_ensemble.json")
    (m,) = ka.plan_argo("prod", "a", rollout_service(), Promote(full=True), rollout).mutations
    assert m.body[:2] == ROLLOUT_IDENTITY
    assert m.body[-1] == {"op": "add", "path": "/status/promoteFull", "value": True}
    assert m.path.endswith("/status")
    # It makes the previewed version stable, whatever step a timed pause has reached since.
    tested = [op["path"] for op in m.body if op["op"] == "test"]
    assert "/status/currentPodHash" in tested and "/status/currentStepIndex" not in tested
    (m,) = ka.plan_argo("prod", "a", rollout_service(), Abort(), rollout).mutations
    # Only the rollout's identity and spec: the controller stepping (a status write) is no conflict.
    assert m.body == [*ROLLOUT_IDENTITY, {"op": "add", "path": "/status/abort", "value": True}]
    assert m.path.endswith("/status")
    rollout["status"]["abort"] = True
    (m,) = ka.plan_argo("prod", "a", rollout_service(), Retry(), rollout).mutations
    assert m.body == [*ROLLOUT_IDENTITY, {"op": "add", "path": "/status/abort", "value": False}]
    assert m.path.endswith("/status")
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
    assert m.body == [*ROLLOUT_IDENTITY,
                      {"op": "replace", "path": "/spec/template", "value": {
        "metadata": {"labels": {"app": "ensemble-predictor"}, "creationTimestamp": None},
        "spec": {"containers": [{"name": "price-model", "image": "p:v1.9", "resources": {}}]}}}]


def test_kserve_weight_and_rollback_patch_canary_traffic_percent():
    isvc = load("isvc_price.json")
    service = tr.isvc_service("prod", isvc)
    plan = ka.plan_kserve_weight("prod", "a", service, SetCanaryWeight(30), isvc)
    (m,) = plan.mutations
    assert m.path == "/apis/serving.kserve.io/v1beta1/namespaces/ml-prod/inferenceservices/property-price-predictor"
    isvc_tests = [{"op": "test", "path": "/metadata/uid", "value": "i-uid-1"},
                  {"op": "test", "path": "/metadata/generation", "value": 3},
                  {"op": "test", "path": "/spec/predictor/canaryTrafficPercent", "value": 10}]
    assert (m.content_type, m.body) == ("application/json-patch+json", [
        *isvc_tests, {"op": "add", "path": "/spec/predictor/canaryTrafficPercent", "value": 30}])
    assert (plan.before, plan.after) == ({"canary weight": "10"}, {"canary weight": "30"})
    back = ka.plan_kserve_rollback("prod", "a", service, Rollback(), isvc)
    assert back.mutations[0].body == [*isvc_tests,
                                      {"op": "add", "path": "/spec/predictor/canaryTrafficPercent", "value": 0}]
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


def test_blue_green_switch_sets_one_selector_key_testing_the_whole_previewed_selector():
    data = load("bluegreen.json")
    (switch,) = tr.selector_switches([data["service"]], data["deployments"])
    service = tr.deployment_service("prod", data["deployments"][1], blue_green=switch.blue_green())
    plan = ka.plan_selector_switch("prod", "a", service, SwitchBlueGreen("v2.1"), data["service"], "version", 2, 3)
    (m,) = plan.mutations
    assert (m.method, m.path, m.content_type) == ("PATCH", "/api/v1/namespaces/ml-prod/services/ml-model-service",
                                                  "application/json-patch+json")
    assert m.body == [{"op": "test", "path": "/metadata/uid", "value": "s-uid-1"},
                      {"op": "test", "path": "/spec/selector", "value": {"app": "ml-model", "version": "v2.0"}},
                      {"op": "add", "path": "/spec/selector/version", "value": "v2.1"}]
    # The whole selector is previewed: a change to another key (a typo in "app") shows up as changed.
    assert (plan.before["selector"], plan.after["selector"]) == ("app=ml-model,version=v2.0",
                                                                 "app=ml-model,version=v2.1")
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
        from mlops_tui.backends.kubernetes.client import Response

        self.sent.append((method, path))
        if method == "GET":
            return Response(200, b'{"metadata":{"resourceVersion":"4300"}}')
        raise self.error


class _Backend:
    def __init__(self, error):
        self.transport = _Transport(error)
        self.user = "sim-viewer"
        self.name = "prod"


def test_apply_maps_403_to_forbidden_and_409_to_a_conflict_without_retrying_or_re_reading():
    from mlops_tui.backends.kubernetes.client import ApiError
    from mlops_tui.backends.plans import ActionConflict, ActionForbidden

    vs = load("virtualservice_rent.json")
    (split,) = tr.istio_splits(vs)
    dep = load("deployment_valuation.json")
    plan = ka.plan_istio_weight("prod", "a", service_of(dep), SetCanaryWeight(25), vs, split)
    forbidden = ka.ActionPlanner(_Backend(ApiError(403, "Forbidden", "virtualservices is forbidden")))
    with pytest.raises(ActionForbidden, match=r"^not allowed for sim-viewer in ml-prod$"):
        forbidden.apply(plan)
    conflict = ka.ActionPlanner(_Backend(ApiError(409, "Conflict", "the object has been modified")))
    with pytest.raises(ActionConflict, match="the object has been modified"):
        conflict.apply(plan)
    # Sent once; what changed is the Fleet's re-plan's business (it diffs the two previews).
    assert conflict.api.transport.sent == [("PUT", plan.mutations[0].path)]


# -- preconditions: nothing that changed since the preview is overwritten ----------------------


def test_every_kubernetes_plan_is_guarded_by_what_its_preview_was_built_from_not_by_status_writes(deployment):
    """One mutation per action kind: each tests the object's identity and its spec generation (or,
    with no generation to test, the field it changes), never the resourceVersion that every status
    write moves; only the Istio VirtualService (no controller writes its status) keeps it. Every
    `test` comes before the first change, so a failed one applies nothing."""
    rollout, isvc, hpa = load("rollout_ensemble.json"), load("isvc_price.json"), load("hpa_model.json")
    vs = load("virtualservice_rent.json")
    (split,) = tr.istio_splits(vs)
    bg = load("bluegreen.json")
    (switch,) = tr.selector_switches([bg["service"]], bg["deployments"])
    bg_service = tr.deployment_service("prod", bg["deployments"][1], blue_green=switch.blue_green())
    replicasets = load("replicasets_valuation.json")["items"]
    undo_rs = [{"metadata": {"name": f"e-{h}", "annotations": {"rollout.argoproj.io/revision": r},
                             "ownerReferences": [{"uid": "r-uid-1", "controller": True}]},
                "spec": {"template": {"spec": {"containers": [{"name": "c", "image": i}]}}}}
               for r, i, h in (("1", "p:v1.9", "a"), ("2", "p:v2.0", "b"))]
    dep, ro, isv = service_of(deployment), rollout_service(), tr.isvc_service("prod", isvc)
    dep_spec = [("/metadata/uid", "d-uid-1"), ("/metadata/generation", 4)]
    ro_spec = [("/metadata/uid", "r-uid-1"), ("/metadata/generation", 6)]
    isvc_spec = [("/metadata/uid", "i-uid-1"), ("/metadata/generation", 3)]
    plans = {
        "scale": (ka.plan_scale("p", "a", dep, Scale(5), deployment), "1201",
                  [("/metadata/uid", "d-uid-1"), ("/spec/replicas", 3)]),
        "autoscaler bounds": (ka.plan_autoscaler_bounds("p", "a", dep, SetAutoscalerBounds(4, 30), hpa), "900",
                              [("/metadata/uid", "h-uid-1"), ("/metadata/generation", 2)]),
        "kserve weight": (ka.plan_kserve_weight("p", "a", isv, SetCanaryWeight(30), isvc), "555", isvc_spec),
        "kserve rollback": (ka.plan_kserve_rollback("p", "a", isv, Rollback(), isvc), "555", isvc_spec),
        "istio weight": (ka.plan_istio_weight("p", "a", dep, SetCanaryWeight(25), vs, split), "4242",
                         [("/metadata/resourceVersion", "4242")]),
        "argo promote": (ka.plan_argo("p", "a", ro, Promote(), rollout), "777", ro_spec),
        "argo abort": (ka.plan_argo("p", "a", ro, Abort(), rollout), "777", ro_spec),
        "argo retry": (ka.plan_argo("p", "a", ro, Retry(), {**rollout, "status": {**rollout["status"],
                                                                                   "abort": True}}), "777", ro_spec),
        "selector switch": (ka.plan_selector_switch("p", "a", bg_service, SwitchBlueGreen("v2.1"), bg["service"],
                                                    "version", 3, 3), "31",
                            [("/metadata/uid", "s-uid-1"), ("/spec/selector", {"app": "ml-model", "version": "v2.0"})]),
        "deployment rollback": (ka.plan_deployment_rollback("p", "a", dep, Rollback(), deployment, replicasets),
                                "1201", dep_spec),
        "rollout undo": (ka.plan_rollout_undo("p", "a", ro, Rollback(), rollout, undo_rs), "777", ro_spec),
    }
    for kind, (plan, rv, guards) in plans.items():
        assert plan.mutations, kind
        assert plan.precondition_version == rv, kind  # what a conflict's message compares
        for m in plan.mutations:
            assert ka.guards_of(m)[:len(guards)] == guards, kind
            if isinstance(m.body, list):
                ops = [op["op"] for op in m.body]
                assert ops.index(next(o for o in ops if o != "test")) == ops.count("test"), kind


def test_rollback_annotations_are_changed_key_by_key_never_replaced_as_a_whole_map():
    current = {"team": "pricing", "a/b~c": "old", "gone": "x", "same": "1"}
    wanted = {"team": "pricing", "a/b~c": "new", "same": "1", "note": "from-rs"}
    assert ka.annotation_ops(current, wanted) == [
        {"op": "replace", "path": "/metadata/annotations/a~1b~0c", "value": "new"},
        {"op": "remove", "path": "/metadata/annotations/gone"},
        {"op": "add", "path": "/metadata/annotations/note", "value": "from-rs"},
    ]
    assert ka.annotation_ops({}, {"note": "x"}) == [{"op": "add", "path": "/metadata/annotations",
                                                    "value": {"note": "x"}}]
    assert ka.annotation_ops(current, current) == []


class _Recording:
    """A transport that answers writes in turn from `answers` (a body, or an ApiError to raise), and
    reads with `current` (the object as the server holds it now)."""

    def __init__(self, answers, current=None):
        self.answers = list(answers)
        self.current = current or {"metadata": {"resourceVersion": "800"}}
        self.sent = []

    def request(self, method, path, query=(), body=None, content_type="application/json", timeout=(5, 30)):
        from mlops_tui.backends.kubernetes.client import Response

        if method == "GET":
            return Response(200, json.dumps(self.current).encode())
        self.sent.append((method, path, copy.deepcopy(body)))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return Response(200, json.dumps(answer).encode())


def _planner(transport):
    backend = _Backend(None)
    backend.transport = transport
    return ka.ActionPlanner(backend)


def test_argo_promote_second_call_is_guarded_by_the_generation_the_first_call_produced():
    rollout = load("rollout_ensemble.json")
    rollout["spec"]["paused"] = True
    plan = ka.plan_argo("prod", "a", rollout_service(), Promote(), rollout)
    transport = _Recording([{"metadata": {"resourceVersion": "778", "generation": 7}},
                            {"metadata": {"resourceVersion": "779", "generation": 7}}])
    _planner(transport).apply(plan)
    generations = [dict(ka.guards_of(ka.Mutation("PATCH", p, body)))["/metadata/generation"]
                   for _, p, body in transport.sent]
    assert generations == [6, 7]
    # The step the preview saw is still what the status call tests: our unpause did not move it.
    assert ("/status/currentStepIndex", 1) in ka.guards_of(ka.Mutation("PATCH", "", transport.sent[1][2]))


def test_when_the_second_call_conflicts_the_operator_is_told_the_first_one_landed():
    from mlops_tui.backends.kubernetes.client import ApiError
    from mlops_tui.backends.plans import ActionConflict

    rollout = load("rollout_ensemble.json")
    rollout["spec"]["paused"] = True
    plan = ka.plan_argo("prod", "a", rollout_service(), Promote(), rollout)
    transport = _Recording([{"metadata": {"resourceVersion": "778", "generation": 7}},
                            ApiError(409, "Conflict", "the object has been modified")])
    with pytest.raises(ActionConflict, match=r"already applied: unpause; not applied: promote"):
        _planner(transport).apply(plan)


def test_a_failed_test_422_is_a_conflict_only_when_a_guarded_value_moved():
    from mlops_tui.backends.kubernetes.client import ApiError
    from mlops_tui.backends.plans import ActionConflict, ActionError

    rollout = load("rollout_ensemble.json")
    undo = ka.plan_rollout_undo("prod", "a", rollout_service(), Rollback(), rollout, [
        {"metadata": {"annotations": {"rollout.argoproj.io/revision": r}, "ownerReferences": [
            {"uid": "r-uid-1", "controller": True}]}, "spec": {"template": {"spec": {"containers": [
                {"name": "c", "image": i}]}}}} for r, i in (("1", "p:v1"), ("2", "p:v2"))])
    invalid = ApiError(422, "Invalid", "the server rejected our request due to an error in our request")
    edited = copy.deepcopy(rollout)
    edited["metadata"]["generation"] = 7  # someone changed the spec since the preview
    with pytest.raises(ActionConflict, match=r"test of /metadata/generation failed \(6 → 7\)") as info:
        _planner(_Recording([invalid], current=edited)).apply(undo)
    assert "generation 6 → 7: the spec was changed since your preview" in info.value.changed
    # Only the status moved (a new resourceVersion, same spec): the 422 is genuine, reported as it is.
    churned = copy.deepcopy(rollout)
    churned["metadata"]["resourceVersion"] = "900"
    churned["status"]["readyReplicas"] = 1
    with pytest.raises(ActionError) as info:
        _planner(_Recording([invalid], current=churned)).apply(undo)
    assert not isinstance(info.value, ActionConflict)
    recreated = copy.deepcopy(rollout)
    recreated["metadata"]["uid"] = "r-uid-2"
    with pytest.raises(ActionConflict) as info:
        _planner(_Recording([invalid], current=recreated)).apply(undo)
    assert info.value.changed == "the object was deleted and created again since your preview"


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

"""Image update and restart plans: the exact bodies `kubectl set image`, `kubectl rollout restart`,
`kubectl argo rollouts restart` and `docker service update --force` send, each guarded by the version
of the object the preview was built from."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from mlops_tui.backends.kubernetes import actions as ka
from mlops_tui.backends.kubernetes import translate as tr
from mlops_tui.backends.kubernetes.actions.image import check_restart, pickable_containers
from mlops_tui.backends.model import ActionKind
from mlops_tui.backends.plans import ActionRefused, Restart, UpdateImage
from tests.unit.test_swarm_actions import RecordedSwarm, actions, model

DATA = Path(__file__).parent / "data" / "k8s"
NOW = "2026-12-01T03:00:00Z"


def load(name: str):
    return json.loads((DATA / name).read_text())


def custom_isvc() -> dict:
    """A KServe predictor with its own containers: the model server plus an injected mesh sidecar."""
    isvc = load("isvc_price.json")
    isvc["spec"]["predictor"] = {"canaryTrafficPercent": 10, "containers": [
        {"name": "istio-proxy", "image": "istio/proxyv2:1.22"},
        {"name": "kserve-container", "image": "proptechusa/price-server:v1"}]}
    return isvc


def test_set_image_on_a_deployment_replaces_the_named_containers_image_guarded_by_the_spec_generation():
    dep = load("deployment_valuation.json")
    plan = ka.plan_image_update("prod", "alice", tr.deployment_service("prod", dep), UpdateImage("repo/m:v2.2"), dep)
    (m,) = plan.mutations
    assert (m.method, m.path, m.content_type) == (
        "PATCH", "/apis/apps/v1/namespaces/ml-prod/deployments/property-valuation-model",
        "application/json-patch+json")
    # kubectl's strategic merge by container name, as a replace at that container's index guarded
    # by its name; the uid and generation tests make any spec change since the preview a conflict.
    assert m.body == [
        {"op": "test", "path": "/metadata/uid", "value": "d-uid-1"},
        {"op": "test", "path": "/metadata/generation", "value": 4},
        {"op": "test", "path": "/spec/template/spec/containers/0/name", "value": "model-server"},
        {"op": "test", "path": "/spec/template/spec/containers/0/image",
         "value": dep["spec"]["template"]["spec"]["containers"][0]["image"]},
        {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "repo/m:v2.2"}]
    assert plan.precondition_version == "1201"
    assert (plan.before["image"], plan.after["image"]) == (dep["spec"]["template"]["spec"]["containers"][0]["image"],
                                                           "repo/m:v2.2")
    assert "rolling-update" in [w.code for w in plan.warnings]
    # The verify waits for exactly this template: the old one with the new image.
    assert plan.context["template"]["spec"]["containers"][0]["image"] == "repo/m:v2.2"


def test_the_rolling_update_warning_says_how_many_pods_may_be_down_at_once():
    dep = load("deployment_valuation.json")
    dep["spec"]["replicas"] = 4
    dep["spec"]["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
    plan = ka.plan_image_update("prod", "a", tr.deployment_service("prod", dep), UpdateImage("repo/m:v3"), dep)
    text = next(w.text for w in plan.warnings if w.code == "rolling-update")
    assert text == ("RollingUpdate: up to 1 extra pod(s) at a time, at most 1 of 4 unavailable "
                    "(at least 3 keep serving)")
    dep["spec"]["strategy"] = {"type": "Recreate"}
    plan = ka.plan_image_update("prod", "a", tr.deployment_service("prod", dep), UpdateImage("repo/m:v3"), dep)
    assert "all 4 pods stop before the new ones start" in next(w.text for w in plan.warnings
                                                               if w.code == "rolling-update")


def test_set_image_on_an_argo_rollout_is_a_json_patch_that_tests_the_version_and_the_container():
    ro = load("rollout_ensemble.json")
    service = tr.rollout_service("prod", ro)
    plan = ka.plan_image_update("prod", "a", service, UpdateImage("repo/demand:v1.6", container="demand-model"), ro)
    (m,) = plan.mutations
    assert m.content_type == "application/json-patch+json"
    assert m.path == "/apis/argoproj.io/v1alpha1/namespaces/ml-prod/rollouts/ensemble-predictor"
    assert m.body == [
        {"op": "test", "path": "/metadata/uid", "value": "r-uid-1"},
        {"op": "test", "path": "/metadata/generation", "value": 6},
        {"op": "test", "path": "/spec/template/spec/containers/1/name", "value": "demand-model"},
        {"op": "test", "path": "/spec/template/spec/containers/1/image",
         "value": ro["spec"]["template"]["spec"]["containers"][1]["image"]},
        {"op": "replace", "path": "/spec/template/spec/containers/1/image", "value": "repo/demand:v1.6"},
    ]
    assert plan.before["container"] == plan.after["container"] == "demand-model"
    assert any(w.code == "other-containers" and "price-model" in w.text for w in plan.warnings)


def test_an_unknown_container_is_refused_naming_the_ones_that_exist():
    ro = load("rollout_ensemble.json")
    with pytest.raises(ActionRefused, match=r"no container 'sidecar' \(containers: price-model, demand-model\)"):
        ka.plan_image_update("prod", "a", tr.rollout_service("prod", ro), UpdateImage("x:1", "sidecar"), ro)


def test_a_kserve_predictor_updates_kserve_container_never_the_mesh_sidecar():
    isvc = custom_isvc()
    service = tr.isvc_service("prod", isvc)
    assert ActionKind.UPDATE_IMAGE in service.actions and service.image == "proptechusa/price-server:v1"
    assert ka.image_slots(service.key.kind, isvc)[0][0] == "kserve-container"
    plan = ka.plan_image_update("prod", "a", service, UpdateImage("proptechusa/price-server:v2"), isvc)
    (m,) = plan.mutations
    assert m.content_type == "application/json-patch+json"
    assert m.body == [
        {"op": "test", "path": "/metadata/uid", "value": "i-uid-1"},
        {"op": "test", "path": "/metadata/generation", "value": 3},
        {"op": "test", "path": "/spec/predictor/containers/1/name", "value": "kserve-container"},
        {"op": "test", "path": "/spec/predictor/containers/1/image", "value": "proptechusa/price-server:v1"},
        {"op": "replace", "path": "/spec/predictor/containers/1/image", "value": "proptechusa/price-server:v2"},
    ]
    canary = next(w for w in plan.warnings if w.code == "kserve-canary")
    assert "10% of traffic" in canary.text


def test_a_kserve_predictor_without_an_image_is_refused_with_the_reason():
    isvc = load("isvc_price.json")
    assert ActionKind.UPDATE_IMAGE not in tr.isvc_service("prod", isvc).actions
    with pytest.raises(ActionRefused, match=r"predictor \(tensorflow\) names no image: KServe runs its serving "
                                            r"runtime's image"):
        ka.plan_image_update("prod", "a", tr.isvc_service("prod", isvc), UpdateImage("x:1"), isvc)


def test_the_same_image_is_a_noop():
    dep = load("deployment_valuation.json")
    current = dep["spec"]["template"]["spec"]["containers"][0]["image"]
    assert ka.plan_image_update("prod", "a", tr.deployment_service("prod", dep), UpdateImage(current), dep).noop


def test_restart_of_a_deployment_stamps_the_template_as_kubectl_rollout_restart_does():
    dep = load("deployment_valuation.json")
    plan = ka.plan_restart("prod", "a", tr.deployment_service("prod", dep), Restart(), dep, now=NOW)
    (m,) = plan.mutations
    assert (m.path, m.content_type) == ("/apis/apps/v1/namespaces/ml-prod/deployments/property-valuation-model",
                                        "application/json-patch+json")
    # The strategic merge `{"spec":{"template":{"metadata":{"annotations":{...}}}}}` as JSON patch:
    # the template has no annotations yet, so the map is added with the stamp in it.
    assert m.body == [{"op": "test", "path": "/metadata/uid", "value": "d-uid-1"},
                      {"op": "test", "path": "/metadata/generation", "value": 4},
                      {"op": "add", "path": "/spec/template/metadata/annotations",
                       "value": {"kubectl.kubernetes.io/restartedAt": NOW}}]
    # Restarted before: the previewed stamp is tested, then replaced; other annotations stay.
    dep["spec"]["template"]["metadata"]["annotations"] = {"kubectl.kubernetes.io/restartedAt": "earlier", "x": "1"}
    (m,) = ka.plan_restart("prod", "a", tr.deployment_service("prod", dep), Restart(), dep, now=NOW).mutations
    assert m.body[2:] == [
        {"op": "test", "path": "/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt",
         "value": "earlier"},
        {"op": "add", "path": "/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt", "value": NOW}]
    assert plan.before == {"restarted at": "never", "pods": "3 running"}
    assert plan.after == {"restarted at": NOW, "pods": "3 new"}
    assert [w.code for w in plan.warnings] == ["restart-replaces-pods"]
    assert "at most" in plan.warnings[0].text and not plan.noop


def test_restart_of_an_argo_rollout_sets_restart_at():
    ro = load("rollout_ensemble.json")
    plan = ka.plan_restart("prod", "a", tr.rollout_service("prod", ro), Restart(), ro, now=NOW)
    (m,) = plan.mutations
    assert (m.path, m.content_type) == ("/apis/argoproj.io/v1alpha1/namespaces/ml-prod/rollouts/ensemble-predictor",
                                        "application/json-patch+json")
    assert m.body == [{"op": "test", "path": "/metadata/uid", "value": "r-uid-1"},
                      {"op": "test", "path": "/metadata/generation", "value": 6},
                      {"op": "add", "path": "/spec/restartAt", "value": NOW}]
    assert "Argo deletes the old pods at most" in plan.warnings[0].text


def test_a_kserve_predictor_cannot_be_restarted():
    isvc = custom_isvc()
    assert ActionKind.RESTART not in tr.isvc_service("prod", isvc).actions
    with pytest.raises(ActionRefused, match="revisions are immutable"):
        ka.plan_restart("prod", "a", tr.isvc_service("prod", isvc), Restart(), isvc, now=NOW)


def test_restart_verify_waits_until_every_old_pod_is_gone():
    ctx = {"stamp": NOW}
    dep = load("deployment_valuation.json")
    dep = copy.deepcopy(dep)
    dep["metadata"]["generation"] = 5
    dep["spec"]["template"]["metadata"]["annotations"] = {"kubectl.kubernetes.io/restartedAt": NOW}
    dep["status"] = {"observedGeneration": 5, "replicas": 4, "updatedReplicas": 3, "readyReplicas": 3}
    done, detail, _ = check_restart(ctx, dep)
    assert (done, detail) == (False, "3/3 pods replaced, 3 ready, 1 old left")
    dep["status"]["replicas"] = 3
    assert check_restart(ctx, dep)[0] is True
    dep["status"]["observedGeneration"] = 4  # the status is older than the stamp: not evidence
    assert check_restart(ctx, dep)[0] is False
    dep["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"] = "later"
    assert check_restart(ctx, dep)[0] is None  # someone restarted again: stop following


def test_swarm_restart_is_a_force_update_with_the_version_read_at_plan_time():
    swarm = RecordedSwarm()
    raw = swarm.by_name("rec-fraud")
    plan = actions(swarm).plan(model(swarm, "rec-fraud"), Restart())
    (m,) = plan.mutations
    assert (m.method, m.path, m.params) == ("POST", f"/services/{raw['ID']}/update",
                                            {"version": str(raw["Version"]["Index"])})
    expected = copy.deepcopy(raw["Spec"])
    expected["TaskTemplate"]["ForceUpdate"] = 1
    assert m.body == expected
    assert plan.before["force update"] == "0" and plan.after["force update"] == "1"
    assert plan.context["old_tasks"] and "restart-replaces-tasks" in [w.code for w in plan.warnings]
    assert ActionKind.RESTART in model(swarm, "rec-agent").actions  # global services restart too


def test_the_container_picker_leaves_out_injected_sidecars():
    isvc_kind = tr.isvc_service("prod", custom_isvc()).key.kind
    assert pickable_containers(isvc_kind, custom_isvc()) == [("kserve-container", "proptechusa/price-server:v1")]

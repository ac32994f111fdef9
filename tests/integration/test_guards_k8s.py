"""One `y` applies what the operator previewed, however busy the controllers are.

The operator's story: mid-incident they preview an action on an object its controller keeps writing
(pods coming up, an autoscaler syncing, a rollout stepping, KServe reconciling). Those are status
writes: each moves the object's resourceVersion, none changes what the preview was built from. So
the first `y` applies, and kubectl shows the new value. A spec change, or a change of a field the
preview shows, is still a conflict (test_conflicts_k8s.py); two promotes of one Argo step from two
previews move the rollout one step, not two.

The simulator is held to kube-apiserver's rules with kubectl as the judge: status writes never move
`metadata.generation`, spec writes do, and JSON-patch `test`s work on the scale and status
subresources, on the generation, the uid and whole maps.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from mlops_tui.backends.model import ServiceKind
from mlops_tui.backends.plans import Abort, Outcome, Promote, Rollback, Scale, SetAutoscalerBounds, SetCanaryWeight
from tests.integration.test_k8s_backend_sim import NS, Env, eventually, preview

pytestmark = pytest.mark.integration

D, R, ISVC = ServiceKind.DEPLOYMENT, ServiceKind.ROLLOUT, ServiceKind.INFERENCE_SERVICE
APPLIED = (Outcome.SUCCEEDED, Outcome.APPLIED_NOT_CONVERGED)
REJECTED = "the server rejected our request due to an error in our request"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    environment = Env(tmp_path_factory)
    yield environment
    environment.close()



def meta(env: Env, kind: str, name: str) -> dict:
    return env.kubectl_json("get", kind, name, "-n", NS)["metadata"]


def write_status(env: Env, kind: str, name: str, status: dict) -> None:
    """What a controller does: a write to the status subresource (kubectl patch --subresource=status)."""
    env.kubectl("patch", kind, name, "-n", NS, "--subresource=status", "--type", "merge",
                "-p", json.dumps({"status": status}))


def churn(env: Env, kind: str, name: str, plan, status: dict) -> None:
    """The object's status is written between the preview and `y`: its resourceVersion moves, its
    generation (the spec's) does not."""
    generation = meta(env, kind, name).get("generation")
    write_status(env, kind, name, status)
    now = meta(env, kind, name)
    assert now["resourceVersion"] != plan.precondition_version
    assert now.get("generation") == generation


def jsonpath(env: Env, kind: str, name: str, path: str) -> str:
    return env.kubectl("get", kind, name, "-n", NS, "-o", f"jsonpath={{{path}}}")


def confirm_once(env: Env, plan):
    result = env.fleet.apply(plan, confirmed_text=plan.confirm_text, verify_timeout=20)
    assert result.outcome in APPLIED, f"{result.outcome}: {result.detail}"
    assert env.audit[-1]["result"] != "conflict"
    return result


# -- status churn between the preview and `y` is not a conflict ----------------------------------


STATUS_CHURN = [
    pytest.param("rent-predictor-stable", D, Scale(4), ("deployment", "rent-predictor-stable"),
                 {"collisionCount": 1}, ("deployment", "rent-predictor-stable", ".spec.replicas"), "4",
                 id="scale-deployment"),
    pytest.param("property-valuation-model", D, SetAutoscalerBounds(3, 14), ("hpa", "model-hpa"),
                 {"lastScaleTime": "2026-12-01T03:00:00Z"}, ("hpa", "model-hpa", ".spec.maxReplicas"), "14",
                 id="hpa-bounds"),
    pytest.param("property-price-predictor", ISVC, SetCanaryWeight(35), ("isvc", "property-price-predictor"),
                 {"modelStatus": {"transitionStatus": "InProgress"}},
                 ("isvc", "property-price-predictor", ".spec.predictor.canaryTrafficPercent"), "35",
                 id="kserve-weight"),
]


@pytest.mark.parametrize("name, kind, intent, written, status, judge, wanted", STATUS_CHURN)
def test_a_status_write_between_the_preview_and_y_is_applied_at_the_first_y(
        env, name, kind, intent, written, status, judge, wanted):
    plan = preview(env, name, kind, intent)
    churn(env, *written, plan, status)
    confirm_once(env, plan)
    assert jsonpath(env, *judge) == wanted


def test_a_rollback_of_a_deployment_whose_pods_are_churning_applies_at_the_first_y(env):
    name = "rent-predictor-canary"
    env.kubectl("set", "image", f"deployment/{name}", "-n", NS, "rent-model=proptechusa/rent-prediction:v1.3")
    key = env.service(name, D).key
    eventually(lambda: [r.revision for r in env.backend.revisions(key)][:2] == ["2", "1"], 15, what="revision 2")
    plan = preview(env, name, D, Rollback())  # the new pods are still coming up
    assert plan.after["image"] == "proptechusa/rent-prediction:v1.2"
    # Its controller writes the status as pods come and go; one more write, to be sure one lands here.
    churn(env, "deployment", name, plan, {"collisionCount": 2})
    confirm_once(env, plan)
    assert jsonpath(env, "deployment", name, ".spec.template.spec.containers[0].image") == \
        "proptechusa/rent-prediction:v1.2"


# -- Argo: two promotes of one step, an abort while the rollout steps -----------------------------


def _rollout(env: Env) -> dict:
    return env.kubectl_json("get", "rollout", "ensemble-predictor", "-n", NS)


def test_two_promotes_of_one_step_from_two_previews_move_the_rollout_one_step(env):
    # Step 3 pauses until promoted (not 10 s), so "one step, not two" holds still long enough to see.
    env.kubectl("patch", "rollout", "ensemble-predictor", "-n", NS, "--type", "json", "-p",
                '[{"op":"replace","path":"/spec/strategy/canary/steps/3","value":{"pause":{}}}]')
    env.wait_service("ensemble-predictor", R, lambda s: s.canary.paused and s.canary.step == 1, timeout=15)
    mine = preview(env, "ensemble-predictor", R, Promote())
    theirs = preview(env, "ensemble-predictor", R, Promote())  # a teammate's screen, same moment
    assert mine.before["step"] == theirs.before["step"] == "1/8"
    assert confirm_once(env, theirs)
    second = env.fleet.apply(mine, confirmed_text=mine.confirm_text, verify_timeout=20)
    assert second.outcome is Outcome.CONFLICT, second.detail
    assert second.detail.startswith("step 1/8 → "), second.detail
    # The rollout stops at the next pause (step 3), its pause untouched by the second promote.
    eventually(lambda: _rollout(env)["status"].get("currentStepIndex") == 3
               and _rollout(env)["status"].get("pauseConditions"), 20, what="paused at step 3")
    assert env.audit[-1]["result"] == "conflict" and env.audit[-1]["previewed"]["step"] == "1/8"


def test_an_abort_while_the_rollout_steps_on_applies_at_the_first_y(env):
    env.wait_service("ensemble-predictor", R, lambda s: s.canary.paused and not s.canary.aborted, timeout=20)
    plan = preview(env, "ensemble-predictor", R, Abort())
    step = _rollout(env)["status"]["currentStepIndex"]
    # A teammate promotes the paused step (`kubectl argo rollouts promote`: a status write) and the
    # controller steps on: the abort means the same whatever the step.
    churn(env, "rollout", "ensemble-predictor", plan, {"pauseConditions": None})
    eventually(lambda: _rollout(env)["status"].get("currentStepIndex", 0) > step, 15, what="the rollout stepped")
    confirm_once(env, plan)
    assert _rollout(env)["status"].get("abort") is True


# -- the simulator keeps kube-apiserver's rules: kubectl is the judge ----------------------------

OBJECTS = [
    pytest.param("deployment", "rent-predictor-stable", {"collisionCount": 3},
                 '{"spec":{"minReadySeconds":1}}', id="deployment"),
    pytest.param("rollout", "ensemble-predictor", {"message": "stepping"},
                 '{"spec":{"revisionHistoryLimit":4}}', id="rollout"),
    pytest.param("isvc", "property-price-predictor", {"modelStatus": {"transitionStatus": "InProgress"}},
                 '{"spec":{"predictor":{"minReplicas":1}}}', id="inferenceservice"),
    pytest.param("hpa", "model-hpa", {"lastScaleTime": "2026-12-01T03:01:00Z"},
                 '{"spec":{"maxReplicas":21}}', id="hpa"),
]


@pytest.mark.parametrize("kind, name, status, spec_patch", OBJECTS)
def test_status_writes_never_move_the_generation_and_spec_writes_do(env, kind, name, status, spec_patch):
    before = meta(env, kind, name)
    write_status(env, kind, name, status)
    written = meta(env, kind, name)
    assert written["resourceVersion"] != before["resourceVersion"]
    assert written["generation"] == before["generation"]
    env.kubectl("patch", kind, name, "-n", NS, "--type", "merge", "-p", spec_patch)
    assert meta(env, kind, name)["generation"] == before["generation"] + 1


def test_a_service_has_no_generation_and_its_status_writes_leave_its_selector(env):
    before = env.kubectl_json("get", "service", "ml-model-service", "-n", NS)
    write_status(env, "service", "ml-model-service", {"loadBalancer": {"ingress": [{"ip": "127.0.0.9"}]}})
    after = env.kubectl_json("get", "service", "ml-model-service", "-n", NS)
    assert "generation" not in before["metadata"] and "generation" not in after["metadata"]
    assert after["metadata"]["resourceVersion"] != before["metadata"]["resourceVersion"]
    assert after["spec"] == before["spec"]


def kubectl_json_patch(env: Env, *args: str, ops: list) -> tuple[int, str]:
    """`kubectl patch --type json`, which may fail: (exit code, stderr)."""
    out = subprocess.run([env.kubectl_bin, "--kubeconfig", env.kubeconfig, "--context", "sim-a", "patch", *args,
                          "-n", NS, "--type", "json", "-p", json.dumps(ops)],
                         capture_output=True, text=True, timeout=30)
    return out.returncode, out.stderr


def test_json_patch_tests_on_the_scale_subresource_are_kubectl_scale_current_replicas(env):
    name = "rent-predictor-stable"
    count = int(jsonpath(env, "deployment", name, ".spec.replicas"))
    uid = meta(env, "deployment", name)["uid"]
    stale = [{"op": "test", "path": "/spec/replicas", "value": count + 7},
             {"op": "replace", "path": "/spec/replicas", "value": 1}]
    code, err = kubectl_json_patch(env, "deployment", name, "--subresource=scale", ops=stale)
    assert code != 0 and REJECTED in err
    assert jsonpath(env, "deployment", name, ".spec.replicas") == str(count)  # nothing applied
    fresh = [{"op": "test", "path": "/metadata/uid", "value": uid},
             {"op": "test", "path": "/spec/replicas", "value": count},
             {"op": "replace", "path": "/spec/replicas", "value": count + 1}]
    code, err = kubectl_json_patch(env, "deployment", name, "--subresource=scale", ops=fresh)
    assert code == 0, err
    assert jsonpath(env, "deployment", name, ".spec.replicas") == str(count + 1)


NOTE = "/status/workloadObservedGeneration"
"""A rollout status field the simulated controller leaves alone: what a guarded status write wrote."""


def test_json_patch_tests_of_generation_and_uid_on_the_status_subresource(env):
    ro = _rollout(env)
    generation, uid = ro["metadata"]["generation"], ro["metadata"]["uid"]
    for stale in ([{"op": "test", "path": "/metadata/generation", "value": generation - 1}],
                  [{"op": "test", "path": "/metadata/uid", "value": "someone-else"}]):
        code, err = kubectl_json_patch(env, "rollout", "ensemble-predictor", "--subresource=status",
                                       ops=[*stale, {"op": "add", "path": NOTE, "value": "stale"}])
        assert code != 0 and REJECTED in err
    assert _rollout(env)["status"].get("workloadObservedGeneration") != "stale"
    ops = [{"op": "test", "path": "/metadata/uid", "value": uid},
           {"op": "test", "path": "/metadata/generation", "value": generation},
           {"op": "add", "path": NOTE, "value": "guarded"}]
    code, err = kubectl_json_patch(env, "rollout", "ensemble-predictor", "--subresource=status", ops=ops)
    assert code == 0, err
    after = _rollout(env)
    assert after["status"]["workloadObservedGeneration"] == "guarded"
    assert after["metadata"]["generation"] == generation


def test_a_json_patch_test_of_a_whole_selector_map(env):
    selector = env.kubectl_json("get", "service", "ml-model-service", "-n", NS)["spec"]["selector"]
    wrong = {**selector, "extra": "x"}
    code, err = kubectl_json_patch(env, "service", "ml-model-service", ops=[
        {"op": "test", "path": "/spec/selector", "value": wrong},
        {"op": "add", "path": "/spec/selector/tier", "value": "x"}])
    assert code != 0 and REJECTED in err
    code, err = kubectl_json_patch(env, "service", "ml-model-service", ops=[
        {"op": "test", "path": "/spec/selector", "value": selector},
        {"op": "add", "path": "/spec/selector/version", "value": selector["version"]}])
    assert code == 0, err
    assert env.kubectl_json("get", "service", "ml-model-service", "-n", NS)["spec"]["selector"] == selector

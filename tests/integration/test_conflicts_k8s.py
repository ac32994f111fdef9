"""Nothing is overwritten that changed since the preview, on Kubernetes.

The operator's story, for every action kind: they preview an action; before they press `y` a
colleague changes the same object with kubectl; they confirm. Nothing is sent over the colleague's
change: the outcome is a conflict, a fresh preview names what changed, and `kubectl` still shows the
colleague's value. Only when they confirm the new preview does it apply, at the first `y`, however
busy the controllers are. The judge is `kubectl` against the simulator, which answers a failed
JSON-patch `test` (of the generation, the uid or a previewed field) as kube-apiserver does (422), and
a stale resourceVersion with 409 Conflict.
"""

from __future__ import annotations

import json
import re

import pytest

from mlops_tui.backends.model import ServiceKind
from mlops_tui.backends.plans import (
    Abort,
    Outcome,
    Promote,
    Retry,
    Rollback,
    Scale,
    SetAutoscalerBounds,
    SetCanaryWeight,
    SwitchBlueGreen,
)
from tests.integration.test_k8s_backend_sim import NS, Env, eventually, preview

pytestmark = pytest.mark.integration

D, R, ISVC = ServiceKind.DEPLOYMENT, ServiceKind.ROLLOUT, ServiceKind.INFERENCE_SERVICE
CHANGED = "(changed by someone else since your preview)"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    environment = Env(tmp_path_factory)
    yield environment
    environment.close()



def confirm_over_a_colleagues_change(env: Env, plan, *kubectl_args: str, confirm: str = ""):
    """The colleague's kubectl command lands between the preview and `y`; `y` must not overwrite it."""
    env.kubectl(*kubectl_args)
    outcome = env.fleet.apply(plan, confirmed_text=confirm or plan.confirm_text, verify_timeout=20)
    assert outcome.outcome is Outcome.CONFLICT, outcome.detail
    assert outcome.replanned is not None, "no fresh preview after the conflict"
    assert outcome.replanned.precondition_version != plan.precondition_version
    record = env.audit[-1]
    assert record["result"] == "conflict"
    # The audit line records what the object held when the call was refused, not the stale preview.
    assert record["before"] == dict(outcome.replanned.before) and record["previewed"] == dict(plan.before)
    return outcome


def confirm_the_new_preview(env: Env, outcome, *, confirm: str = ""):
    """One `y` on the fresh preview applies it. Controllers keep writing the object's status after the
    colleague's change (pods come up, an Argo step moves on), but a mutation is guarded on the spec
    and the fields its preview shows, never on status writes: no further confirmation is asked."""
    plan = outcome.replanned
    result = env.fleet.apply(plan, confirmed_text=confirm or plan.confirm_text, verify_timeout=20)
    assert result.outcome in (Outcome.SUCCEEDED, Outcome.APPLIED_NOT_CONVERGED), result.detail
    return plan, result


def rolled_out(env: Env, deployment: str):
    return lambda: env.kubectl("rollout", "status", f"deployment/{deployment}", "-n", NS, "--timeout=60s")


def jsonpath(env: Env, kind: str, name: str, path: str) -> str:
    return env.kubectl("get", kind, name, "-n", NS, "-o", f"jsonpath={{{path}}}")


# -- scale, autoscaler bounds, weights: one field, one colleague --------------------------------

RACES = [
    pytest.param(
        "rent-predictor-stable", D, Scale(5),
        ("scale", "deployment", "rent-predictor-stable", "-n", NS, "--replicas=4"),
        ("deployment", "rent-predictor-stable", ".spec.replicas"), "4", "5",
        "replicas 3 → 4", id="scale-deployment"),
    pytest.param(
        "ensemble-predictor", R, Scale(7),
        ("scale", "rollout", "ensemble-predictor", "-n", NS, "--replicas=6"),
        ("rollout", "ensemble-predictor", ".spec.replicas"), "6", "7",
        "replicas 5 → 6", id="scale-argo-rollout"),
    pytest.param(
        "property-valuation-model", D, SetAutoscalerBounds(3, 12),
        ("patch", "hpa", "model-hpa", "-n", NS, "--type", "merge", "-p", '{"spec":{"maxReplicas":15}}'),
        ("hpa", "model-hpa", ".spec.maxReplicas"), "15", "12",
        "max 20 → 15", id="hpa-bounds"),
    pytest.param(
        "property-price-predictor", ISVC, SetCanaryWeight(30),
        ("patch", "isvc", "property-price-predictor", "-n", NS, "--type", "merge", "-p",
         '{"spec":{"predictor":{"canaryTrafficPercent":25}}}'),
        ("isvc", "property-price-predictor", ".spec.predictor.canaryTrafficPercent"), "25", "30",
        "canary weight 10 → 25", id="kserve-weight"),
    pytest.param(
        "rent-predictor-stable", D, SetCanaryWeight(40),
        ("patch", "virtualservice", "rent-predictor", "-n", NS, "--type", "json", "-p",
         '[{"op":"replace","path":"/spec/http/0/route/0/weight","value":80},'
         '{"op":"replace","path":"/spec/http/0/route/1/weight","value":20}]'),
        ("virtualservice", "rent-predictor", ".spec.http[0].route[*].weight"), "80 20", "60 40",
        "stable weight 90 → 80, canary weight 10 → 20", id="istio-weight"),
]


@pytest.mark.parametrize("name, kind, intent, colleague, judge, theirs, ours, changed", RACES)
def test_a_colleagues_change_since_the_preview_is_kept_and_the_new_preview_names_it(
        env, name, kind, intent, colleague, judge, theirs, ours, changed):
    plan = preview(env, name, kind, intent)
    outcome = confirm_over_a_colleagues_change(env, plan, *colleague)
    assert outcome.detail.startswith(f"{changed} {CHANGED}"), outcome.detail
    assert jsonpath(env, *judge) == theirs  # kubectl: the colleague's value, untouched
    new_plan, _result = confirm_the_new_preview(env, outcome)
    assert jsonpath(env, *judge) == ours
    assert env.audit[-1]["before"] == dict(new_plan.before)


def test_the_scale_conflict_is_told_on_the_object_and_never_claims_the_stale_count(env):
    plan = preview(env, "rent-predictor-canary", D, Scale(3))
    confirm_over_a_colleagues_change(env, plan, "scale", "deployment", "rent-predictor-canary", "-n", NS,
                                     "--replicas=2")
    events = [e for e in env.kubectl_json("get", "events", "-n", NS)["items"]
              if e.get("reason") == "MlopsTuiAction" and e["involvedObject"]["name"] == "rent-predictor-canary"]
    assert events and "replicas 1 → 2 " + CHANGED in events[-1]["message"]
    assert env.audit[-1]["before"] == {"replicas": "2"}  # what the Deployment held, not the preview's 1
    assert jsonpath(env, "deployment", "rent-predictor-canary", ".spec.replicas") == "2"


# -- blue-green selector switch ------------------------------------------------------------------


def test_a_selector_typo_made_after_the_preview_is_not_merged_into_an_outage(env):
    """Preview `b` on ml-model-v2-0 (switch to v2.1); a colleague patches the selector's app to a typo;
    `y` must not merge version=v2.1 into the typo'd selector (it would match no pod: 0 endpoints)."""
    plan = preview(env, "ml-model-v2-0", D, SwitchBlueGreen("v2.1"))
    assert not plan.blocked
    outcome = confirm_over_a_colleagues_change(
        env, plan, "patch", "service", "ml-model-service", "-n", NS, "-p", '{"spec":{"selector":{"app":"ml-modle"}}}')
    assert outcome.detail.startswith(f"selector app=ml-model,version=v2.0 → app=ml-modle,version=v2.0 {CHANGED}")
    selector = env.kubectl_json("get", "service", "ml-model-service", "-n", NS)["spec"]["selector"]
    assert selector == {"app": "ml-modle", "version": "v2.0"}  # the colleague's (broken) selector, not merged
    # The new preview shows where the switch would now lead: nowhere. It is refused, not sent.
    assert [w.code for w in outcome.replanned.blocked] == ["selector-no-ready-pods"]
    refused = env.fleet.apply(outcome.replanned, verify_timeout=5)
    assert refused.outcome is Outcome.REFUSED
    assert env.kubectl_json("get", "service", "ml-model-service", "-n", NS)["spec"]["selector"] == selector
    # The colleague fixes the typo; a fresh preview switches cleanly.
    env.kubectl("patch", "service", "ml-model-service", "-n", NS, "-p", '{"spec":{"selector":{"app":"ml-model"}}}')
    # The operator presses `b` again once the pane shows the repaired selector (until then the Service
    # routes to no pod, and the row offers no switch).
    env.wait_service("ml-model-v2-0", D, lambda s: s.blue_green is not None
                     and dict(s.blue_green.selector).get("app") == "ml-model")
    _plan, result = env.act("ml-model-v2-0", D, SwitchBlueGreen("v2.1"))
    assert result.outcome is Outcome.SUCCEEDED, result.detail
    assert env.kubectl_json("get", "service", "ml-model-service", "-n", NS)["spec"]["selector"] == \
        {"app": "ml-model", "version": "v2.1"}


def test_a_selector_switch_is_guarded_by_the_selector_it_showed_not_by_an_annotation_written_meanwhile(env):
    """The switch's preview is built from the Service's selector: a colleague annotating the Service
    (or a load balancer writing its status) since then changes nothing the switch depends on, so one
    `y` applies it, and the annotation stays."""
    plan = preview(env, "ml-model-v2-1", D, SwitchBlueGreen("v2.0"))
    env.kubectl("annotate", "service", "ml-model-service", "-n", NS, "oncall=looking")
    assert env.kubectl_json("get", "service", "ml-model-service", "-n", NS)["metadata"]["resourceVersion"] != \
        plan.precondition_version
    result = env.fleet.apply(plan, confirmed_text=plan.confirm_text, verify_timeout=20)
    assert result.outcome is Outcome.SUCCEEDED, result.detail
    assert jsonpath(env, "service", "ml-model-service", ".spec.selector.version") == "v2.0"
    assert jsonpath(env, "service", "ml-model-service", ".metadata.annotations.oncall") == "looking"


# -- rollbacks ------------------------------------------------------------------------------------


def test_a_hotfix_image_set_after_the_rollback_preview_is_not_overwritten(env):
    name = "rent-predictor-canary"
    env.kubectl("set", "image", f"deployment/{name}", "-n", NS, "rent-model=proptechusa/rent-prediction:v1.3")
    key = env.service(name, D).key
    eventually(lambda: [r.revision for r in env.backend.revisions(key)][:2] == ["2", "1"], 15, what="revision 2")
    rolled_out(env, name)()
    plan = preview(env, name, D, Rollback())
    assert plan.after["image"] == "proptechusa/rent-prediction:v1.2"
    outcome = confirm_over_a_colleagues_change(env, plan, "set", "image", f"deployment/{name}", "-n", NS,
                                               "rent-model=proptechusa/rent-prediction:v1.3-hotfix")
    assert "image proptechusa/rent-prediction:v1.3 → proptechusa/rent-prediction:v1.3-hotfix" in outcome.detail
    assert outcome.detail.startswith("revision 2 → 3")
    assert jsonpath(env, "deployment", name, ".spec.template.spec.containers[0].image") == \
        "proptechusa/rent-prediction:v1.3-hotfix"
    # The new preview goes back one revision from the hotfix; confirmed, it applies.
    assert outcome.replanned.after["image"] == "proptechusa/rent-prediction:v1.3"
    confirm_the_new_preview(env, outcome)
    assert jsonpath(env, "deployment", name, ".spec.template.spec.containers[0].image") == \
        "proptechusa/rent-prediction:v1.3"


def test_a_kserve_rollback_over_a_changed_weight_waits_for_a_new_preview(env):
    name = "property-price-predictor"
    plan = preview(env, name, ISVC, Rollback())
    current = plan.before["canary weight"]
    outcome = confirm_over_a_colleagues_change(env, plan, "patch", "isvc", name, "-n", NS, "--type", "merge", "-p",
                                               '{"spec":{"predictor":{"canaryTrafficPercent":50}}}')
    assert outcome.detail.startswith(f"canary weight {current} → 50 {CHANGED}"), outcome.detail
    assert jsonpath(env, "isvc", name, ".spec.predictor.canaryTrafficPercent") == "50"
    confirm_the_new_preview(env, outcome)
    assert jsonpath(env, "isvc", name, ".spec.predictor.canaryTrafficPercent") == "0"


# -- Argo Rollouts: abort, retry, promote, undo on a rollout its controller keeps moving -----------


def _rollout(env: Env) -> dict:
    return env.kubectl_json("get", "rollout", "ensemble-predictor", "-n", NS)


def _status_patch(body: dict) -> tuple[str, ...]:
    return ("patch", "rollout", "ensemble-predictor", "-n", NS, "--subresource=status", "--type", "merge",
            "-p", json.dumps({"status": body}))


def test_argo_abort_retry_promote_and_undo_never_overwrite_a_colleagues_change(env):
    # Abort, while a colleague scales the rollout: the preview's "after" said how many replicas the
    # stable version would serve on. (A colleague's promote, a status write like the controller's stepping,
    # is no conflict for an abort: test_guards_k8s.py.)
    eventually(lambda: env.service("ensemble-predictor", R).canary.paused, 10, what="paused at its step")
    plan = preview(env, "ensemble-predictor", R, Abort())
    replicas = _rollout(env)["spec"]["replicas"]
    outcome = confirm_over_a_colleagues_change(env, plan, "scale", "rollout", "ensemble-predictor", "-n", NS,
                                               f"--replicas={replicas + 1}")
    assert re.match(r"generation (\d+) → (\d+): the spec was changed since your preview, in a field this preview "
                    r"does not show", outcome.detail), outcome.detail
    assert not _rollout(env)["status"].get("abort")  # not sent over the colleague's change
    confirm_the_new_preview(env, outcome)
    assert _rollout(env)["status"].get("abort") is True
    assert _rollout(env)["spec"]["replicas"] == replicas + 1

    # Retry, while a colleague pauses the rollout by hand.
    env.wait_service("ensemble-predictor", R, lambda s: s.canary.aborted and not s.canary.paused)
    plan = preview(env, "ensemble-predictor", R, Retry())
    outcome = confirm_over_a_colleagues_change(env, plan, "patch", "rollout", "ensemble-predictor", "-n", NS,
                                               "--type", "merge", "-p", '{"spec":{"paused":true}}')
    assert outcome.detail.startswith(f"paused no → yes {CHANGED}"), outcome.detail
    assert _rollout(env)["status"].get("abort") is True  # still aborted: our retry was not sent
    confirm_the_new_preview(env, outcome)
    assert not _rollout(env)["status"].get("abort")

    # Promote (two calls: unpause, then the status subresource), while a colleague aborts again.
    env.wait_service("ensemble-predictor", R, lambda s: not s.canary.aborted and s.canary.paused)
    plan = preview(env, "ensemble-predictor", R, Promote())
    assert [m.summary for m in plan.mutations] == ["unpause", "promote"]
    outcome = confirm_over_a_colleagues_change(env, plan, *_status_patch({"abort": True}))
    assert "aborted no → yes" in outcome.detail and CHANGED in outcome.detail, outcome.detail
    assert _rollout(env)["spec"].get("paused") is True  # not even the first call was sent
    assert "already applied" not in outcome.detail
    new_plan, _result = confirm_the_new_preview(env, outcome)
    assert _rollout(env)["spec"].get("paused") in (None, False)

    # Undo, while a colleague sets a hotfix image on the rollout (a JSON-patch `test` fails: 422).
    key = env.service("ensemble-predictor", R).key
    eventually(lambda: len(env.backend.revisions(key)) >= 2, 10, what="two Argo revisions")
    plan = preview(env, "ensemble-predictor", R, Rollback())
    outcome = confirm_over_a_colleagues_change(
        env, plan, "patch", "rollout", "ensemble-predictor", "-n", NS, "--type", "json", "-p",
        '[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"proptechusa/price-model:v2.0-hotfix"}]')
    assert "image proptechusa/price-model:v2.0 → proptechusa/price-model:v2.0-hotfix" in outcome.detail, outcome.detail
    images = lambda: [c["image"] for c in _rollout(env)["spec"]["template"]["spec"]["containers"]]  # noqa: E731
    assert images()[0] == "proptechusa/price-model:v2.0-hotfix"
    new_plan, _result = confirm_the_new_preview(env, outcome)
    assert images()[0] == new_plan.after["image"] != "proptechusa/price-model:v2.0-hotfix"


# -- the simulator answers a stale precondition as kube-apiserver does, on every path we use -------

OPTIMISTIC_LOCK = ("the object has been modified; please apply your changes to the latest version and try again")
GUARDED_PATHS = [
    pytest.param("/apis/apps/v1/namespaces/ml-prod/deployments/rent-predictor-canary/scale",
                 "application/merge-patch+json", {"spec": {"replicas": 1}}, "deployments.apps",
                 "rent-predictor-canary", id="deployment-scale-subresource"),
    pytest.param("/apis/argoproj.io/v1alpha1/namespaces/ml-prod/rollouts/ensemble-predictor/scale",
                 "application/merge-patch+json", {"spec": {"replicas": 5}}, "rollouts.argoproj.io",
                 "ensemble-predictor", id="rollout-scale-subresource"),
    pytest.param("/apis/argoproj.io/v1alpha1/namespaces/ml-prod/rollouts/ensemble-predictor/status",
                 "application/merge-patch+json", {"status": {"abort": True}}, "rollouts.argoproj.io",
                 "ensemble-predictor", id="rollout-status-subresource"),
    pytest.param("/apis/argoproj.io/v1alpha1/namespaces/ml-prod/rollouts/ensemble-predictor",
                 "application/merge-patch+json", {"spec": {"paused": True}}, "rollouts.argoproj.io",
                 "ensemble-predictor", id="rollout"),
    pytest.param("/apis/autoscaling/v2/namespaces/ml-prod/horizontalpodautoscalers/model-hpa",
                 "application/merge-patch+json", {"spec": {"maxReplicas": 9}}, "horizontalpodautoscalers.autoscaling",
                 "model-hpa", id="hpa"),
    pytest.param("/apis/serving.kserve.io/v1beta1/namespaces/ml-prod/inferenceservices/property-price-predictor",
                 "application/merge-patch+json", {"spec": {"predictor": {"canaryTrafficPercent": 5}}},
                 "inferenceservices.serving.kserve.io", "property-price-predictor", id="inferenceservice"),
    pytest.param("/api/v1/namespaces/ml-prod/services/ml-model-service", "application/strategic-merge-patch+json",
                 {"spec": {"selector": {"version": "v2.0"}}}, "services", "ml-model-service", id="service-selector"),
]


@pytest.mark.parametrize("path, content_type, body, qualified, name", GUARDED_PATHS)
def test_the_simulator_refuses_a_stale_resource_version_with_the_api_servers_409(
        env, path, content_type, body, qualified, name):
    from mlops_tui.backends.kubernetes.client import ApiError

    transport = env.backend.transport
    stale = {"metadata": {"resourceVersion": "1"}, **body}
    before = transport.request("GET", path.removesuffix("/scale").removesuffix("/status")).json()
    with pytest.raises(ApiError) as refused:
        transport.request("PATCH", path, body=stale, content_type=content_type)
    assert refused.value.status == 409
    assert refused.value.body["message"] == f'Operation cannot be fulfilled on {qualified} "{name}": {OPTIMISTIC_LOCK}'
    assert (refused.value.body["reason"], refused.value.body["code"]) == ("Conflict", 409)
    after = transport.request("GET", path.removesuffix("/scale").removesuffix("/status")).json()
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]  # nothing written


def test_the_simulator_answers_a_failed_json_patch_test_as_kube_apiserver_does(env):
    """kube-apiserver wraps json-patch Apply errors in NewGenericServerResponse(422): the generic
    message, reason Invalid, empty details; the patch's other operations are not applied."""
    from mlops_tui.backends.kubernetes.client import ApiError

    path = "/apis/apps/v1/namespaces/ml-prod/deployments/rent-predictor-canary"
    before = env.backend.transport.request("GET", path).json()
    ops = [{"op": "test", "path": "/metadata/resourceVersion", "value": "1"},
           {"op": "replace", "path": "/spec/replicas", "value": 7}]
    with pytest.raises(ApiError) as refused:
        env.backend.transport.request("PATCH", path, body=ops, content_type="application/json-patch+json")
    assert refused.value.body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                  "message": "the server rejected our request due to an error in our request",
                                  "reason": "Invalid", "details": {}, "code": 422}
    assert env.backend.transport.request("GET", path).json()["spec"]["replicas"] == before["spec"]["replicas"]

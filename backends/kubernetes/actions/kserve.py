"""KServe canary weight: `spec.predictor.canaryTrafficPercent` of an InferenceService (Serverless mode).

The field and the traffic split it produces: kserve docs/modelserving/v1beta1/rollout/canary-example.md
(kserve/website), and `status.components.predictor.traffic` for where the traffic really goes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlops_tui.backends.kubernetes import translate as tr
from mlops_tui.backends.kubernetes.actions.shared import (
    JSON_PATCH,
    Check,
    ClusterApi,
    Verifier,
    make_plan,
    object_path,
    resource_version,
    spec_tested,
)
from mlops_tui.backends.model import ModelService
from mlops_tui.backends.plans import ActionPlan, ActionRefused, Mutation, Risk, SetCanaryWeight


def plan_kserve_weight(source: str, user: str, service: ModelService, intent: SetCanaryWeight, isvc: Any) -> ActionPlan:
    if not 0 <= intent.weight <= 100:
        raise ActionRefused("canary weight must be between 0 and 100")
    predictor = tr.dig(isvc, "spec", "predictor")
    current = predictor.get("canaryTrafficPercent")
    path = object_path(service.key)
    return make_plan(
        source,
        user,
        service,
        intent,
        mutations=(
            Mutation(
                "PATCH",
                path,
                canary_percent_ops(isvc, intent.weight),
                JSON_PATCH,
                summary=f"canaryTrafficPercent {intent.weight}",
            ),
        ),
        before={"canary weight": "100 (no canary)" if current is None else str(current)},
        after={"canary weight": str(intent.weight)},
        precondition_version=resource_version(isvc),
        risk=Risk.MEDIUM if intent.weight >= 50 else Risk.LOW,
        noop=current is not None and tr.as_int(current) == intent.weight,
        context={"kind": "kserve-weight", "path": path, "weight": intent.weight},
    )


CANARY_PERCENT = "/spec/predictor/canaryTrafficPercent"


def canary_percent_ops(isvc: Any, weight: int) -> list[dict[str, Any]]:
    """`{"spec":{"predictor":{"canaryTrafficPercent":w}}}` as a guarded JSON patch (`add` sets the
    field whether or not it is there)."""
    return spec_tested(isvc, [{"op": "add", "path": CANARY_PERCENT, "value": weight}], CANARY_PERCENT)


def plan_kserve_weight_now(api: ClusterApi, service: ModelService, intent: SetCanaryWeight) -> ActionPlan:
    return plan_kserve_weight(api.cluster.name, api.cluster.user, service, intent, api.fetch(service.key))


def verify_kserve_weight(api: ClusterApi, plan: ActionPlan) -> Check:
    """Done when the field holds the weight and KServe routes that share to the latest revision (a
    rollback's 0 % included: then the previous revision serves everything)."""
    ctx = plan.context
    obj = api.read(ctx["path"])
    canary = tr.kserve_canary(obj)
    percent = tr.as_dict(tr.as_dict(obj.get("spec")).get("predictor")).get("canaryTrafficPercent")
    after = dict(plan.after)
    after["canary weight"] = str(percent)
    if "serving" in after:
        predictor = tr.dig(obj, "status", "components", "predictor")
        traffic = [t for t in tr.as_list(predictor.get("traffic")) if tr.as_int(tr.as_dict(t).get("percent"))]
        after["serving"] = ",".join(str(tr.as_dict(t).get("revisionName")) for t in traffic) or after["serving"]
    routed = canary.weight if canary else None
    ok = tr.as_int(percent, -1) == ctx["weight"] and (routed is None or routed == ctx["weight"])
    return ok, f"canaryTrafficPercent {percent}, traffic to latest {routed}", after


VERIFIERS: Mapping[str, Verifier] = {"kserve-weight": verify_kserve_weight}

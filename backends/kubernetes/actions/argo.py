"""Argo Rollouts: promote (one step or `--full`), abort, retry, and the blue-green promote, as the
`kubectl argo rollouts` plugin sends them (argo-rollouts: pkg/kubectl-argo-rollouts/cmd/promote/promote.go,
cmd/abort/abort.go, cmd/retry/retry.go), each merge patch sent as the equivalent guarded JSON patch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlops_tui.backends.kubernetes import translate as tr
from mlops_tui.backends.kubernetes.actions.shared import (
    JSON_PATCH,
    MISSING,
    Check,
    ClusterApi,
    Verifier,
    json_pointer,
    lookup,
    make_plan,
    object_path,
    resource_version,
    spec_tested,
)
from mlops_tui.backends.model import Canary, ModelService, ServiceKind
from mlops_tui.backends.plans import (
    Abort,
    ActionPlan,
    ActionRefused,
    Intent,
    Mutation,
    PlanWarning,
    Promote,
    Retry,
    Risk,
    SwitchBlueGreen,
)


def _argo_status_path(service: ModelService, version: str | None = None) -> str:
    return object_path(service.key, "status", version)


def argo_promote_patches(rollout: Any, full: bool) -> tuple[dict | None, dict | None]:
    """(spec patch, status patch) exactly as `kubectl argo rollouts promote [--full]` sends them."""
    rollout = tr.as_dict(rollout)
    spec = tr.as_dict(rollout.get("spec"))
    status = tr.as_dict(rollout.get("status"))
    spec_patch = {"spec": {"paused": False}} if spec.get("paused") else None
    pause_conditions = tr.as_list(status.get("pauseConditions"))
    if full:
        if str(status.get("currentPodHash") or "") != str(status.get("stableRS") or ""):
            return spec_patch, {"status": {"promoteFull": True}}
        return spec_patch, None
    canary = tr.as_dict(spec.get("strategy")).get("canary")
    steps = tr.as_list(tr.as_dict(canary).get("steps"))
    index = tr.as_int(status.get("currentStepIndex"), 0)
    next_index = index + 1 if index < len(steps) else index
    inconclusive = any(tr.as_dict(c).get("reason") in ("InconclusiveAnalysisRun", "InconclusiveExperiment")
                       for c in pause_conditions)
    if inconclusive and pause_conditions and status.get("controllerPause") and isinstance(canary, dict):
        return spec_patch, {"status": {"pauseConditions": None, "controllerPause": False,
                                       "currentStepIndex": next_index}}
    if pause_conditions:
        return spec_patch, {"status": {"pauseConditions": None}}
    if isinstance(canary, dict) and steps:
        return spec_patch, {"status": {"pauseConditions": None, "currentStepIndex": next_index}}
    return spec_patch, None


PROMOTE_PREVIEWED_STATUS = ("/status/currentStepIndex", "/status/pauseConditions", "/status/abort")
"""What a promote's preview is built from beyond the spec: the step it moves on from, the pause it
lifts, whether the rollout is aborted. Both of its calls test them: two operators promoting one step
from two previews, the second finds the step moved (a conflict), and the rollout moves one step, not
two; a colleague's abort since the preview stops the promote before its first call."""

PROMOTE_FULL_PREVIEWED_STATUS = ("/status/currentPodHash", "/status/abort")
"""A full promote skips every step left, so the step it was previewed at is no conflict (a timed
pause ending between preview and apply must not fail it); the version it makes stable is: a new
revision since the preview is one the operator never saw. An abort since the preview stops it too."""


def argo_ops(rollout: Any, merge_patch: Mapping[str, Any], *previewed_status: str) -> list[dict[str, Any]]:
    """One `kubectl argo rollouts` merge patch (`{"spec": {...}}` or `{"status": {...}}`, one level
    of fields) as the equivalent JSON patch: a null removes the field (when there), anything else is
    an `add` (sets it, there or not). Guarded by the rollout's uid and generation, the spec fields it
    sets, and the status fields named (a JSON patch sent to the main resource or to its status
    subresource is applied to the whole object, so either may test both)."""
    (section, fields), = merge_patch.items()
    ops: list[dict[str, Any]] = []
    previewed: list[str] = []
    for name, value in fields.items():
        pointer = json_pointer(section, name)
        if value is None:
            if lookup(rollout, pointer) is not MISSING:
                ops.append({"op": "remove", "path": pointer})
        else:
            ops.append({"op": "add", "path": pointer, "value": value})
        if section == "spec":
            previewed.append(pointer)
    return spec_tested(rollout, ops, *previewed, *previewed_status)


def plan_argo(source: str, user: str, service: ModelService, intent: Intent, rollout: Any,
              version: str | None = None) -> ActionPlan:
    status = tr.as_dict(tr.as_dict(rollout).get("status"))
    main_path = object_path(service.key, "", version)
    status_path = _argo_status_path(service, version)
    mutations: list[Mutation] = []
    canary = tr.argo_canary(rollout)
    before: dict[str, str] = {
        "step": f"{canary.step}/{canary.total_steps}" if canary and canary.step is not None else "-",
        "paused": "yes" if (canary.paused if canary else bool(tr.dig(rollout, "spec").get("paused")))
        else "no",
        "aborted": "yes" if status.get("abort") else "no",
    }
    after = dict(before)
    warnings: list[PlanWarning] = []
    risk = Risk.MEDIUM
    if isinstance(intent, (Promote, SwitchBlueGreen)):
        full = isinstance(intent, Promote) and intent.full
        spec_patch, status_patch = argo_promote_patches(rollout, full)
        previewed = PROMOTE_FULL_PREVIEWED_STATUS if full else PROMOTE_PREVIEWED_STATUS
        if spec_patch:
            mutations.append(Mutation("PATCH", main_path, argo_ops(rollout, spec_patch, *previewed),
                                      JSON_PATCH, summary="unpause"))
        if status_patch:
            mutations.append(Mutation("PATCH", status_path, argo_ops(rollout, status_patch, *previewed), JSON_PATCH,
                                      summary="promote"))
        after["paused"] = "no"
        if full:
            after["step"] = f"{canary.total_steps}/{canary.total_steps}" if canary and canary.total_steps else "full"
            risk = Risk.HIGH
        elif status_patch and "currentStepIndex" in status_patch["status"] and canary and canary.total_steps:
            after["step"] = f"{status_patch['status']['currentStepIndex']}/{canary.total_steps}"
        if status.get("abort"):
            warnings.append(PlanWarning("aborted", "the rollout is aborted: promote does not resume it, retry does"))
        kind = "argo-promote-full" if full else "argo-promote"
    elif isinstance(intent, Abort):
        mutations.append(Mutation("PATCH", status_path, argo_ops(rollout, {"status": {"abort": True}}), JSON_PATCH,
                                  summary="abort"))
        after["aborted"] = "yes"
        _abort_effect(service, rollout, before, after)
        kind = "argo-abort"
    elif isinstance(intent, Retry):
        mutations.append(Mutation("PATCH", status_path, argo_ops(rollout, {"status": {"abort": False}}), JSON_PATCH,
                                  summary="retry"))
        after["aborted"] = "no"
        kind = "argo-retry"
    else:
        raise ActionRefused(f"{service.key.name}: {intent.kind.value} is not an Argo Rollouts action")
    return make_plan(
        source,
        user,
        service,
        intent,
        mutations=tuple(mutations),
        before=before,
        after=after,
        warnings=tuple(warnings),
        risk=risk,
        precondition_version=resource_version(rollout),
        noop=not mutations or (kind == "argo-abort" and status.get("abort") is True)
        or (kind == "argo-retry" and not status.get("abort")),
        context={"kind": kind, "path": main_path, "step": canary.step if canary else None,
                 "paused_since": [tr.as_dict(c).get("startTime") for c in tr.as_list(status.get("pauseConditions"))]},
    )


def _abort_effect(service: ModelService, rollout: Any, before: dict[str, str], after: dict[str, str]) -> None:
    """What an abort does to traffic: the canary weight drops to 0 % and the stable ReplicaSet is
    scaled back to the full replica count, so the stable version serves everything."""
    canary = service.canary
    weight = tr.argo_current_weight(rollout)
    replicas = tr.as_int(tr.dig(rollout, "spec").get("replicas"), 1)
    stable = canary.stable_version if canary and canary.stable_version else "the stable ReplicaSet"
    new = canary.canary_version if canary and canary.canary_version else "the canary"
    before["canary weight"], after["canary weight"] = f"{weight if weight is not None else '?'}%", "0%"
    before["serving"] = f"{stable} + {new} at {weight if weight is not None else '?'}%"
    after["serving"] = f"{stable} only, on {replicas} replicas"


def plan_argo_now(api: ClusterApi, service: ModelService, intent: Intent) -> ActionPlan:
    key = service.key
    if key.kind is not ServiceKind.ROLLOUT:
        raise ActionRefused(f"{intent.kind.value} is an Argo Rollouts action; {key.name} is a {key.kind.value}")
    return plan_argo(api.cluster.name, api.cluster.user, service, intent, api.fetch(key), api.version(key.kind))


def _look(api: ClusterApi, plan: ActionPlan) -> tuple[dict, dict, Canary | None, str, dict[str, str]]:
    """The rollout now: (status, spec, canary, detail, after) in the preview's terms."""
    obj = api.read(plan.context["path"])
    status, spec = tr.as_dict(obj.get("status")), tr.as_dict(obj.get("spec"))
    canary = tr.argo_canary(obj)
    after = {
        "step": f"{canary.step}/{canary.total_steps}" if canary and canary.step is not None else "-",
        "paused": "yes" if (canary.paused if canary else bool(spec.get("paused"))) else "no",
        "aborted": "yes" if status.get("abort") else "no",
    }
    phase = str(status.get("phase") or "")
    detail = f"phase {phase or '?'}, step {after['step']}, paused {after['paused']}"
    return status, spec, canary, detail, after


def verify_abort(api: ClusterApi, plan: ActionPlan) -> Check:
    status, _, _, detail, after = _look(api, plan)
    return bool(status.get("abort")), detail, after


def verify_retry(api: ClusterApi, plan: ActionPlan) -> Check:
    status, _, _, detail, after = _look(api, plan)
    return not status.get("abort"), detail, after


def verify_promote_full(api: ClusterApi, plan: ActionPlan) -> Check:
    status, _, canary, detail, after = _look(api, plan)
    done = bool(status.get("promoteFull")) or str(status.get("phase") or "") == "Healthy" or (
        canary is not None and canary.step is not None and canary.step == canary.total_steps)
    return done, detail, after


def verify_promote(api: ClusterApi, plan: ActionPlan) -> Check:
    """Promoted once the pause we saw is gone: the step moved on (a later step may pause again, with a
    new pause condition) or nothing pauses the rollout any more."""
    ctx = plan.context
    status, spec, canary, detail, after = _look(api, plan)
    moved_on = canary is not None and canary.step is not None and ctx.get("step") is not None \
        and canary.step > ctx["step"]
    pauses = [tr.as_dict(c).get("startTime") for c in tr.as_list(status.get("pauseConditions"))]
    unpaused = not pauses or pauses != ctx.get("paused_since")
    return not spec.get("paused") and (moved_on or unpaused), detail, after


VERIFIERS: Mapping[str, Verifier] = {
    "argo-promote": verify_promote,
    "argo-promote-full": verify_promote_full,
    "argo-abort": verify_abort,
    "argo-retry": verify_retry,
}

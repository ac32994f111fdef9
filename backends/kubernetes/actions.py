"""Intent -> exact Kubernetes API calls, as plans first and effects second.

Planning functions (`plan_*`) are pure: given the objects as the API server holds them now, they
return an `ActionPlan` whose mutations are exactly what `kubectl` (or the Argo Rollouts plugin)
would send. `ActionPlanner` fetches those objects, applies a plan once, follows the object until it
converges, and records an Event on it so teammates see who did what.
"""

from __future__ import annotations

import copy
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from mlops_tui.backends.gpu_fit import FitNode, FitResult, ReplicaNeeds, fit_replicas
from mlops_tui.backends.kubernetes import translate as tr
from mlops_tui.backends.kubernetes.client import ApiError, api_path
from mlops_tui.backends.model import ModelService, Revision, ServiceKey, ServiceKind
from mlops_tui.backends.plans import (
    Abort,
    ActionConflict,
    ActionError,
    ActionForbidden,
    ActionPlan,
    ActionRefused,
    Intent,
    Mutation,
    PlanWarning,
    Promote,
    Restart,
    Retry,
    Risk,
    Rollback,
    Scale,
    SetAutoscalerBounds,
    SetCanaryWeight,
    SwitchBlueGreen,
    UpdateImage,
    VerifyResult,
    unready_target_warning,
)

if TYPE_CHECKING:
    from mlops_tui.backends.kubernetes.watch import KubernetesBackend

JSON_PATCH = "application/json-patch+json"
EVENT_REASON = "MlopsTuiAction"
HPA_SYNC_SECONDS = 15

DEPLOYMENT_ANNOTATIONS_KEPT = (
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
)
"""`kubectl rollout undo` keeps these from the Deployment and copies every other one from the RS."""

_GROUPS = {
    ServiceKind.DEPLOYMENT: ("apps", "v1", "deployments"),
    ServiceKind.ROLLOUT: ("argoproj.io", "v1alpha1", "rollouts"),
    ServiceKind.INFERENCE_SERVICE: ("serving.kserve.io", "v1beta1", "inferenceservices"),
}


def object_path(key: ServiceKey, sub: str = "", version: str | None = None) -> str:
    group, default_version, plural = _GROUPS[key.kind]
    return api_path(group, version or default_version, plural, key.namespace, key.name, sub)


def _rv(obj: Any) -> str:
    return str(tr.meta(obj).get("resourceVersion") or "")


RV_POINTER = "/metadata/resourceVersion"
UID_POINTER = "/metadata/uid"
GENERATION_POINTER = "/metadata/generation"
REBASED_POINTERS = (RV_POINTER, GENERATION_POINTER)
"""What a multi-call plan's own previous call moves on the object: its next call is guarded by the
values that call produced (read from its response), never by the preview's."""

_MISSING = object()


def _lookup(obj: Any, pointer: str) -> Any:
    """The value at a JSON pointer, or `_MISSING`."""
    value: Any = obj
    for raw in pointer.strip("/").split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(value, dict) and token in value:
            value = value[token]
        elif isinstance(value, list) and token.isdigit() and int(token) < len(value):
            value = value[int(token)]
        else:
            return _MISSING
    return value


def field_tests(obj: Any, *pointers: str) -> list[dict[str, Any]]:
    """A JSON-patch `test` of each pointer that holds a value in `obj` (JSON patch cannot test that a
    field is absent)."""
    ops = []
    for pointer in pointers:
        value = _lookup(obj, pointer)
        if value is not _MISSING:
            ops.append({"op": "test", "path": pointer, "value": copy.deepcopy(value)})
    return ops


def spec_tested(obj: Any, ops: list[dict[str, Any]], *previewed: str) -> list[dict[str, Any]]:
    """JSON-patch operations that only apply to the object the preview was built from: `test`s of
    its uid (not a namesake created since), of its generation (the API server bumps it on every spec
    change and never on a status write: a rollout stepping, an autoscaler or KServe reconciling do
    not make the operator confirm again) and of each previewed field, then `ops`. A failed test
    makes the server apply none of them (a bare 422 Invalid, classified by `ActionPlanner._moved`)."""
    return [*field_tests(obj, UID_POINTER, GENERATION_POINTER, *previewed), *ops]


def guards_of(mutation: Mutation) -> list[tuple[str, Any]]:
    """The (JSON pointer, value) pairs a mutation is guarded by: its JSON-patch `test`s, or the
    resourceVersion in a merge/strategic/PUT body. Empty when unguarded."""
    body = mutation.body
    if isinstance(body, dict):
        rv = str(tr.meta(body).get("resourceVersion") or "")
        return [(RV_POINTER, rv)] if rv else []
    if isinstance(body, list):
        return [(str(op.get("path")), op.get("value")) for op in body
                if isinstance(op, dict) and op.get("op") == "test"]
    return []


def moved_guards(mutation: Mutation, current: Any) -> list[tuple[str, Any, Any]]:
    """(pointer, guarded value, value now) of every guard `current` no longer satisfies."""
    moved = []
    for pointer, expected in guards_of(mutation):
        now = _lookup(current, pointer)
        if pointer == RV_POINTER:
            now, expected = str(now) if now is not _MISSING else _MISSING, str(expected)
        if now != expected:
            moved.append((pointer, expected, None if now is _MISSING else now))
    return moved


def rebased(mutation: Mutation, response: Any) -> Mutation:
    """The same mutation guarded by what the plan's previous call on this object produced (its
    response): that call, and only it, moved the resourceVersion and, for a spec change, the
    generation. Every other guard keeps the preview's value."""
    body = copy.deepcopy(mutation.body)
    if isinstance(body, dict) and isinstance(body.get("metadata"), dict) and body["metadata"].get("resourceVersion"):
        body["metadata"]["resourceVersion"] = _rv(response) or body["metadata"]["resourceVersion"]
    elif isinstance(body, list):
        for op in body:
            if isinstance(op, dict) and op.get("op") == "test" and op.get("path") in REBASED_POINTERS:
                value = _lookup(response, op["path"])
                if value is not _MISSING:
                    op["value"] = value
    return replace(mutation, body=body)


def _json_pointer_token(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def annotation_ops(current: Mapping[str, str], wanted: Mapping[str, str]) -> list[dict[str, Any]]:
    """Per-key JSON-patch operations turning `current` annotations into `wanted`: only the keys that
    differ are touched, so an annotation nobody meant to change is never rewritten from an old copy."""
    if not current:
        return [{"op": "add", "path": "/metadata/annotations", "value": dict(wanted)}] if wanted else []
    ops: list[dict[str, Any]] = []
    for key in sorted(set(current) | set(wanted)):
        path = f"/metadata/annotations/{_json_pointer_token(key)}"
        if key not in wanted:
            ops.append({"op": "remove", "path": path})
        elif key not in current:
            ops.append({"op": "add", "path": path, "value": wanted[key]})
        elif current[key] != wanted[key]:
            ops.append({"op": "replace", "path": path, "value": wanted[key]})
    return ops


def _plan(backend_name: str, user: str, service: ModelService, intent: Intent, **kw: Any) -> ActionPlan:
    return ActionPlan(
        source=backend_name,
        target=service.key,
        target_name=f"{service.key.kind.value} {service.key.namespace}/{service.key.name}",
        intent=intent,
        user=user,
        **kw,
    )


# ---------------------------------------------------------------------------------------------
# Pure planners


def plan_scale(
    source: str,
    user: str,
    service: ModelService,
    intent: Scale,
    obj: Any,
    *,
    hpa: Any = None,
    gpu_nodes: Sequence[FitNode] | None = None,
    pending: int = 0,
    path_version: str | None = None,
) -> ActionPlan:
    """`gpu_nodes` are all the cluster's nodes with their free units per GPU resource (a replica fits
    on one node only, see `backends.gpu_fit`); `pending` is how many of this service's pods already
    wait for GPUs (they go first)."""
    if intent.replicas < 0:
        raise ActionRefused("replicas cannot be negative")
    spec = tr.as_dict(tr.as_dict(obj).get("spec"))
    current = tr.as_int(spec.get("replicas"), 1)
    n = intent.replicas
    warnings: list[PlanWarning] = []
    alternatives: tuple[Intent, ...] = ()
    risk = Risk.LOW
    confirm = ""
    if hpa is not None:
        scaler = tr.autoscaler(hpa)
        warnings.append(
            PlanWarning(
                "hpa-owns-replicas",
                f"HorizontalPodAutoscaler {scaler.name} owns the replica count ({scaler.min_replicas}.."
                f"{scaler.max_replicas}): it will override {n} within ~{HPA_SYNC_SECONDS} s"
                + ("; at 0 it stops scaling (ScalingActive=False) until scaled up by hand" if n == 0 else "")
                + ". Set its bounds instead?",
            )
        )
        low = max(n, 1)
        alternatives = (SetAutoscalerBounds(min_replicas=low, max_replicas=max(scaler.max_replicas, low)),)
        risk = Risk.MEDIUM
    added = n - current
    gpu_fit = None
    if added > 0 and gpu_nodes is not None:
        needs = _replica_needs(service, obj)
        gpu_fit = fit_replicas(needs, added, gpu_nodes, already_pending=pending) if needs.requests else None
        if gpu_fit is not None and gpu_fit.stay_pending:
            warnings.append(PlanWarning("gpu-pending", _gpu_pending_text(service.key.name, needs, gpu_fit)))
            risk = max(risk, Risk.MEDIUM)
    if n == 0 and service.production:
        confirm = service.key.name
        warnings.append(
            PlanWarning(
                "production-scale-to-zero",
                f"{service.key.name} serves production ({service.key.namespace}): 0 replicas means no traffic "
                f"is served. Type its name to confirm.",
            )
        )
        risk = Risk.HIGH
    if service.key.kind is ServiceKind.DEPLOYMENT:
        state, _ = tr.deployment_rollout_state(obj)
        in_progress = state in ("progressing", "paused")
    else:
        phase = str(tr.as_dict(tr.as_dict(obj).get("status")).get("phase") or "")
        in_progress = phase in ("Progressing", "Paused")
    if in_progress:
        warnings.append(
            PlanWarning("mid-rollout", f"a rollout of {service.key.name} is in progress: new replicas join it")
        )
    mutation = Mutation(
        "PATCH",
        object_path(service.key, "scale", path_version),
        scale_ops(obj, current, n),
        JSON_PATCH,
        summary=f"scale {service.key.name} to {n}",
    )
    return _plan(
        source,
        user,
        service,
        intent,
        mutations=(mutation,),
        before={"replicas": str(current)},
        after={"replicas": str(n)},
        warnings=tuple(warnings),
        risk=risk,
        precondition_version=_rv(obj),
        confirm_text=confirm,
        alternatives=alternatives,
        noop=current == n,
        context={"kind": "scale", "path": object_path(service.key, "", path_version), "replicas": n,
                 # The verify step ends early once the engine shows the replicas the preview said would
                 # stay Pending for GPUs (those already waiting, plus the new ones that fit nowhere).
                 "gpu_pending": (gpu_fit.stay_pending + pending) if gpu_fit and gpu_fit.stay_pending else 0},
    )


def _replica_needs(service: ModelService, obj: Any) -> ReplicaNeeds:
    """The pod template's own GPU requests, tolerations and node selection (a Rollout with a
    workloadRef has no template here: its translated requests stand in, with no node constraints)."""
    needs = tr.replica_needs(tr.dig(obj, "spec", "template").get("spec"))
    return needs if needs.requests else ReplicaNeeds(requests=service.gpu_requests)


def _gpu_pending_text(name: str, needs: ReplicaNeeds, fit: FitResult) -> str:
    """'2 of 2 new replicas will stay Pending: ... 0/5 nodes are available: ...' in the scheduler's words."""
    asked = " and ".join(f"{count} {resource}" for resource, count in needs.requests)
    text = f"{fit.stay_pending} of {fit.wanted} new replicas will stay Pending"
    if fit.fit:
        text += f" ({fit.fit} fit{'s' if fit.fit == 1 else ''}: {fit.where()})"
    text += f": each needs {asked} on one node; {fit.reason}"
    if fit.pending_first == 1:
        text += f" 1 pod of {name} already waits for GPUs and goes first."
    elif fit.pending_first:
        text += f" {fit.pending_first} pods of {name} already wait for GPUs and go first."
    return text


def scale_ops(obj: Any, previewed: int, replicas: int) -> list[dict[str, Any]]:
    """The `/scale` JSON patch: `kubectl scale --current-replicas` semantics (kubectl's
    pkg/scale/scale.go: "Expected replicas to be X, was Y"), checked by the server in the same write.
    Only the replica count the preview showed (and the object's uid: a Scale carries its parent's) is
    tested, so a rollout or an autoscaler writing status meanwhile is no conflict."""
    return [*field_tests(obj, UID_POINTER), {"op": "test", "path": "/spec/replicas", "value": previewed},
            {"op": "replace", "path": "/spec/replicas", "value": replicas}]


def plan_autoscaler_bounds(
    source: str, user: str, service: ModelService, intent: SetAutoscalerBounds, hpa: Any
) -> ActionPlan:
    if hpa is None:
        raise ActionRefused(f"{service.key.name} has no HorizontalPodAutoscaler")
    if intent.min_replicas < 1 or intent.max_replicas < intent.min_replicas:
        raise ActionRefused("autoscaler bounds need 1 <= min <= max")
    scaler = tr.autoscaler(hpa)
    ns, name = tr.obj_key(hpa)
    path = api_path("autoscaling", "v2", "horizontalpodautoscalers", ns, name)
    return _plan(
        source,
        user,
        service,
        intent,
        mutations=(
            Mutation(
                "PATCH",
                path,
                spec_tested(hpa, [{"op": "add", "path": "/spec/minReplicas", "value": intent.min_replicas},
                                  {"op": "add", "path": "/spec/maxReplicas", "value": intent.max_replicas}],
                            "/spec/minReplicas", "/spec/maxReplicas"),
                JSON_PATCH,
                summary=f"set HPA {name} bounds",
            ),
        ),
        before={"min": str(scaler.min_replicas), "max": str(scaler.max_replicas)},
        after={"min": str(intent.min_replicas), "max": str(intent.max_replicas)},
        precondition_version=_rv(hpa),
        noop=(scaler.min_replicas, scaler.max_replicas) == (intent.min_replicas, intent.max_replicas),
        context={"kind": "hpa", "path": path},
    )


def plan_kserve_weight(source: str, user: str, service: ModelService, intent: SetCanaryWeight, isvc: Any) -> ActionPlan:
    if not 0 <= intent.weight <= 100:
        raise ActionRefused("canary weight must be between 0 and 100")
    predictor = tr.dig(isvc, "spec", "predictor")
    current = predictor.get("canaryTrafficPercent")
    path = object_path(service.key)
    return _plan(
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
        precondition_version=_rv(isvc),
        risk=Risk.MEDIUM if intent.weight >= 50 else Risk.LOW,
        noop=current is not None and tr.as_int(current) == intent.weight,
        context={"kind": "kserve-weight", "path": path, "weight": intent.weight},
    )


CANARY_PERCENT = "/spec/predictor/canaryTrafficPercent"


def canary_percent_ops(isvc: Any, weight: int) -> list[dict[str, Any]]:
    """`{"spec":{"predictor":{"canaryTrafficPercent":w}}}` as a guarded JSON patch (`add` sets the
    field whether or not it is there)."""
    return spec_tested(isvc, [{"op": "add", "path": CANARY_PERCENT, "value": weight}], CANARY_PERCENT)


def plan_istio_weight(
    source: str, user: str, service: ModelService, intent: SetCanaryWeight, vs: Any, split: tr.IstioSplit
) -> ActionPlan:
    """Read-modify-write of the whole VirtualService, weights summing to 100. The PUT carries the
    resourceVersion read (a 409 if anything moved): no controller writes a VirtualService's status,
    so unlike elsewhere (`spec_tested`) that guard asks for no needless confirmation."""
    if not 0 <= intent.weight <= 100:
        raise ActionRefused("canary weight must be between 0 and 100")
    current = next((s for s in tr.istio_splits(vs) if s.http_index == split.http_index), None)
    if current is None:
        raise ActionRefused(f"VirtualService {split.virtual_service} no longer splits traffic")
    body = copy.deepcopy(vs)
    body.pop("status", None)
    routes = body["spec"]["http"][current.http_index]["route"]
    routes[current.canary_index]["weight"] = intent.weight
    routes[current.stable_index]["weight"] = 100 - intent.weight
    ns, name = tr.obj_key(vs)
    api_version = str(tr.as_dict(vs).get("apiVersion") or "networking.istio.io/v1")
    path = api_path("networking.istio.io", api_version.split("/")[-1], "virtualservices", ns, name)
    return _plan(
        source,
        user,
        service,
        intent,
        mutations=(
            Mutation(
                "PUT",
                path,
                body,
                "application/json",
                summary=f"{current.stable_host} {100 - intent.weight} / {current.canary_host} {intent.weight}",
            ),
        ),
        before={
            "stable weight": str(current.stable_weight),
            "canary weight": str(current.canary_weight),
        },
        after={"stable weight": str(100 - intent.weight), "canary weight": str(intent.weight)},
        precondition_version=_rv(vs),
        risk=Risk.MEDIUM if intent.weight >= 50 else Risk.LOW,
        noop=(current.stable_weight, current.canary_weight) == (100 - intent.weight, intent.weight),
        context={"kind": "istio-weight", "path": path, "http": current.http_index,
                 "stable": current.stable_index, "canary": current.canary_index, "weight": intent.weight},
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
        pointer = _pointer(section, name)
        if value is None:
            if _lookup(rollout, pointer) is not _MISSING:
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
        if spec_patch:
            mutations.append(Mutation("PATCH", main_path, argo_ops(rollout, spec_patch, *PROMOTE_PREVIEWED_STATUS),
                                      JSON_PATCH, summary="unpause"))
        if status_patch:
            mutations.append(Mutation("PATCH", status_path,
                                      argo_ops(rollout, status_patch, *PROMOTE_PREVIEWED_STATUS), JSON_PATCH,
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
    return _plan(
        source,
        user,
        service,
        intent,
        mutations=tuple(mutations),
        before=before,
        after=after,
        warnings=tuple(warnings),
        risk=risk,
        precondition_version=_rv(rollout),
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


def plan_selector_switch(
    source: str,
    user: str,
    service: ModelService,
    intent: SwitchBlueGreen,
    svc: Any,
    key: str,
    ready_pods: int,
    desired: int,
) -> ActionPlan:
    """The seed's `kubectl patch service ... -p '{"spec":{"selector":{"version":"v2.1"}}}'`, with its
    safety rule: the new full selector must match at least one ready pod."""
    ns, name = tr.obj_key(svc)
    selector = tr.str_map(tr.as_dict(tr.as_dict(svc).get("spec")).get("selector"))
    new_selector = {**selector, key: intent.colour}
    shown = _selector_text(new_selector)
    warnings = []
    if ready_pods == 0:
        warnings.append(
            unready_target_warning(
                f"no ready pod matches {shown}: Service {name} would have no endpoints and refuse connections",
                overridden=intent.override_unready,
            )
        )
    elif ready_pods < desired:
        warnings.append(
            PlanWarning(
                "selector-fewer-ready",
                f"only {ready_pods} of {desired} pods matching {shown} are ready: they take all of {name}'s traffic",
            )
        )
    path = api_path("", "v1", "services", ns, name)
    return _plan(
        source,
        user,
        service,
        intent,
        mutations=(Mutation("PATCH", path, selector_ops(svc, key, intent.colour), JSON_PATCH,
                            summary=f"{name} selector {key}={intent.colour}"),),
        before={"selector": _selector_text(selector), key: selector.get(key, ""), "ready pods": ""},
        after={"selector": shown, key: intent.colour, "ready pods": str(ready_pods)},
        warnings=tuple(warnings),
        risk=Risk.HIGH if ready_pods < desired else Risk.MEDIUM,
        precondition_version=_rv(svc),
        noop=selector.get(key) == intent.colour,
        context={"kind": "selector-switch", "path": path, "key": key, "colour": intent.colour,
                 "selector": new_selector, "desired": desired, "ready_at_plan": ready_pods},
    )


def selector_ops(svc: Any, key: str, colour: str) -> list[dict[str, Any]]:
    """`kubectl patch service -p '{"spec":{"selector":{key:colour}}}'` guarded by the whole selector
    the preview showed (a Service has no generation; its status, load-balancer ingress, is no
    conflict), then one key set."""
    return [*field_tests(svc, UID_POINTER, "/spec/selector"),
            {"op": "add", "path": _pointer("spec", "selector", key), "value": colour}]


def _selector_text(selector: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


def _strip_hash(template: Any, label: str) -> dict:
    template = copy.deepcopy(tr.as_dict(template))
    labels = tr.as_dict(tr.as_dict(template.get("metadata")).get("labels"))
    labels.pop(label, None)
    return template


def _as_go_marshals(template: dict) -> dict:
    """The template as kubectl sends it: decoded into Go's PodTemplateSpec and encoded again, so the
    struct-typed fields without omitempty appear as zero values (`creationTimestamp: null`,
    `resources: {}` on every container). Our patch body is then byte-for-byte kubectl's."""
    metadata = template.setdefault("metadata", {})
    if isinstance(metadata, dict):
        metadata.setdefault("creationTimestamp", None)
    spec = tr.as_dict(template.get("spec"))
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for container in tr.as_list(spec.get(field)):
            if isinstance(container, dict):
                container.setdefault("resources", {})
    return template


def _owned_by(obj: Any, owner_uid: str) -> bool:
    return any(
        tr.as_dict(ref).get("uid") == owner_uid and tr.as_dict(ref).get("controller")
        for ref in tr.as_list(tr.meta(obj).get("ownerReferences"))
    )


def choose_revision(replicasets: list[Any], annotation: str, wanted: str | None, owner: str) -> tuple[int, Any]:
    """kubectl's pick: the exact revision asked for, or the second-highest one."""
    by_revision: dict[int, Any] = {}
    for rs in replicasets:
        value = tr.as_int(tr.str_map(tr.meta(rs).get("annotations")).get(annotation), -1)
        if value >= 0:
            by_revision[value] = rs
    if not wanted or str(wanted) == "0":
        if len(by_revision) < 2:
            raise ActionRefused(f'no rollout history found for {owner}')
        revision = sorted(by_revision)[-2]
        return revision, by_revision[revision]
    revision = tr.as_int(wanted, -1)
    if revision not in by_revision:
        raise ActionRefused(f"unable to find specified revision {wanted} in history")
    return revision, by_revision[revision]


def plan_deployment_rollback(
    source: str, user: str, service: ModelService, intent: Rollback, deployment: Any, replicasets: list[Any]
) -> ActionPlan:
    """`kubectl rollout undo [--to-revision]`, client-side, as kubectl's DeploymentRollbacker does it."""
    deployment = tr.as_dict(deployment)
    spec = tr.as_dict(deployment.get("spec"))
    name = service.key.name
    if spec.get("paused"):
        raise ActionRefused(
            f'you cannot rollback a paused deployment; resume it first with "kubectl rollout resume '
            f'deployment/{name}" and try again'
        )
    uid = str(tr.meta(deployment).get("uid") or "")
    owned = [rs for rs in replicasets if not uid or _owned_by(rs, uid)]
    revision, rs = choose_revision(owned, tr.REVISION_ANNOTATION, intent.revision, f'deployment "{name}"')
    target = _as_go_marshals(_strip_hash(tr.as_dict(rs.get("spec")).get("template"), tr.POD_TEMPLATE_HASH))
    current = _strip_hash(spec.get("template"), tr.POD_TEMPLATE_HASH)
    cur_annotations = tr.str_map(tr.meta(deployment).get("annotations"))
    annotations = {k: cur_annotations[k] for k in DEPLOYMENT_ANNOTATIONS_KEPT if k in cur_annotations}
    for k, v in tr.str_map(tr.meta(rs).get("annotations")).items():
        if k not in DEPLOYMENT_ANNOTATIONS_KEPT:
            annotations[k] = v
    cur_image, cur_version = tr.template_version(spec.get("template"))
    image, version = tr.template_version(target)
    skipped = _templates_equal(target, current)
    path = object_path(service.key)
    return _plan(
        source,
        user,
        service,
        intent,
        mutations=(
            Mutation(
                "PATCH",
                path,
                spec_tested(deployment, [{"op": "replace", "path": "/spec/template", "value": target},
                                         *annotation_ops(cur_annotations, annotations)],
                            *_touched_annotations(cur_annotations, annotations)),
                JSON_PATCH,
                summary=f"roll back to revision {revision}",
            ),
        ),
        before={"revision": cur_annotations.get(tr.REVISION_ANNOTATION, ""), "image": cur_image,
                "version": cur_version},
        after={"revision": f"{revision} (becomes a new revision)", "image": image, "version": version},
        warnings=(PlanWarning("skipped-rollback",
                              f"skipped rollback (current template already matches revision {revision})"),)
        if skipped else (),
        risk=Risk.HIGH if service.production else Risk.MEDIUM,
        precondition_version=_rv(deployment),
        noop=skipped,
        context={"kind": "template", "path": path, "template": target, "hash_label": tr.POD_TEMPLATE_HASH,
                 "revision": revision},
    )


def _touched_annotations(current: Mapping[str, str], wanted: Mapping[str, str]) -> list[str]:
    """Pointers of the annotations the rollback replaces or removes: tested, so one changed since
    the preview (metadata moves no generation) is a conflict, not overwritten."""
    return [_pointer("metadata", "annotations", k) for k in sorted(current) if wanted.get(k) != current[k]]


def _templates_equal(a: Any, b: Any) -> bool:
    return _normalise(a) == _normalise(b)


def _normalise(value: Any) -> Any:
    """Compare templates as the API server would: nulls and empty maps/lists mean 'unset'."""
    if isinstance(value, dict):
        out = {k: _normalise(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


def plan_rollout_undo(
    source: str, user: str, service: ModelService, intent: Rollback, rollout: Any, replicasets: list[Any],
    version: str | None = None,
) -> ActionPlan:
    """`kubectl argo rollouts undo [--to-revision]`."""
    rollout = tr.as_dict(rollout)
    spec = tr.as_dict(rollout.get("spec"))
    if spec.get("workloadRef"):
        raise ActionRefused(f"{service.key.name} uses workloadRef: roll back its referenced workload instead")
    uid = str(tr.meta(rollout).get("uid") or "")
    owned = [rs for rs in replicasets if not uid or _owned_by(rs, uid)]
    revision, rs = choose_revision(owned, tr.ARGO_REVISION_ANNOTATION, intent.revision,
                                   f'rollout "{service.key.name}"')
    target = _as_go_marshals(_strip_hash(tr.as_dict(rs.get("spec")).get("template"), tr.ROLLOUTS_POD_TEMPLATE_HASH))
    current = _strip_hash(spec.get("template"), tr.ROLLOUTS_POD_TEMPLATE_HASH)
    skipped = _templates_equal(target, current)
    cur_image, cur_version = tr.template_version(spec.get("template"))
    image, new_version = tr.template_version(target)
    path = object_path(service.key, "", version)
    return _plan(
        source,
        user,
        service,
        intent,
        mutations=(Mutation("PATCH", path, spec_tested(rollout, [{"op": "replace", "path": "/spec/template",
                                                                  "value": target}]), JSON_PATCH,
                            summary=f"undo to revision {revision}"),),
        before={"revision": tr.str_map(tr.meta(rollout).get("annotations")).get(tr.ARGO_REVISION_ANNOTATION, ""),
                "image": cur_image, "version": cur_version},
        after={"revision": f"{revision} (becomes a new revision)", "image": image, "version": new_version},
        warnings=(PlanWarning("skipped-rollback",
                              f"skipped rollback (current template already matches revision {revision})"),)
        if skipped else (),
        risk=Risk.HIGH if service.production else Risk.MEDIUM,
        precondition_version=_rv(rollout),
        noop=skipped,
        context={"kind": "template", "path": path, "template": target,
                 "hash_label": tr.ROLLOUTS_POD_TEMPLATE_HASH, "revision": revision},
    )


def plan_kserve_rollback(source: str, user: str, service: ModelService, intent: Rollback, isvc: Any) -> ActionPlan:
    """KServe: pin traffic to the previous rolled-out revision with canaryTrafficPercent 0."""
    predictor_status = tr.dig(isvc, "status", "components", "predictor")
    previous = str(predictor_status.get("previousRolledoutRevision") or "")
    if not previous:
        raise ActionRefused(f"{service.key.name} has no previous rolled-out revision to go back to")
    if intent.revision and intent.revision != previous:
        raise ActionRefused(f"KServe can only go back to the previous revision ({previous})")
    predictor = tr.dig(isvc, "spec", "predictor")
    current = predictor.get("canaryTrafficPercent")
    path = object_path(service.key)
    latest = str(predictor_status.get("latestReadyRevision") or predictor_status.get("latestCreatedRevision") or "")
    return _plan(
        source,
        user,
        service,
        intent,
        mutations=(Mutation("PATCH", path, canary_percent_ops(isvc, 0), JSON_PATCH,
                            summary=f"all traffic to {previous}"),),
        before={"canary weight": "100 (no canary)" if current is None else str(current), "serving": latest},
        after={"canary weight": "0", "serving": previous},
        risk=Risk.MEDIUM,
        precondition_version=_rv(isvc),
        noop=current is not None and tr.as_int(current) == 0,
        context={"kind": "kserve-weight", "path": path, "weight": 0},
    )


# ---------------------------------------------------------------------------------------------
# Image update and restart (`kubectl set image`, `kubectl rollout restart`, their Argo equivalents)

SIDECARS = ("istio-proxy", "istio-init", "queue-proxy", "linkerd-proxy", "envoy")
"""Containers a mesh or Knative injects: never the one an operator means by "the image"."""
KSERVE_CONTAINER = "kserve-container"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
KSERVE_FRAMEWORKS = ("model", "sklearn", "xgboost", "tensorflow", "pytorch", "triton", "onnx", "pmml",
                     "lightgbm", "paddle", "huggingface")


def _pointer(*tokens: str | int) -> str:
    return "".join("/" + str(t).replace("~", "~0").replace("/", "~1") for t in tokens)


def image_slots(kind: ServiceKind, obj: Any) -> list[tuple[str, str, str]]:
    """(container, image, JSON pointer of its image field) for every image the operator may change,
    main container first. A KServe predictor that names no image (its serving runtime's is used)
    has none."""
    if kind is ServiceKind.INFERENCE_SERVICE:
        predictor = tr.dig(obj, "spec", "predictor")
        if predictor.get("containers"):
            base: tuple[str | int, ...] = ("spec", "predictor", "containers")
            containers = tr.as_list(predictor.get("containers"))
        else:
            framework = next((f for f in KSERVE_FRAMEWORKS if isinstance(predictor.get(f), dict)), "")
            image = str(tr.as_dict(predictor.get(framework)).get("image") or "")
            return [(framework, image, _pointer("spec", "predictor", framework, "image"))] if image else []
    else:
        base = ("spec", "template", "spec", "containers")
        containers = tr.as_list(tr.dig(obj, "spec", "template", "spec").get("containers"))
    slots = [(str(tr.as_dict(c).get("name") or ""), str(tr.as_dict(c).get("image") or ""), _pointer(*base, i, "image"))
             for i, c in enumerate(containers)]
    return sorted(slots, key=lambda slot: (slot[0] in SIDECARS, slot[0] != KSERVE_CONTAINER))


def _no_image_reason(name: str, obj: Any) -> str:
    predictor = tr.dig(obj, "spec", "predictor")
    framework = next((f for f in KSERVE_FRAMEWORKS if isinstance(predictor.get(f), dict)), "")
    if framework:
        return (f"{name}'s predictor ({framework}) names no image: KServe runs its serving runtime's image. "
                f"Roll out a new model by changing storageUri, or set the runtime's version, instead")
    return f"{name}'s predictor has no container image to update"


def _rollout_strategy_text(kind: ServiceKind, obj: Any, replicas: int) -> str:
    """How the new pods replace the old ones, in pods, as the controller resolves the percentages
    (kubectl/Kubernetes: maxSurge rounds up, maxUnavailable down; both 0 is read as maxUnavailable 1)."""
    strategy = tr.dig(obj, "spec", "strategy")
    if kind is ServiceKind.ROLLOUT:
        if isinstance(strategy.get("blueGreen"), dict):
            return "blue-green: a full preview ReplicaSet starts; traffic moves on promotion"
        canary = tr.as_dict(strategy.get("canary"))
        steps = tr.as_list(canary.get("steps"))
        first = next((tr.as_int(tr.as_dict(s).get("setWeight")) for s in steps if "setWeight" in tr.as_dict(s)), None)
        if first is not None:
            return f"canary: the new pods get {first}% first, then follow the rollout's {len(steps)} steps"
        return "canary without steps: the new pods replace the old at once"
    if str(strategy.get("type") or "RollingUpdate") == "Recreate":
        return f"Recreate: all {replicas} pods stop before the new ones start: nothing serves in between"
    rolling = tr.as_dict(strategy.get("rollingUpdate"))
    surge = _resolve_int_or_percent(rolling.get("maxSurge", "25%"), replicas, round_up=True)
    unavailable = _resolve_int_or_percent(rolling.get("maxUnavailable", "25%"), replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return (f"RollingUpdate: up to {surge} extra pod(s) at a time, at most {unavailable} of {replicas} "
            f"unavailable (at least {max(replicas - unavailable, 0)} keep serving)")


def _resolve_int_or_percent(value: Any, total: int, round_up: bool) -> int:
    text = str(value).strip()
    if text.endswith("%"):
        scaled = tr.as_int(text[:-1]) * total / 100
        return int(-(-scaled // 1)) if round_up else int(scaled // 1)
    return tr.as_int(text)


def _expected_template(obj: Any, hash_label: str, pointer: str, image: str) -> dict:
    """The pod template as it will read once the patch is in: what the "template" verify waits for."""
    template = _strip_hash(tr.dig(obj, "spec").get("template"), hash_label)
    index = int(pointer.rsplit("/", 2)[-2])
    tr.as_list(tr.dig(template, "spec").get("containers"))[index]["image"] = image
    return template


def plan_image_update(source: str, user: str, service: ModelService, intent: UpdateImage, obj: Any,
                      version: str | None = None) -> ActionPlan:
    """`kubectl set image` as a JSON patch replacing the named container's image (a Deployment's or
    Argo Rollout's template, a KServe predictor), guarded like every spec mutation (`spec_tested`):
    a spec change made since the preview is a conflict, a status write is not."""
    key = service.key
    image = intent.image.strip()
    if not image or any(c.isspace() for c in image):
        raise ActionRefused(f"{intent.image!r} is not an image reference")
    slots = image_slots(key.kind, obj)
    if not slots:
        raise ActionRefused(_no_image_reason(key.name, obj))
    wanted = intent.container or slots[0][0]
    slot = next((s for s in slots if s[0] == wanted), None)
    if slot is None:
        raise ActionRefused(f"{key.name} has no container {wanted!r} (containers: "
                            f"{', '.join(s[0] for s in slots)})")
    container, current, pointer = slot
    rv = _rv(obj)
    path = object_path(key, "", version)
    # kubectl's strategic merge by container name becomes a replace at the container's index,
    # guarded by that container's name (CRDs take no strategic merge anyway).
    named = [pointer.rsplit("/", 1)[0] + "/name"] if "/containers/" in pointer else []
    body = spec_tested(obj, [{"op": "replace", "path": pointer, "value": image}], *named, pointer)
    content_type = JSON_PATCH
    warnings = _image_update_warnings(service, obj, container, slots)
    if key.kind is ServiceKind.INFERENCE_SERVICE:
        context: dict[str, Any] = {"kind": "isvc-image", "path": path, "pointer": pointer, "image": image,
                                   "revision": str(tr.dig(obj, "status", "components", "predictor")
                                                   .get("latestReadyRevision") or "")}
    else:
        hash_label = tr.POD_TEMPLATE_HASH if key.kind is ServiceKind.DEPLOYMENT else tr.ROLLOUTS_POD_TEMPLATE_HASH
        context = {"kind": "template", "path": path, "hash_label": hash_label,
                   "template": _expected_template(obj, hash_label, pointer, image)}
    return _plan(
        source, user, service, intent,
        mutations=(Mutation("PATCH", path, body, content_type, summary=f"set image of {container} to {image}"),),
        before={"container": container, "image": current},
        after={"container": container, "image": image},
        warnings=warnings,
        risk=Risk.HIGH if service.production else Risk.MEDIUM,
        precondition_version=rv,
        noop=current == image,
        context=context,
    )


def _image_update_warnings(service: ModelService, obj: Any, container: str,
                           slots: list[tuple[str, str, str]]) -> tuple[PlanWarning, ...]:
    key = service.key
    warnings = []
    if key.kind is ServiceKind.INFERENCE_SERVICE:
        percent = tr.dig(obj, "spec", "predictor").get("canaryTrafficPercent")
        if percent is not None and tr.as_int(percent) < 100:
            warnings.append(PlanWarning("kserve-canary", f"a new predictor revision starts; with canaryTrafficPercent "
                                        f"{percent} it takes {percent}% of traffic, the previous rolled-out revision "
                                        f"the rest"))
        else:
            warnings.append(PlanWarning("kserve-revision", "a new predictor revision starts and takes all traffic "
                                        "once ready"))
    else:
        replicas = tr.as_int(tr.dig(obj, "spec").get("replicas"), 1)
        warnings.append(PlanWarning("rolling-update", _rollout_strategy_text(key.kind, obj, replicas)))
        labels = tr.str_map(tr.dig(obj, "spec", "template", "metadata").get("labels"))
        if labels.get("version"):
            warnings.append(PlanWarning("version-label", f"the pods' version label stays {labels['version']!r}: "
                                        "update it separately"))
    others = [s[0] for s in slots if s[0] != container and s[0] not in SIDECARS]
    if others:
        warnings.append(PlanWarning("other-containers", f"only {container} changes; {', '.join(others)} keep "
                                    "their images"))
    if service.progressing or (service.canary is not None and service.canary.source == "argo"
                               and service.canary.step is not None and service.canary.total_steps
                               and service.canary.step < service.canary.total_steps):
        warnings.append(PlanWarning("mid-rollout", f"a rollout of {key.name} is in progress: this template "
                                    "replaces the one being rolled out"))
    return tuple(warnings)


def plan_restart(source: str, user: str, service: ModelService, intent: Restart, obj: Any,
                 version: str | None = None, now: str | None = None) -> ActionPlan:
    """`kubectl rollout restart`: a strategic-merge patch of the pod template's restartedAt
    annotation (Deployment), or `kubectl argo rollouts restart`: a merge patch of spec.restartAt.
    Both carry the resourceVersion the preview was built from."""
    key = service.key
    if key.kind is ServiceKind.INFERENCE_SERVICE:
        raise ActionRefused(f"{key.name}: KServe predictor revisions are immutable; roll out a new revision "
                            "(update its model or image) instead of restarting")
    stamp = now or _now()
    spec = tr.dig(obj, "spec")
    replicas = tr.as_int(spec.get("replicas"), 1)
    path = object_path(key, "", version)
    if key.kind is ServiceKind.DEPLOYMENT:
        previous = tr.str_map(tr.dig(obj, "spec", "template", "metadata").get("annotations")).get(RESTARTED_AT, "")
        body = spec_tested(obj, [_set_template_annotation(obj, RESTARTED_AT, stamp)],
                           _pointer("spec", "template", "metadata", "annotations", RESTARTED_AT))
        summary = f"template annotation {RESTARTED_AT}={stamp}"
    else:
        if spec.get("workloadRef"):
            raise ActionRefused(f"{key.name} uses workloadRef: restart its referenced workload instead")
        previous = str(spec.get("restartAt") or "")
        body = spec_tested(obj, [{"op": "add", "path": "/spec/restartAt", "value": stamp}], "/spec/restartAt")
        summary = f"spec.restartAt={stamp}"
    warnings = [PlanWarning("restart-replaces-pods", f"every one of the {replicas} pods is replaced by a new one "
                            f"on the same template; {_restart_pace(key.kind, obj, replicas)}")]
    if replicas == 0:
        warnings.append(PlanWarning("no-replicas", f"{key.name} has 0 replicas: nothing runs to restart"))
    if service.progressing:
        warnings.append(PlanWarning("mid-rollout", f"a rollout of {key.name} is in progress: the restart joins it"))
    return _plan(
        source, user, service, intent,
        mutations=(Mutation("PATCH", path, body, JSON_PATCH, summary=summary),),
        before={"restarted at": previous or "never", "pods": f"{replicas} running"},
        after={"restarted at": stamp, "pods": f"{replicas} new"},
        warnings=tuple(warnings),
        risk=Risk.HIGH if service.production and _restart_has_downtime(key.kind, obj) else Risk.MEDIUM,
        precondition_version=_rv(obj),
        noop=replicas == 0,
        context={"kind": "restart", "path": path, "stamp": stamp, "replicas": replicas},
    )


def _set_template_annotation(obj: Any, key: str, value: str) -> dict[str, Any]:
    """The JSON-patch `add` that sets one pod-template annotation, as the strategic merge
    `{"spec":{"template":{"metadata":{"annotations":{key: value}}}}}` does: JSON patch cannot create
    missing parents, so the op adds at the deepest level that exists."""
    metadata = tr.dig(obj, "spec", "template").get("metadata")
    if not isinstance(metadata, dict):
        return {"op": "add", "path": "/spec/template/metadata", "value": {"annotations": {key: value}}}
    if not isinstance(metadata.get("annotations"), dict):
        return {"op": "add", "path": "/spec/template/metadata/annotations", "value": {key: value}}
    return {"op": "add", "path": _pointer("spec", "template", "metadata", "annotations", key), "value": value}


def _restart_pace(kind: ServiceKind, obj: Any, replicas: int) -> str:
    if kind is ServiceKind.ROLLOUT:
        canary = tr.dig(obj, "spec", "strategy", "canary")
        unavailable = _resolve_int_or_percent(canary.get("maxUnavailable", "25%"), replicas, round_up=False)
        return f"Argo deletes the old pods at most {max(unavailable, 1)} at a time"
    return _rollout_strategy_text(kind, obj, replicas)


def _restart_has_downtime(kind: ServiceKind, obj: Any) -> bool:
    return kind is ServiceKind.DEPLOYMENT and str(tr.dig(obj, "spec", "strategy").get("type") or "") == "Recreate"


def _rolled_out(status: Mapping[str, Any], desired: int) -> bool:
    """`kubectl rollout status`'s test: every replica updated, no old pod left (status.replicas
    counts old and new; readyReplicas alone would count an old pod still serving), all available."""
    updated = tr.as_int(status.get("updatedReplicas"))
    total = tr.as_int(status.get("replicas"))
    available = tr.as_int(status.get("availableReplicas", status.get("readyReplicas")))
    return updated >= desired and total <= updated and available >= updated


def _observed(obj: Any) -> bool:
    """The controller has seen the current spec (Argo writes observedGeneration as a string)."""
    generation = tr.as_int(tr.meta(obj).get("generation"), 0)
    observed = tr.as_int(tr.dig(obj, "status").get("observedGeneration"), 0)
    return not generation or observed >= generation


def _at_pointer(obj: Any, pointer: str) -> Any:
    value: Any = obj
    for token in pointer.strip("/").split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        value = tr.as_list(value)[int(token)] if isinstance(value, list) else tr.as_dict(value).get(token)
    return value


def _check_isvc_image(ctx: Mapping[str, Any], obj: dict) -> tuple[bool | None, str, dict[str, str]]:
    """Done when the predictor names our image and a new revision (not the one at preview time) is ready."""
    image = str(_at_pointer(obj, ctx["pointer"]) or "")
    predictor = tr.dig(obj, "status", "components", "predictor")
    revision = str(predictor.get("latestReadyRevision") or "")
    ready = any(tr.as_dict(c).get("type") == "Ready" and tr.as_dict(c).get("status") == "True"
                for c in tr.as_list(tr.dig(obj, "status").get("conditions")))
    after = {"image": image, "revision": revision}
    if image != ctx["image"]:
        return None, f"the predictor's image is now {image}: someone else changed it", after
    new_revision = bool(revision) and revision != ctx["revision"]
    return new_revision and ready, f"latest ready revision {revision or '?'}" + ("" if ready else ", not ready"), after


# ---------------------------------------------------------------------------------------------


def _object_of(path: str) -> str:
    """The object a request path acts on (the scale and status subresources are parts of it)."""
    for sub in ("/scale", "/status"):
        if path.endswith(sub):
            return path[: -len(sub)]
    return path


def _guards_text(moved: list[tuple[str, Any, Any]]) -> str:
    return "; ".join(f"test of {pointer} failed ({_short(was)} → {_short(now)})" for pointer, was, now in moved)


def _short(value: Any) -> str:
    text = "absent" if value is None else str(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _changed_text(moved: list[tuple[str, Any, Any]]) -> str:
    """What a conflict says when no previewed field differs between the two previews: the spec was
    changed (its generation moved), or the object was deleted and created again (its uid)."""
    pointers = {pointer for pointer, _, _ in moved}
    if UID_POINTER in pointers:
        return "the object was deleted and created again since your preview"
    if GENERATION_POINTER in pointers:
        was, now = next((w, n) for p, w, n in moved if p == GENERATION_POINTER)
        return (f"generation {was} → {now}: the spec was changed since your preview, in a field this "
                f"preview does not show")
    return ""


def _json_or_none(response: Any) -> Any:
    try:
        return response.json()
    except Exception:
        return None


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ActionPlanner:
    """Fetches current state for planning, applies once, verifies, records."""

    def __init__(self, backend: KubernetesBackend) -> None:
        self.backend = backend
        self._switches_previewed: dict[tuple[str, str], tr.SelectorSwitch] = {}

    @property
    def transport(self):
        return self.backend.transport

    def _get(self, path: str, query=()) -> Any:
        try:
            return self.transport.request("GET", path, query, timeout=(5.0, 15.0)).json()
        except ApiError as exc:
            raise self._error(exc, None) from exc

    def _error(self, exc: ApiError, key: ServiceKey | None) -> ActionError:
        ns = key.namespace if key else ""
        if exc.status == 403:
            return ActionForbidden(f"not allowed for {self.backend.user} in {ns or self.backend.name}")
        if exc.status == 409:
            return ActionConflict(exc.message or "the object was modified")
        if exc.status == 404:
            return ActionError(f"not found: {exc.message or exc.reason}")
        if exc.status == 0:
            return ActionError(f"cannot reach {self.backend.name}: {exc.message or exc.reason}")
        return ActionError(f"{exc.status} {exc.reason}: {exc.message}".strip())

    def _version(self, kind: ServiceKind) -> str | None:
        names = {ServiceKind.ROLLOUT: "rollouts", ServiceKind.INFERENCE_SERVICE: "inferenceservices"}
        return self.backend.optional_available.get(names.get(kind, ""))

    def _fetch(self, key: ServiceKey) -> Any:
        try:
            return self.transport.request("GET", object_path(key, "", self._version(key.kind)),
                                          timeout=(5.0, 15.0)).json()
        except ApiError as exc:
            raise self._error(exc, key) from exc

    def _hpa(self, key: ServiceKey) -> Any:
        with self.backend._lock:
            hkey = self.backend._hpa_by_target.get((key.namespace, key.kind.value, key.name))
        if hkey is None:
            return None
        try:
            return self.transport.request(
                "GET", api_path("autoscaling", "v2", "horizontalpodautoscalers", *hkey), timeout=(5.0, 15.0)
            ).json()
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise self._error(exc, key) from exc

    def _check_access(self, service: ModelService, intent: Intent) -> None:
        from mlops_tui.backends.kubernetes.watch import PERMISSIONS

        for perm in PERMISSIONS.get((service.key.kind, intent.kind), ()):
            if self.backend.can(service.key.namespace, *perm) is False:
                raise ActionForbidden(f"not allowed for {self.backend.user} in {service.key.namespace}")

    # -- plan ---------------------------------------------------------------------------------

    def plan(self, service: ModelService, intent: Intent) -> ActionPlan:
        key = service.key
        self._check_access(service, intent)
        src, user = self.backend.name, self.backend.user
        version = self._version(key.kind)
        if isinstance(intent, Scale):
            if key.kind is ServiceKind.INFERENCE_SERVICE:
                raise ActionRefused("an InferenceService scales through its autoscaler settings, not by hand")
            return plan_scale(src, user, service, intent, self._fetch(key), hpa=self._hpa(key),
                              gpu_nodes=self.backend.fit_nodes(), pending=self.backend.pending_for(key),
                              path_version=version)
        if isinstance(intent, SetAutoscalerBounds):
            return plan_autoscaler_bounds(src, user, service, intent, self._hpa(key))
        if isinstance(intent, SetCanaryWeight):
            if key.kind is ServiceKind.INFERENCE_SERVICE:
                return plan_kserve_weight(src, user, service, intent, self._fetch(key))
            if key.kind is ServiceKind.DEPLOYMENT:
                with self.backend._lock:
                    istio = self.backend._istio.get((key.namespace, key.name))
                if istio is None:
                    raise ActionRefused(f"{key.name} has no Istio VirtualService splitting its traffic")
                split = istio[1]
                vs_version = self.backend.optional_available.get("virtualservices", "v1")
                vs = self._get(api_path("networking.istio.io", vs_version, "virtualservices", key.namespace,
                                        split.virtual_service))
                return plan_istio_weight(src, user, service, intent, vs, split)
            raise ActionRefused("Argo Rollouts sets weights by its steps: promote, abort or retry instead")
        if isinstance(intent, (Promote, Abort, Retry)):
            if key.kind is not ServiceKind.ROLLOUT:
                raise ActionRefused(f"{intent.kind.value} is an Argo Rollouts action; {key.name} is a {key.kind.value}")
            return plan_argo(src, user, service, intent, self._fetch(key), version)
        if isinstance(intent, SwitchBlueGreen):
            if key.kind is ServiceKind.ROLLOUT:
                return plan_argo(src, user, service, intent, self._fetch(key), version)
            return self._plan_selector_switch(service, intent)
        if isinstance(intent, Rollback):
            if key.kind is ServiceKind.INFERENCE_SERVICE:
                return plan_kserve_rollback(src, user, service, intent, self._fetch(key))
            obj = self._fetch(key)
            if key.kind is ServiceKind.DEPLOYMENT:
                return plan_deployment_rollback(src, user, service, intent, obj, self._owned_replicasets(key, obj))
            return plan_rollout_undo(src, user, service, intent, obj, self._owned_replicasets(key, obj), version)
        if isinstance(intent, UpdateImage):
            return plan_image_update(src, user, service, intent, self._fetch(key), version)
        if isinstance(intent, Restart):
            return plan_restart(src, user, service, intent, self._fetch(key), version)
        raise ActionRefused(f"{key.name} does not support {intent.kind.value}")

    def _owned_replicasets(self, key: ServiceKey, obj: Any) -> list[Any]:
        selector = tr.dig(obj, "spec", "selector")
        labels = tr.str_map(selector.get("matchLabels"))
        query = [("labelSelector", ",".join(f"{k}={v}" for k, v in sorted(labels.items())))] if labels else []
        body = self._get(api_path("apps", "v1", "replicasets", key.namespace), query)
        return [rs for rs in tr.as_list(tr.as_dict(body).get("items")) if isinstance(rs, dict)]

    def _ready_pods(self, ns: str, selector: Mapping[str, str]) -> int:
        query = [("labelSelector", ",".join(f"{k}={v}" for k, v in sorted(selector.items())))]
        body = self._get(api_path("", "v1", "pods", ns), query)
        count = 0
        for pod in tr.as_list(tr.as_dict(body).get("items")):
            facts = tr.pod_facts(pod)
            if facts.ready and facts.phase == "Running" and not tr.meta(pod).get("deletionTimestamp") \
                    and tr.labels_match(selector, facts.labels):
                count += 1
        return count

    def _ready_endpoints(self, ns: str, service: str) -> int | None:
        try:
            body = self.transport.request(
                "GET", api_path("discovery.k8s.io", "v1", "endpointslices", ns),
                (("labelSelector", f"kubernetes.io/service-name={service}"),), timeout=(5.0, 10.0),
            ).json()
        except ApiError:
            return None
        return sum(
            1
            for item in tr.as_list(tr.as_dict(body).get("items"))
            for endpoint in tr.as_list(tr.as_dict(item).get("endpoints"))
            if tr.dig(endpoint, "conditions").get("ready") is not False
        )

    def _plan_selector_switch(self, service: ModelService, intent: SwitchBlueGreen) -> ActionPlan:
        key = service.key
        with self.backend._lock:
            switch = self.backend._bg.get((key.namespace, key.name))
        if switch is None:
            # A re-plan after a conflict: the Service may no longer select this Deployment (someone
            # edited its selector). Plan against the Service the operator previewed, read afresh.
            switch = self._switches_previewed.get((key.namespace, key.name))
        if switch is None:
            raise ActionRefused(f"no Service switches {key.name} between colours")
        colours = {c.name: c for c in switch.colours}
        if intent.colour not in colours:
            raise ActionRefused(f"{switch.service} has no {switch.key}={intent.colour}: "
                                f"known {', '.join(sorted(colours))}")
        self._switches_previewed[(key.namespace, key.name)] = switch
        svc = self._get(api_path("", "v1", "services", key.namespace, switch.service))
        selector = tr.str_map(tr.as_dict(tr.as_dict(svc).get("spec")).get("selector"))
        new_selector = {**selector, switch.key: intent.colour}
        ready = self._ready_pods(key.namespace, new_selector)
        return plan_selector_switch(self.backend.name, self.backend.user, service, intent, svc, switch.key,
                                    ready, colours[intent.colour].desired)

    # -- apply --------------------------------------------------------------------------------

    def apply(self, plan: ActionPlan) -> None:
        """Send each mutation once, guarded by what its preview was built from. A later call on the
        same object is guarded by the resourceVersion/generation the previous call produced (only our
        own write sits between them). Any other change of a guarded value is a conflict, reported with
        which calls landed; never retried here."""
        landed: list[str] = []
        responses: dict[str, Any] = {}  # object path -> the object as our last call on it left it
        for mutation in plan.mutations:
            obj = _object_of(mutation.path)
            if obj in responses and guards_of(mutation):
                mutation = rebased(mutation, responses[obj])
            try:
                response = self.transport.request(
                    mutation.method,
                    mutation.path,
                    tuple(mutation.params.items()),
                    body=mutation.body,
                    content_type=mutation.content_type,
                    timeout=(5.0, 15.0),
                )
            except ApiError as exc:
                raise self._apply_error(exc, plan, mutation, landed) from exc
            landed.append(mutation.summary or f"{mutation.method} {mutation.path}")
            answer = _json_or_none(response)
            if _rv(answer):
                responses[obj] = answer

    def _apply_error(self, exc: ApiError, plan: ActionPlan, mutation: Mutation, landed: list[str]) -> ActionError:
        partial = (f" (already applied: {'; '.join(landed)}; not applied: {mutation.summary or mutation.path})"
                   if landed else "")
        if exc.status == 422 and mutation.content_type == JSON_PATCH:
            # kube-apiserver answers a failed JSON-patch `test` with a bare 422 Invalid ("the server
            # rejected our request due to an error in our request"): a conflict only if a guarded value
            # really moved; any other 422 (a real validation error) is reported as it is.
            moved = self._moved(mutation)
            if moved:
                return ActionConflict(f"{exc.message or exc.reason}: {_guards_text(moved)}{partial}",
                                      changed=_changed_text(moved))
        error = self._error(exc, plan.target)
        return type(error)(f"{error}{partial}")

    def _moved(self, mutation: Mutation) -> list[tuple[str, Any, Any]]:
        """The guards of a mutation the object no longer satisfies, read again from the path the
        mutation was sent to (a Scale for `/scale`): empty when none moved or it cannot be read."""
        if not guards_of(mutation):
            return []
        try:
            current = self._read(mutation.path)
        except ApiError:
            return []
        return moved_guards(mutation, current)

    # -- verify -------------------------------------------------------------------------------

    def verify(self, plan: ActionPlan, timeout: float, progress: Callable[[str], None]) -> VerifyResult:
        deadline = time.monotonic() + timeout
        kind = plan.context.get("kind", "")
        last = ""
        after: dict[str, str] = {}
        while True:
            try:
                done, detail, after = self._check(plan, kind)
            except ApiError as exc:
                done, detail = False, f"cannot read back: {exc}"
            if detail != last:
                progress(detail)
                last = detail
            if done is None:  # will not converge: someone else decided otherwise
                return VerifyResult(False, detail, after)
            if done:
                return VerifyResult(True, detail, after)
            if time.monotonic() >= deadline:
                return VerifyResult(False, f"not converged after {timeout:.0f} s: {detail}", after)
            time.sleep(min(0.25, max(deadline - time.monotonic(), 0.01)))

    def _read(self, path: str) -> Any:
        return tr.as_dict(self.transport.request("GET", path, timeout=(5.0, 10.0)).json())

    def _check(self, plan: ActionPlan, kind: str) -> tuple[bool | None, str, dict[str, str]]:
        ctx = plan.context
        if kind == "scale":
            obj = self._read(ctx["path"])
            spec, status = tr.as_dict(obj.get("spec")), tr.as_dict(obj.get("status"))
            n = ctx["replicas"]
            replicas = tr.as_int(spec.get("replicas"), 1)
            ready = tr.as_int(status.get("readyReplicas"))
            total = tr.as_int(status.get("replicas"))
            after = {"replicas": str(replicas)}
            if replicas != n:
                return None, f"replicas were set back to {replicas} (by the autoscaler or someone else)", after
            detail = f"{ready}/{n} ready"
            if ready == n and total == n:
                return True, detail, after
            if ctx.get("gpu_pending"):
                stuck = self._stuck_for_gpus(obj, ready, n)
                if stuck:
                    return None, stuck, after
            return False, detail, after
        if kind == "hpa":
            obj = self._read(ctx["path"])
            scaler = tr.autoscaler(obj)
            after = {"min": str(scaler.min_replicas), "max": str(scaler.max_replicas)}
            return after == dict(plan.after), f"bounds {scaler.min_replicas}..{scaler.max_replicas}", after
        if kind == "kserve-weight":
            obj = self._read(ctx["path"])
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
        if kind == "istio-weight":
            obj = self._read(ctx["path"])
            routes = tr.as_list(tr.as_dict(tr.as_list(tr.dig(obj, "spec").get("http"))[ctx["http"]]).get("route"))
            stable = tr.as_int(tr.as_dict(routes[ctx["stable"]]).get("weight"))
            canary_weight = tr.as_int(tr.as_dict(routes[ctx["canary"]]).get("weight"))
            after = {"stable weight": str(stable), "canary weight": str(canary_weight)}
            done = canary_weight == ctx["weight"] and stable == 100 - ctx["weight"]
            return done, f"{stable}/{canary_weight}", after
        if kind.startswith("argo-"):
            obj = self._read(ctx["path"])
            status, spec = tr.as_dict(obj.get("status")), tr.as_dict(obj.get("spec"))
            canary = tr.argo_canary(obj)
            after = {
                "step": f"{canary.step}/{canary.total_steps}" if canary and canary.step is not None else "-",
                "paused": "yes" if (canary.paused if canary else bool(spec.get("paused"))) else "no",
                "aborted": "yes" if status.get("abort") else "no",
            }
            phase = str(status.get("phase") or "")
            detail = f"phase {phase or '?'}, step {after['step']}, paused {after['paused']}"
            if kind == "argo-abort":
                return bool(status.get("abort")), detail, after
            if kind == "argo-retry":
                return not status.get("abort"), detail, after
            if kind == "argo-promote-full":
                return bool(status.get("promoteFull")) or phase == "Healthy" or (
                    canary is not None and canary.step is not None and canary.step == canary.total_steps), detail, after
            # Promoted once the pause we saw is gone: the step moved on (a later step may pause again,
            # with a new pause condition) or nothing pauses the rollout any more.
            moved_on = canary is not None and canary.step is not None and ctx.get("step") is not None \
                and canary.step > ctx["step"]
            pauses = [tr.as_dict(c).get("startTime") for c in tr.as_list(status.get("pauseConditions"))]
            unpaused = not pauses or pauses != ctx.get("paused_since")
            return not spec.get("paused") and (moved_on or unpaused), detail, after
        if kind == "selector-switch":
            obj = self._read(ctx["path"])
            selector = tr.str_map(tr.as_dict(obj.get("spec")).get("selector"))
            ns, name = tr.obj_key(obj)
            ready = self._ready_pods(ns, selector)
            after = {"selector": _selector_text(selector), ctx["key"]: selector.get(ctx["key"], ""),
                     "ready pods": str(ready)}
            if selector.get(ctx["key"]) != ctx["colour"]:
                return False, f"selector still {ctx['key']}={selector.get(ctx['key'])}", after
            # Traffic follows the EndpointSlices, which lag the selector (engine-facts B6).
            endpoints = self._ready_endpoints(ns, name)
            wanted = max(1, min(ctx["desired"], ctx["ready_at_plan"]))
            if endpoints is None:  # EndpointSlices not readable: the ready pods are the best evidence
                return ready >= wanted, f"{ready} ready pods behind {name}", after
            return endpoints >= wanted, f"{endpoints} of {wanted} ready endpoints behind {name}", after
        if kind == "template":
            obj = self._read(ctx["path"])
            spec, status = tr.as_dict(obj.get("spec")), tr.as_dict(obj.get("status"))
            current = _strip_hash(spec.get("template"), ctx["hash_label"])
            image, version = tr.template_version(spec.get("template"))
            revision_key = tr.REVISION_ANNOTATION if ctx["hash_label"] == tr.POD_TEMPLATE_HASH \
                else tr.ARGO_REVISION_ANNOTATION
            after = {"revision": tr.str_map(tr.meta(obj).get("annotations")).get(revision_key, ""),
                     "image": image, "version": version}
            if not _templates_equal(current, ctx["template"]):
                return False, "template not yet replaced", after
            if ctx["hash_label"] == tr.ROLLOUTS_POD_TEMPLATE_HASH:
                # Argo takes the old template through the rollout's own strategy (its canary steps and
                # pauses): the undo is done once the controller has picked it up.
                canary = tr.argo_canary(obj)
                step = f", step {canary.step}/{canary.total_steps}" if canary and canary.step is not None else ""
                phase = str(status.get("phase") or "")
                return bool(phase), f"template replaced; rollout {phase or 'pending'}{step}", after
            desired = tr.as_int(spec.get("replicas"), 1)
            updated = tr.as_int(status.get("updatedReplicas"))
            ready = tr.as_int(status.get("readyReplicas"))
            if not _observed(obj):  # the status still describes the template before ours
                return False, "waiting for the controller to see the new template", after
            return _rolled_out(status, desired), f"{updated}/{desired} updated, {ready} ready", after
        if kind == "restart":
            return self._check_restart(ctx, self._read(ctx["path"]))
        if kind == "isvc-image":
            return _check_isvc_image(ctx, self._read(ctx["path"]))
        return True, "nothing to follow", dict(plan.after)

    @staticmethod
    def _check_restart(ctx: Mapping[str, Any], obj: dict) -> tuple[bool | None, str, dict[str, str]]:
        """Done when the stamp is ours and every pod runs the restarted template: as many updated
        and ready as desired, and no old pod left (status.replicas counts old and new)."""
        spec, status = tr.as_dict(obj.get("spec")), tr.as_dict(obj.get("status"))
        if "restartAt" in spec or obj.get("kind") == "Rollout":
            stamp = str(spec.get("restartAt") or "")
            done_at = str(status.get("restartedAt") or "")
        else:
            stamp = tr.str_map(tr.dig(obj, "spec", "template", "metadata").get("annotations")).get(RESTARTED_AT, "")
            done_at = stamp
        desired = tr.as_int(spec.get("replicas"), 1)
        updated = tr.as_int(status.get("updatedReplicas"))
        ready = tr.as_int(status.get("readyReplicas"))
        total = tr.as_int(status.get("replicas"))
        after = {"restarted at": stamp or "never", "pods": f"{updated} new, {ready} ready"}
        if stamp != ctx["stamp"]:
            return None, f"the restart stamp is now {stamp or 'gone'}: someone else changed it", after
        if not _observed(obj):
            return False, "waiting for the controller to see the restart", after
        replaced = _rolled_out(status, desired) and done_at == ctx["stamp"]
        return replaced, f"{updated}/{desired} pods replaced, {ready} ready, {max(total - updated, 0)} old left", after

    def _stuck_for_gpus(self, obj: Any, ready: int, n: int) -> str:
        """When the preview said replicas would stay Pending for GPUs: once every replica is either ready
        or refused by the scheduler, say so in the scheduler's words instead of waiting out the deadline
        ('' while the scheduler has not decided for every replica)."""
        selector = tr.str_map(tr.dig(obj, "spec", "selector").get("matchLabels"))
        if not selector:
            return ""
        ns = tr.obj_key(obj)[0]
        query = [("labelSelector", ",".join(f"{k}={v}" for k, v in sorted(selector.items())))]
        try:
            body = self.transport.request("GET", api_path("", "v1", "pods", ns), query, timeout=(5.0, 10.0)).json()
        except ApiError:
            return ""  # cannot tell yet: keep following until the deadline
        pods = [tr.pod_facts(p) for p in tr.as_list(tr.as_dict(body).get("items"))
                if isinstance(p, dict) and not tr.meta(p).get("deletionTimestamp")]
        refused = [p for p in pods if p.gpus and p.unschedulable_message]
        if not refused or ready + len(refused) < n:
            return ""
        return f"{len(refused)} replica{'s' if len(refused) != 1 else ''} Pending: {refused[0].unschedulable_message}"

    # -- record -------------------------------------------------------------------------------

    def record_action(self, outcome: Any, operator: str) -> None:
        plan: ActionPlan = outcome.plan
        key = plan.target
        if key is None:
            return
        group, version, _ = _GROUPS[key.kind]
        version = self._version(key.kind) or version
        now = _now()
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{key.name}.mlops-tui-", "namespace": key.namespace},
            "involvedObject": {
                "apiVersion": f"{group}/{version}" if group else version,
                "kind": key.kind.value,
                "name": key.name,
                "namespace": key.namespace,
            },
            "reason": EVENT_REASON,
            "message": f"{operator} (as {plan.user or self.backend.user}): {plan.description}: "
            f"{outcome.outcome.value}" + (f" ({outcome.detail})" if outcome.detail else ""),
            "type": "Normal" if outcome.ok else "Warning",
            "source": {"component": "mlops-tui", "host": socket.gethostname()},
            "reportingComponent": "mlops-tui",
            "reportingInstance": socket.gethostname(),
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        self.transport.request("POST", api_path("", "v1", "events", key.namespace), body=body, timeout=(5.0, 10.0))

    # -- image update picker ------------------------------------------------------------------

    def containers(self, key: ServiceKey) -> list[tuple[str, str]]:
        """(container, image) the image update may change, main container first; injected sidecars
        (Istio, Knative) are left out. Read from the API server now (the cache keeps no pod templates)."""
        slots = image_slots(key.kind, self._fetch(key))
        mine = [(name, image) for name, image, _ in slots if name not in SIDECARS]
        return mine or [(name, image) for name, image, _ in slots]

    # -- rollback picker ----------------------------------------------------------------------

    def revisions(self, key: ServiceKey) -> tuple[Revision, ...]:
        backend = self.backend
        with backend._lock:
            if key.kind is ServiceKind.INFERENCE_SERVICE:
                obj = backend.store.get("inferenceservices", {}).get((key.namespace, key.name))
                predictor = tr.dig(obj, "status", "components", "predictor")
                out = []
                latest = str(predictor.get("latestReadyRevision") or "")
                previous = str(predictor.get("previousRolledoutRevision") or "")
                if latest:
                    out.append(Revision(latest, version=latest, current=True))
                if previous and previous != latest:
                    out.append(Revision(previous, version=previous))
                return tuple(out)
            published = backend.published(key)
            current = published.revision if published is not None else ""
            return tr.revisions(current, backend.replicasets_of(key.namespace, key.kind.value, key.name))

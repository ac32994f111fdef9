"""Scale (the scale subresource, `kubectl scale --current-replicas`) and autoscaler bounds (a patch of
the HorizontalPodAutoscaler's minReplicas/maxReplicas), with the GPU placement preview.

kubectl: staging/src/k8s.io/kubectl/pkg/scale/scale.go; the autoscaler's resync and its stop at zero
replicas: kubernetes pkg/controller/podautoscaler/horizontal.go.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mlops_tui.backends.gpu_fit import FitNode, FitResult, ReplicaNeeds, fit_replicas
from mlops_tui.backends.kubernetes import translate as tr
from mlops_tui.backends.kubernetes.actions.shared import (
    JSON_PATCH,
    UID_POINTER,
    Check,
    ClusterApi,
    Verifier,
    field_tests,
    label_query,
    make_plan,
    object_path,
    resource_version,
    spec_tested,
)
from mlops_tui.backends.kubernetes.client import ApiError, api_path
from mlops_tui.backends.model import ModelService, ServiceKind
from mlops_tui.backends.plans import (
    ActionPlan,
    ActionRefused,
    Intent,
    Mutation,
    PlanWarning,
    Risk,
    Scale,
    SetAutoscalerBounds,
)

HPA_SYNC_SECONDS = 15


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
    return make_plan(
        source,
        user,
        service,
        intent,
        mutations=(mutation,),
        before={"replicas": str(current)},
        after={"replicas": str(n)},
        warnings=tuple(warnings),
        risk=risk,
        precondition_version=resource_version(obj),
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
    return make_plan(
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
        precondition_version=resource_version(hpa),
        noop=(scaler.min_replicas, scaler.max_replicas) == (intent.min_replicas, intent.max_replicas),
        context={"kind": "hpa", "path": path},
    )


def plan_scale_now(api: ClusterApi, service: ModelService, intent: Scale) -> ActionPlan:
    """Scale against the object, its autoscaler and the cluster's GPU room as they are now."""
    key = service.key
    if key.kind is ServiceKind.INFERENCE_SERVICE:
        raise ActionRefused("an InferenceService scales through its autoscaler settings, not by hand")
    cluster = api.cluster
    return plan_scale(cluster.name, cluster.user, service, intent, api.fetch(key), hpa=api.hpa(key),
                      gpu_nodes=cluster.fit_nodes(), pending=cluster.pending_for(key),
                      path_version=api.version(key.kind))


def plan_autoscaler_bounds_now(api: ClusterApi, service: ModelService, intent: SetAutoscalerBounds) -> ActionPlan:
    return plan_autoscaler_bounds(api.cluster.name, api.cluster.user, service, intent, api.hpa(service.key))


def verify_scale(api: ClusterApi, plan: ActionPlan) -> Check:
    """Done when the replicas asked for are all there and ready; never when something set the count back
    (`kubectl scale --timeout` gives up the same way when the target is reset)."""
    ctx = plan.context
    obj = api.read(ctx["path"])
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
        stuck = _stuck_for_gpus(api, obj, ready, n)
        if stuck:
            return None, stuck, after
    return False, detail, after


def _stuck_for_gpus(api: ClusterApi, obj: Any, ready: int, n: int) -> str:
    """When the preview said replicas would stay Pending for GPUs: once every replica is either ready
    or refused by the scheduler, say so in the scheduler's words instead of waiting out the deadline
    ('' while the scheduler has not decided for every replica)."""
    selector = tr.str_map(tr.dig(obj, "spec", "selector").get("matchLabels"))
    if not selector:
        return ""
    ns = tr.obj_key(obj)[0]
    try:
        body = api.read(api_path("", "v1", "pods", ns), label_query(selector))
    except ApiError:
        return ""  # cannot tell yet: keep following until the deadline
    pods = [tr.pod_facts(p) for p in tr.as_list(body.get("items"))
            if isinstance(p, dict) and not tr.meta(p).get("deletionTimestamp")]
    refused = [p for p in pods if p.gpus and p.unschedulable_message]
    if not refused or ready + len(refused) < n:
        return ""
    return f"{len(refused)} replica{'s' if len(refused) != 1 else ''} Pending: {refused[0].unschedulable_message}"


def verify_autoscaler_bounds(api: ClusterApi, plan: ActionPlan) -> Check:
    obj = api.read(plan.context["path"])
    scaler = tr.autoscaler(obj)
    after = {"min": str(scaler.min_replicas), "max": str(scaler.max_replicas)}
    return after == dict(plan.after), f"bounds {scaler.min_replicas}..{scaler.max_replicas}", after


VERIFIERS: Mapping[str, Verifier] = {"scale": verify_scale, "hpa": verify_autoscaler_bounds}

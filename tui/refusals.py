"""Why a key does nothing for the selected service, in one line the operator can act on.

The key line dims these keys; pressing one anyway answers with this line instead of silence. Reasons
come from typed fields of the snapshot (kind, platform, actions, denied, cluster health), never from
parsing engine text.
"""

from __future__ import annotations

from collections.abc import Mapping

from mlops_tui.backends.model import ActionKind, ClusterHealth, ModelService, Platform, ServiceKind

ACTION_KINDS: Mapping[str, tuple[ActionKind, ...]] = {
    "scale": (ActionKind.SCALE, ActionKind.SET_AUTOSCALER_BOUNDS),
    "canary": (ActionKind.CANARY_WEIGHT, ActionKind.PROMOTE, ActionKind.PROMOTE_FULL, ActionKind.ABORT,
               ActionKind.RETRY),
    "bluegreen": (ActionKind.BLUE_GREEN_SWITCH,),
    "rollback": (ActionKind.ROLLBACK,),
    "update_image": (ActionKind.UPDATE_IMAGE,),
    "restart": (ActionKind.RESTART,),
}
"""Which capabilities make each key meaningful for a service."""

LABELS = {"scale": "scale", "canary": "canary weight", "bluegreen": "blue-green switch", "rollback": "roll back",
          "update_image": "image update", "restart": "restart", "silence": "silence"}


def readonly_refusal(action: str) -> str:
    return f"read-only mode: {LABELS.get(action, action)} is disabled (--readonly or [actions] readonly)"


def refusal(action: str, service: ModelService, health: ClusterHealth | None) -> str | None:
    """The reason `action` cannot be done on `service`, or None when it can be asked for."""
    kinds = ACTION_KINDS[action]
    label = LABELS[action]
    if health is not None and health.readonly:
        return f"{service.key.cluster} is read-only (readonly_clusters): {label} is disabled there"
    supported = [k for k in kinds if k in service.actions]
    if not supported:
        return unsupported(action, service)
    if all(k in service.denied for k in supported):
        who = health.user if health is not None and health.user else "you"
        where = service.key.namespace or service.key.cluster
        return f"not allowed: {who} may not {label} {service.key.name} in {where} (refused by the cluster's RBAC)"
    return None


def unsupported(action: str, service: ModelService) -> str:
    """What the service lacks for `action`, named the way its engine names it."""
    name = service.key.name
    kind = service.key.kind
    swarm = service.platform is Platform.SWARM
    if action == "scale":
        if kind is ServiceKind.INFERENCE_SERVICE:
            return f"{name} is an InferenceService: it scales through its autoscaler (minReplicas/maxReplicas)"
        if swarm and not service.replicated:
            return f"{name} is a global service: it runs one task per eligible node and cannot be scaled"
        return f"{name} cannot be scaled"
    if action == "canary":
        return (f"{name} has no canary: no Argo canary, KServe canaryTrafficPercent, Istio weighted route "
                f"or Swarm canary pair splits its traffic")
    if action == "bluegreen":
        return (f"{name} is not in a blue-green pair: no Service selector, Argo blue-green strategy or "
                f"Swarm alias switches it between two colours")
    if action == "rollback":
        if swarm:
            return f"{name} has no previous spec: there is nothing to roll back to"
        return f"{name} has no earlier revision to roll back to"
    if action == "update_image":
        if kind is ServiceKind.INFERENCE_SERVICE:
            return (f"{name}'s predictor names no image (its serving runtime's image runs): roll out a new "
                    f"model by changing its storageUri instead")
        return f"{name} has no image to update"
    if action == "restart":
        if kind is ServiceKind.INFERENCE_SERVICE:
            return f"{name}: KServe predictor revisions are immutable; roll out a new revision instead"
        return f"{name} cannot be restarted"
    return f"{name} does not support {LABELS.get(action, action)}"

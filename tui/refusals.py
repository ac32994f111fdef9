"""Why a key does nothing for the selected service, in one line the operator can act on.

The key line dims these keys; pressing one anyway answers with this line instead of silence. Reasons
come from typed fields of the snapshot (kind, platform, actions, denied, cluster health), never from
parsing engine text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops_tui.backends.vocabulary import ActionKind, Platform, ServiceKind
from mlops_tui.tui.commands import Command

if TYPE_CHECKING:
    from mlops_tui.backends.model import ClusterHealth, ModelService


def readonly_refusal(command: Command) -> str:
    return f"read-only mode: {command.words} is disabled (--readonly or [actions] readonly)"


def refusal(command: Command, service: ModelService, health: ClusterHealth | None) -> str | None:
    """The reason `command` cannot be done on `service`, or None when it can be asked for."""
    label = command.words
    if health is not None and health.readonly:
        return f"{service.key.cluster} is read-only (readonly_clusters): {label} is disabled there"
    supported = [kind for kind in needed_kinds(command) if kind in service.actions]
    if not supported:
        return unsupported(command, service)
    if all(kind in service.denied for kind in supported):
        who = health.user if health is not None and health.user else "you"
        where = service.key.namespace or service.key.cluster
        return f"not allowed: {who} may not {label} {service.key.name} in {where} (refused by the cluster's RBAC)"
    return None


def needed_kinds(command: Command) -> tuple[ActionKind, ...]:
    """The capabilities of which a service needs one for `command` (the table names them by value)."""
    return tuple(ActionKind(value) for value in command.needs)


def unsupported(command: Command, service: ModelService) -> str:
    """What the service lacks for `command`, named the way its engine names it."""
    action = command.id
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
    return f"{name} does not support {command.words}"

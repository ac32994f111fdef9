"""`ActionPlanner`: the one door of the action mechanisms. It picks the mechanism for an intent and a
kind of service, applies a plan once, follows it with the verifier its plan names, and records an
Event on the object so teammates see who did what.

Each mechanism module holds its planner and its verifiers; a plan names its verifier by the `kind` in
its context, looked up in `VERIFIERS` (the union of the modules' own tables).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping
from typing import Any

from mlops_tui.backends.kubernetes.access import permissions_for
from mlops_tui.backends.kubernetes.actions import argo, blue_green, image, istio, kserve, rollback, scale, template
from mlops_tui.backends.kubernetes.actions.shared import (
    GROUPS,
    Check,
    Cluster,
    ClusterApi,
    Verifier,
    apply_plan,
    follow,
    now_stamp,
)
from mlops_tui.backends.kubernetes.client import api_path
from mlops_tui.backends.model import ModelService, Revision, ServiceKey, ServiceKind
from mlops_tui.backends.plans import (
    Abort,
    ActionForbidden,
    ActionOutcome,
    ActionPlan,
    ActionRefused,
    Intent,
    Promote,
    Restart,
    Retry,
    Rollback,
    Scale,
    SetAutoscalerBounds,
    SetCanaryWeight,
    SwitchBlueGreen,
    UpdateImage,
    VerifyResult,
)
from mlops_tui.backends.timeline import ACTION_ID_ANNOTATION

EVENT_REASON = "MlopsTuiAction"


def _verifiers(*tables: Mapping[str, Verifier]) -> dict[str, Verifier]:
    merged: dict[str, Verifier] = {}
    for table in tables:
        for kind, verifier in table.items():
            if kind in merged:
                raise ValueError(f"two mechanisms verify {kind!r}")
            merged[kind] = verifier
    return merged


VERIFIERS: Mapping[str, Verifier] = _verifiers(
    scale.VERIFIERS, kserve.VERIFIERS, istio.VERIFIERS, argo.VERIFIERS, blue_green.VERIFIERS,
    template.VERIFIERS, image.VERIFIERS,
)
"""Plan context `kind` -> the check that follows it."""


def _nothing_to_follow(api: ClusterApi, plan: ActionPlan) -> Check:
    return True, "nothing to follow", dict(plan.after)


class ActionPlanner:
    """Fetches current state for planning, applies once, verifies, records."""

    def __init__(self, cluster: Cluster) -> None:
        self.api = ClusterApi(cluster)
        self._switches = blue_green.SelectorSwitches()

    @property
    def cluster(self) -> Cluster:
        return self.api.cluster

    # -- plan ---------------------------------------------------------------------------------

    def plan(self, service: ModelService, intent: Intent) -> ActionPlan:
        self._check_access(service, intent)
        return self._mechanism(service, intent)(self.api, service, intent)

    def _check_access(self, service: ModelService, intent: Intent) -> None:
        for perm in permissions_for(service.key.kind, intent.kind):
            if self.cluster.can(service.key.namespace, *perm) is False:
                raise ActionForbidden(f"not allowed for {self.cluster.user} in {service.key.namespace}")

    def _mechanism(self, service: ModelService, intent: Intent) -> Callable[[ClusterApi, ModelService, Any],
                                                                           ActionPlan]:
        """Which module plans this intent for this kind of service."""
        kind = service.key.kind
        if isinstance(intent, Scale):
            return scale.plan_scale_now
        if isinstance(intent, SetAutoscalerBounds):
            return scale.plan_autoscaler_bounds_now
        if isinstance(intent, SetCanaryWeight):
            if kind is ServiceKind.INFERENCE_SERVICE:
                return kserve.plan_kserve_weight_now
            if kind is ServiceKind.DEPLOYMENT:
                return istio.plan_istio_weight_now
            raise ActionRefused("Argo Rollouts sets weights by its steps: promote, abort or retry instead")
        if isinstance(intent, (Promote, Abort, Retry)):
            return argo.plan_argo_now
        if isinstance(intent, SwitchBlueGreen):
            return argo.plan_argo_now if kind is ServiceKind.ROLLOUT else self._switches.plan
        if isinstance(intent, Rollback):
            return rollback.plan_rollback_now
        if isinstance(intent, UpdateImage):
            return image.plan_image_update_now
        if isinstance(intent, Restart):
            return image.plan_restart_now
        raise ActionRefused(f"{service.key.name} does not support {intent.kind.value}")

    # -- apply, verify --------------------------------------------------------------------------

    def apply(self, plan: ActionPlan) -> None:
        apply_plan(self.api, plan)

    def verify(self, plan: ActionPlan, timeout: float, progress: Callable[[str], None]) -> VerifyResult:
        check = VERIFIERS.get(plan.context.get("kind", ""), _nothing_to_follow)
        return follow(self.api, plan, check, timeout, progress)

    # -- record -------------------------------------------------------------------------------

    def record_action(self, outcome: ActionOutcome, operator: str) -> None:
        """An Event on the object (`kubectl describe` and `kubectl events` show it)."""
        plan = outcome.plan
        key = plan.target
        if key is None:
            return
        group, version, _ = GROUPS[key.kind]
        version = self.api.version(key.kind) or version
        now = now_stamp()
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{key.name}.mlops-tui-", "namespace": key.namespace,
                         "annotations": {ACTION_ID_ANNOTATION: plan.id}},
            "involvedObject": {
                "apiVersion": f"{group}/{version}" if group else version,
                "kind": key.kind.value,
                "name": key.name,
                "namespace": key.namespace,
            },
            "reason": EVENT_REASON,
            "message": f"{operator} (as {plan.user or self.cluster.user}): {plan.description}: "
            f"{outcome.outcome.value}" + (f" ({outcome.detail})" if outcome.detail else ""),
            "type": "Normal" if outcome.ok else "Warning",
            "source": {"component": "mlops-tui", "host": socket.gethostname()},
            "reportingComponent": "mlops-tui",
            "reportingInstance": socket.gethostname(),
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        self.api.transport.request("POST", api_path("", "v1", "events", key.namespace), body=body,
                                   timeout=(5.0, 10.0))

    # -- pickers --------------------------------------------------------------------------------

    def containers(self, key: ServiceKey) -> list[tuple[str, str]]:
        return image.containers(self.api, key)

    def revisions(self, key: ServiceKey) -> tuple[Revision, ...]:
        return rollback.revisions(self.cluster, key)

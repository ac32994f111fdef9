"""Istio canary weight: the weights of a VirtualService's stable and canary routes, written as a pair
summing to 100 by one read-modify-write PUT carrying the resourceVersion read, as Argo Rollouts' Istio
traffic router does (argo-rollouts: rollout/trafficrouting/istio/istio.go).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from mlops_tui.backends.kubernetes import translate as tr
from mlops_tui.backends.kubernetes.actions.shared import (
    Check,
    ClusterApi,
    Verifier,
    make_plan,
    resource_version,
)
from mlops_tui.backends.kubernetes.client import api_path
from mlops_tui.backends.model import ModelService
from mlops_tui.backends.plans import ActionPlan, ActionRefused, Mutation, Risk, SetCanaryWeight


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
    return make_plan(
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
        precondition_version=resource_version(vs),
        risk=Risk.MEDIUM if intent.weight >= 50 else Risk.LOW,
        noop=(current.stable_weight, current.canary_weight) == (100 - intent.weight, intent.weight),
        context={"kind": "istio-weight", "path": path, "http": current.http_index,
                 "stable": current.stable_index, "canary": current.canary_index, "weight": intent.weight},
    )


def plan_istio_weight_now(api: ClusterApi, service: ModelService, intent: SetCanaryWeight) -> ActionPlan:
    """Against the VirtualService that splits this Deployment's traffic, read now."""
    key = service.key
    route = api.cache.istio_route_of(key.namespace, key.name)
    if route is None:
        raise ActionRefused(f"{key.name} has no Istio VirtualService splitting its traffic")
    split = route[1]
    vs_version = api.cluster.optional_available.get("virtualservices", "v1")
    vs = api.get(api_path("networking.istio.io", vs_version, "virtualservices", key.namespace, split.virtual_service))
    return plan_istio_weight(api.cluster.name, api.cluster.user, service, intent, vs, split)


def verify_istio_weight(api: ClusterApi, plan: ActionPlan) -> Check:
    ctx = plan.context
    obj = api.read(ctx["path"])
    routes = tr.as_list(tr.as_dict(tr.as_list(tr.dig(obj, "spec").get("http"))[ctx["http"]]).get("route"))
    stable = tr.as_int(tr.as_dict(routes[ctx["stable"]]).get("weight"))
    canary_weight = tr.as_int(tr.as_dict(routes[ctx["canary"]]).get("weight"))
    after = {"stable weight": str(stable), "canary weight": str(canary_weight)}
    done = canary_weight == ctx["weight"] and stable == 100 - ctx["weight"]
    return done, f"{stable}/{canary_weight}", after


VERIFIERS: Mapping[str, Verifier] = {"istio-weight": verify_istio_weight}

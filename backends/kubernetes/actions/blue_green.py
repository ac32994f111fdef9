"""Blue-green by a Service's selector: `kubectl patch service -p '{"spec":{"selector":{key: colour}}}'`
with its safety rule (a ready pod must match the new selector, or the Service has no endpoints and
kube-proxy rejects connections: kubernetes pkg/proxy/iptables/proxier.go), verified on the
EndpointSlices the selector produces (kubernetes pkg/controller/endpointslice), which lag it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlops_tui.backends.kubernetes import translate as tr
from mlops_tui.backends.kubernetes.actions.shared import (
    JSON_PATCH,
    UID_POINTER,
    Check,
    ClusterApi,
    Verifier,
    field_tests,
    json_pointer,
    label_query,
    make_plan,
    resource_version,
)
from mlops_tui.backends.kubernetes.client import ApiError, api_path
from mlops_tui.backends.model import ModelService
from mlops_tui.backends.plans import (
    ActionPlan,
    ActionRefused,
    Mutation,
    PlanWarning,
    Risk,
    SwitchBlueGreen,
    unready_target_warning,
)


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
    return make_plan(
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
        precondition_version=resource_version(svc),
        noop=selector.get(key) == intent.colour,
        context={"kind": "selector-switch", "path": path, "key": key, "colour": intent.colour,
                 "selector": new_selector, "desired": desired, "ready_at_plan": ready_pods},
    )


def selector_ops(svc: Any, key: str, colour: str) -> list[dict[str, Any]]:
    """`kubectl patch service -p '{"spec":{"selector":{key:colour}}}'` guarded by the whole selector
    the preview showed (a Service has no generation; its status, load-balancer ingress, is no
    conflict), then one key set."""
    return [*field_tests(svc, UID_POINTER, "/spec/selector"),
            {"op": "add", "path": json_pointer("spec", "selector", key), "value": colour}]


def _selector_text(selector: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


class SelectorSwitches:
    """Plans a selector switch from the cache's blue-green join, remembering the switch each
    Deployment was previewed with (one per planner)."""

    def __init__(self) -> None:
        self._previewed: dict[tuple[str, str], tr.SelectorSwitch] = {}

    def plan(self, api: ClusterApi, service: ModelService, intent: SwitchBlueGreen) -> ActionPlan:
        key = service.key
        switch = api.cache.selector_switch_of(key.namespace, key.name)
        if switch is None:
            # A re-plan after a conflict: the Service may no longer select this Deployment (someone
            # edited its selector). Plan against the Service the operator previewed, read afresh.
            switch = self._previewed.get((key.namespace, key.name))
        if switch is None:
            raise ActionRefused(f"no Service switches {key.name} between colours")
        colours = {c.name: c for c in switch.colours}
        if intent.colour not in colours:
            raise ActionRefused(f"{switch.service} has no {switch.key}={intent.colour}: "
                                f"known {', '.join(sorted(colours))}")
        self._previewed[(key.namespace, key.name)] = switch
        svc = api.get(api_path("", "v1", "services", key.namespace, switch.service))
        selector = tr.str_map(tr.as_dict(tr.as_dict(svc).get("spec")).get("selector"))
        new_selector = {**selector, switch.key: intent.colour}
        ready = ready_pods(api, key.namespace, new_selector)
        return plan_selector_switch(api.cluster.name, api.cluster.user, service, intent, svc, switch.key,
                                    ready, colours[intent.colour].desired)


def ready_pods(api: ClusterApi, ns: str, selector: Mapping[str, str]) -> int:
    """Running, ready, not terminating pods the full selector matches, read now."""
    body = api.get(api_path("", "v1", "pods", ns), label_query(selector))
    count = 0
    for pod in tr.as_list(tr.as_dict(body).get("items")):
        facts = tr.pod_facts(pod)
        if facts.ready and facts.phase == "Running" and not tr.meta(pod).get("deletionTimestamp") \
                and tr.labels_match(selector, facts.labels):
            count += 1
    return count


def _ready_endpoints(api: ClusterApi, ns: str, service: str) -> int | None:
    """Ready endpoints in the Service's EndpointSlices; None when they cannot be read."""
    try:
        body = api.read(api_path("discovery.k8s.io", "v1", "endpointslices", ns),
                        (("labelSelector", f"kubernetes.io/service-name={service}"),))
    except ApiError:
        return None
    return sum(
        1
        for item in tr.as_list(body.get("items"))
        for endpoint in tr.as_list(tr.as_dict(item).get("endpoints"))
        if tr.dig(endpoint, "conditions").get("ready") is not False
    )


def verify_selector_switch(api: ClusterApi, plan: ActionPlan) -> Check:
    """Done when the selector holds the colour and enough ready endpoints stand behind the Service."""
    ctx = plan.context
    obj = api.read(ctx["path"])
    selector = tr.str_map(tr.as_dict(obj.get("spec")).get("selector"))
    ns, name = tr.obj_key(obj)
    ready = ready_pods(api, ns, selector)
    after = {"selector": _selector_text(selector), ctx["key"]: selector.get(ctx["key"], ""),
             "ready pods": str(ready)}
    if selector.get(ctx["key"]) != ctx["colour"]:
        return False, f"selector still {ctx['key']}={selector.get(ctx['key'])}", after
    # Traffic follows the EndpointSlices, which the endpointslice controller updates after the selector.
    endpoints = _ready_endpoints(api, ns, name)
    wanted = max(1, min(ctx["desired"], ctx["ready_at_plan"]))
    if endpoints is None:  # EndpointSlices not readable: the ready pods are the best evidence
        return ready >= wanted, f"{ready} ready pods behind {name}", after
    return endpoints >= wanted, f"{endpoints} of {wanted} ready endpoints behind {name}", after


VERIFIERS: Mapping[str, Verifier] = {"selector-switch": verify_selector_switch}

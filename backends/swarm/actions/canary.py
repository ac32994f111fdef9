"""Set a canary weight on a stable/canary pair of services: their replica counts, total kept (Swarm's
VIP balances by task count), each update with its own version index, the growing side first."""

from __future__ import annotations

import copy

from mlops_tui.backends.model import ModelService
from mlops_tui.backends.plans import ActionPlan, ActionRefused, PlanWarning, Risk, SetCanaryWeight
from mlops_tui.backends.swarm import translate as tr
from mlops_tui.backends.swarm.actions.common import Check, SwarmContext, mid_rollout, seen, update_mutation


def pair_for_canary(ctx: SwarmContext, service: ModelService) -> tuple[dict, dict]:
    """(stable, canary) raw services, whichever of the two the operator selected."""
    raw = ctx.read(service.key.name)
    facts = tr.service_facts(raw)
    stable_name = facts.labels.get(tr.CANARY_LABEL)
    if stable_name:
        return ctx.read(stable_name), raw
    for other in ctx.all_services():
        if (other.get("Spec", {}).get("Labels") or {}).get(tr.CANARY_LABEL) == facts.name:
            return raw, ctx.read(other["Spec"]["Name"])
    raise ActionRefused(f"{facts.name} has no canary: label a service {tr.CANARY_LABEL}={facts.name}")


def plan(ctx: SwarmContext, service: ModelService, intent: SetCanaryWeight) -> ActionPlan:
    if not 0 <= intent.weight <= 100:
        raise ActionRefused("a canary weight is a percentage from 0 to 100")
    stable, canary = pair_for_canary(ctx, service)
    s, c = tr.service_facts(stable), tr.service_facts(canary)
    if not (s.replicated and c.replicated):
        raise ActionRefused("a canary split needs two replicated services")
    total = s.replicas + c.replicas
    if total == 0:
        raise ActionRefused(f"{s.name} and {c.name} have no replicas: scale one of them first")
    new_s, new_c, reached = tr.split_for_weight(intent.weight, total)
    current = round(100 * c.replicas / total)
    before = {"weight": f"{current}%", "stable": f"{s.name} ×{s.replicas}", "canary": f"{c.name} ×{c.replicas}"}
    after = {"weight": f"{reached}%", "stable": f"{s.name} ×{new_s}", "canary": f"{c.name} ×{new_c}"}
    warnings = mid_rollout(s) + mid_rollout(c)
    if reached != intent.weight:
        reachable = ", ".join(f"{w}%" for w in tr.reachable_weights(total))
        warnings.append(PlanWarning("weight-approximated",
                                    f"Swarm balances by task count: with {total} tasks in all, {intent.weight}% "
                                    f"becomes {reached}% ({new_c} of {total}); reachable: {reachable}"))
    mutations = []
    for raw, facts, n in ((canary, c, new_c), (stable, s, new_s)):
        if n != facts.replicas:
            spec = copy.deepcopy(raw["Spec"])
            spec["Mode"] = {"Replicated": {"Replicas": n}}
            mutations.append(update_mutation(raw, spec, f"set replicas of {facts.name} to {n}"))
    # The side that grows goes first, so capacity never dips below the total.
    mutations.sort(key=lambda m: 0 if m.body["Mode"]["Replicated"]["Replicas"] > (
        c.replicas if m.body["Name"] == c.name else s.replicas) else 1)
    if new_s == 0 and ctx.production(s):
        warnings.append(PlanWarning("production-scale-to-zero",
                                    f"{s.name} is production and would have no tasks: all traffic to the canary"))
    own = canary if service.key.name == c.name else stable
    plan = ctx.build_plan(service, intent, own, tuple(mutations), before, after if mutations else before,
                      warnings=warnings, risk=Risk.MEDIUM if mutations else Risk.LOW,
                      confirm_text=s.name if new_s == 0 and ctx.production(s) else "",
                      context={"expect": "canary", "stable": s.name, "canary": c.name,
                               "seen": {stable["ID"]: seen(stable), canary["ID"]: seen(canary)},
                               "stable_replicas": new_s, "canary_replicas": new_c,
                               "versions": {s.name: s.version_index, c.name: c.version_index}})
    return plan


def check(ctx: SwarmContext, plan: ActionPlan) -> Check:
    """Converged when both services hold the planned counts and every task runs on its current spec."""
    _s_raw, s, s_run, s_cur = ctx.service_state(plan.context["stable"])
    _c_raw, c, c_run, c_cur = ctx.service_state(plan.context["canary"])
    total = s.replicas + c.replicas
    weight = round(100 * c.replicas / total) if total else 0
    after = {"weight": f"{weight}%", "stable": f"{s.name} ×{s.replicas}", "canary": f"{c.name} ×{c.replicas}"}
    ok = (s.replicas, c.replicas) == (plan.context["stable_replicas"], plan.context["canary_replicas"])
    ok = ok and s_run == s_cur == s.replicas and c_run == c_cur == c.replicas
    detail = f"{s.name} {s_run}/{s.replicas} running, {c.name} {c_run}/{c.replicas} running: weight {weight}%"
    return ok, detail, after, False

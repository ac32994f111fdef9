"""Scale a replicated service: `Mode.Replicated.Replicas` (global services are refused). Replicas that
reserve GPUs (generic resources) are placed as swarmkit's scheduler would, so the preview says which
stay Pending and why, in Swarm's words."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from mlops_tui.backends.gpu_fit import FitNode, FitResult, ReplicaNeeds, fit_replicas
from mlops_tui.backends.model import ModelService
from mlops_tui.backends.plans import ActionPlan, ActionRefused, PlanWarning, Risk, Scale
from mlops_tui.backends.swarm import translate as tr
from mlops_tui.backends.swarm.actions.common import (
    Check,
    SwarmContext,
    mid_rollout,
    plural,
    progress,
    update_mutation,
)


def plan(ctx: SwarmContext, service: ModelService, intent: Scale) -> ActionPlan:
    raw = ctx.read(service.key.name)
    facts = tr.service_facts(raw)
    if not facts.replicated:
        raise ActionRefused(f"{facts.name} is a global service: it runs one task per eligible node and "
                            "cannot be scaled (change its placement constraints or node availability instead)")
    if intent.replicas < 0:
        raise ActionRefused("replicas cannot be negative")
    before, after = {"replicas": str(facts.replicas)}, {"replicas": str(intent.replicas)}
    if intent.replicas == facts.replicas:
        return ctx.build_plan(service, intent, raw, (), before, before)
    warnings = mid_rollout(facts)
    new = intent.replicas - facts.replicas
    gpu_pending = 0
    if facts.gpu_requests and new > 0:
        fit, why = gpu_fit(ctx, facts, new)
        if fit.stay_pending:
            gpu_pending = fit.stay_pending + fit.pending_first
            asked = " and ".join(f"{count} {kind}" for kind, count in facts.gpu_requests)
            placed = f" ({fit.fit} fit{'s' if fit.fit == 1 else ''}: {fit.where()})" if fit.fit else ""
            waiting = (f"; {plural(fit.pending_first, 'task')} of {facts.name} already "
                       f"wait{'s' if fit.pending_first == 1 else ''} for GPUs and go"
                       f"{'es' if fit.pending_first == 1 else ''} first." if fit.pending_first else "")
            warnings.append(PlanWarning(
                "gpu-pending",
                f"{fit.stay_pending} of {new} new replicas will stay Pending{placed}: each reserves {asked} "
                f"on one node; {why}{waiting}"))
    confirm = ""
    risk = Risk.MEDIUM if intent.replicas < facts.replicas else Risk.LOW
    if intent.replicas == 0 and ctx.production(facts):
        confirm = facts.name
        risk = Risk.HIGH
        warnings.append(PlanWarning(
            "production-scale-to-zero",
            f"{facts.name} is production: scaling to 0 stops serving; type its name to confirm"))
    spec = copy.deepcopy(raw["Spec"])
    spec["Mode"] = {"Replicated": {"Replicas": intent.replicas}}
    mutation = update_mutation(raw, spec, f"set replicas of {facts.name} to {intent.replicas}")
    return ctx.build_plan(service, intent, raw, (mutation,), before, after, warnings=warnings, risk=risk,
                      confirm_text=confirm,
                      context={"expect": "tasks", "replicas": intent.replicas, "gpu_pending": gpu_pending})


def gpu_fit(ctx: SwarmContext, facts: tr.ServiceFacts, new: int) -> tuple[FitResult, str]:
    """Place the new tasks, each on ONE node with enough free units of each generic-resource kind it
    reserves, on nodes its placement constraints allow; its tasks already Pending go first. Returns
    the fit and, when some stay Pending, Swarm's own words for why."""
    nodes = ctx.client.nodes()
    tasks = ctx.client.tasks()
    candidates = tr.fit_nodes(ctx.source, nodes, tasks, facts.constraints)
    needs = ReplicaNeeds(requests=facts.gpu_requests, node_selector=((tr.PLACEMENT_LABEL, "eligible"),))
    fit = fit_replicas(needs, new, candidates, already_pending=tr.pending_tasks(facts, tasks))
    return fit, (_swarm_words(needs, candidates, fit) if fit.stay_pending else "")


def check(ctx: SwarmContext, plan: ActionPlan) -> Check:
    """Converged: the new replica count landed and every replica runs on the current spec; stuck: the
    preview said some would wait for GPUs and the scheduler has refused them."""
    p = progress(ctx, plan)
    after = {"replicas": str(p.facts.replicas)}
    ok = p.landed and p.facts.replicas == plan.context.get("replicas") and p.running == p.current == p.desired
    if not ok and p.landed and plan.context.get("gpu_pending"):
        refused = stuck_for_gpus(ctx, p.raw, p.running, p.desired)
        if refused:
            return False, refused, after, True
    return ok, p.detail(plan.context["service"]), after, False


def stuck_for_gpus(ctx: SwarmContext, raw: Mapping[str, Any], running: int, desired: int) -> str:
    """When the preview said tasks would stay Pending for GPUs: once every task is running or refused
    by the scheduler ('no suitable node'), say so in Swarm's words ('' while it is still deciding)."""
    tasks = [t for t in ctx.client.tasks([raw["ID"]]) if t.get("ServiceID") == raw["ID"]]
    refused = tr.refused_by_scheduler(tasks)
    if not refused or running + len(refused) < desired:
        return ""
    return f"{len(refused)} replica{'s' if len(refused) != 1 else ''} Pending: {refused[0]}"


def _swarm_words(needs: ReplicaNeeds, nodes: list[FitNode], fit: FitResult) -> str:
    """Why the next task fits nowhere, as swarmkit's scheduler pipeline explains it: each node is judged
    by its filters in order (ready and active, then resources, then placement constraints) and counted
    under the first that refuses it: 'no suitable node (insufficient resources on 2 nodes; scheduling
    constraints not satisfied on 3 nodes)'."""
    unavailable = short = unconstrained = 0
    for node in nodes:
        free = fit.remaining.get(node.name, {})
        if not node.ready or not node.schedulable:
            unavailable += 1
        elif any(free.get(kind, 0) < count for kind, count in needs.requests):
            short += 1
        elif not needs.selects(node.labels):
            unconstrained += 1
    parts = []
    if unavailable:
        parts.append(f"{plural(unavailable, 'node')} not available for new tasks")
    if short:
        parts.append(f"insufficient resources on {plural(short, 'node')}")
    if unconstrained:
        parts.append(f"scheduling constraints not satisfied on {plural(unconstrained, 'node')}")
    return f"no suitable node ({'; '.join(parts or ['no nodes available'])})"

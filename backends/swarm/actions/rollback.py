"""Roll a service back: `?rollback=previous`, server-side, as docker CLI `cli/command/service/rollback.go`
sends it. Swarm swaps Spec and PreviousSpec, so a second rollback toggles back; the Engine API reference
says the supplied spec is ignored, and it is sent as the CLI does. Swarm keeps one spec to go back to."""

from __future__ import annotations

from mlops_tui.backends.model import ModelService
from mlops_tui.backends.plans import ActionPlan, ActionRefused, PlanWarning, Risk, Rollback
from mlops_tui.backends.swarm import translate as tr
from mlops_tui.backends.swarm.actions.common import (
    Check,
    SwarmContext,
    mid_rollout,
    progress,
    update_config_text,
    update_mutation,
)


def plan(ctx: SwarmContext, service: ModelService, intent: Rollback) -> ActionPlan:
    raw = ctx.read(service.key.name)
    facts = tr.service_facts(raw)
    if intent.revision not in (None, "", "previous"):
        raise ActionRefused(f"Swarm keeps only the previous spec: {facts.name} can roll back to 'previous' only, "
                            f"not to revision {intent.revision}")
    previous = raw.get("PreviousSpec")
    if not previous:
        raise ActionRefused(f"{facts.name} does not have a previous spec: there is nothing to roll back to")
    prev = tr.service_facts({"Spec": previous, "ID": raw["ID"], "Version": raw["Version"]})
    before = {"image": facts.image, "version": facts.version,
              "replicas": str(facts.replicas) if facts.replicated else "global"}
    after = {"image": prev.image, "version": prev.version,
             "replicas": str(prev.replicas) if prev.replicated else "global"}
    warnings = mid_rollout(facts)
    warnings.append(PlanWarning("rollback-config", f"server-side rollback with {facts.name}'s rollback config: "
                                f"{update_config_text(raw['Spec'], 'RollbackConfig')}; a second rollback returns "
                                "to the current spec"))
    mutation = update_mutation(raw, raw["Spec"], f"roll {facts.name} back to its previous spec", rollback=True)
    return ctx.build_plan(service, intent, raw, (mutation,), before, after, warnings=warnings, risk=Risk.MEDIUM,
                      context={"expect": "rollback", "image": prev.image,
                               "replicas": prev.replicas if prev.replicated else None})


def check(ctx: SwarmContext, plan: ActionPlan) -> Check:
    """Converged on the previous spec's image with every task running on it; stuck when the engine
    paused the rollback (its RollbackConfig's failure action)."""
    p = progress(ctx, plan)
    facts = p.facts
    after = {"image": facts.image, "version": facts.version,
             "replicas": str(facts.replicas) if facts.replicated else "global"}
    ok = p.landed and facts.image == plan.context.get("image") and p.settled()
    return ok, p.detail(plan.context["service"]), after, p.state == "rollback_paused"

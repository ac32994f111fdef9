"""Update a service's image (`TaskTemplate.ContainerSpec.Image`) or restart it (`docker service update
--force`: `TaskTemplate.ForceUpdate` + 1). Swarm rolls either out with the service's UpdateConfig."""

from __future__ import annotations

import copy

from mlops_tui.backends.model import ModelService
from mlops_tui.backends.plans import ActionPlan, ActionRefused, PlanWarning, Restart, Risk, UpdateImage
from mlops_tui.backends.swarm import translate as tr
from mlops_tui.backends.swarm.actions.common import (
    STUCK_UPDATE,
    Check,
    SwarmContext,
    mid_rollout,
    plural,
    progress,
    update_config_text,
    update_mutation,
)


def plan_update_image(ctx: SwarmContext, service: ModelService, intent: UpdateImage) -> ActionPlan:
    image = intent.image.strip()
    if not image or any(c.isspace() for c in image):
        raise ActionRefused(f"{intent.image!r} is not an image reference")
    raw = ctx.read(service.key.name)
    facts = tr.service_facts(raw)
    before = {"image": facts.image, "version": facts.version}
    after = {"image": image, "version": tr.image_version(image, facts.labels)}
    if image == facts.image:
        return ctx.build_plan(service, intent, raw, (), before, before)
    spec = copy.deepcopy(raw["Spec"])
    spec["TaskTemplate"]["ContainerSpec"]["Image"] = image
    warnings = mid_rollout(facts)
    warnings.append(PlanWarning("rolling-update", f"rolling update with {facts.name}'s update config: "
                                f"{update_config_text(raw['Spec'])}"))
    if facts.labels.get(tr.VERSION_LABEL):
        warnings.append(PlanWarning("version-label", f"the service's version label stays "
                                    f"{facts.labels[tr.VERSION_LABEL]!r}: update it separately"))
    mutation = update_mutation(raw, spec, f"set image of {facts.name} to {image}")
    return ctx.build_plan(service, intent, raw, (mutation,), before, after, warnings=warnings, risk=Risk.MEDIUM,
                      context={"expect": "tasks", "image": image})


def check_image(ctx: SwarmContext, plan: ActionPlan) -> Check:
    p = progress(ctx, plan)
    after = {"image": p.facts.image, "version": p.facts.version}
    ok = p.landed and p.facts.image == plan.context["image"] and p.settled()
    return ok, p.detail(plan.context["service"]), after, p.landed and p.state in STUCK_UPDATE


def plan_restart(ctx: SwarmContext, service: ModelService, intent: Restart) -> ActionPlan:
    """`docker service update --force`: TaskTemplate.ForceUpdate + 1 on the spec read now, sent
    with that spec's version index. Swarm replaces every task through the service's UpdateConfig."""
    raw = ctx.read(service.key.name)
    facts = tr.service_facts(raw)
    tasks = [t for t in ctx.client.tasks([raw["ID"]]) if t.get("ServiceID") == raw["ID"]]
    running = [str(t.get("ID")) for t in tasks if tr.is_running(t)]
    spec = copy.deepcopy(raw["Spec"])
    spec["TaskTemplate"]["ForceUpdate"] = facts.force_update + 1
    before = {"force update": str(facts.force_update), "tasks": f"{len(running)} running"}
    after = {"force update": str(facts.force_update + 1), "tasks": f"{len(running)} new"}
    warnings = mid_rollout(facts)
    warnings.append(PlanWarning("restart-replaces-tasks",
                                f"every one of the {plural(len(running), 'task')} is replaced with "
                                f"{facts.name}'s update config: {update_config_text(raw['Spec'])}"))
    mutation = update_mutation(raw, spec, f"force update of {facts.name} "
                               f"(ForceUpdate {facts.force_update} → {facts.force_update + 1})")
    return ctx.build_plan(service, intent, raw, (mutation,), before, after, warnings=warnings,
                      risk=Risk.HIGH if ctx.production(facts) and len(running) <= 1 else Risk.MEDIUM,
                      context={"expect": "restart", "force_update": facts.force_update + 1,
                               "old_tasks": running})


def check_restart(ctx: SwarmContext, plan: ActionPlan) -> Check:
    """Converged when none of the tasks running at plan time runs any more and the new ones all do."""
    p = progress(ctx, plan)
    old = set(plan.context["old_tasks"])
    left = sum(1 for t in ctx.running_tasks(p.facts.id) if str(t.get("ID")) in old)
    after = {"force update": str(p.facts.force_update), "tasks": f"{p.current} new, {left} old running"}
    ok = p.landed and p.facts.force_update == plan.context["force_update"] and left == 0 and p.settled()
    return ok, p.detail(plan.context["service"]), after, p.landed and p.state in STUCK_UPDATE

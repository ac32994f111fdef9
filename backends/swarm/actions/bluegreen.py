"""Switch a blue-green pair: the network alias `<name>` moved to the target colour's
`TaskTemplate.Networks` entry on the pair's shared network (added on the target first, then removed from
the old colour). Both services' tasks are replaced: Swarm has no other way to change an alias."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from mlops_tui.backends.model import ModelService
from mlops_tui.backends.plans import (
    ActionPlan,
    ActionRefused,
    PlanWarning,
    Risk,
    SwitchBlueGreen,
    unready_target_warning,
)
from mlops_tui.backends.swarm import translate as tr
from mlops_tui.backends.swarm.actions.common import Check, SwarmContext, seen, update_mutation


def plan(ctx: SwarmContext, service: ModelService, intent: SwitchBlueGreen) -> ActionPlan:
    raw = ctx.read(service.key.name)
    facts = tr.service_facts(raw)
    alias = facts.labels.get(tr.BLUEGREEN_LABEL)
    if not alias:
        raise ActionRefused(f"{facts.name} is not in a blue-green pair (label {tr.BLUEGREEN_LABEL}=<name>)")
    members = [s for s in ctx.all_services() if (s["Spec"].get("Labels") or {}).get(tr.BLUEGREEN_LABEL) == alias]
    by_colour = {(s["Spec"].get("Labels") or {}).get(tr.COLOUR_LABEL, ""): s for s in members}
    target = by_colour.get(intent.colour)
    if target is None:
        known = ", ".join(sorted(c for c in by_colour if c)) or "none"
        raise ActionRefused(f"no {intent.colour!r} colour in blue-green pair {alias} (colours: {known})")
    holders = [s for s in members if any(alias in a for _, a in tr.spec_networks(s["Spec"]))]
    active = holders[0] if holders else None
    active_colour = (active["Spec"].get("Labels") or {}).get(tr.COLOUR_LABEL, "") if active else ""
    t_facts = tr.service_facts(target)
    before = {"active": active_colour or "none", "alias holder": active["Spec"]["Name"] if active else "none"}
    after = {"active": intent.colour, "alias holder": t_facts.name}
    if active is target and len(holders) == 1:
        return ctx.build_plan(service, intent, raw, (), before, before)
    shared = shared_network(alias, target, holders, members)
    tasks = [t for t in ctx.client.tasks([target["ID"]]) if t.get("ServiceID") == target["ID"]]
    running = sum(1 for t in tasks if tr.is_running(t))
    warnings = []
    desired = t_facts.replicas if t_facts.replicated else len({t.get("NodeID") for t in tasks})
    if desired == 0 or running < desired:
        warnings.append(unready_target_warning(
            f"{intent.colour} ({t_facts.name}) has {running} of {desired} tasks running: switching would send "
            f"{alias} traffic to tasks that are not running", overridden=intent.override_unready))
    warnings.append(PlanWarning("tasks-restart",
                                f"moving the alias {alias} replaces the tasks of {t_facts.name}"
                                + "".join(f" and {h['Spec']['Name']}" for h in holders)
                                + " (Swarm cannot change a network alias in place), with their update configs"))
    mutations = [update_mutation(target, with_alias(target["Spec"], shared, alias, True),
                                 f"add alias {alias} to {t_facts.name} on network {shared[:12]}")]
    for holder in holders:
        if holder is not target:
            mutations.append(update_mutation(holder, with_alias(holder["Spec"], None, alias, False),
                                             f"remove alias {alias} from {holder['Spec']['Name']}"))
    return ctx.build_plan(service, intent, raw, tuple(mutations), before, after, warnings=warnings, risk=Risk.HIGH,
                      context={"expect": "bluegreen", "alias": alias, "target": t_facts.name,
                               "seen": {m["ID"]: seen(m) for m in [target, *holders]},
                               "others": [h["Spec"]["Name"] for h in holders if h is not target],
                               "network": shared})


def shared_network(alias: str, target: Mapping[str, Any], holders: list[dict], members: list[dict]) -> str:
    target_nets = [n for n, _ in tr.spec_networks(target["Spec"])]
    for holder in holders:
        for net, aliases in tr.spec_networks(holder["Spec"]):
            if alias in aliases and net in target_nets:
                return net
    others = [m for m in members if m is not target]
    for net in target_nets:
        if all(net in [n for n, _ in tr.spec_networks(o["Spec"])] for o in others):
            return net
    if target_nets:
        return target_nets[0]
    raise ActionRefused(f"{target['Spec']['Name']} is on no network: the alias {alias} has nowhere to go")


def check(ctx: SwarmContext, plan: ActionPlan) -> Check:
    """Converged when the target holds the alias, no other colour does, and every replaced task runs."""
    target = plan.context["target"]
    alias = plan.context["alias"]
    _t_raw, t, t_run, t_cur = ctx.service_state(target)
    others = [ctx.service_state(o) for o in plan.context["others"]]
    holds = any(alias in a for _, a in t.networks)
    released = all(not any(alias in a for _, a in o[1].networks) for o in others)
    settled = all(o[2] == o[3] for o in others) and t_run == t_cur == t.replicas
    colour = t.labels.get(tr.COLOUR_LABEL, "")
    after = {"active": colour if holds and released else "both" if holds else "unchanged",
             "alias holder": target if holds and released else "unchanged"}
    detail = (f"alias {alias} on {target}: {'yes' if holds else 'no'}; released by the others: "
              f"{'yes' if released else 'no'}; {target} {t_cur}/{t.replicas} tasks restarted and running")
    return holds and released and settled, detail, after, False


def with_alias(spec: Mapping[str, Any], network: str | None, alias: str, add: bool) -> dict:
    """A copy of `spec` with `alias` added on `network` (add) or removed from every network."""
    new = copy.deepcopy(dict(spec))
    template = new.setdefault("TaskTemplate", {})
    key_holder = template if template.get("Networks") or not new.get("Networks") else new
    networks = key_holder.setdefault("Networks", [])
    if add:
        for entry in networks:
            if entry.get("Target") == network:
                aliases = entry.setdefault("Aliases", [])
                if alias not in aliases:
                    aliases.append(alias)
                break
        else:
            networks.append({"Target": network, "Aliases": [alias]})
    else:
        for entry in networks:
            if alias in (entry.get("Aliases") or []):
                entry["Aliases"] = [a for a in entry["Aliases"] if a != alias]
                if not entry["Aliases"]:
                    entry.pop("Aliases")
    return new

"""Operator intents -> the exact Engine API calls on a Swarm, as `ActionPlan`s.

Every mutation is `POST /services/{id}/update?version=<Version.Index>` with the service's full current
spec and only the asked field changed, as the docker CLI sends it (docker-py's low-level
`APIClient.update_service` defaults to `fetch_current_spec=False` and would reset unspecified fields:
docker-py 7.x `docker/api/service.py`). The version index makes Swarm refuse a spec that changed since
the plan ("update out of sequence", swarmkit `manager/state/store` `ErrSequenceConflict`), which becomes
`ActionConflict`. Calls as in the Docker Engine API reference (v1.41+), `POST /services/{id}/update`.

- scale: `Mode.Replicated.Replicas` (global services are refused);
- update image: `TaskTemplate.ContainerSpec.Image`; Swarm rolls it out with the service's UpdateConfig;
- rollback: `?rollback=previous` (server-side, as docker CLI `cli/command/service/rollback.go` sends it:
  Spec and PreviousSpec swap, so a second rollback toggles back; the Engine API reference says the
  supplied spec is ignored, and it is sent as the CLI does);
- canary weight: the stable and canary services' replica counts, total kept (Swarm's VIP balances by
  task count), each update with its own version index, the growing side first;
- blue-green: the network alias `<name>` moved to the target colour's `TaskTemplate.Networks` entry on the
  pair's shared network (added on the target first, then removed from the old colour). Both services'
  tasks are replaced: Swarm has no other way to change an alias.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping
from typing import Any

from mlops_tui.backends.gpu_fit import FitNode, FitResult, ReplicaNeeds, fit_replicas
from mlops_tui.backends.model import ModelService
from mlops_tui.backends.plans import (
    ActionConflict,
    ActionError,
    ActionForbidden,
    ActionPlan,
    ActionRefused,
    Intent,
    Mutation,
    PlanWarning,
    Restart,
    Risk,
    Rollback,
    Scale,
    SetCanaryWeight,
    SwitchBlueGreen,
    UpdateImage,
    VerifyResult,
    unready_target_warning,
)
from mlops_tui.backends.swarm import translate as tr
from mlops_tui.backends.swarm.client import EngineClient, EngineError

POLL_SECONDS = 0.5
ACTIVE_UPDATE = ("updating", "rollback_started")
STUCK_UPDATE = ("paused", "rollback_paused")


def update_mutation(service: Mapping[str, Any], spec: Mapping[str, Any], summary: str,
                    rollback: bool = False) -> Mutation:
    params = {"version": str(service["Version"]["Index"])}
    if rollback:
        params["rollback"] = "previous"
    return Mutation(method="POST", path=f"/services/{service['ID']}/update", body=spec, params=params,
                    summary=summary)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _update_config_text(spec: Mapping[str, Any], key: str = "UpdateConfig") -> str:
    cfg = spec.get(key) or {}
    monitor = cfg.get("Monitor")
    return (f"parallelism {cfg.get('Parallelism', 1)}, delay {int(cfg.get('Delay') or 0) / 1e9:g}s, "
            f"order {cfg.get('Order', 'stop-first')}, on failure {cfg.get('FailureAction', 'pause')}, "
            f"monitor {int(monitor) / 1e9:g}s" if monitor else
            f"parallelism {cfg.get('Parallelism', 1)}, delay {int(cfg.get('Delay') or 0) / 1e9:g}s, "
            f"order {cfg.get('Order', 'stop-first')}, on failure {cfg.get('FailureAction', 'pause')}, "
            "monitor 5s (engine default)")


def seen(raw: Mapping[str, Any]) -> dict[str, Any]:
    """What a plan saw of a service, to tell the operator what changed on a conflict (no env, no secrets)."""
    facts = tr.service_facts(raw)
    return {"version": facts.version_index, "image": facts.image,
            "replicas": facts.replicas if facts.replicated else "global", "update": facts.update_state or "-",
            "labels": dict(facts.labels), "networks": [[n, list(a)] for n, a in facts.networks]}


def conflict_error(name: str, planned: Mapping[str, Any] | None, current: Mapping[str, Any] | None) -> ActionConflict:
    """'update out of sequence' -> what changed between the plan's read and now."""
    message = f"{name} changed since the plan (update out of sequence)"
    if current is None or planned is None:
        return ActionConflict(message, changed="the service could not be re-read")
    now = seen(current)
    changes = [f"version {planned['version']} → {now['version']}"]
    for label in ("image", "replicas", "update", "labels", "networks"):
        if planned.get(label) != now[label]:
            changes.append(f"{label} {planned.get(label)} → {now[label]}")
    return ActionConflict(message, changed="; ".join(changes))


class SwarmActions:
    """Plans, applies and verifies actions on one Swarm, reading it and writing to it through `client`
    (never through the live cache: a plan is made on what the engine holds now)."""

    def __init__(self, client: EngineClient, source: str, operator: Callable[[], str] = lambda: "") -> None:
        self.client = client
        self.source = source
        """The Swarm's name in the Fleet (plans and refusals name it)."""
        self._operator = operator

    # -- reading -------------------------------------------------------------------------------

    def _read(self, name: str) -> dict:
        try:
            return self.client.service(name)
        except EngineError as exc:
            if exc.status == 404:
                raise ActionRefused(f"service {name} no longer exists on {self.source}") from None
            raise ActionError(f"could not read {name}: {exc.message}") from None

    def _all_services(self) -> list[dict]:
        return self.client.services()

    def _gpu_fit(self, facts: tr.ServiceFacts, new: int) -> tuple[FitResult, str]:
        """Place the new tasks, each on ONE node with enough free units of each generic-resource kind it
        reserves, on nodes its placement constraints allow; its tasks already Pending go first. Returns
        the fit and, when some stay Pending, Swarm's own words for why."""
        nodes = self.client.nodes()
        tasks = self.client.tasks()
        candidates = tr.fit_nodes(self.source, nodes, tasks, facts.constraints)
        needs = ReplicaNeeds(requests=facts.gpu_requests, node_selector=((tr.PLACEMENT_LABEL, "eligible"),))
        fit = fit_replicas(needs, new, candidates, already_pending=tr.pending_tasks(facts, tasks))
        return fit, (_swarm_words(needs, candidates, fit) if fit.stay_pending else "")

    def _plan(self, service: ModelService, intent: Intent, raw: Mapping[str, Any], mutations: tuple[Mutation, ...],
              before: dict[str, str], after: dict[str, str], *, warnings: list[PlanWarning] | None = None,
              risk: Risk = Risk.LOW, confirm_text: str = "", context: dict[str, Any] | None = None) -> ActionPlan:
        return ActionPlan(
            source=self.source,
            target=service.key,
            target_name=str(service.key),
            intent=intent,
            mutations=mutations,
            before=before,
            after=after,
            warnings=tuple(warnings or ()),
            risk=risk,
            precondition_version=str(raw["Version"]["Index"]),
            confirm_text=confirm_text,
            user=self._operator(),
            noop=not mutations,
            context={"service_id": raw["ID"], "service": raw["Spec"]["Name"], "seen": {raw["ID"]: seen(raw)},
                     **(context or {})},
        )

    # -- plan ----------------------------------------------------------------------------------

    def plan(self, service: ModelService, intent: Intent) -> ActionPlan:
        match intent:
            case Scale():
                return self._plan_scale(service, intent)
            case UpdateImage():
                return self._plan_update_image(service, intent)
            case Rollback():
                return self._plan_rollback(service, intent)
            case SetCanaryWeight():
                return self._plan_canary(service, intent)
            case SwitchBlueGreen():
                return self._plan_bluegreen(service, intent)
            case Restart():
                return self._plan_restart(service, intent)
        raise ActionRefused(f"Swarm services do not support {intent.kind.value}")

    def _mid_rollout(self, facts: tr.ServiceFacts) -> list[PlanWarning]:
        if facts.update_state in ACTIVE_UPDATE:
            return [PlanWarning("mid-rollout", f"{facts.name} is in the middle of an update ({facts.update_state}: "
                                f"{facts.update_message}); this change replaces it")]
        return []

    def _plan_scale(self, service: ModelService, intent: Scale) -> ActionPlan:
        raw = self._read(service.key.name)
        facts = tr.service_facts(raw)
        if not facts.replicated:
            raise ActionRefused(f"{facts.name} is a global service: it runs one task per eligible node and "
                                "cannot be scaled (change its placement constraints or node availability instead)")
        if intent.replicas < 0:
            raise ActionRefused("replicas cannot be negative")
        before, after = {"replicas": str(facts.replicas)}, {"replicas": str(intent.replicas)}
        if intent.replicas == facts.replicas:
            return self._plan(service, intent, raw, (), before, before)
        warnings = self._mid_rollout(facts)
        new = intent.replicas - facts.replicas
        gpu_pending = 0
        if facts.gpu_requests and new > 0:
            fit, why = self._gpu_fit(facts, new)
            if fit.stay_pending:
                gpu_pending = fit.stay_pending + fit.pending_first
                asked = " and ".join(f"{count} {kind}" for kind, count in facts.gpu_requests)
                placed = f" ({fit.fit} fit{'s' if fit.fit == 1 else ''}: {fit.where()})" if fit.fit else ""
                waiting = (f"; {_plural(fit.pending_first, 'task')} of {facts.name} already "
                           f"wait{'s' if fit.pending_first == 1 else ''} for GPUs and go"
                           f"{'es' if fit.pending_first == 1 else ''} first." if fit.pending_first else "")
                warnings.append(PlanWarning(
                    "gpu-pending",
                    f"{fit.stay_pending} of {new} new replicas will stay Pending{placed}: each reserves {asked} "
                    f"on one node; {why}{waiting}"))
        confirm = ""
        risk = Risk.MEDIUM if intent.replicas < facts.replicas else Risk.LOW
        if intent.replicas == 0 and self._production(facts):
            confirm = facts.name
            risk = Risk.HIGH
            warnings.append(PlanWarning(
                "production-scale-to-zero",
                f"{facts.name} is production: scaling to 0 stops serving; type its name to confirm"))
        spec = copy.deepcopy(raw["Spec"])
        spec["Mode"] = {"Replicated": {"Replicas": intent.replicas}}
        mutation = update_mutation(raw, spec, f"set replicas of {facts.name} to {intent.replicas}")
        return self._plan(service, intent, raw, (mutation,), before, after, warnings=warnings, risk=risk,
                          confirm_text=confirm,
                          context={"expect": "tasks", "replicas": intent.replicas, "gpu_pending": gpu_pending})

    def _production(self, facts: tr.ServiceFacts) -> bool:
        if tr.production(facts):
            return True
        if not facts.stack:
            return False
        stack = frozenset(
            f.stack for f in map(tr.service_facts, self._all_services())
            if f.stack == facts.stack and f.labels.get(tr.ENVIRONMENT_LABEL, "").lower() in tr.PRODUCTION_VALUES
        )
        return tr.production(facts, stack)

    def _plan_update_image(self, service: ModelService, intent: UpdateImage) -> ActionPlan:
        image = intent.image.strip()
        if not image or any(c.isspace() for c in image):
            raise ActionRefused(f"{intent.image!r} is not an image reference")
        raw = self._read(service.key.name)
        facts = tr.service_facts(raw)
        before = {"image": facts.image, "version": facts.version}
        after = {"image": image, "version": tr.image_version(image, facts.labels)}
        if image == facts.image:
            return self._plan(service, intent, raw, (), before, before)
        spec = copy.deepcopy(raw["Spec"])
        spec["TaskTemplate"]["ContainerSpec"]["Image"] = image
        warnings = self._mid_rollout(facts)
        warnings.append(PlanWarning("rolling-update", f"rolling update with {facts.name}'s update config: "
                                    f"{_update_config_text(raw['Spec'])}"))
        if facts.labels.get(tr.VERSION_LABEL):
            warnings.append(PlanWarning("version-label", f"the service's version label stays "
                                        f"{facts.labels[tr.VERSION_LABEL]!r}: update it separately"))
        mutation = update_mutation(raw, spec, f"set image of {facts.name} to {image}")
        return self._plan(service, intent, raw, (mutation,), before, after, warnings=warnings, risk=Risk.MEDIUM,
                          context={"expect": "tasks", "image": image})

    def _plan_restart(self, service: ModelService, intent: Restart) -> ActionPlan:
        """`docker service update --force`: TaskTemplate.ForceUpdate + 1 on the spec read now, sent
        with that spec's version index. Swarm replaces every task through the service's UpdateConfig."""
        raw = self._read(service.key.name)
        facts = tr.service_facts(raw)
        tasks = [t for t in self.client.tasks([raw["ID"]]) if t.get("ServiceID") == raw["ID"]]
        running = [str(t.get("ID")) for t in tasks if tr.is_running(t)]
        spec = copy.deepcopy(raw["Spec"])
        spec["TaskTemplate"]["ForceUpdate"] = facts.force_update + 1
        before = {"force update": str(facts.force_update), "tasks": f"{len(running)} running"}
        after = {"force update": str(facts.force_update + 1), "tasks": f"{len(running)} new"}
        warnings = self._mid_rollout(facts)
        warnings.append(PlanWarning("restart-replaces-tasks",
                                    f"every one of the {_plural(len(running), 'task')} is replaced with "
                                    f"{facts.name}'s update config: {_update_config_text(raw['Spec'])}"))
        mutation = update_mutation(raw, spec, f"force update of {facts.name} "
                                   f"(ForceUpdate {facts.force_update} → {facts.force_update + 1})")
        return self._plan(service, intent, raw, (mutation,), before, after, warnings=warnings,
                          risk=Risk.HIGH if self._production(facts) and len(running) <= 1 else Risk.MEDIUM,
                          context={"expect": "restart", "force_update": facts.force_update + 1,
                                   "old_tasks": running})

    def _plan_rollback(self, service: ModelService, intent: Rollback) -> ActionPlan:
        raw = self._read(service.key.name)
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
        warnings = self._mid_rollout(facts)
        warnings.append(PlanWarning("rollback-config", f"server-side rollback with {facts.name}'s rollback config: "
                                    f"{_update_config_text(raw['Spec'], 'RollbackConfig')}; a second rollback returns "
                                    "to the current spec"))
        mutation = update_mutation(raw, raw["Spec"], f"roll {facts.name} back to its previous spec", rollback=True)
        return self._plan(service, intent, raw, (mutation,), before, after, warnings=warnings, risk=Risk.MEDIUM,
                          context={"expect": "rollback", "image": prev.image,
                                   "replicas": prev.replicas if prev.replicated else None})

    def _pair_for_canary(self, service: ModelService) -> tuple[dict, dict]:
        """(stable, canary) raw services, whichever of the two the operator selected."""
        raw = self._read(service.key.name)
        facts = tr.service_facts(raw)
        stable_name = facts.labels.get(tr.CANARY_LABEL)
        if stable_name:
            return self._read(stable_name), raw
        for other in self._all_services():
            if (other.get("Spec", {}).get("Labels") or {}).get(tr.CANARY_LABEL) == facts.name:
                return raw, self._read(other["Spec"]["Name"])
        raise ActionRefused(f"{facts.name} has no canary: label a service {tr.CANARY_LABEL}={facts.name}")

    def _plan_canary(self, service: ModelService, intent: SetCanaryWeight) -> ActionPlan:
        if not 0 <= intent.weight <= 100:
            raise ActionRefused("a canary weight is a percentage from 0 to 100")
        stable, canary = self._pair_for_canary(service)
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
        warnings = self._mid_rollout(s) + self._mid_rollout(c)
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
        if new_s == 0 and self._production(s):
            warnings.append(PlanWarning("production-scale-to-zero",
                                        f"{s.name} is production and would have no tasks: all traffic to the canary"))
        own = canary if service.key.name == c.name else stable
        plan = self._plan(service, intent, own, tuple(mutations), before, after if mutations else before,
                          warnings=warnings, risk=Risk.MEDIUM if mutations else Risk.LOW,
                          confirm_text=s.name if new_s == 0 and self._production(s) else "",
                          context={"expect": "canary", "stable": s.name, "canary": c.name,
                                   "seen": {stable["ID"]: seen(stable), canary["ID"]: seen(canary)},
                                   "stable_replicas": new_s, "canary_replicas": new_c,
                                   "versions": {s.name: s.version_index, c.name: c.version_index}})
        return plan

    def _plan_bluegreen(self, service: ModelService, intent: SwitchBlueGreen) -> ActionPlan:
        raw = self._read(service.key.name)
        facts = tr.service_facts(raw)
        alias = facts.labels.get(tr.BLUEGREEN_LABEL)
        if not alias:
            raise ActionRefused(f"{facts.name} is not in a blue-green pair (label {tr.BLUEGREEN_LABEL}=<name>)")
        members = [s for s in self._all_services() if (s["Spec"].get("Labels") or {}).get(tr.BLUEGREEN_LABEL) == alias]
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
            return self._plan(service, intent, raw, (), before, before)
        shared = self._shared_network(alias, target, holders, members)
        tasks = [t for t in self.client.tasks([target["ID"]]) if t.get("ServiceID") == target["ID"]]
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
        mutations = [update_mutation(target, _with_alias(target["Spec"], shared, alias, True),
                                     f"add alias {alias} to {t_facts.name} on network {shared[:12]}")]
        for holder in holders:
            if holder is not target:
                mutations.append(update_mutation(holder, _with_alias(holder["Spec"], None, alias, False),
                                                 f"remove alias {alias} from {holder['Spec']['Name']}"))
        return self._plan(service, intent, raw, tuple(mutations), before, after, warnings=warnings, risk=Risk.HIGH,
                          context={"expect": "bluegreen", "alias": alias, "target": t_facts.name,
                                   "seen": {m["ID"]: seen(m) for m in [target, *holders]},
                                   "others": [h["Spec"]["Name"] for h in holders if h is not target],
                                   "network": shared})

    @staticmethod
    def _shared_network(alias: str, target: Mapping[str, Any], holders: list[dict], members: list[dict]) -> str:
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

    # -- apply ---------------------------------------------------------------------------------

    def apply(self, plan: ActionPlan) -> None:
        """Each update carries the version index read at plan time, so Swarm refuses ("update out of
        sequence") a service changed since the preview. A multi-call plan (the canary split, the
        blue-green alias move) first checks every service it touches: a change found there sends nothing."""
        if len(plan.mutations) > 1:
            self._refuse_if_moved(plan)
        done: list[str] = []
        total = len(plan.mutations)
        for mutation in plan.mutations:
            name = mutation.body.get("Name", plan.target_name) if isinstance(mutation.body, dict) else plan.target_name
            sid = mutation.path.split("/")[2]
            try:
                self.client.request(mutation.method, mutation.path, mutation.params, mutation.body)
            except EngineError as exc:
                partial = _landed_text(done, mutation, total)
                text = exc.message.lower()
                if "out of sequence" in text or exc.status == 409:
                    error = conflict_error(name, plan.context.get("seen", {}).get(sid), self._reread(sid))
                    raise ActionConflict(str(error) + partial, changed=error.changed) from None
                if exc.status in (401, 403) or "permission denied" in text or "authorization denied" in text:
                    raise ActionForbidden(f"{name}: {exc.message}{partial}") from None
                if exc.status == 404:
                    raise ActionRefused(f"{name} no longer exists{partial}") from None
                if "does not have a previous spec" in text:
                    raise ActionRefused(f"{name} has no previous spec: there is nothing to roll back to") from None
                raise ActionError(f"{name}: {exc.message}{partial}") from None
            done.append(mutation.summary or f"{mutation.method} {mutation.path}")

    def _reread(self, sid: str) -> dict | None:
        try:
            return self.client.service(sid)
        except EngineError:
            return None

    def _refuse_if_moved(self, plan: ActionPlan) -> None:
        """Before the first call of several: any service whose version moved since the plan makes the
        whole plan a conflict with nothing sent (the per-call version check still guards the race after)."""
        for mutation in plan.mutations:
            sid = mutation.path.split("/")[2]
            current = self._reread(sid)
            if current is not None and str(current["Version"]["Index"]) == mutation.params.get("version"):
                continue
            name = mutation.body.get("Name", sid) if isinstance(mutation.body, dict) else sid
            error = conflict_error(name, plan.context.get("seen", {}).get(sid), current)
            raise ActionConflict(f"{error}: none of the {len(plan.mutations)} calls was sent", changed=error.changed)

    # -- verify --------------------------------------------------------------------------------

    def verify(self, plan: ActionPlan, timeout: float, progress: Callable[[str], None]) -> VerifyResult:
        deadline = time.monotonic() + timeout
        expect = plan.context.get("expect")
        last = ""
        while True:
            converged, detail, after, stuck = self._check(plan, expect)
            if detail != last:
                progress(detail)
                last = detail
            if converged or stuck:
                return VerifyResult(converged=converged, detail=detail, after=after)
            if time.monotonic() >= deadline:
                return VerifyResult(False, f"not converged after {timeout:g}s: {detail}", after)
            time.sleep(POLL_SECONDS)

    def _service_state(self, name: str) -> tuple[dict, tr.ServiceFacts, int, int]:
        """(raw, facts, running tasks, running tasks on the current spec)."""
        raw = self.client.service(name)
        facts = tr.service_facts(raw)
        tasks = [t for t in self.client.tasks([raw["ID"]]) if t.get("ServiceID") == raw["ID"]]
        running = [t for t in tasks if tr.is_running(t)]
        return raw, facts, len(running), sum(1 for t in running if tr.is_current(facts, t))

    def _running_tasks(self, service_id: str) -> list[dict]:
        return [t for t in self.client.tasks([service_id])
                if t.get("ServiceID") == service_id and tr.is_running(t)]

    def _check(self, plan: ActionPlan, expect: str | None) -> tuple[bool, str, dict[str, str], bool]:
        name = plan.context["service"]
        if expect == "canary":
            _s_raw, s, s_run, s_cur = self._service_state(plan.context["stable"])
            _c_raw, c, c_run, c_cur = self._service_state(plan.context["canary"])
            total = s.replicas + c.replicas
            weight = round(100 * c.replicas / total) if total else 0
            after = {"weight": f"{weight}%", "stable": f"{s.name} ×{s.replicas}", "canary": f"{c.name} ×{c.replicas}"}
            ok = (s.replicas, c.replicas) == (plan.context["stable_replicas"], plan.context["canary_replicas"])
            ok = ok and s_run == s_cur == s.replicas and c_run == c_cur == c.replicas
            detail = f"{s.name} {s_run}/{s.replicas} running, {c.name} {c_run}/{c.replicas} running: weight {weight}%"
            return ok, detail, after, False
        if expect == "bluegreen":
            target = plan.context["target"]
            alias = plan.context["alias"]
            _t_raw, t, t_run, t_cur = self._service_state(target)
            others = [self._service_state(o) for o in plan.context["others"]]
            holds = any(alias in a for _, a in t.networks)
            released = all(not any(alias in a for _, a in o[1].networks) for o in others)
            settled = all(o[2] == o[3] for o in others) and t_run == t_cur == t.replicas
            colour = t.labels.get(tr.COLOUR_LABEL, "")
            after = {"active": colour if holds and released else "both" if holds else "unchanged",
                     "alias holder": target if holds and released else "unchanged"}
            detail = (f"alias {alias} on {target}: {'yes' if holds else 'no'}; released by the others: "
                      f"{'yes' if released else 'no'}; {target} {t_cur}/{t.replicas} tasks restarted and running")
            return holds and released and settled, detail, after, False
        _raw, facts, running, current = self._service_state(name)
        landed = facts.version_index > int(plan.precondition_version or 0)
        state = facts.update_state
        desired = facts.replicas if facts.replicated else int(facts.status.get("DesiredTasks") or running)
        if expect == "rollback":
            after = {"image": facts.image, "version": facts.version,
                     "replicas": str(facts.replicas) if facts.replicated else "global"}
            want_image = plan.context.get("image")
            stuck = state == "rollback_paused"
            ok = (landed and facts.image == want_image and state not in ACTIVE_UPDATE + STUCK_UPDATE
                  and running == current == desired)
        elif expect == "restart":
            old = set(plan.context["old_tasks"])
            left = sum(1 for t in self._running_tasks(facts.id) if str(t.get("ID")) in old)
            after = {"force update": str(facts.force_update), "tasks": f"{current} new, {left} old running"}
            stuck = landed and state in STUCK_UPDATE
            ok = (landed and facts.force_update == plan.context["force_update"] and left == 0
                  and state not in ACTIVE_UPDATE + STUCK_UPDATE and running == current == desired)
        elif "image" in plan.context:
            after = {"image": facts.image, "version": facts.version}
            stuck = landed and state in STUCK_UPDATE
            ok = (landed and facts.image == plan.context["image"] and state not in ACTIVE_UPDATE + STUCK_UPDATE
                  and running == current == desired)
        else:
            after = {"replicas": str(facts.replicas)}
            stuck = False
            ok = landed and facts.replicas == plan.context.get("replicas") and running == current == desired
            if not ok and landed and plan.context.get("gpu_pending"):
                refused = self._stuck_for_gpus(_raw, running, desired)
                if refused:
                    return False, refused, after, True
        detail = f"{name}: {current}/{desired} tasks running on the current spec ({facts.version or facts.image})"
        if state:
            detail += f"; update {state}" + (f": {facts.update_message}" if facts.update_message else "")
        return ok, detail, after, stuck

    def _stuck_for_gpus(self, raw: Mapping[str, Any], running: int, desired: int) -> str:
        """When the preview said tasks would stay Pending for GPUs: once every task is running or refused
        by the scheduler ('no suitable node'), say so in Swarm's words ('' while it is still deciding)."""
        tasks = [t for t in self.client.tasks([raw["ID"]]) if t.get("ServiceID") == raw["ID"]]
        refused = tr.refused_by_scheduler(tasks)
        if not refused or running + len(refused) < desired:
            return ""
        return f"{len(refused)} replica{'s' if len(refused) != 1 else ''} Pending: {refused[0]}"


def _landed_text(done: list[str], refused: Mutation, total: int) -> str:
    """Which calls of a multi-call plan reached the engine before one was refused."""
    if total == 1:
        return ""
    if not done:
        return f" (call 1 of {total}, {refused.summary}, was refused: nothing was sent)"
    landed = "; ".join(f"call {i} of {total}, {summary}, landed" for i, summary in enumerate(done, 1))
    return f" ({landed}; call {len(done) + 1}, {refused.summary}, was refused and nothing after it was sent)"


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
        parts.append(f"{_plural(unavailable, 'node')} not available for new tasks")
    if short:
        parts.append(f"insufficient resources on {_plural(short, 'node')}")
    if unconstrained:
        parts.append(f"scheduling constraints not satisfied on {_plural(unconstrained, 'node')}")
    return f"no suitable node ({'; '.join(parts or ['no nodes available'])})"


def _with_alias(spec: Mapping[str, Any], network: str | None, alias: str, add: bool) -> dict:
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

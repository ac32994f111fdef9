"""What every Swarm action shares: the update call with its version index, reading a service for a
plan, the plan itself, and how far a service's tasks got (for the verifiers).

Every mutation is `POST /services/{id}/update?version=<Version.Index>` with the service's full current
spec and only the asked field changed, as the docker CLI sends it (docker-py's low-level
`APIClient.update_service` defaults to `fetch_current_spec=False` and would reset unspecified fields:
docker-py 7.x `docker/api/service.py`). The version index makes Swarm refuse a spec that changed since
the plan ("update out of sequence", swarmkit `manager/state/store` `ErrSequenceConflict`), which becomes
`ActionConflict`. Swarm also moves the index for its own bookkeeping: an update's status is written
when its monitor period ends (5 s after the last task starts, by default), with the spec untouched. A call
refused only for that is aimed again at the new index (`reaimed`): nothing the preview showed changed.
Calls as in the Docker Engine API reference (v1.41+), `POST /services/{id}/update`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from mlops_tui.backends.model import ModelService
from mlops_tui.backends.plans import (
    ActionConflict,
    ActionError,
    ActionPlan,
    ActionRefused,
    Intent,
    Mutation,
    PlanWarning,
    Risk,
)
from mlops_tui.backends.swarm import translate as tr
from mlops_tui.backends.swarm.client import EngineClient, EngineError

ACTIVE_UPDATE = ("updating", "rollback_started")
STUCK_UPDATE = ("paused", "rollback_paused")

Check = tuple[bool, str, dict[str, str], bool]
"""A verifier's look: (converged, detail for the operator, the plan's `after` as it is now, stuck)."""


def update_mutation(service: Mapping[str, Any], spec: Mapping[str, Any], summary: str,
                    rollback: bool = False) -> Mutation:
    params = {"version": str(service["Version"]["Index"])}
    if rollback:
        params["rollback"] = "previous"
    return Mutation(method="POST", path=f"/services/{service['ID']}/update", body=spec, params=params,
                    summary=summary)


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def update_config_text(spec: Mapping[str, Any], key: str = "UpdateConfig") -> str:
    cfg = spec.get(key) or {}
    monitor = cfg.get("Monitor")
    return (f"parallelism {cfg.get('Parallelism', 1)}, delay {int(cfg.get('Delay') or 0) / 1e9:g}s, "
            f"order {cfg.get('Order', 'stop-first')}, on failure {cfg.get('FailureAction', 'pause')}, "
            f"monitor {int(monitor) / 1e9:g}s" if monitor else
            f"parallelism {cfg.get('Parallelism', 1)}, delay {int(cfg.get('Delay') or 0) / 1e9:g}s, "
            f"order {cfg.get('Order', 'stop-first')}, on failure {cfg.get('FailureAction', 'pause')}, "
            "monitor 5s (engine default)")


def seen(raw: Mapping[str, Any]) -> dict[str, Any]:
    """What a plan saw of a service, to tell the operator what changed on a conflict (no env, no secrets),
    and a digest of its specs, to tell a change of spec from Swarm's own bookkeeping."""
    facts = tr.service_facts(raw)
    return {"version": facts.version_index, "image": facts.image,
            "replicas": facts.replicas if facts.replicated else "global", "update": facts.update_state or "-",
            "labels": dict(facts.labels), "networks": [[n, list(a)] for n, a in facts.networks],
            "specs": specs_digest(raw)}


def specs_digest(raw: Mapping[str, Any]) -> str:
    """The spec and the previous spec (what a rollback returns to): all an update call depends on."""
    specs = json.dumps([raw.get("Spec"), raw.get("PreviousSpec")], sort_keys=True, default=str)
    return hashlib.sha256(specs.encode()).hexdigest()


def reaimed(mutation: Mutation, planned: Mapping[str, Any] | None,
            current: Mapping[str, Any] | None) -> Mutation | None:
    """The call aimed at the service's current version index when only Swarm's bookkeeping moved it since
    the plan (an update's status, its tasks' counts); None when a spec changed or cannot be compared."""
    if planned is None or current is None or planned.get("specs") != specs_digest(current):
        return None
    version = str(current["Version"]["Index"])
    if version == mutation.params.get("version"):
        return None
    return replace(mutation, params={**mutation.params, "version": version})


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


def mid_rollout(facts: tr.ServiceFacts) -> list[PlanWarning]:
    if facts.update_state in ACTIVE_UPDATE:
        return [PlanWarning("mid-rollout", f"{facts.name} is in the middle of an update ({facts.update_state}: "
                            f"{facts.update_message}); this change replaces it")]
    return []


class SwarmContext:
    """One Swarm as the actions see it: its Engine API client, its name in the Fleet, who acts.
    Reads go to the engine, never to the live cache: a plan is made on what the engine holds now."""

    def __init__(self, client: EngineClient, source: str, operator: Callable[[], str] = lambda: "") -> None:
        self.client = client
        self.source = source
        self.operator = operator

    def read(self, name: str) -> dict:
        try:
            return self.client.service(name)
        except EngineError as exc:
            if exc.status == 404:
                raise ActionRefused(f"service {name} no longer exists on {self.source}") from None
            raise ActionError(f"could not read {name}: {exc.message}") from None

    def all_services(self) -> list[dict]:
        return self.client.services()

    def build_plan(self, service: ModelService, intent: Intent, raw: Mapping[str, Any], mutations: tuple[Mutation, ...],
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
            user=self.operator(),
            noop=not mutations,
            context={"service_id": raw["ID"], "service": raw["Spec"]["Name"], "seen": {raw["ID"]: seen(raw)},
                     **(context or {})},
        )

    def production(self, facts: tr.ServiceFacts) -> bool:
        if tr.production(facts):
            return True
        if not facts.stack:
            return False
        stack = frozenset(
            f.stack for f in map(tr.service_facts, self.all_services())
            if f.stack == facts.stack and f.labels.get(tr.ENVIRONMENT_LABEL, "").lower() in tr.PRODUCTION_VALUES
        )
        return tr.production(facts, stack)

    def reread(self, sid: str) -> dict | None:
        try:
            return self.client.service(sid)
        except EngineError:
            return None

    def service_state(self, name: str) -> tuple[dict, tr.ServiceFacts, int, int]:
        """(raw, facts, running tasks, running tasks on the current spec)."""
        raw = self.client.service(name)
        facts = tr.service_facts(raw)
        tasks = [t for t in self.client.tasks([raw["ID"]]) if t.get("ServiceID") == raw["ID"]]
        running = [t for t in tasks if tr.is_running(t)]
        return raw, facts, len(running), sum(1 for t in running if tr.is_current(facts, t))

    def running_tasks(self, service_id: str) -> list[dict]:
        return [t for t in self.client.tasks([service_id])
                if t.get("ServiceID") == service_id and tr.is_running(t)]


@dataclass(frozen=True)
class Progress:
    """Where one service's update stands, read now."""

    raw: dict
    facts: tr.ServiceFacts
    running: int
    current: int
    """Running tasks on the current spec."""
    landed: bool
    """The service's version moved past the plan's: our update reached Swarm."""
    desired: int

    @property
    def state(self) -> str:
        return self.facts.update_state

    def settled(self) -> bool:
        """No update running or paused, every desired task running on the current spec."""
        return (self.state not in ACTIVE_UPDATE + STUCK_UPDATE
                and self.running == self.current == self.desired)

    def detail(self, name: str) -> str:
        facts = self.facts
        text = (f"{name}: {self.current}/{self.desired} tasks running on the current spec "
                f"({facts.version or facts.image})")
        if self.state:
            text += f"; update {self.state}" + (f": {facts.update_message}" if facts.update_message else "")
        return text


def progress(ctx: SwarmContext, plan: ActionPlan) -> Progress:
    """How far the plan's own service got."""
    raw, facts, running, current = ctx.service_state(plan.context["service"])
    desired = facts.replicas if facts.replicated else int(facts.status.get("DesiredTasks") or running)
    return Progress(raw, facts, running, current, facts.version_index > int(plan.precondition_version or 0), desired)

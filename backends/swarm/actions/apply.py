"""Send a plan's calls, once each, in order, and say exactly which landed when one is refused.

Each update carries the version index read at plan time, so Swarm refuses ("update out of sequence") a
service changed since the preview; a call refused only because Swarm wrote its own bookkeeping (the
spec and previous spec as the plan read them) is aimed at the new index and sent again. A multi-call
plan (the canary split, the blue-green alias move) first checks every service it touches: a change
found there sends nothing. A call whose answer is lost (a timeout or a reset after sending) is never
sent again: it is in doubt until the service is re-read (its version index moved and its spec is ours:
applied; unmoved: not applied). A multi-call plan that stops half way carries a plan that completes it
and one that reverts what landed."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from uuid import uuid4

from mlops_tui.backends.plans import (
    ActionConflict,
    ActionError,
    ActionForbidden,
    ActionInDoubt,
    ActionPartial,
    ActionPlan,
    ActionRefused,
    Mutation,
    SetCanaryWeight,
)
from mlops_tui.backends.swarm.actions.common import SwarmContext, conflict_error, reaimed, update_mutation
from mlops_tui.backends.swarm.client import EngineError

NOT_SENT = ("connection refused", "no such file or directory", "name or service not known",
            "temporary failure in name resolution", "nodename nor servname")
"""Transport failures before the request left: nothing reached dockerd."""


REAIMS = 3
"""How often one call is aimed again at a version Swarm moved by itself (an update's status is written as
it starts, pauses and ends): more means the service is being written faster than we can read it."""


def apply(ctx: SwarmContext, plan: ActionPlan) -> None:
    """Send every call of the plan once, in order; an engine refusal becomes the matching action error."""
    plan, originals = refuse_if_moved(ctx, plan) if len(plan.mutations) > 1 else (plan, {})
    done: list[str] = []
    for index in range(len(plan.mutations)):
        plan = send(ctx, plan, index, tuple(done), originals)
        done.append(summary_of(plan.mutations[index]))


def send(ctx: SwarmContext, plan: ActionPlan, index: int, done: tuple[str, ...],
         originals: Mapping[str, dict]) -> ActionPlan:
    """Send call `index` of the plan; returns the plan as sent (that call re-aimed, if it had to be)."""
    attempts = 0
    while True:
        mutation = plan.mutations[index]
        try:
            ctx.client.request(mutation.method, mutation.path, mutation.params, mutation.body)
            return plan
        except EngineError as exc:
            again = refused(ctx, plan, index, done, originals, exc, may_reaim=attempts < REAIMS)
        attempts += 1
        plan = replace(plan, mutations=(*plan.mutations[:index], again, *plan.mutations[index + 1:]))


def refused(ctx: SwarmContext, plan: ActionPlan, index: int, done: tuple[str, ...], originals: Mapping[str, dict],
            exc: EngineError, may_reaim: bool) -> Mutation:
    """The action error an engine refusal of call `index` means, raised; or, when Swarm refused it only
    for its own bookkeeping, the same call aimed at the service's new version index."""
    mutation = plan.mutations[index]
    name = mutation.body.get("Name", plan.target_name) if isinstance(mutation.body, dict) else plan.target_name
    sid = service_id(mutation)
    if may_have_reached(exc):
        raise in_doubt(ctx, plan, index, done, originals, exc) from None
    partial = landed_text(list(done), mutation, len(plan.mutations))
    text = exc.message.lower()
    if "out of sequence" in text or exc.status == 409:
        planned, current = plan.context.get("seen", {}).get(sid), ctx.reread(sid)
        again = reaimed(mutation, planned, current) if may_reaim else None
        if again is not None:
            return again
        error = conflict_error(name, planned, current)
        raise ActionConflict(str(error) + partial, changed=error.changed) from None
    if exc.status in (401, 403) or "permission denied" in text or "authorization denied" in text:
        raise ActionForbidden(f"{name}: {exc.message}{partial}") from None
    if exc.status == 404:
        raise ActionRefused(f"{name} no longer exists{partial}") from None
    if "does not have a previous spec" in text:
        raise ActionRefused(f"{name} has no previous spec: there is nothing to roll back to") from None
    if done:
        raise half_way(ctx, plan, done, originals, f"{name}: {exc.message}{partial}") from None
    raise ActionError(f"{name}: {exc.message}{partial}") from None


def summary_of(mutation: Mutation) -> str:
    return mutation.summary or f"{mutation.method} {mutation.path}"


def service_id(mutation: Mutation) -> str:
    return mutation.path.split("/")[2]


def may_have_reached(exc: EngineError) -> bool:
    """No answer (status 0) for any reason but a connection that was never made, or a gateway timeout."""
    if exc.status == 504:
        return True
    return exc.status == 0 and not any(reason in exc.message.lower() for reason in NOT_SENT)


def call_applied(ctx: SwarmContext, mutation: Mutation) -> bool | None:
    """Re-read the service: its version index unmoved means our update did not land (Swarm bumps it on
    every update); moved with our spec in place means it did; moved to another spec, or unreadable:
    cannot tell."""
    try:
        current = ctx.client.service(service_id(mutation))
    except EngineError:
        return None
    if str(current["Version"]["Index"]) == mutation.params.get("version"):
        return False
    return True if isinstance(mutation.body, Mapping) and holds(mutation.body, current.get("Spec")) else None


def holds(wanted: Any, current: Any) -> bool:
    if isinstance(wanted, Mapping):
        return isinstance(current, Mapping) and all(k in current and holds(v, current[k]) for k, v in wanted.items())
    if isinstance(wanted, list):
        return isinstance(current, list) and len(wanted) == len(current) and all(
            holds(w, c) for w, c in zip(wanted, current, strict=True))
    return bool(wanted == current)


def in_doubt(ctx: SwarmContext, plan: ActionPlan, index: int, done: tuple[str, ...],
             originals: Mapping[str, dict], exc: EngineError) -> ActionInDoubt:
    mutation = plan.mutations[index]
    summary = summary_of(mutation)
    return ActionInDoubt(
        f"{summary}: sent, but the answer was lost ({exc.message})",
        probe=lambda: call_applied(ctx, mutation), in_doubt=summary, landed=done,
        not_sent=tuple(summary_of(m) for m in plan.mutations[index + 1:]),
        followups=(lambda landed: followups(ctx, plan, landed, originals)) if originals else None)


def half_way(ctx: SwarmContext, plan: ActionPlan, done: tuple[str, ...], originals: Mapping[str, dict],
             message: str) -> ActionPartial:
    completing, reverting = followups(ctx, plan, done, originals)
    return ActionPartial(message, landed=done,
                         not_landed=tuple(summary_of(m) for m in plan.mutations if summary_of(m) not in done),
                         completing=completing, reverting=reverting)


def followups(ctx: SwarmContext, plan: ActionPlan, landed: tuple[str, ...],
              originals: Mapping[str, dict]) -> tuple[ActionPlan | None, ActionPlan | None]:
    """(the plan that sends the calls that did not land, the plan that restores what did). The calls
    that did not land still carry the version their service had (nothing wrote it since the check
    before the first call); a restore carries the version our own landed call produced, re-read now."""
    rest = tuple(m for m in plan.mutations if summary_of(m) not in landed)
    restores = []
    for mutation in plan.mutations:
        sid = service_id(mutation)
        if summary_of(mutation) not in landed or sid not in originals:
            continue
        current = ctx.reread(sid)
        if current is None:
            return (_followup(plan, rest, plan.intent) if rest else None), None
        spec = copy.deepcopy(originals[sid]["Spec"])
        restore = f"restore {spec.get('Name', sid)} to its spec before the action"
        restores.append(update_mutation(current, spec, restore))
    completing = _followup(plan, rest, plan.intent) if rest else None
    reverting = _followup(plan, tuple(restores), _reverse_intent(plan), back=True) if restores else None
    return completing, reverting


def _followup(plan: ActionPlan, mutations: tuple[Mutation, ...], intent: Any, back: bool = False) -> ActionPlan:
    return replace(plan, mutations=mutations, intent=intent, id=uuid4().hex, noop=False,
                   before={k: "partly changed" for k in plan.before},
                   after=dict(plan.before) if back else dict(plan.after))


def _reverse_intent(plan: ActionPlan) -> Any:
    """The intent a revert carries in the audit: for a canary shift, the weight it started from."""
    if isinstance(plan.intent, SetCanaryWeight):
        match = re.match(r"(\d+)%", plan.before.get("weight", ""))
        if match:
            return SetCanaryWeight(int(match.group(1)))
    return plan.intent


def refuse_if_moved(ctx: SwarmContext, plan: ActionPlan) -> tuple[ActionPlan, dict[str, dict]]:
    """Before the first call of several: any service whose spec changed since the plan makes the whole
    plan a conflict with nothing sent (the per-call version check still guards the race after); a service
    only Swarm's bookkeeping moved gets its call re-aimed. Returns the plan to send and each service as
    read (what a revert restores)."""
    originals: dict[str, dict] = {}
    mutations: list[Mutation] = []
    for mutation in plan.mutations:
        sid = service_id(mutation)
        current = ctx.reread(sid)
        planned = plan.context.get("seen", {}).get(sid)
        if current is not None and str(current["Version"]["Index"]) == mutation.params.get("version"):
            originals[sid] = current
            mutations.append(mutation)
            continue
        again = reaimed(mutation, planned, current)
        if current is not None and again is not None:
            originals[sid] = current
            mutations.append(again)
            continue
        name = mutation.body.get("Name", sid) if isinstance(mutation.body, dict) else sid
        error = conflict_error(name, planned, current)
        raise ActionConflict(f"{error}: none of the {len(plan.mutations)} calls was sent", changed=error.changed)
    return replace(plan, mutations=tuple(mutations)), originals


def landed_text(done: list[str], refused_call: Mutation, total: int) -> str:
    """Which calls of a multi-call plan reached the engine before one was refused."""
    if total == 1:
        return ""
    if not done:
        return f" (call 1 of {total}, {refused_call.summary}, was refused: nothing was sent)"
    landed = "; ".join(f"call {i} of {total}, {summary}, landed" for i, summary in enumerate(done, 1))
    return f" ({landed}; call {len(done) + 1}, {refused_call.summary}, was refused and nothing after it was sent)"

"""Send a plan's calls, once each, in order, and say exactly which landed when one is refused.

Each update carries the version index read at plan time, so Swarm refuses ("update out of sequence") a
service changed since the preview. A multi-call plan (the canary split, the blue-green alias move) first
checks every service it touches: a change found there sends nothing."""

from __future__ import annotations

from mlops_tui.backends.plans import (
    ActionConflict,
    ActionError,
    ActionForbidden,
    ActionPlan,
    ActionRefused,
    Mutation,
)
from mlops_tui.backends.swarm.actions.common import SwarmContext, conflict_error
from mlops_tui.backends.swarm.client import EngineError


def apply(ctx: SwarmContext, plan: ActionPlan) -> None:
    """Send every call of the plan once, in order; an engine refusal becomes the matching action error."""
    if len(plan.mutations) > 1:
        refuse_if_moved(ctx, plan)
    done: list[str] = []
    total = len(plan.mutations)
    for mutation in plan.mutations:
        name = mutation.body.get("Name", plan.target_name) if isinstance(mutation.body, dict) else plan.target_name
        sid = mutation.path.split("/")[2]
        try:
            ctx.client.request(mutation.method, mutation.path, mutation.params, mutation.body)
        except EngineError as exc:
            partial = landed_text(done, mutation, total)
            text = exc.message.lower()
            if "out of sequence" in text or exc.status == 409:
                error = conflict_error(name, plan.context.get("seen", {}).get(sid), ctx.reread(sid))
                raise ActionConflict(str(error) + partial, changed=error.changed) from None
            if exc.status in (401, 403) or "permission denied" in text or "authorization denied" in text:
                raise ActionForbidden(f"{name}: {exc.message}{partial}") from None
            if exc.status == 404:
                raise ActionRefused(f"{name} no longer exists{partial}") from None
            if "does not have a previous spec" in text:
                raise ActionRefused(f"{name} has no previous spec: there is nothing to roll back to") from None
            raise ActionError(f"{name}: {exc.message}{partial}") from None
        done.append(mutation.summary or f"{mutation.method} {mutation.path}")


def refuse_if_moved(ctx: SwarmContext, plan: ActionPlan) -> None:
    """Before the first call of several: any service whose version moved since the plan makes the
    whole plan a conflict with nothing sent (the per-call version check still guards the race after)."""
    for mutation in plan.mutations:
        sid = mutation.path.split("/")[2]
        current = ctx.reread(sid)
        if current is not None and str(current["Version"]["Index"]) == mutation.params.get("version"):
            continue
        name = mutation.body.get("Name", sid) if isinstance(mutation.body, dict) else sid
        error = conflict_error(name, plan.context.get("seen", {}).get(sid), current)
        raise ActionConflict(f"{error}: none of the {len(plan.mutations)} calls was sent", changed=error.changed)


def landed_text(done: list[str], refused: Mutation, total: int) -> str:
    """Which calls of a multi-call plan reached the engine before one was refused."""
    if total == 1:
        return ""
    if not done:
        return f" (call 1 of {total}, {refused.summary}, was refused: nothing was sent)"
    landed = "; ".join(f"call {i} of {total}, {summary}, landed" for i, summary in enumerate(done, 1))
    return f" ({landed}; call {len(done) + 1}, {refused.summary}, was refused and nothing after it was sent)"

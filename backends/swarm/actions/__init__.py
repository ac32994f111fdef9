"""Operator intents -> the exact Engine API calls on a Swarm, as `ActionPlan`s; applied once; verified.

One module per mechanism, each with its planner and its verifier (`check`):
- `scale`: `Mode.Replicated.Replicas` (global services are refused), GPU placement in the preview;
- `image`: image update (`TaskTemplate.ContainerSpec.Image`) and restart (`ForceUpdate` + 1);
- `rollback`: server-side `?rollback=previous`;
- `canary`: the replica split across a stable and a canary service;
- `bluegreen`: the network alias moved between two colours.
`common` holds what they share (the versioned update call, the plan, task progress) and `apply` sends a
plan's calls. They all work through an `EngineClient` (`SwarmContext`), never through the live cache.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from mlops_tui.backends.model import ModelService
from mlops_tui.backends.plans import (
    ActionPlan,
    ActionRefused,
    Intent,
    Restart,
    Rollback,
    Scale,
    SetCanaryWeight,
    SwitchBlueGreen,
    UpdateImage,
    VerifyResult,
)
from mlops_tui.backends.swarm.actions import bluegreen, canary, image, rollback, scale
from mlops_tui.backends.swarm.actions.apply import apply
from mlops_tui.backends.swarm.actions.common import Check, SwarmContext
from mlops_tui.backends.swarm.client import EngineClient

POLL_SECONDS = 0.5
"""How often a verify re-reads the engine (a fixed pace while the operator watches, not a retry)."""


class SwarmActions:
    """Plans, applies and verifies actions on one Swarm, reading it and writing to it through `client`
    (never through the live cache: a plan is made on what the engine holds now)."""

    def __init__(self, client: EngineClient, source: str, operator: Callable[[], str] = lambda: "") -> None:
        self.ctx = SwarmContext(client, source, operator)

    def plan(self, service: ModelService, intent: Intent) -> ActionPlan:
        match intent:
            case Scale():
                return scale.plan(self.ctx, service, intent)
            case UpdateImage():
                return image.plan_update_image(self.ctx, service, intent)
            case Rollback():
                return rollback.plan(self.ctx, service, intent)
            case SetCanaryWeight():
                return canary.plan(self.ctx, service, intent)
            case SwitchBlueGreen():
                return bluegreen.plan(self.ctx, service, intent)
            case Restart():
                return image.plan_restart(self.ctx, service, intent)
        raise ActionRefused(f"Swarm services do not support {intent.kind.value}")

    def apply(self, plan: ActionPlan) -> None:
        apply(self.ctx, plan)

    def verify(self, plan: ActionPlan, timeout: float, progress: Callable[[str], None]) -> VerifyResult:
        deadline = time.monotonic() + timeout
        last = ""
        while True:
            converged, detail, after, stuck = self._check(plan)
            if detail != last:
                progress(detail)
                last = detail
            if converged or stuck:
                return VerifyResult(converged=converged, detail=detail, after=after)
            if time.monotonic() >= deadline:
                return VerifyResult(False, f"not converged after {timeout:g}s: {detail}", after)
            time.sleep(POLL_SECONDS)

    def _check(self, plan: ActionPlan) -> Check:
        """The verifier of the mechanism that made the plan (its `expect`; an image update says so by
        the image it expects)."""
        expect = plan.context.get("expect")
        if expect == "canary":
            return canary.check(self.ctx, plan)
        if expect == "bluegreen":
            return bluegreen.check(self.ctx, plan)
        if expect == "rollback":
            return rollback.check(self.ctx, plan)
        if expect == "restart":
            return image.check_restart(self.ctx, plan)
        if "image" in plan.context:
            return image.check_image(self.ctx, plan)
        return scale.check(self.ctx, plan)

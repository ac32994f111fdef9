"""The Fleet adds what Prometheus says of a canary to every plan that moves traffic towards it (a
weight up, a promote), whatever engine planned it; a plan that moves traffic away carries nothing."""

from __future__ import annotations

from mlops_tui.backends.base import Change
from mlops_tui.backends.fleet import Fleet
from mlops_tui.backends.model import ActionKind, Canary, CanaryFigures, LatencySeries, ServiceKind, SideFigures
from mlops_tui.backends.plans import ActionPlan, Mutation, Promote, Scale, SetCanaryWeight
from tests.fakes import T0, InMemoryBackend, service

WORSE = CanaryFigures(stable=SideFigures(0.2, 0.002, 20.0), canary=SideFigures(0.9, 0.002, 5.0),
                      at=T0.timestamp(), stale_after=30.0)


class PlansAnything(InMemoryBackend):
    def plan(self, svc, intent):
        if isinstance(intent, Scale):
            return super().plan(svc, intent)
        return ActionPlan(source=self.name, target=svc.key, target_name=str(svc.key), intent=intent,
                          mutations=(Mutation("PATCH", f"/rollouts/{svc.key.name}"),), before={}, after={})


def fleet_with_a_worse_canary() -> tuple[Fleet, object]:
    backend = PlansAnything()
    svc = service("ensemble", kind=ServiceKind.ROLLOUT, canary=Canary("argo", "v1", "v2", weight=20),
                  actions=frozenset({ActionKind.CANARY_WEIGHT, ActionKind.PROMOTE, ActionKind.SCALE}))
    backend.services = {svc.key: svc}
    fleet = Fleet([backend], clock=lambda: T0)
    backend.start(fleet.submit)
    fleet.submit(Change(source="prometheus", latency={svc.key: LatencySeries(svc.key, canary=WORSE)}))
    fleet.flush()
    return fleet, fleet.state.services[svc.key]


def codes(plan: ActionPlan) -> list[str]:
    return [w.code for w in plan.warnings]


def test_a_weight_up_or_a_promote_towards_a_worse_canary_carries_the_warning():
    fleet, svc = fleet_with_a_worse_canary()
    assert codes(fleet.plan(svc, SetCanaryWeight(40))) == ["canary-worse-than-stable"]
    assert codes(fleet.plan(svc, Promote())) == ["canary-worse-than-stable"]
    assert not fleet.plan(svc, SetCanaryWeight(40)).blocked  # the operator may shift on purpose


def test_a_weight_down_or_another_action_carries_none():
    fleet, svc = fleet_with_a_worse_canary()
    assert codes(fleet.plan(svc, SetCanaryWeight(5))) == []
    assert codes(fleet.plan(svc, Scale(3))) == []


class SomeoneMovedIt(PlansAnything):
    """The weight moved since the preview: the engine refuses the call as a conflict."""

    def published(self, key):
        return self.services.get(key)

    def apply(self, plan):
        from mlops_tui.backends.plans import ActionConflict

        raise ActionConflict("the object has been modified")


def test_the_fresh_preview_after_a_conflict_still_warns_of_the_worse_canary():
    backend = SomeoneMovedIt()
    svc = service("ensemble", kind=ServiceKind.ROLLOUT, canary=Canary("argo", "v1", "v2", weight=20),
                  actions=frozenset({ActionKind.CANARY_WEIGHT}))
    backend.services = {svc.key: svc}
    fleet = Fleet([backend], clock=lambda: T0)
    backend.start(fleet.submit)
    fleet.submit(Change(source="prometheus", latency={svc.key: LatencySeries(svc.key, canary=WORSE)}))
    fleet.flush()
    outcome = fleet.apply(fleet.plan(svc, SetCanaryWeight(40)))
    assert outcome.replanned is not None and codes(outcome.replanned) == ["canary-worse-than-stable"]

"""Production is what the config's patterns or the engine say; there, every action that reduces
serving capacity or moves traffic needs the service's name typed, and the Fleet holds to it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mlops_tui.backends.fleet import Fleet
from mlops_tui.backends.model import ActionKind, Autoscaler, ServiceKind
from mlops_tui.backends.plans import (
    Abort,
    ActionPlan,
    Outcome,
    Promote,
    Restart,
    Rollback,
    Scale,
    SetAutoscalerBounds,
    SetCanaryWeight,
    SwitchBlueGreen,
    UpdateImage,
    unready_target_warning,
)
from mlops_tui.backends.production import ProductionScope, needs_typed_name
from mlops_tui.tui.config import ConfigError, build_settings
from mlops_tui.tui.sources import build_fleet
from tests.fakes import InMemoryBackend, service


def test_patterns_mark_whole_clusters_or_namespaces_by_name_or_glob():
    scope = ProductionScope(("prod-*", "staging-a/ml-prod", "*/payments"))
    assert scope.matches("prod-eu", "anything")
    assert scope.matches("staging-a", "ml-prod") and not scope.matches("staging-a", "ml-dev")
    assert scope.matches("swarm-1", "payments")  # a Swarm stack is a namespace here
    assert not scope.matches("production", "ml")  # globs, not prefixes: prod-* needs the dash
    assert not scope.matches("Prod-eu", "ml")  # case sensitive, as cluster names are


def test_the_config_marks_production_and_never_unmarks_what_the_engine_marked():
    scope = ProductionScope(("prod-a/ml-prod",))
    assert scope.production(service("pvm"))
    labelled = service("batch", cluster="lab", namespace="x", production=True)
    assert scope.production(labelled)  # the engine's environment=production label still counts
    assert not scope.production(service("batch", cluster="lab", namespace="x"))


def test_a_bad_pattern_in_the_config_file_is_one_line_naming_the_key_and_the_form(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[actions]\nproduction = ["prod-*", "a/b/c"]\n')
    with pytest.raises(ConfigError) as caught:
        build_settings({}, str(path))
    message = str(caught.value)
    assert "\n" not in message and "actions.production" in message
    assert "'a/b/c' is not CLUSTER or CLUSTER/NAMESPACE" in message
    path.write_text('[actions]\nproduction = "prod-*"\n')
    with pytest.raises(ConfigError, match="expected a list of non-empty strings"):
        build_settings({}, str(path))


def test_the_configured_patterns_reach_the_fleet_and_mark_its_services(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[actions]\nproduction = ["prod-*"]\n')
    settings = build_settings({"audit_log": str(tmp_path / "audit.jsonl")}, str(path))
    assert settings.production == ["prod-*"] and settings.origin["production"] == "config"
    fleet = build_fleet(settings)
    backend = InMemoryBackend("prod-a")
    backend.services = {s.key: s for s in (service("pvm"),)}
    fleet.add_backend(backend)
    fleet.start()
    try:
        fleet.flush()
        [pvm] = fleet.state.services.values()
        assert pvm.production
    finally:
        fleet.stop()


PVM = service("pvm", desired=3, autoscaler=Autoscaler("hpa", 2, 10, 3, 3))


@pytest.mark.parametrize("intent, typed", [
    (Scale(2), True), (Scale(0), True), (Scale(3), False), (Scale(5), False),
    (SetAutoscalerBounds(1, 2), True), (SetAutoscalerBounds(1, 10), False),
    (SetCanaryWeight(30), True), (SetCanaryWeight(0), True), (Promote(), True), (Promote(full=True), True),
    (Abort(), True), (SwitchBlueGreen("green"), True), (Rollback(), True),
    (UpdateImage("img:v2"), False), (Restart(), False),
])
def test_what_reduces_capacity_or_moves_traffic_needs_the_name(intent, typed):
    assert needs_typed_name(PVM, intent) is typed


class TrafficBackend(InMemoryBackend):
    """Plans every intent as one call, as an engine would, without asking for any typed name."""

    def plan(self, svc, intent):
        return ActionPlan(source=self.name, target=svc.key, target_name=str(svc.key), intent=intent,
                          mutations=(), before={"x": "1"}, after={"x": "2"})


def fleet_with(production: ProductionScope, *services) -> Fleet:
    backend = TrafficBackend("prod-a")
    backend.services = {s.key: s for s in services}
    fleet = Fleet([backend], production=production, max_rate=0)
    fleet.start()
    fleet.flush()
    return fleet


ALL = frozenset(ActionKind)


def test_in_production_the_fleet_asks_for_the_name_on_switch_rollback_and_weight_and_refuses_without_it():
    bg = service("ml-model-service", actions=ALL)
    fleet = fleet_with(ProductionScope(("prod-a",)), bg)
    try:
        svc = fleet.state.services[bg.key]
        for intent in (SwitchBlueGreen("v2.1"), Rollback(), SetCanaryWeight(50), Scale(1)):
            plan = fleet.plan(svc, intent)
            assert plan.production and plan.confirm_text == "ml-model-service", intent
            refused = fleet.apply(plan)
            assert refused.outcome is Outcome.REFUSED and "type 'ml-model-service'" in refused.detail
        up = fleet.plan(svc, Scale(4))
        assert up.production and up.confirm_text == ""
        # A plan made elsewhere without the typed name is refused by the Fleet all the same.
        bare = TrafficBackend("prod-a").plan(svc, SwitchBlueGreen("v2.1"))
        refused = fleet.apply(bare)
        assert refused.outcome is Outcome.REFUSED
        assert refused.detail == "ml-model-service is production: switch to v2.1 needs its name typed"
        assert fleet.apply(plan, confirmed_text="ml-model-service").outcome is not Outcome.REFUSED
    finally:
        fleet.stop()


class BlockedSwitchBackend(TrafficBackend):
    def plan(self, svc, intent):
        overridden = getattr(intent, "override_unready", False)
        return replace(super().plan(svc, intent), warnings=(unready_target_warning("no ready pod", overridden),))


def test_a_blocked_production_switch_offers_its_override_first_and_the_override_asks_for_the_name():
    """No name field on a preview that cannot be sent: `o` must reach the override, not a text box."""
    bg = service("ml-model-service", actions=ALL)
    backend = BlockedSwitchBackend("prod-a")
    backend.services = {bg.key: bg}
    fleet = Fleet([backend], production=ProductionScope(("prod-a",)), max_rate=0)
    fleet.start()
    fleet.flush()
    try:
        blocked = fleet.plan(fleet.state.services[bg.key], SwitchBlueGreen("v2.1"))
        assert blocked.blocked and blocked.production and blocked.confirm_text == ""
        overridden = fleet.plan(fleet.state.services[bg.key], SwitchBlueGreen("v2.1", override_unready=True))
        assert not overridden.blocked and overridden.confirm_text == "ml-model-service"
    finally:
        fleet.stop()


def test_outside_production_nothing_extra_is_asked():
    other = service("batch", namespace="ml-dev", kind=ServiceKind.DEPLOYMENT, actions=ALL)
    fleet = fleet_with(ProductionScope(("prod-a/ml-prod",)), other)
    try:
        plan = fleet.plan(fleet.state.services[other.key], SwitchBlueGreen("green"))
        assert not plan.production and plan.confirm_text == ""
    finally:
        fleet.stop()


def test_an_engine_marked_production_service_is_guarded_without_any_config():
    marked = replace(service("pvm", actions=ALL), production=True)
    fleet = fleet_with(ProductionScope(), marked)
    try:
        assert fleet.plan(fleet.state.services[marked.key], Rollback()).confirm_text == "pvm"
    finally:
        fleet.stop()

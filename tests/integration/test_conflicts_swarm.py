"""Nothing is overwritten that changed since the preview, on the real Docker Swarm.

The operator previews an action through the Fleet; before they confirm, a colleague changes the same
service with the docker CLI; they confirm. Each update carries the version index read when the preview
was built, so Swarm refuses it ("update out of sequence"): the outcome is a conflict, the fresh preview
names what changed, and `docker service inspect` still shows the colleague's spec until the operator
confirms the new preview. The canary split is two calls: a change to either service before the first
call sends nothing; a change that lands between the two calls is reported with exactly which call landed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mlops_tui.backends.fleet import Fleet
from mlops_tui.backends.model import HealthState, ModelService
from mlops_tui.backends.plans import Outcome, Rollback, Scale, SetCanaryWeight, UpdateImage
from mlops_tui.backends.swarm.client import SwarmEndpoint
from mlops_tui.backends.swarm.watch import SwarmBackend
from tests.integration.test_swarm_backend import (  # noqa: F401 (swarm_engine: the autouse engine check)
    SOCKET,
    Lab,
    docker,
    inspect,
    swarm_engine,
    wait_for,
)

pytestmark = pytest.mark.integration

CHANGED = "(changed by someone else since your preview)"


class Desk:
    """The operator's Fleet on the real Swarm, with its audit log."""

    def __init__(self) -> None:
        self.audit: list[dict] = []
        self.backend = SwarmBackend(SwarmEndpoint(url=f"unix://{SOCKET}"), name="it-conflicts", resync_seconds=1.0)
        self.fleet = Fleet([self.backend], audit=self.audit.append, operator="oncall-ana")
        self.fleet.start()
        wait_for("the Swarm connected", lambda: (self.fleet.flush(), self.fleet.state.health.get("it-conflicts"))[1]
                 and self.fleet.state.health["it-conflicts"].state is HealthState.CONNECTED, 20)

    def service(self, name: str, check=lambda s: True) -> ModelService:
        def find():
            self.fleet.flush()
            return next((s for k, s in self.fleet.state.services.items() if k.name == name and check(s)), None)

        return wait_for(f"{name} in the Fleet", find, 60)

    def confirm_over(self, plan, *colleague: str):
        """The colleague's docker command lands between the preview and `y`."""
        docker(*colleague)
        outcome = self.fleet.apply(plan, confirmed_text=plan.confirm_text, verify_timeout=60)
        assert outcome.outcome is Outcome.CONFLICT, outcome.detail
        assert "update out of sequence" in outcome.detail
        assert outcome.replanned is not None, "no fresh preview after the conflict"
        assert self.audit[-1]["result"] == "conflict"
        assert self.audit[-1]["before"] == dict(outcome.replanned.before)  # not the stale preview
        return outcome

    def confirm_new_preview(self, outcome):
        result = self.fleet.apply(outcome.replanned, confirmed_text=outcome.replanned.confirm_text, verify_timeout=90)
        assert result.outcome is Outcome.SUCCEEDED, result.detail
        return result

    def close(self) -> None:
        self.fleet.stop()


@pytest.fixture
def lab() -> Iterator[Lab]:
    services = Lab()
    yield services
    services.cleanup()


@pytest.fixture
def desk() -> Iterator[Desk]:
    d = Desk()
    yield d
    d.close()


def replicas(name: str) -> int:
    return inspect(name)["Spec"]["Mode"]["Replicated"]["Replicas"]


def image(name: str) -> str:
    return inspect(name)["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]


def test_scale_over_a_colleagues_docker_service_scale_waits_for_a_new_preview(desk: Desk, lab: Lab):
    name = lab.create("scale", "--replicas", "1", "mlops/model:v1")
    plan = desk.fleet.plan(desk.service(name, lambda s: s.ready == 1), Scale(2))
    outcome = desk.confirm_over(plan, "service", "scale", "--detach", f"{name}=3")
    assert outcome.detail.startswith(f"replicas 1 → 3 {CHANGED}"), outcome.detail
    assert replicas(name) == 3  # the colleague's count stands
    desk.confirm_new_preview(outcome)
    assert replicas(name) == 2


def test_an_image_update_over_a_colleagues_image_waits_for_a_new_preview(desk: Desk, lab: Lab):
    name = lab.create("image", "--replicas", "1", "mlops/model:v1")
    plan = desk.fleet.plan(desk.service(name, lambda s: s.ready == 1), UpdateImage("mlops/model:v2"))
    outcome = desk.confirm_over(plan, "service", "update", "--detach", "--no-resolve-image", "--image",
                                "mlops/model:v2.1", name)
    assert outcome.detail.startswith("image mlops/model:v1 → mlops/model:v2.1"), outcome.detail
    assert image(name) == "mlops/model:v2.1"
    desk.confirm_new_preview(outcome)
    assert image(name) == "mlops/model:v2"


def test_a_rollback_over_a_hotfix_image_set_meanwhile_waits_for_a_new_preview(desk: Desk, lab: Lab):
    name = lab.create("rollback", "--replicas", "1", "mlops/model:v1")
    docker("service", "update", "--detach", "--no-resolve-image", "--image", "mlops/model:v2", name)
    model = desk.service(name, lambda s: s.ready == 1 and "v2" in (s.image or ""))
    plan = desk.fleet.plan(model, Rollback())
    assert plan.after["image"] == "mlops/model:v1"
    outcome = desk.confirm_over(plan, "service", "update", "--detach", "--no-resolve-image", "--image",
                                "mlops/model:v2.1", name)
    assert outcome.detail.startswith("image mlops/model:v2 → mlops/model:v2.1"), outcome.detail
    assert image(name) == "mlops/model:v2.1"  # the hotfix is not rolled over
    # Swarm keeps one previous spec: the new preview goes back to v2, not v1.
    assert outcome.replanned.after["image"] == "mlops/model:v2"
    desk.confirm_new_preview(outcome)
    assert image(name) == "mlops/model:v2"


def _canary_pair(desk: Desk, lab: Lab) -> tuple[str, str, ModelService]:
    stable = lab.create("fraud", "--replicas", "3", "mlops/model:v1")
    canary = lab.create("fraud-canary", "--replicas", "1", "--label", f"mlops.canary-of={stable}", "mlops/model:v2")
    model = desk.service(stable, lambda s: s.canary is not None and s.canary.weight == 25 and s.ready == 3)
    return stable, canary, model


@pytest.mark.parametrize("changed_side", ["canary", "stable"])
def test_a_canary_split_over_a_change_to_either_service_sends_nothing(desk: Desk, lab: Lab, changed_side: str):
    stable, canary, model = _canary_pair(desk, lab)
    plan = desk.fleet.plan(model, SetCanaryWeight(50))  # canary 1 -> 2 first, then stable 3 -> 2
    assert len(plan.mutations) == 2
    touched = canary if changed_side == "canary" else stable
    outcome = desk.confirm_over(plan, "service", "update", "--detach", "--label-add", "owner=team-b", touched)
    assert "none of the 2 calls was sent" in outcome.detail, outcome.detail
    assert (replicas(stable), replicas(canary)) == (3, 1)  # neither call was sent
    desk.confirm_new_preview(outcome)
    assert (replicas(stable), replicas(canary)) == (2, 2)


def test_a_canary_split_whose_second_service_changes_after_the_first_call_says_which_call_landed(
        desk: Desk, lab: Lab):
    stable, canary, model = _canary_pair(desk, lab)
    plan = desk.fleet.plan(model, SetCanaryWeight(50))
    sent = desk.backend.client.request

    def colleague_between_the_calls(method, path, params=None, body=None, timeout=None):
        answer = sent(method, path, params, body, timeout)
        if method == "POST" and body and body.get("Name") == canary:
            # The first call has landed; a colleague scales the stable service before the second.
            docker("service", "scale", "--detach", f"{stable}=4")
        return answer

    desk.backend.client.request = colleague_between_the_calls  # type: ignore[method-assign]
    try:
        outcome = desk.fleet.apply(plan, confirmed_text=plan.confirm_text, verify_timeout=30)
    finally:
        desk.backend.client.request = sent  # type: ignore[method-assign]
    assert outcome.outcome is Outcome.CONFLICT, outcome.detail
    assert (f"call 1 of 2, set replicas of {canary} to 2, landed; call 2, set replicas of {stable} to 2, "
            "was refused and nothing after it was sent") in outcome.detail
    assert (replicas(stable), replicas(canary)) == (4, 2)  # the first call and the colleague's scale, nothing else
    assert outcome.replanned is not None
    assert outcome.replanned.before["stable"] == f"{stable} ×4"

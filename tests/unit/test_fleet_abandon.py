"""Quitting while an applied action is still being verified: the Fleet writes one audit record
saying it was applied and not verified, whichever of the quit and the verification ends first."""

from __future__ import annotations

import threading

from mlops_tui.backends.fleet import Fleet
from mlops_tui.backends.plans import Scale, VerifyResult
from tests.fakes import T0, InMemoryBackend, service


class Blocking(InMemoryBackend):
    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.verifying = threading.Event()

    def verify(self, plan, timeout, progress):
        self.verifying.set()
        self.release.wait(timeout)
        return VerifyResult(True, "3/3 ready", {"replicas": "3"})


def fleet_with(backend, audit: list[dict]) -> Fleet:
    svc = service("valuation", desired=2, ready=2)
    backend.services = {svc.key: svc}
    fleet = Fleet([backend], clock=lambda: T0, audit=audit.append)
    fleet.start()
    fleet.flush()
    return fleet


def test_abandoning_a_running_verification_records_it_once_as_applied_and_not_verified():
    audit: list[dict] = []
    backend = Blocking()
    fleet = fleet_with(backend, audit)
    plan = fleet.plan(next(iter(fleet.state.services.values())), Scale(3))
    worker = threading.Thread(target=fleet.apply, args=(plan,), daemon=True)
    worker.start()
    assert backend.verifying.wait(5)
    assert fleet.abandon(plan) is not None
    # Write-ahead: the intent was on disk before the call; the abandon is the plan's one result.
    assert [(r["intent"], r["result"]) for r in audit] == [("scale to 3", "intent"),
                                                           ("scale to 3", "applied-not-converged")]
    assert "not verified" in audit[1]["detail"] and audit[0]["id"] == audit[1]["id"] == plan.id
    backend.release.set()  # the verification ends after all: no second, contradicting record
    worker.join(5)
    assert len(audit) == 2
    fleet.stop()


def test_abandoning_a_plan_that_already_has_its_record_writes_nothing():
    audit: list[dict] = []
    backend = Blocking()
    backend.release.set()
    fleet = fleet_with(backend, audit)
    plan = fleet.plan(next(iter(fleet.state.services.values())), Scale(3))
    fleet.apply(plan)
    assert fleet.abandon(plan) is None
    assert [r["result"] for r in audit] == ["intent", "succeeded"]
    fleet.stop()

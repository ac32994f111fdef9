"""The Fleet's audit is write-ahead, and a call whose answer was lost is never called failed: the
operator's stories, against the in-memory backend (the real engines are in
tests/integration/test_actions_under_faults.py)."""

from __future__ import annotations

from dataclasses import replace

from mlops_tui.backends.fleet import Fleet
from mlops_tui.backends.plans import ActionInDoubt, ActionPartial, Mutation, Outcome, Scale
from tests.fakes import T0, InMemoryBackend, service


def fleet_of(backend: InMemoryBackend, audit) -> tuple[Fleet, object]:
    svc = service("valuation", desired=2, ready=2)
    backend.services = {svc.key: svc}
    fleet = Fleet([backend], clock=lambda: T0, audit=audit, sleep=lambda _s: None)
    fleet.start()
    fleet.flush()
    return fleet, svc


class WatchesTheAudit(InMemoryBackend):
    """Remembers what the audit log held when the first call was sent."""

    def __init__(self, audit: list[dict]) -> None:
        super().__init__()
        self.audit = audit
        self.audit_when_sent: list[dict] = []

    def apply(self, plan):
        self.audit_when_sent = list(self.audit)
        super().apply(plan)


def test_the_intent_and_its_calls_are_on_disk_before_the_first_call_is_sent():
    audit: list[dict] = []
    backend = WatchesTheAudit(audit)
    fleet, svc = fleet_of(backend, audit.append)
    plan = fleet.plan(svc, Scale(3))
    assert fleet.apply(plan).outcome is Outcome.SUCCEEDED
    assert [r["result"] for r in backend.audit_when_sent] == ["intent"]
    assert backend.audit_when_sent[0]["calls"] == ["PATCH /scale/valuation"]
    assert [(r["phase"], r["id"]) for r in audit] == [("intent", plan.id), ("result", plan.id)]
    fleet.stop()


def test_an_unwritable_audit_log_refuses_the_action_and_sends_nothing():
    def full_disk(_record):
        raise OSError(28, "No space left on device")

    backend = InMemoryBackend()
    fleet, svc = fleet_of(backend, full_disk)
    outcome = fleet.apply(fleet.plan(svc, Scale(3)))
    assert outcome.outcome is Outcome.REFUSED
    assert "audit log cannot be written" in outcome.detail and "nothing was sent" in outcome.detail
    assert backend.mutations == []
    fleet.stop()


def test_an_audit_log_that_fails_after_the_apply_still_reports_the_result_without_a_crash():
    written: list[dict] = []

    def fails_after_intent(record):
        if written:
            raise OSError(5, "Input/output error")
        written.append(dict(record))

    backend = InMemoryBackend()
    fleet, svc = fleet_of(backend, fails_after_intent)
    outcome = fleet.apply(fleet.plan(svc, Scale(3)))
    assert outcome.outcome is Outcome.SUCCEEDED and len(backend.mutations) == 1
    assert [r["result"] for r in written] == ["intent"]  # the write-ahead record says it was sent
    fleet.stop()


class LosesTheAnswer(InMemoryBackend):
    """Sends the call, loses its answer; re-reads say `answers` in turn (None: cannot tell yet)."""

    def __init__(self, answers, applied: bool, not_sent: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.answers = list(answers)
        self.applied = applied
        self.not_sent = not_sent
        self.probes = 0
        self.followups_for: tuple[str, ...] | None = None

    def apply(self, plan):
        if self.applied:
            super().apply(plan)
        else:
            self.mutations.extend(plan.mutations)

        def probe():
            self.probes += 1
            return self.answers.pop(0) if self.answers else None

        def followups(landed):
            self.followups_for = landed
            return replace(plan, mutations=(Mutation("PATCH", "/rest"),)), replace(plan, mutations=())

        raise ActionInDoubt("scale: sent, but the answer was lost (ReadTimeoutError)", probe=probe,
                            in_doubt="scale", not_sent=self.not_sent, followups=followups)


def test_a_lost_answer_the_engine_applied_is_reported_applied_and_audited_unknown_then_resolved():
    audit: list[dict] = []
    backend = LosesTheAnswer([None, None, True], applied=True)
    fleet, svc = fleet_of(backend, audit.append)
    outcome = fleet.apply(fleet.plan(svc, Scale(3)))
    assert outcome.outcome is Outcome.SUCCEEDED, outcome.detail
    assert "re-reading showed it applied" in outcome.detail
    assert backend.probes == 3 and len(backend.mutations) == 1  # re-read, never re-sent
    assert [r["result"] for r in audit] == ["intent", "unknown", "succeeded"]


def test_a_lost_answer_the_engine_did_not_apply_is_not_applied_never_failed():
    audit: list[dict] = []
    backend = LosesTheAnswer([None, False], applied=False)
    fleet, svc = fleet_of(backend, audit.append)
    outcome = fleet.apply(fleet.plan(svc, Scale(3)))
    assert outcome.outcome is Outcome.NOT_APPLIED
    assert [r["result"] for r in audit] == ["intent", "unknown", "not-applied"]
    assert audit[-1]["not_landed"] == ["scale"]


def test_an_engine_that_never_answers_again_leaves_the_outcome_unknown_not_failed():
    audit: list[dict] = []
    backend = LosesTheAnswer([], applied=False)
    fleet, svc = fleet_of(backend, audit.append)
    outcome = fleet.apply(fleet.plan(svc, Scale(3)), verify_timeout=0.05)
    assert outcome.outcome is Outcome.UNKNOWN and "look before acting again" in outcome.detail
    assert [r["result"] for r in audit] == ["intent", "unknown", "unknown"]


def test_a_call_applied_before_the_rest_were_sent_is_partial_with_a_completing_and_a_reverting_plan():
    audit: list[dict] = []
    backend = LosesTheAnswer([True], applied=True, not_sent=("scale stable",))
    fleet, svc = fleet_of(backend, audit.append)
    outcome = fleet.apply(fleet.plan(svc, Scale(3)))
    assert outcome.outcome is Outcome.PARTIAL
    assert outcome.landed == ("scale",) and outcome.not_landed == ("scale stable",)
    assert backend.followups_for == ("scale",)
    assert outcome.completing is not None and outcome.reverting is not None
    assert audit[-1]["landed"] == ["scale"] and audit[-1]["not_landed"] == ["scale stable"]


class StopsHalfWay(InMemoryBackend):
    def apply(self, plan):
        self.mutations.append(plan.mutations[0])
        raise ActionPartial("call 2 refused", landed=("scale canary",), not_landed=("scale stable",),
                            completing=plan, reverting=plan)


def test_a_multi_call_plan_refused_half_way_names_the_landed_and_the_missing_calls():
    audit: list[dict] = []
    fleet, svc = fleet_of(StopsHalfWay(), audit.append)
    outcome = fleet.apply(fleet.plan(svc, Scale(3)))
    assert outcome.outcome is Outcome.PARTIAL and outcome.completing is not None and outcome.reverting is not None
    assert (audit[-1]["landed"], audit[-1]["not_landed"]) == (["scale canary"], ["scale stable"])

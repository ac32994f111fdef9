"""`mlops-tui audit` reads write-ahead records truthfully, and an audit log that cannot be written makes
the app read-only from the start (one clear line), before any action is offered."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mlops_tui.backends.fleet import audit_record, intent_record
from mlops_tui.backends.plans import ActionOutcome, ActionRefused, Outcome, Scale
from mlops_tui.tui.audit import NOT_RECORDED, AuditLog
from mlops_tui.tui.cli import main
from mlops_tui.tui.config import Settings
from tests.fakes import T0, InMemoryBackend, service


def plan_for(backend: InMemoryBackend, replicas: int):
    svc = service("valuation", desired=2, ready=2)
    return backend.plan(svc, Scale(replicas))


def test_an_intent_with_no_result_reads_sent_result_not_recorded_with_its_calls(tmp_path, capsys):
    """The app was killed between sending and recording: the operator reading the log learns the call
    may have landed, and which call it was."""
    log = AuditLog(tmp_path / "audit.jsonl")
    plan = plan_for(InMemoryBackend(), 4)
    log.append(intent_record(plan, "oncall-ana", T0))
    assert main(["audit", "--audit-log", str(log.path)]) == 0
    out = capsys.readouterr().out
    assert NOT_RECORDED in out and "scale to 4" in out and "PATCH /scale/valuation" in out


def test_an_intent_followed_by_its_result_reads_as_one_line_and_a_resolved_unknown_says_so(tmp_path, capsys):
    log = AuditLog(tmp_path / "audit.jsonl")
    plan = plan_for(InMemoryBackend(), 5)
    log.append(intent_record(plan, "oncall-ana", T0))
    unknown = ActionOutcome(plan, Outcome.UNKNOWN, "answer lost", T0, T0 + timedelta(seconds=15))
    log.append(audit_record(unknown, "oncall-ana", phase="unknown"))
    done = ActionOutcome(plan, Outcome.SUCCEEDED, "5/5 ready", T0, T0 + timedelta(seconds=20),
                         after={"replicas": "5"})
    log.append(audit_record(done, "oncall-ana"))
    assert main(["audit", "--audit-log", str(log.path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    assert "succeeded (answer lost, resolved by re-reading)" in lines[0] and NOT_RECORDED not in lines[0]


def test_an_audit_log_whose_folder_cannot_be_made_is_a_problem_even_for_root(tmp_path):
    """A file where the audit folder should be (a typo in --audit-log): no file modes involved, so the
    check holds for root too (CI runs as root)."""
    folder = tmp_path / "not-a-folder"
    folder.write_text("")
    assert AuditLog(folder / "audit.jsonl").problem()


def test_an_unwritable_audit_log_makes_the_app_read_only_at_start_up(tmp_path):
    """The audit path is a directory (or on a read-only disk): one clear line, and every action refused
    before any engine is asked."""
    from mlops_tui.tui.sources import build_fleet

    blocked = tmp_path / "audit.jsonl"
    blocked.mkdir()  # a directory where the file should be: cannot be opened for appending, even as root
    problem = AuditLog(blocked).problem()
    assert problem.startswith(f"the audit log {blocked} is not writable") and "actions are disabled" in problem
    fleet = build_fleet(Settings(audit_log=str(blocked)))
    assert fleet.readonly and fleet.readonly_reason == problem
    with pytest.raises(ActionRefused, match="not writable"):
        fleet.plan_on("prod-a", None, Scale(3))

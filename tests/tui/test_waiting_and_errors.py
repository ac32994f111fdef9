"""Waiting is the operator's choice, and nothing fails silently.

After a confirmed action the progress screen shows what it waits for and a ticking deadline; esc
sends the wait to the background (the row says verifying…, the outcome arrives later as a notice
and in the row); q quits, and the audit log still says the action was applied and not verified.
An error in a worker is shown and the app goes on; an error the app cannot survive ends it with a
non-zero status and a crash report in the state directory, whose path is printed."""

from __future__ import annotations

import re
import threading
from pathlib import Path

from mlops_tui.backends.fleet import Fleet
from mlops_tui.backends.plans import VerifyResult
from mlops_tui.backends.state import FleetDelta
from mlops_tui.tui.app import MlopsApp
from mlops_tui.tui.config import Settings
from mlops_tui.tui.format import SERVICE_COLUMN
from mlops_tui.tui.messages import FleetUpdated
from mlops_tui.tui.panes import ServicesPane
from tests.fakes import T0, InMemoryBackend, ResultRecords
from tests.tui.conftest import make_app, seed_fleet, until, visible_text
from tests.tui.test_actions_flow import select


class SlowToConverge(InMemoryBackend):
    """Applies at once; its pods become ready only when the test says so (like GPUs that free up)."""

    def __init__(self) -> None:
        super().__init__()
        self.ready = threading.Event()
        self.verifying = threading.Event()

    def verify(self, plan, timeout, progress):
        self.verifying.set()
        progress(f"0/{plan.intent.replicas} ready")
        converged = self.ready.wait(timeout)
        replicas = str(plan.intent.replicas)
        detail = f"{replicas}/{replicas} ready" if converged else "0 ready"
        return VerifyResult(converged, detail, {"replicas": replicas})


def slow_app(audit: list[dict], crash_dir: Path | None = None) -> tuple[MlopsApp, SlowToConverge]:
    backend = SlowToConverge()
    seed_fleet(backend)
    app = MlopsApp(Settings(), lambda s: Fleet([backend], max_rate=100, clock=lambda: T0, audit=audit.append),
                   clock=lambda: T0, crash_dir=crash_dir)
    return app, backend


async def confirm_scale(pilot, app, replicas: str) -> None:
    await select(pilot, app, "llm-reranker")
    await pilot.press("s")
    await until(pilot, lambda: app.screen.__class__.__name__ == "ScaleDialog")
    await pilot.press(replicas, "enter")
    await until(pilot, lambda: app.screen.__class__.__name__ == "PreviewScreen")
    await pilot.pause(0.1)
    await pilot.press("y")
    await until(pilot, lambda: app.screen.__class__.__name__ == "ProgressScreen")


def row_action(app, name: str) -> str:
    table = app.query_one(ServicesPane)
    key = next(k for k in table.shown_keys if k.endswith("\x1f" + name))
    return table.cells(key)[SERVICE_COLUMN["action"]].plain


def countdown(app) -> str:
    found = re.search(r"gives up in (\d+:\d\d)", visible_text(app))
    return found.group(1) if found else ""


def verify_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("verify-")]


async def test_the_wait_shows_what_it_waits_for_and_a_ticking_deadline():
    audit = ResultRecords()
    app, backend = slow_app(audit)
    async with app.run_test(size=(140, 42)) as pilot:
        await confirm_scale(pilot, app, "8")
        await until(pilot, lambda: "0/8 ready" in visible_text(app) and countdown(app))
        first = countdown(app)
        assert first in ("2:00", "1:59", "1:58")
        assert "waiting for scale to 8 to converge" in visible_text(app)
        await until(pilot, lambda: countdown(app) not in ("", first), timeout=5)  # it ticks
        backend.ready.set()
        await until(pilot, lambda: app.screen.finished)
        assert "succeeded" in visible_text(app) and not countdown(app)


async def test_esc_sends_the_wait_to_the_background_and_the_outcome_arrives_in_the_row():
    audit = ResultRecords()
    app, backend = slow_app(audit)
    async with app.run_test(size=(140, 42)) as pilot:
        await confirm_scale(pilot, app, "8")
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.screen_stack[0])
        await until(pilot, lambda: row_action(app, "llm-reranker") == "verifying… scale to 8")
        assert audit == []  # not decided yet: no record
        await pilot.press("down")  # the dashboard answers keys meanwhile
        backend.ready.set()
        await until(pilot, lambda: row_action(app, "llm-reranker") == "✔ scale to 8")
        assert [(r["intent"], r["result"]) for r in audit] == [("scale to 8", "succeeded")]
        assert any("scale to 8" in n.message and "succeeded" in n.message for n in app._notifications)


async def test_q_while_verifying_quits_and_the_audit_log_says_applied_not_verified():
    audit = ResultRecords()
    app, backend = slow_app(audit)
    async with app.run_test(size=(140, 42)) as pilot:
        await confirm_scale(pilot, app, "8")
        await until(pilot, lambda: backend.verifying.is_set())
        await pilot.press("q")
        await until(pilot, lambda: app.return_code is not None)
    assert app.return_code == 0
    assert len(audit) == 1
    record = audit[0]
    assert record["intent"] == "scale to 8" and record["result"] == "applied-not-converged"
    assert "not verified" in record["detail"] and "quit" in record["detail"]
    assert len(backend.mutations) == 1  # it was sent
    backend.ready.set()  # the abandoned verification ends later: it writes no second record
    for thread in verify_threads():
        thread.join(timeout=10)
    assert len(audit) == 1


class BrokenFleet(Fleet):
    """A Fleet with a bug in the follow-up of an applied action (not an engine failure)."""

    def apply(self, plan, **kwargs):
        raise RuntimeError("bug while following the action")


async def test_an_error_in_a_worker_is_shown_and_the_app_keeps_running(tmp_path):
    backend = InMemoryBackend()
    seed_fleet(backend)
    app = MlopsApp(Settings(), lambda s: BrokenFleet([backend], max_rate=100, clock=lambda: T0),
                   clock=lambda: T0, crash_dir=tmp_path)
    async with app.run_test(size=(140, 42)) as pilot:
        await confirm_scale(pilot, app, "5")
        await until(pilot, lambda: any("bug while following the action" in n.message for n in app._notifications))
        await until(pilot, lambda: row_action(app, "llm-reranker") == "✖ unknown: scale to 5")
        reports = list(tmp_path.glob("crash-*.txt"))
        assert len(reports) == 1 and "RuntimeError: bug while following the action" in reports[0].read_text()
        notice = next(n.message for n in app._notifications if "bug while following" in n.message)
        assert str(reports[0]) in notice
        await pilot.press("escape")  # the app is alive and answers
        await until(pilot, lambda: app.screen is app.screen_stack[0])
        await pilot.press("tab")
        await until(pilot, lambda: app.active_pane == "gpus")
    assert app.return_code in (None, 0)


class RevisionsBug(Fleet):
    """A backend bug behind the roll back key: its revision history is not a list."""

    def revisions(self, service):
        return None


async def test_an_error_in_an_action_worker_is_shown_and_the_app_keeps_running(tmp_path):
    backend = InMemoryBackend()
    seed_fleet(backend)
    app = MlopsApp(Settings(), lambda s: RevisionsBug([backend], max_rate=100, clock=lambda: T0),
                   clock=lambda: T0, crash_dir=tmp_path)
    async with app.run_test(size=(140, 42)) as pilot:
        await select(pilot, app, "property-valuation-model")
        await pilot.press("R")
        await until(pilot, lambda: any("the roll back failed" in n.message and "TypeError" in n.message
                                       for n in app._notifications))
        assert len(list(tmp_path.glob("crash-*.txt"))) == 1
        await pilot.press("s")  # the keys still work: the next action opens
        await until(pilot, lambda: app.screen.__class__.__name__ == "ScaleDialog")
        assert backend.mutations == []
    assert app.return_code in (None, 0)


class ServiceDetailBug(Fleet):
    """A backend bug in the detail screen's worker: what it returns cannot be shown."""

    def describe(self, service):
        return object()


async def test_an_error_in_the_detail_screens_worker_is_shown_and_the_app_keeps_running(tmp_path):
    backend = InMemoryBackend()
    seed_fleet(backend)
    app = MlopsApp(Settings(), lambda s: ServiceDetailBug([backend], max_rate=100, clock=lambda: T0),
                   clock=lambda: T0, crash_dir=tmp_path)
    async with app.run_test(size=(140, 42)) as pilot:
        await select(pilot, app, "llm-reranker")
        await pilot.press("enter")
        await until(pilot, lambda: any("AttributeError" in n.message for n in app._notifications))
        assert list(tmp_path.glob("crash-*.txt"))
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.screen_stack[0])
    assert app.return_code in (None, 0)


class FleetWithABadUpdate(Fleet):
    """Publishes something the app cannot draw: an error in a message handler, which Textual
    treats as fatal (the app's state can no longer be trusted)."""

    def start(self):
        for listener in self._listeners:
            listener(None, None)


def test_a_fatal_error_exits_non_zero_with_a_crash_report_whose_path_is_printed(tmp_path, monkeypatch, capsys):
    from mlops_tui.tui.cli import run_dashboard

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))  # the platform's state dir, as for the audit log
    status = run_dashboard(Settings(), lambda s: FleetWithABadUpdate([], clock=lambda: T0), headless=True)
    assert status != 0
    reports = list((tmp_path / "mlops-tui").glob("crash-*.txt"))
    assert len(reports) == 1
    text = reports[0].read_text()
    assert "AttributeError" in text and "on_fleet_updated" in text
    assert str(reports[0]) in capsys.readouterr().err



async def test_an_update_arriving_while_the_app_closes_is_dropped_not_an_error():
    """The Fleet's publisher posts from its own thread: an update can still be queued when the
    dashboard is being taken down at quit. It must not turn a clean quit into a crash."""
    app, _ = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.fleet is not None and app.query_one(ServicesPane).row_count == 5)
        state = app.state
        await app.query_one(ServicesPane).remove()  # what the quit's teardown does to the panes
        app.post_message(FleetUpdated(state, FleetDelta(services=frozenset(state.services))))
        await pilot.pause()
        assert app._exception is None and app.is_running

"""Relative ages on screen keep ticking: the alerts pane's SINCE and a stale cluster's '◌ stale 2m' move
with the clock (at least once a second), and a tick that changes no visible text redraws nothing.

The operator's story (issue 15): an alert said SINCE `5s` for 30 s while the detail screen said `8m`, and a
frozen cluster's rows said `● ok` with no age. Here the app's clock is a manual one the test moves."""

from __future__ import annotations

from datetime import datetime, timedelta

from mlops_tui.backends.fleet import Fleet
from mlops_tui.backends.model import HealthState
from mlops_tui.tui.app import MlopsApp
from mlops_tui.tui.config import Settings
from mlops_tui.tui.format import ALERT_COLUMNS, SERVICE_COLUMN
from mlops_tui.tui.keyed_table import KeyedTable
from mlops_tui.tui.panes import AlertsPane, ServicesPane
from tests.fakes import T0, InMemoryBackend
from tests.tui.conftest import seed_fleet, until

SINCE = [key for key, *_ in ALERT_COLUMNS].index("since")


class Now:
    """The app's clock: stands still until the test moves it."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def app_with_clock() -> tuple[MlopsApp, InMemoryBackend, Now]:
    clock = Now()
    backend = InMemoryBackend()
    seed_fleet(backend)
    app = MlopsApp(Settings(), lambda s: Fleet([backend], max_rate=100, clock=clock), clock=clock)
    return app, backend, clock


class Redraws:
    """Counts the lines a table asks Textual to repaint (its only ways to ask: `refresh_line`, `refresh_lines`
    and a whole `refresh`)."""

    def __init__(self, table: KeyedTable) -> None:
        self.lines = 0
        self._depth = 0  # Textual's refresh_line calls refresh_lines, which calls refresh: count the outer one
        for name in ("refresh_line", "refresh_lines", "refresh"):
            original = getattr(table, name)

            def counted(*args, _original=original, **kwargs):
                self.lines += self._depth == 0
                self._depth += 1
                try:
                    return _original(*args, **kwargs)
                finally:
                    self._depth -= 1

            setattr(table, name, counted)


def fire_alert(fleet: Fleet) -> None:
    """One alert firing since T0 on property-valuation-model, left to the Fleet's own publisher (a `flush()`
    from the test thread could race it and reach the app before an older state)."""
    from mlops_tui.backends.base import Change
    from mlops_tui.backends.model import Alert, AlertState, Severity, freeze_labels

    fleet.submit(Change(source="prometheus", alerts=(Alert(
        "HighInferenceLatency", Severity.WARNING, AlertState.FIRING,
        freeze_labels({"alertname": "HighInferenceLatency", "namespace": "ml-prod",
                       "service": "property-valuation-model", "severity": "warning"}),
        summary="Model inference latency is high", since=T0),)))


def since_text(pane: AlertsPane) -> str:
    (key,) = pane.shown_keys
    return pane.cells(key)[SINCE].plain


def states(pane: ServicesPane) -> set[str]:
    return {pane.cells(k)[SERVICE_COLUMN["state"]].plain for k in pane.shown_keys}


async def test_the_alerts_since_column_ticks_with_the_clock_without_any_new_data():
    app, _backend, clock = app_with_clock()
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.fleet is not None and bool(app.fleet.state.services))
        fire_alert(app.fleet)
        pane = app.query_one(AlertsPane)
        await until(pilot, lambda: pane.row_count == 1)
        assert since_text(pane) == "0s"
        clock.advance(5)
        await until(pilot, lambda: since_text(pane) == "5s")  # the once-a-second timer, not new data
        clock.advance(8 * 60)
        await until(pilot, lambda: since_text(pane) == "8m")


async def test_a_tick_that_changes_no_visible_age_redraws_nothing():
    app, _backend, clock = app_with_clock()
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.fleet is not None and bool(app.fleet.state.services))
        fire_alert(app.fleet)
        alerts, services = app.query_one(AlertsPane), app.query_one(ServicesPane)
        await until(pilot, lambda: alerts.row_count == 1)
        clock.advance(10 * 60)
        alerts.tick_ages()
        assert since_text(alerts) == "10m"
        counted = [Redraws(alerts), Redraws(services)]
        clock.advance(20)  # still "10m"
        assert alerts.tick_ages() == 0 and services.tick_ages() == 0
        await pilot.pause(1.2)  # the timers' own ticks too
        assert [c.lines for c in counted] == [0, 0]
        clock.advance(60)
        assert alerts.tick_ages() == 1 and since_text(alerts) == "11m"
        assert counted[0].lines == 1  # the one line whose SINCE moved


async def test_a_stale_clusters_rows_and_pane_say_how_old_the_data_is_and_keep_counting():
    app, backend, clock = app_with_clock()
    async with app.run_test(size=(160, 45)) as pilot:
        pane = app.query_one(ServicesPane)
        await until(pilot, lambda: pane.row_count == 5)
        backend.push(health=HealthState.STALE, since=T0 - timedelta(seconds=12), error="API server not answering")
        await until(pilot, lambda: states(pane) == {"◌ stale 12s"})
        assert pane.border_subtitle == "5 · ◌ stale 12s"
        clock.advance(3)
        await until(pilot, lambda: states(pane) == {"◌ stale 15s"})  # ticking, with no new data
        assert pane.border_subtitle == "5 · ◌ stale 15s"
        counted = Redraws(pane)
        clock.advance(200)
        assert pane.tick_ages() == 5 and states(pane) == {"◌ stale 3m"}
        lines = counted.lines
        clock.advance(20)  # 3m 55s: still "3m", nothing to redraw
        assert pane.tick_ages() == 0 and counted.lines == lines
        backend.push(health=HealthState.CONNECTED)
        await until(pilot, lambda: "◌" not in "".join(states(pane)))
        assert pane.border_subtitle == "5"


def table_text(static) -> str:
    from rich.console import Console

    console = Console(width=200, record=True, file=None)
    with console.capture() as captured:
        console.print(static.content)
    return captured.get()


async def test_the_detail_screens_alert_since_ticks_too_and_agrees_with_the_pane():
    from textual.widgets import Static

    from mlops_tui.tui.screens.detail import ServiceDetailScreen

    app, _backend, clock = app_with_clock()
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.fleet is not None and bool(app.fleet.state.services))
        fire_alert(app.fleet)
        pane = app.query_one(AlertsPane)
        await until(pilot, lambda: pane.row_count == 1)
        service = next(s for k, s in app.fleet.state.services.items() if k.name == "property-valuation-model")
        await app.push_screen(ServiceDetailScreen(service))
        alerts = app.screen.query_one("#detail-alerts", Static)
        await until(pilot, lambda: "HighInferenceLatency" in table_text(alerts))
        assert " 0s " in table_text(alerts)
        clock.advance(8 * 60)
        await until(pilot, lambda: " 8m " in table_text(alerts))  # the screen's own timer
        await until(pilot, lambda: since_text(pane) == "8m")  # the pane behind it says the same (its own timer)
        clock.advance(10)
        assert app.screen.tick_ages() is False  # still 8m: nothing redrawn


async def test_a_stale_clusters_gpu_nodes_say_how_old_their_data_is_and_keep_counting():
    from mlops_tui.tui.panes import GpuPane

    app, backend, clock = app_with_clock()
    async with app.run_test(size=(160, 45)) as pilot:
        pane = app.query_one(GpuPane)

        def gpu_states() -> set[str]:
            table = pane.table
            return {table.cells(key)[0].plain for key in table.shown_keys}

        await until(pilot, lambda: gpu_states() == {"● ok", "✖ notready"})
        backend.push(health=HealthState.STALE, since=T0 - timedelta(seconds=12), error="API server not answering")
        # What the nodes showed may be old: their rows say so first, with the age.
        await until(pilot, lambda: gpu_states() == {"◌ stale 12s"})
        clock.advance(200)
        assert pane.tick_ages() and gpu_states() == {"◌ stale 3m"}
        clock.advance(20)  # still "3m": nothing to redraw
        assert not pane.tick_ages()
        backend.push(health=HealthState.CONNECTED)
        await until(pilot, lambda: gpu_states() == {"● ok", "✖ notready"})

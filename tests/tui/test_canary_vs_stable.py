"""Canary against stable, where the operator decides: the canary's row says the set weight against
the share it actually receives, the detail screen and the weight dialog give both sides' figures, and
the preview of a shift towards a worse canary warns with them (or says they are missing)."""

from __future__ import annotations

from dataclasses import replace

from mlops_tui.backends.base import Change
from mlops_tui.backends.model import ActionKind, CanaryFigures, LatencySeries, SideFigures
from mlops_tui.backends.plans import ActionPlan, Mutation, SetCanaryWeight
from mlops_tui.tui.format import SERVICE_COLUMN
from mlops_tui.tui.panes import ServicesPane
from tests.fakes import T0, InMemoryBackend
from tests.tui.conftest import make_app, seed_fleet, until, visible_text
from tests.tui.keys import burst
from tests.tui.test_actions_flow import select

CANARY = "property-price-predictor"
"""The seed's KServe canary, set to 10 %."""


def figures(canary: tuple, stable: tuple, at: float | None = None) -> CanaryFigures:
    return CanaryFigures(stable=SideFigures(*stable), canary=SideFigures(*canary),
                         at=T0.timestamp() if at is None else at, stale_after=30.0)


REGRESSING = figures(canary=(1.02, 0.021, 2.0), stable=(0.21, 0.002, 18.0))
"""p95 ×4.9 and 1.9 points more errors, at its set 10 % of the traffic."""
STARVED = figures(canary=(0.2, 0.002, 0.6), stable=(0.2, 0.002, 19.4))
"""As fast as stable, but receiving 3 % of the traffic for its 10 %."""


class ShiftsWeight(InMemoryBackend):
    """Plans a canary weight as a KServe backend would: one patch, before → after."""

    def plan(self, svc, intent):
        if not isinstance(intent, SetCanaryWeight):
            return super().plan(svc, intent)
        return ActionPlan(
            source=self.name, target=svc.key, target_name=str(svc.key), intent=intent,
            mutations=(Mutation("PATCH", f"/inferenceservices/{svc.key.name}",
                                {"spec": {"predictor": {"canaryTrafficPercent": intent.weight}}}),),
            before={"canary weight": f"{svc.canary.weight}%"}, after={"canary weight": f"{intent.weight}%"},
        )


def app_with(latency: CanaryFigures | None):
    backend = ShiftsWeight()
    seed_fleet(backend)
    app, _unused = make_app(backends=[backend])
    svc = next(s for s in backend.services.values() if s.key.name == CANARY)
    backend.services[svc.key] = replace(svc, actions=frozenset({ActionKind.CANARY_WEIGHT}))
    return app, backend, svc.key, latency


async def started(pilot, app, key, fig) -> None:
    await until(pilot, lambda: app.fleet is not None and len(app.query_one(ServicesPane).shown_keys) == 5)
    if fig is not None:
        app.fleet.submit(Change(source="prometheus", latency={key: LatencySeries(key, canary=fig)}))
        app.fleet.flush()
        await until(pilot, lambda: key in app.state.latency)


def canary_cell(app, key) -> str:
    pane = app.query_one(ServicesPane)
    row = next(k for k in pane.shown_keys if pane.cells(k)[SERVICE_COLUMN["name"]].plain == key.name)
    return pane.cells(row)[SERVICE_COLUMN["canary"]].plain


async def test_a_canary_not_receiving_its_set_share_is_flagged_on_its_row_at_80_columns():
    """Set 10 %, actual 3 %: `10→3!`, whole in the 6 columns CANARY keeps at 80 (NAME keeps its 20)."""
    app, _backend, key, fig = app_with(STARVED)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot, app, key, None)
        assert canary_cell(app, key).startswith("10% → v2")  # no figures yet: the set weight alone
        app.fleet.submit(Change(source="prometheus", latency={key: LatencySeries(key, canary=fig)}))
        app.fleet.flush()
        await until(pilot, lambda: canary_cell(app, key) == "10→3!")
        await until(pilot, lambda: "10→3!" in visible_text(app))


async def test_the_detail_screen_shows_canary_and_stable_side_by_side():
    app, _backend, key, fig = app_with(REGRESSING)
    async with app.run_test(size=(140, 42)) as pilot:
        await started(pilot, app, key, fig)
        await select(pilot, app, CANARY)
        await pilot.press("enter")
        await until(pilot, lambda: "vs stable" in visible_text(app))
        shown = visible_text(app)
        for line in ("canary v2", "stable v1", "p95    1.02 s", "210 ms", "errors 2.1 %", "req/s  2.0",
                     "share  set 10 %, actual 10 %", "canary worse than stable: p95 ×4.9, errors +1.9 points"):
            assert line in shown, line


async def test_operator_shifting_weight_to_a_regressing_canary_sees_the_figures_and_a_warning():
    app, backend, key, fig = app_with(REGRESSING)
    async with app.run_test(size=(140, 42)) as pilot:
        await started(pilot, app, key, fig)
        await select(pilot, app, CANARY)
        assert canary_cell(app, key) == "▲10→10"
        burst(app, "w")
        await until(pilot, lambda: "canary worse than stable: p95 ×4.9, errors +1.9 points" in visible_text(app))
        shown = visible_text(app)
        assert app.screen.__class__.__name__ == "CanaryDialog"
        assert "canary v2  p95 1.02 s  errors 2.1 %   2.0 req/s" in shown
        assert "stable v1  p95 210 ms  errors 0.2 %   18 req/s" in shown
        burst(app, *"40", "enter")  # typed together with nothing between, as over SSH
        await until(pilot, lambda: "▲ the canary is worse than stable" in visible_text(app))
        warning = next(str(w.render()) for w in app.screen.query(".preview-warning"))
        assert warning == ("▲ the canary is worse than stable: p95 1.02 s vs stable 210 ms (×4.9); "
                           "errors 2.1 % vs stable 0.2 % (at 2.0 vs 18 req/s)")
        assert app.screen.plan.after == {"canary weight": "40%"}  # the weight typed, previewed
        assert backend.mutations == []


async def test_shifting_weight_with_no_figures_says_they_are_unknown_rather_than_nothing():
    app, _backend, key, _fig = app_with(None)
    async with app.run_test(size=(140, 42)) as pilot:
        await started(pilot, app, key, None)
        await select(pilot, app, CANARY)
        burst(app, "w")
        await until(pilot, lambda: "canary vs stable: no figures from Prometheus" in visible_text(app))
        burst(app, *"40", "enter")
        await until(pilot, lambda: "▲ no canary-vs-stable figures from Prometheus" in visible_text(app))
        assert app.screen.__class__.__name__ == "PreviewScreen"


async def test_shifting_weight_with_stale_figures_says_they_are_stale():
    app, _backend, key, _fig = app_with(None)
    old = replace(REGRESSING, at=T0.timestamp() - 600)
    async with app.run_test(size=(140, 42)) as pilot:
        await started(pilot, app, key, old)
        await select(pilot, app, CANARY)
        burst(app, "w", *"40", "enter")
        await until(pilot, lambda: "▲ canary-vs-stable figures are stale (read 600 s ago)" in visible_text(app))
        assert app.screen.__class__.__name__ == "PreviewScreen"


async def test_figures_that_go_stale_leave_the_row_with_the_set_weight_alone():
    """Prometheus stopped answering: without a new read the share and verdict on the row would stand
    for what is no longer known; past `stale_after` the clock alone takes them off."""
    from mlops_tui.backends.fleet import Fleet
    from mlops_tui.tui.app import MlopsApp
    from mlops_tui.tui.config import Settings
    from tests.tui.test_ages_tick import Now

    clock = Now()
    backend = ShiftsWeight()
    seed_fleet(backend)
    app = MlopsApp(Settings(), lambda s: Fleet([backend], max_rate=100, clock=clock), clock=clock)
    key = next(k for k in backend.services if k.name == CANARY)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot, app, key, STARVED)
        await until(pilot, lambda: canary_cell(app, key) == "10→3!")
        pane = app.query_one(ServicesPane)
        clock.advance(20)
        assert pane.tick_ages() == 0  # the 1 s tick, called at once rather than waited for: still fresh
        assert canary_cell(app, key) == "10→3!"
        clock.advance(15)  # 35 s after the read: stale
        await until(pilot, lambda: canary_cell(app, key).startswith("10% → v2"))  # the pane's own tick


async def test_an_argo_canarys_dialog_with_its_figures_still_fits_80x24_with_its_choices_and_keys():
    app, backend, _key, fig = app_with(REGRESSING)
    argo = next(k for k in backend.services if k.name == "ensemble-predictor")
    backend.services[argo] = replace(backend.services[argo], actions=frozenset({ActionKind.CANARY_WEIGHT}))
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot, app, argo, fig)
        await select(pilot, app, "ensemble-predictor")
        burst(app, "w")
        await until(pilot, lambda: "enter: preview   esc: cancel" in visible_text(app))
        shown = visible_text(app)
        for line in ("canary v2.0  p95 1.02 s", "stable v1.9  p95 210 ms", "share  set 20 %, actual 10 %",
                     "canary worse than stable: p95 ×4.9", "promote: continue to the next step",
                     "retry: resume an aborted rollout"):
            assert line in shown, line

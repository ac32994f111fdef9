"""The operator is about to touch production: the status bar says so while the cursor is on a
production service, every dialog and preview carries the PRODUCTION label, and whatever reduces
serving capacity or moves traffic waits for the service's name typed (sent with enter in one burst,
as keys arrive over SSH). Scaling up stays one `y`."""

from __future__ import annotations

from dataclasses import replace

from mlops_tui.backends.model import ActionKind
from mlops_tui.backends.production import ProductionScope
from mlops_tui.tui.panes import ServicesPane
from mlops_tui.tui.statusbar import StatusBar
from tests.tui.conftest import make_app, until, visible_text
from tests.tui.keys import burst

PROD = ProductionScope(("prod-a/ml-prod",))


def on(app, screen: str) -> bool:
    return app.screen.__class__.__name__ == screen


async def select(pilot, app, name: str) -> None:
    table = app.query_one(ServicesPane)
    await until(pilot, lambda: table.row_count == 5)
    row = next(i for i, k in enumerate(table.shown_keys) if k.endswith("\x1f" + name))
    table.focus()
    table.move_cursor(row=row)
    await pilot.pause()


def label(app) -> str:
    """The PRODUCTION label on the dialog or preview in front (not the status bar's band behind it)."""
    return " ".join(str(w.render()).strip() for w in app.screen.query(".production-label"))


async def preview_shown(pilot, app) -> None:
    await until(pilot, lambda: on(app, "PreviewScreen") and app.screen.shown_at is not None)


async def test_the_status_bar_shows_production_while_the_cursor_is_on_a_production_service():
    app, _backend = make_app(production=PROD)
    async with app.run_test(size=(140, 42)) as pilot:
        await select(pilot, app, "property-valuation-model")
        bar = app.query_one(StatusBar)
        await until(pilot, lambda: "PRODUCTION prod-a/ml-prod" in bar.line().plain)
        await select(pilot, app, "llm-reranker")  # ml-staging: not production
        await until(pilot, lambda: "PRODUCTION" not in bar.line().plain)
        await select(pilot, app, "ensemble-predictor")
        await until(pilot, lambda: "PRODUCTION" in bar.line().plain)
        assert bar.line("trouble counted").plain.startswith(" PRODUCTION ")  # narrow: the word stays


async def test_scaling_production_down_waits_for_the_name_typed_and_enter_in_one_burst():
    audit: list[dict] = []
    app, backend = make_app(production=PROD, audit=audit.append)
    async with app.run_test(size=(140, 42)) as pilot:
        await select(pilot, app, "property-valuation-model")
        await pilot.press("s")
        await until(pilot, lambda: on(app, "ScaleDialog"))
        assert label(app) == "PRODUCTION prod-a/ml-prod"
        await pilot.press("2", "enter")
        await preview_shown(pilot, app)
        screen = visible_text(app)
        assert label(app) == "PRODUCTION prod-a/ml-prod"
        assert "Type 'property-valuation-model' to confirm" in screen
        await pilot.press("y")  # a single confirmation is not enough here: it is typed into the name field
        await pilot.press("enter")
        assert backend.mutations == [] and on(app, "PreviewScreen")
        app.screen.query_one("#confirm-text").value = ""
        burst(app, *"property-valuation-model", "enter")
        await until(pilot, lambda: len(backend.mutations) == 1)
        await until(pilot, lambda: on(app, "ProgressScreen") and app.screen.finished)
        assert audit[-1]["intent"] == "scale to 2"


async def test_scaling_production_up_stays_a_single_confirmation():
    app, backend = make_app(production=PROD)
    async with app.run_test(size=(140, 42)) as pilot:
        await select(pilot, app, "property-valuation-model")
        await pilot.press("s")
        await until(pilot, lambda: on(app, "ScaleDialog"))
        await pilot.press("5", "enter")
        await preview_shown(pilot, app)
        screen = visible_text(app)
        assert label(app) == "PRODUCTION prod-a/ml-prod"
        assert "y: apply" in screen and "to confirm" not in screen
        await pilot.press("y")
        await until(pilot, lambda: len(backend.mutations) == 1)
        await until(pilot, lambda: on(app, "ProgressScreen") and app.screen.finished)


async def test_shifting_canary_weight_in_production_waits_for_the_name_typed():
    app, backend = make_app(production=PROD)
    key = next(k for k in backend.services if k.name == "property-price-predictor")
    backend.services[key] = replace(backend.services[key], actions=frozenset({ActionKind.CANARY_WEIGHT}))
    async with app.run_test(size=(140, 42)) as pilot:
        await select(pilot, app, "property-price-predictor")
        await pilot.press("w")
        await until(pilot, lambda: on(app, "CanaryDialog"))
        assert label(app) == "PRODUCTION prod-a/ml-prod"
        burst(app, *"30", "enter")  # typed over the selected value: more to the canary moves traffic all the same
        await preview_shown(pilot, app)
        await until(pilot, lambda: "Type 'property-price-predictor' to confirm" in visible_text(app))
        burst(app, *"property-price", "enter")  # not the whole name: refused, nothing sent
        await until(pilot, lambda: "type exactly" in "\n".join(str(n.message) for n in app._notifications))
        assert backend.mutations == []
        burst(app, *"-predictor", "enter")  # completes the name in the field
        await until(pilot, lambda: len(backend.mutations) == 1)
        await until(pilot, lambda: on(app, "ProgressScreen") and app.screen.finished)


async def test_outside_production_a_scale_down_is_one_y_and_no_label_is_shown():
    app, backend = make_app(production=PROD)
    async with app.run_test(size=(140, 42)) as pilot:
        await select(pilot, app, "llm-reranker")
        await pilot.press("s")
        await until(pilot, lambda: on(app, "ScaleDialog"))
        await pilot.press("1", "enter")
        await preview_shown(pilot, app)
        assert label(app) == "" and "PRODUCTION" not in visible_text(app)
        await pilot.press("y")
        await until(pilot, lambda: len(backend.mutations) == 1)
        await until(pilot, lambda: on(app, "ProgressScreen") and app.screen.finished)


async def test_at_80x24_the_production_preview_keeps_its_label_the_change_and_the_name_field_on_screen():
    app, _backend = make_app(production=PROD)
    async with app.run_test(size=(80, 24)) as pilot:
        await select(pilot, app, "property-valuation-model")
        await pilot.press("s")
        await until(pilot, lambda: on(app, "ScaleDialog"))
        await pilot.press("2", "enter")
        await preview_shown(pilot, app)
        screen = visible_text(app)
        assert "PRODUCTION prod-a/ml-prod" in screen and "replicas" in screen
        assert "Type 'property-valuation-model' to confirm" in screen and "type the name, then enter" in screen
        assert app.screen.query_one("#confirm-text").region.bottom <= 24

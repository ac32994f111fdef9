"""The operator scales from the keyboard: dialog, preview, confirm, progress, row and audit. Bad
input and read-only mode send nothing."""

from __future__ import annotations

from mlops_tui.backends.plans import Outcome
from mlops_tui.tui.config import Settings
from mlops_tui.tui.format import SERVICE_COLUMN
from mlops_tui.tui.keyline import KeyLine
from mlops_tui.tui.panes import ServicesPane
from tests.tui.conftest import make_app, until, visible_text


def notices(app) -> str:
    """Every notice the operator has been shown, one per line."""
    return "\n".join(str(n.message) for n in app._notifications)


async def select(pilot, app, name: str) -> None:
    table = app.query_one(ServicesPane)
    await until(pilot, lambda: table.row_count == 5)
    row = next(i for i, k in enumerate(table.shown_keys) if k.endswith("\x1f" + name))
    table.focus()
    table.move_cursor(row=row)
    await pilot.pause()


async def test_scale_is_previewed_confirmed_applied_verified_and_audited():
    audit: list[dict] = []
    app, backend = make_app(audit=audit.append)
    async with app.run_test(size=(140, 42)) as pilot:
        await select(pilot, app, "property-valuation-model")
        await pilot.press("s")
        await until(pilot, lambda: app.screen.__class__.__name__ == "ScaleDialog")
        await pilot.press("5", "enter")  # the current value is selected: typing replaces it
        await until(pilot, lambda: app.screen.__class__.__name__ == "PreviewScreen")
        screen = visible_text(app)
        assert "scale to 5 · prod-a/ml-prod/property-valuation-model" in screen
        assert "replicas3→5" in screen.replace(" ", "")
        assert backend.mutations == []  # nothing is sent before the operator confirms
        await pilot.press("y")
        await until(pilot, lambda: bool(audit))
        await until(pilot, lambda: app.screen.__class__.__name__ == "ProgressScreen" and app.screen.finished)
        assert "succeeded" in visible_text(app)
        await pilot.press("enter")
        assert audit[-1]["intent"] == "scale to 5" and audit[-1]["result"] == Outcome.SUCCEEDED.value
        assert len(backend.mutations) == 1
        table = app.query_one(ServicesPane)
        key = next(k for k in table.shown_keys if k.endswith("property-valuation-model"))
        await until(pilot, lambda: table.cells(key)[SERVICE_COLUMN["ready"]].plain == "5/5")
        assert table.cells(key)[SERVICE_COLUMN["action"]].plain == "✔ scale to 5"


async def test_an_invalid_replica_count_is_explained_and_nothing_is_sent():
    app, backend = make_app()
    async with app.run_test(size=(140, 42)) as pilot:
        await select(pilot, app, "property-valuation-model")
        await pilot.press("s")
        await until(pilot, lambda: app.screen.__class__.__name__ == "ScaleDialog")
        await pilot.press(*"-2", "enter")
        assert "whole number from 0 to 100" in visible_text(app)
        await pilot.press("ctrl+a", "shift+end", *"500", "enter")
        assert "over the cap" in visible_text(app)
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.screen_stack[0])
        assert backend.mutations == []


async def test_cancelling_the_preview_sends_nothing():
    app, backend = make_app()
    async with app.run_test(size=(140, 42)) as pilot:
        await select(pilot, app, "property-valuation-model")
        await pilot.press("s")
        await until(pilot, lambda: app.screen.__class__.__name__ == "ScaleDialog")
        await pilot.press("4", "enter")
        await until(pilot, lambda: app.screen.__class__.__name__ == "PreviewScreen")
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.screen_stack[0])
        assert backend.mutations == []


async def test_readonly_dims_every_action_key_and_each_press_says_why_and_sends_nothing():
    app, backend = make_app(Settings(readonly=True))
    async with app.run_test(size=(140, 42)) as pilot:
        await select(pilot, app, "property-valuation-model")
        labels = {"s": "scale", "w": "canary weight", "b": "blue-green switch", "R": "roll back",
                  "u": "image update", "r": "restart", "S": "silence"}
        for key, label in labels.items():
            await pilot.press(key)
            await until(pilot, lambda label=label: f"read-only mode: {label} is disabled" in notices(app))
            assert app.screen is app.screen_stack[0], f"{key} opened a dialog in read-only mode"
        dimmed = {action for action, _key, _text, enabled, _press in app.query_one(KeyLine)._items() if not enabled}
        assert set(app.ACTION_COMMANDS) <= dimmed
        assert backend.mutations == []
        assert "READ-ONLY" in visible_text(app)


async def test_a_service_that_cannot_do_an_action_says_so():
    app, backend = make_app()
    async with app.run_test(size=(140, 42)) as pilot:
        await select(pilot, app, "property-valuation-model")
        await pilot.press("b")
        await until(pilot, lambda: "property-valuation-model is not in a blue-green pair" in notices(app))
        assert app.screen is app.screen_stack[0]
        assert backend.mutations == []


async def test_enter_opens_the_service_detail_and_esc_comes_back():
    app, _ = make_app()
    async with app.run_test(size=(140, 42)) as pilot:
        await select(pilot, app, "ml-model-service")
        await pilot.press("enter")
        await until(pilot, lambda: app.screen.__class__.__name__ == "ServiceDetailScreen")
        summary = visible_text(app)
        assert "ml-model-service" in summary and "v2.1 3/3 ready" in summary
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.screen_stack[0])

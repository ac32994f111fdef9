"""The operator scales from the keyboard: dialog, preview, confirm, progress, row and audit. Bad
input and read-only mode send nothing."""

from __future__ import annotations

from mlops_tui.backends.plans import Outcome
from mlops_tui.tui.commands import ACTION_COMMANDS
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
    audit: list[dict] = []
    app, backend = make_app(Settings(readonly=True), audit=audit.append)
    async with app.run_test(size=(140, 42)) as pilot:
        await select(pilot, app, "property-valuation-model")
        # Every action key: dimmed in the key line, and pressed, one line says why; nothing opens.
        dimmed = {action for action, _key, _text, enabled, _press in app.query_one(KeyLine)._items() if not enabled}
        assert set(ACTION_COMMANDS) <= dimmed
        labels = {"s": "scale", "w": "canary weight", "b": "blue-green switch", "R": "roll back",
                  "u": "image update", "r": "restart", "S": "silence"}
        for key, label in labels.items():
            await pilot.press(key)
            await until(pilot, lambda label=label: f"read-only mode: {label} is disabled" in notices(app))
            assert app.screen is app.screen_stack[0], f"{key} opened a dialog in read-only mode"
            assert not action_flows(app), f"{key} started an action flow in read-only mode"
        # The palette reaches the same gate.
        await pilot.press("ctrl+p")
        await until(pilot, lambda: app.screen.__class__.__name__ == "CommandPalette")
        await pilot.press(*"Scale")
        await until(pilot, lambda: "key s · scale:" in visible_text(app))
        shown_before = notices(app).count("read-only mode: scale is disabled")
        await pilot.press("enter")
        await until(pilot, lambda: notices(app).count("read-only mode: scale is disabled") == shown_before + 1)
        assert app.screen is app.screen_stack[0] and not action_flows(app)
        # Whatever the UI does, the Fleet is the last gate: a scale dialog opened behind the keys'
        # back (as a UI bug would), filled in and confirmed, is refused with one line, shows no
        # preview, and y afterwards applies nothing.
        from mlops_tui.tui.screens.dialogs import ScaleDialog

        service = app._selected_service()
        app._run_flow(service, ScaleDialog(service, app.settings.replica_cap))
        await until(pilot, lambda: app.screen.__class__.__name__ == "ScaleDialog")
        await pilot.press("5", "enter")
        await until(pilot, lambda: "read-only mode: scale is disabled for prod-a" in notices(app))
        await pilot.press("y")
        await until(pilot, lambda: not action_flows(app))
        # On the dashboard `y` shows the service's YAML (read-only), which esc closes: no dialog or preview.
        assert app.screen.__class__.__name__ in ("Screen", "ObjectScreen"), f"{app.screen.__class__.__name__} is open"
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.screen_stack[0])
        assert backend.mutations == [] and audit == []
        assert backend.services[service.key].desired == 3
        assert "READ-ONLY" in visible_text(app)


def action_flows(app) -> list:
    """Action flows running now (a dialog, a plan or a preview in front of the operator)."""
    return [w for w in app.workers if w.group == "action" and not w.is_finished]


async def test_a_service_that_cannot_do_an_action_says_so():
    app, backend = make_app()
    async with app.run_test(size=(140, 42)) as pilot:
        await select(pilot, app, "property-valuation-model")
        dimmed = {action for action, _key, _text, enabled, _press in app.query_one(KeyLine)._items() if not enabled}
        assert "bluegreen" in dimmed and "scale" not in dimmed
        await pilot.press("b")
        why = ("property-valuation-model is not in a blue-green pair: no Service selector, Argo blue-green "
               "strategy or Swarm alias switches it between two colours")
        await until(pilot, lambda: why in notices(app))
        notice = next(n for n in app._notifications if str(n.message) == why)
        assert (notice.title, notice.severity) == ("Not possible here", "warning")
        assert "\n" not in why  # one line
        assert app.screen is app.screen_stack[0] and not action_flows(app)
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

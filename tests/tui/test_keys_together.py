"""Keys that reach the app together (two enters, a key held down, `s 4 enter y` typed ahead over a
laggy link, `/bert` pasted) are all handled, in order, each where the operator meant it; and
nothing is applied that the operator did not see: enter only ever leads to the preview, only `y`
(or the typed name and enter) confirms it, once, and only if pressed after the preview was drawn.

`burst` posts every key before the app handles any, as Textual's driver does with one read."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace

from textual import events
from textual.widgets import Input

from mlops_tui.backends.fleet import Fleet
from mlops_tui.backends.model import ActionKind
from mlops_tui.backends.plans import Scale
from mlops_tui.tui.app import MlopsApp
from mlops_tui.tui.config import Settings
from mlops_tui.tui.panes import ServicesPane
from mlops_tui.tui.screens.preview import EARLY_ENTER, EARLY_KEY
from tests.fakes import T0, InMemoryBackend, ResultRecords
from tests.tui.conftest import extras, make_app, seed_fleet, until, visible_text
from tests.tui.keys import burst, key_event
from tests.tui.test_actions_flow import select


def screen_name(app) -> str:
    return app.screen.__class__.__name__


def previews_on_stack(app) -> int:
    return sum(1 for screen in app.screen_stack if screen.__class__.__name__ == "PreviewScreen")


def ignored_notice(app) -> str:
    """The preview's line about an ignored early key, as shown (empty while hidden)."""
    notice = app.screen.query_one("#preview-ignored")
    return str(notice.render()) if notice.display else ""


async def open_scale_dialog(pilot, app) -> None:
    await select(pilot, app, "property-valuation-model")
    await pilot.press("s")
    await until(pilot, lambda: screen_name(app) == "ScaleDialog")


async def test_two_enters_together_in_the_scale_dialog_show_the_preview_once_and_send_nothing():
    audit = ResultRecords()
    app, backend = make_app(audit=audit.append)
    async with app.run_test(size=(140, 42)) as pilot:
        await open_scale_dialog(pilot, app)
        await pilot.press("4")
        burst(app, "enter", "enter")  # tmux send-keys Enter Enter
        await until(pilot, lambda: screen_name(app) == "PreviewScreen" and app.screen.shown_at is not None)
        await until(pilot, lambda: app._keys.held == 0)
        await pilot.pause(0.2)
        assert screen_name(app) == "PreviewScreen" and previews_on_stack(app) == 1
        assert "scale to 4" in visible_text(app)
        assert backend.mutations == [] and audit == []  # the second enter confirmed nothing
    assert app.return_code in (None, 0)  # the app did not crash on a second dismissal


async def test_enter_in_the_preview_does_not_apply_and_y_does():
    audit = ResultRecords()
    app, backend = make_app(audit=audit.append)
    async with app.run_test(size=(140, 42)) as pilot:
        await open_scale_dialog(pilot, app)
        await pilot.press("4", "enter")
        await until(pilot, lambda: screen_name(app) == "PreviewScreen")
        assert "y: apply" in visible_text(app) and "enter: apply" not in visible_text(app)
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert screen_name(app) == "PreviewScreen" and backend.mutations == [] and audit == []
        await pilot.press("y")
        await until(pilot, lambda: len(audit) == 1)
        assert audit[0]["intent"] == "scale to 4" and len(backend.mutations) == 1


async def test_y_y_together_applies_exactly_once():
    audit = ResultRecords()
    app, backend = make_app(audit=audit.append)
    async with app.run_test(size=(140, 42)) as pilot:
        await open_scale_dialog(pilot, app)
        await pilot.press("6", "enter")
        await until(pilot, lambda: screen_name(app) == "PreviewScreen")
        await pilot.pause(0.1)
        burst(app, "y", "y", "y")  # a key held down
        await until(pilot, lambda: screen_name(app) == "ProgressScreen" and app.screen.finished)
        await until(pilot, lambda: app._keys.held == 0)
        await pilot.pause(0.2)
        assert [record["intent"] for record in audit] == ["scale to 6"]
        assert len(backend.mutations) == 1


async def test_a_whole_action_typed_ahead_stops_at_the_preview_and_says_why():
    audit = ResultRecords()
    app, backend = make_app(audit=audit.append)
    async with app.run_test(size=(140, 42)) as pilot:
        await select(pilot, app, "property-valuation-model")
        burst(app, "s", "4", "enter", "y")  # one read: the operator never saw the preview
        await until(pilot, lambda: screen_name(app) == "PreviewScreen" and app._keys.held == 0)
        await until(pilot, lambda: ignored_notice(app) == EARLY_KEY)
        await until(pilot, lambda: "scale to 4" in visible_text(app))  # painted, not only pushed
        assert backend.mutations == [] and audit == []
        await pilot.press("y")  # now seen: this one applies
        await until(pilot, lambda: len(audit) == 1)
        assert audit[0]["intent"] == "scale to 4" and len(backend.mutations) == 1


class ConfirmByName(InMemoryBackend):
    """Scaling to 0 asks for the service's name, as the Kubernetes backend does in production."""

    def plan(self, svc, intent):
        plan = super().plan(svc, intent)
        return replace(plan, confirm_text=svc.key.name) if isinstance(intent, Scale) and intent.replicas == 0 else plan


async def test_typed_confirmation_typed_ahead_lands_in_the_field_but_only_an_enter_after_the_preview_applies():
    audit = ResultRecords()
    backend = ConfirmByName()
    seed_fleet(backend)
    app = MlopsApp(Settings(), lambda s: Fleet([backend], max_rate=100, clock=lambda: T0, audit=audit.append),
                   clock=lambda: T0)
    async with app.run_test(size=(140, 42)) as pilot:
        await select(pilot, app, "llm-reranker")
        burst(app, "s", "0", "enter", *"llm-reranker", "enter", "enter")
        await until(pilot, lambda: screen_name(app) == "PreviewScreen" and app._keys.held == 0)
        await until(pilot, lambda: ignored_notice(app) == EARLY_ENTER)
        assert app.screen.query_one("#confirm-text", Input).value == "llm-reranker"
        assert backend.mutations == [] and audit == []
        await pilot.press("enter")  # pressed after the preview was drawn, with the name typed
        await until(pilot, lambda: len(audit) == 1)
        assert audit[0]["intent"] == "scale to 0" and audit[0]["result"] == "succeeded"
        assert len(backend.mutations) == 1


class SlowToPlan(ConfirmByName):
    """The cluster is slow to answer while the preview is being planned."""

    def __init__(self) -> None:
        super().__init__()
        self.answer = threading.Event()

    def plan(self, svc, intent):
        self.answer.wait(10)
        return super().plan(svc, intent)


async def test_keys_typed_while_the_preview_is_being_planned_wait_for_it():
    audit = ResultRecords()
    backend = SlowToPlan()
    seed_fleet(backend)
    app = MlopsApp(Settings(), lambda s: Fleet([backend], max_rate=100, clock=lambda: T0, audit=audit.append),
                   clock=lambda: T0)
    async with app.run_test(size=(140, 42)) as pilot:
        await select(pilot, app, "llm-reranker")
        burst(app, "s", "0", "enter", *"llm-reranker")  # 'r' rolls back, 'a'... on the dashboard
        await until(pilot, lambda: app._keys.held > 0 and app.screen is app.screen_stack[0])
        await pilot.pause(0.3)  # planning takes a while: the typed name waits, it is not run as commands
        assert app.screen is app.screen_stack[0] and backend.mutations == []
        backend.answer.set()
        await until(pilot, lambda: screen_name(app) == "PreviewScreen" and app._keys.held == 0)
        await until(pilot, lambda: app.screen.query_one("#confirm-text", Input).value == "llm-reranker")
        await pilot.press("enter")
        await until(pilot, lambda: len(audit) == 1)
        assert audit[0]["intent"] == "scale to 0"


async def test_backspace_and_a_digit_together_leave_the_digit():
    app, _ = make_app()
    async with app.run_test(size=(140, 42)) as pilot:
        await open_scale_dialog(pilot, app)
        field = app.screen.query_one("#replicas", Input)
        await pilot.pause(0.1)
        burst(app, "backspace", "5")  # tmux send-keys BSpace 5
        await until(pilot, lambda: app._keys.held == 0)
        await until(pilot, lambda: field.value == "5")
        await pilot.press("enter")
        await until(pilot, lambda: screen_name(app) == "PreviewScreen")
        assert "scale to 5" in visible_text(app)


async def test_slash_and_a_word_together_filter_instead_of_running_commands():
    app, backend = make_app()
    async with app.run_test(size=(140, 42)) as pilot:
        await select(pilot, app, "property-valuation-model")
        theme = app.theme
        burst(app, "/", *"ensemble", "enter")  # 's' is scale, 'b' blue-green, 't' theme, enter details
        table = app.query_one(ServicesPane)
        await until(pilot, lambda: app._keys.held == 0 and table.row_count == 1)
        assert app.query_one("#filter", Input).value == "ensemble"
        assert table.selected_service_key().name == "ensemble-predictor"
        assert app.screen is app.screen_stack[0] and app.theme == theme
        assert backend.mutations == []


async def test_colon_and_a_view_name_together_jump_to_the_view():
    app, _ = make_app()
    async with app.run_test(size=(140, 42)) as pilot:
        await select(pilot, app, "property-valuation-model")
        burst(app, ":", *"gpus", "enter")
        await until(pilot, lambda: app._keys.held == 0 and app.active_pane == "gpus")
        assert app.screen is app.screen_stack[0]


async def test_a_key_still_being_handled_by_a_slow_widget_holds_the_next_one(monkeypatch):
    """On a loaded machine the table may still be handling `:` (its handler gave the loop away)
    while every queue looks empty; `timeline` typed with it must land in the prompt, not be run on
    the dashboard or lost between the two screens (CI saw this: the app never opened the timeline)."""
    async def busy_handling(self, event) -> None:
        await asyncio.sleep(0.05)

    monkeypatch.setattr(ServicesPane, "on_key", busy_handling, raising=False)
    app, _ = make_app()
    async with app.run_test(size=(140, 42)) as pilot:
        await select(pilot, app, "property-valuation-model")
        burst(app, "colon", *"timeline", "enter")
        await until(pilot, lambda: screen_name(app) == "TimelineScreen")
        assert app._keys.held == 0


def test_a_key_the_app_has_peeked_at_still_counts_as_waiting():
    """While a pump handles one message it takes the next out of its queue to see whether it
    supersedes the first; `:` sitting there on its way up to the app's bindings is still waiting,
    so the letters typed after it are held (CI: the prompt never got `timeline`)."""
    from textual.widget import Widget

    from mlops_tui.tui.keygate import _anything_waiting, _holds

    app_like = Widget()
    colon = key_event("colon")
    app_like.post_message(events.Key("x", "x"))
    app_like.post_message(colon)
    app_like._message_queue.get_nowait()  # the first is being handled...
    app_like._peek_message()  # ...and the next has been looked at
    assert app_like.message_queue_size == 0, "Textual's own count no longer sees it"
    assert _anything_waiting(app_like) and _holds(app_like, colon)


async def test_typing_right_after_opening_each_action_dialog_goes_into_it():
    app, backend = make_app()
    async with app.run_test(size=(140, 42)) as pilot:
        await select(pilot, app, "property-price-predictor")
        svc = next(s for s in backend.services.values() if s.key.name == "property-price-predictor")
        backend.upsert(replace(svc, actions=frozenset({ActionKind.SCALE, ActionKind.CANARY_WEIGHT,
                                                       ActionKind.UPDATE_IMAGE})))
        await until(pilot, lambda: app.check_action("canary", ()) is True)
        for key, field, typed, expected in (("s", "#replicas", "7", "7"), ("w", "#weight", "35", "35"),
                                            ("u", "#image", "repo/x:v2", "repo/x:v2")):
            burst(app, key, *typed)
            await until(pilot, lambda: app._keys.held == 0 and screen_name(app).endswith("Dialog"))
            box = app.screen.query_one(field, Input)
            await until(pilot, lambda box=box, expected=expected: box.value == expected)
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is app.screen_stack[0])
        assert backend.mutations == []


async def test_an_image_typed_while_u_still_lists_the_containers_goes_into_the_dialog():
    """`u` reads the containers from the engine before its dialog opens: the image typed meanwhile
    waits for that dialog instead of landing on the dashboard as commands."""
    app, backend = make_app()
    listed = threading.Event()

    def slow_containers(service):
        listed.wait(0.5)  # an engine round trip
        return []

    backend.containers = slow_containers  # type: ignore[attr-defined]
    async with app.run_test(size=(140, 42)) as pilot:
        await select(pilot, app, "property-price-predictor")
        svc = next(s for s in backend.services.values() if s.key.name == "property-price-predictor")
        backend.upsert(replace(svc, actions=frozenset({ActionKind.UPDATE_IMAGE})))
        await until(pilot, lambda: app.check_action("update_image", ()) is True)
        burst(app, "u", *"repo/x:v2")
        await until(pilot, lambda: app._keys.held == 0 and screen_name(app) == "UpdateImageDialog")
        box = app.screen.query_one("#image", Input)
        await until(pilot, lambda: box.value == "repo/x:v2")
        assert app.theme == "mlops-dark"  # no `t` reached the dashboard as a command
        assert backend.mutations == []


class InMemoryAlertmanager(InMemoryBackend):
    """Holds silences (the capability the app looks for to offer silencing); none yet."""

    def list_silences(self, include_expired: bool = True) -> tuple:
        return ()


async def test_typing_right_after_opening_the_silence_dialog_goes_into_it():
    alertmanager = InMemoryAlertmanager("alertmanager")
    app, _ = make_app()
    seed = app._fleet_factory
    app._fleet_factory = lambda s: _with(seed(s), alertmanager)
    async with app.run_test(size=(140, 42)) as pilot:
        await until(pilot, lambda: app.fleet is not None and app.query_one(ServicesPane).row_count == 5)
        extras(app.fleet)
        alerts = app.query_one("#alerts")
        await until(pilot, lambda: alerts.row_count >= 1)
        app.focus_pane("alerts")
        await pilot.pause()
        burst(app, "S", "tab", "tab", *"rolling back")
        await until(pilot, lambda: app._keys.held == 0 and screen_name(app) == "SilenceDialog")
        comment = app.screen.query_one("#comment", Input)
        await until(pilot, lambda: comment.value == "rolling back")


def _with(fleet: Fleet, backend) -> Fleet:
    fleet.add_backend(backend)
    return fleet


async def test_two_submissions_reaching_a_dialog_before_it_closes_give_one_result():
    """Whatever delivers them (keys, a paste, the palette), a dialog answers once: the second
    request to close it must not pop the screen below (Textual raises on the last one)."""
    from textual.app import App

    from mlops_tui.tui.screens.dialogs import ScaleDialog
    from tests.fakes import service

    results: list[object] = []

    class Host(App[None]):
        def on_mount(self) -> None:
            self.push_screen(ScaleDialog(service("valuation"), cap=50), results.append)

    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ScaleDialog))
        dialog = app.screen
        field = dialog.query_one("#replicas", Input)
        dialog.post_message(Input.Submitted(field, "4"))
        dialog.post_message(Input.Submitted(field, "4"))
        await until(pilot, lambda: not isinstance(app.screen, ScaleDialog))
        await pilot.pause(0.2)
        assert results == [Scale(4)] and len(app.screen_stack) == 1


"""The operator opens the timeline with keys typed together (one terminal read over SSH), narrows it by
service and kind, and reads cluster text literally."""

from __future__ import annotations

from datetime import timedelta

from mlops_tui.backends.model import ServiceKey, ServiceKind, Severity
from mlops_tui.backends.timeline import EntrySource, TimelineEntry
from tests.fakes import T0
from tests.tui.conftest import make_app, until, visible_text
from tests.tui.keys import burst


def put(app) -> None:
    bert = ServiceKey("prod-a", "ml-prod", ServiceKind.DEPLOYMENT, "property-valuation-model")
    app.fleet.timeline.add([
        TimelineEntry(T0 - timedelta(minutes=3), "prod-a", "Node", "gpu-node-2", "NotReady", EntrySource.NODE,
                      Severity.CRITICAL),
        TimelineEntry(T0 - timedelta(minutes=2), "prod-a", "Alert", "HighInferenceLatency", "firing [bold]x[/]",
                      EntrySource.ALERT, Severity.WARNING, "ml-prod", bert),
        TimelineEntry(T0 - timedelta(minutes=1), "prod-a", "Deployment", "property-valuation-model",
                      "ana: scale to 5: succeeded", EntrySource.ACTION, Severity.INFO, "ml-prod", bert),
    ])


async def test_colon_timeline_typed_together_opens_it_narrowed_and_newest_at_the_bottom():
    app, _backend = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: app.fleet is not None and bool(app.fleet.state.services))
        put(app)
        burst(app, "colon", *"timeline kind:alert,action", "enter")
        await until(pilot, lambda: app.screen.__class__.__name__ == "TimelineScreen")
        screen = app.screen
        await until(pilot, lambda: screen.view is not None and len(screen.view.shown) == 2)
        assert [e.source for e in screen.view.shown] == [EntrySource.ALERT, EntrySource.ACTION]
        # The entries are chosen before the screen has laid them out: what the operator sees is the next frame.
        await until(pilot, lambda: "scale to 5" in visible_text(app))
        text = visible_text(app)
        assert "firing [bold]x[/]" in text  # a cluster's text is shown as sent, never as markup
        assert text.index("firing") < text.index("scale to 5")  # oldest first, newest at the bottom
        # `/` then a service's name narrows it further; esc leaves the field, esc again the screen.
        burst(app, "slash", *" property", "enter")
        await until(pilot, lambda: screen.view.filter_text.endswith("property"))
        burst(app, "escape")
        await until(pilot, lambda: app.screen.__class__.__name__ != "TimelineScreen")


async def test_an_unknown_kind_is_said_not_silently_ignored():
    app, _backend = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: app.fleet is not None and bool(app.fleet.state.services))
        put(app)
        burst(app, "colon", *"timeline kind:alrt", "enter")
        await until(pilot, lambda: app.screen.__class__.__name__ == "TimelineScreen")
        await until(pilot, lambda: "no kind called alrt" in visible_text(app))

"""The operator opens mlops-tui and watches the fleet: rows appear, change, vanish; they filter,
see stale clusters, resize to 80x24, and never see cluster text interpreted as markup."""

from __future__ import annotations

import gc
import re
from dataclasses import replace
from datetime import timedelta

from mlops_tui.backends.model import GpuResource, HealthState
from mlops_tui.tui.app import MlopsApp
from mlops_tui.tui.commands import COMMANDS
from mlops_tui.tui.config import Settings
from mlops_tui.tui.format import SERVICE_COLUMN
from mlops_tui.tui.keyline import KeyLine
from mlops_tui.tui.panes import AlertsPane, GpuPane, LatencyPane, ServicesPane
from mlops_tui.tui.statusbar import StatusBar
from tests.fakes import T0, service
from tests.tui.conftest import extras, make_app, until, visible_text


def names(app: MlopsApp) -> list[str]:
    table = app.query_one(ServicesPane)
    return [table.cells(k)[SERVICE_COLUMN["name"]].plain for k in table.shown_keys]


def cell(app: MlopsApp, name: str, column: str) -> str:
    table = app.query_one(ServicesPane)
    key = next(k for k in table.shown_keys if table.cells(k)[SERVICE_COLUMN["name"]].plain == name)
    return table.get_row(key)[SERVICE_COLUMN[column]].plain


async def test_services_appear_change_cell_by_cell_and_vanish():
    app, backend = make_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: len(names(app)) == 5)
        table = app.query_one(ServicesPane)
        table.move_cursor(row=2)
        selected_before = table.selected_key()
        valuation = next(s for s in backend.services.values() if s.key.name == "property-valuation-model")
        touched: list[int] = []  # cells the table found changed, per update it was given
        original = table.apply_changes
        table.apply_changes = lambda *a, **k: (touched.append(n := original(*a, **k)), n)[1]  # type: ignore[method-assign]
        backend.upsert(replace(valuation, ready=1))
        await until(pilot, lambda: cell(app, "property-valuation-model", "ready") == "1/3")
        assert cell(app, "property-valuation-model", "state") == "▲ degraded"
        assert sum(touched) == 2  # only the two cells that changed (ready and state)
        assert table.selected_key() == selected_before  # the operator's cursor did not move
        backend.remove(valuation.key)
        await until(pilot, lambda: "property-valuation-model" not in names(app))
        assert len(names(app)) == 4


async def test_filter_narrows_by_name_namespace_and_label_and_esc_clears_it():
    app, _ = make_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: len(names(app)) == 5)
        await pilot.press("slash", *"ml-staging")
        await until(pilot, lambda: names(app) == ["llm-reranker"])
        await pilot.press("escape")
        await until(pilot, lambda: len(names(app)) == 5)
        await pilot.press("slash", *"app=valuation-model", "enter")
        await until(pilot, lambda: names(app) == ["property-valuation-model"])
        assert app.focused is app.query_one(ServicesPane)


async def test_a_stale_cluster_says_how_long_it_has_been_stale_and_why():
    app, backend = make_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: len(names(app)) == 5)
        backend.push(health=HealthState.STALE, since=T0 - timedelta(seconds=34), error="connection refused")
        bar = app.query_one(StatusBar)
        await until(pilot, lambda: "stale" in str(bar.render()))
        assert "◐ prod-a stale 34s: connection refused" in str(bar.render())
        # The last known services stay on screen while stale.
        assert len(names(app)) == 5


async def test_an_unreachable_cluster_is_shown_and_the_app_still_starts():
    def broken(_settings):
        from mlops_tui.backends.failed_source import FailedSource
        from mlops_tui.backends.fleet import Fleet

        return Fleet([FailedSource("prod-b", "cannot connect to https://10.0.0.1:6443: timed out")])

    app = MlopsApp(Settings(), broken, clock=lambda: T0)
    async with app.run_test(size=(120, 40)) as pilot:
        bar = app.query_one(StatusBar)
        await until(pilot, lambda: "error" in str(bar.render()))
        assert "✖ prod-b error: cannot connect" in str(bar.render())


async def test_cluster_strings_are_shown_literally_never_as_markup_or_escapes():
    app, backend = make_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: len(names(app)) == 5)
        backend.upsert(service("evil[bold red]x[/]", namespace="ns\x1b[31m"))
        await until(pilot, lambda: "evil[bold red]x[/]" in names(app))
        assert cell(app, "evil[bold red]x[/]", "namespace") == "ns\\x1b[31m"
        screen_text = app.export_screenshot()
        assert "evil[bold red]x[/]" in screen_text.replace("&#160;", " ")
        assert "\x1b[31m" not in screen_text


async def test_80x24_collapses_to_one_pane_at_a_time_and_tab_walks_them():
    app, _ = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: len(names(app)) == 5)
        assert app.screen.has_class("-compact")
        visible = lambda: [p.pane_id for p in app._panes() if p.display and p.region.area]  # noqa: E731
        await until(pilot, lambda: visible() == ["services"])
        for expected in ("gpus", "latency", "alerts", "services"):
            await pilot.press("tab")
            await until(pilot, lambda e=expected: visible() == [e])
        await pilot.press("colon", *"alerts", "enter")
        await until(pilot, lambda: visible() == ["alerts"])


async def test_the_latency_pane_follows_the_selected_service_and_alerts_tie_to_it():
    app, _ = make_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.fleet is not None and len(names(app)) == 5)
        extras(app.fleet)
        table = app.query_one(ServicesPane)
        await until(pilot, lambda: app.query_one(AlertsPane).row_count == 1)
        row = next(i for i, k in enumerate(table.shown_keys) if "property-valuation-model" in k)
        table.move_cursor(row=row)
        latency = app.query_one(LatencyPane)
        await until(pilot, lambda: latency.selected is not None and latency.selected.name == "property-valuation-model")
        title = str(latency.query_one("#latency-selected .trend-title").render())
        assert "SLO breached" in title and "42.0 rps" in title
        assert cell(app, "property-valuation-model", "alerts") == "⚠ 1"
        gpus = app.query_one(GpuPane)
        assert "llm-reranker" in str(gpus.query_one("#gpu-pending").render())


KEYS_AS_SHOWN = {"enter": "⏎", "escape": "esc", "ctrl+p": "^p", "ctrl+w": "^w"}
"""How the terminal draws the keys whose names it does not print as they are."""


async def test_help_shows_every_command_with_its_key_and_what_it_does():
    app, _ = make_app()
    async with app.run_test(size=(170, 110)) as pilot:  # every command on one screen
        await pilot.press("question_mark")
        await until(pilot, lambda: app.screen.__class__.__name__ == "HelpScreen")
        await until(pilot, lambda: "mlops-tui: keys" in visible_text(app))
        lines = visible_text(app).splitlines()
        missing = []
        for command in COMMANDS:
            key = KEYS_AS_SHOWN.get(command.key, command.key)
            said = command.explanation.replace("`", "")[:30]
            row = re.compile(rf"(?<!\S){re.escape(key)}\s+{re.escape(command.description)}\s+{re.escape(said)}")
            if not any(row.search(line) for line in lines):
                missing.append(f"{key} {command.description}: {said}")
        assert missing == []
        # A few rows as the operator reads them, spelled out.
        text = visible_text(app)
        for row in (r"s\s+Scale\s+scale: a replica count", r"R\s+Roll back\s+roll back \(revision picker",
                    r"\?\s+Help\s+help: every command", r"q\s+Quit\s+quit", r"esc\s+Back / clear filter"):
            assert re.search(row, text), row
        await pilot.press("escape")
        await until(pilot, lambda: app.screen.__class__.__name__ != "HelpScreen")


async def test_keys_can_be_rebound_from_the_config():
    settings = Settings()
    settings.keys = dict(settings.keys, theme="Z")
    app, _ = make_app(settings)
    async with app.run_test(size=(120, 40)) as pilot:
        before = app.theme
        await pilot.press("Z")
        await until(pilot, lambda: app.theme != before)
        assert app.theme == "mlops-light"


async def drawn_key_line(app: MlopsApp, pilot) -> KeyLine:
    """The key line, once the services are in and it has been drawn."""
    await until(pilot, lambda: len(names(app)) == 5)
    await until(pilot, lambda: "Help" in bottom_line(app))
    return app.query_one(KeyLine)


def bottom_line(app: MlopsApp) -> str:
    """The terminal's last line, as the operator reads it."""
    return visible_text(app).splitlines()[-1]


async def test_the_key_line_names_every_key_and_greys_out_what_the_selection_cannot_do():
    app, _ = make_app()
    async with app.run_test(size=(170, 45)) as pilot:  # every description in full takes ~166 columns
        line = await drawn_key_line(app, pilot)
        table = app.query_one(ServicesPane)
        table.move_cursor(row=next(i for i, k in enumerate(table.shown_keys) if "ml-model-service" in k))
        await until(pilot, lambda: "Blue/green" in bottom_line(app))
        text = line.line()
        for words in (" s Scale", " w Canary weight", " b Blue/green switch", " R Roll back", " ? Help", " q Quit"):
            assert words in text.plain
        # This cluster lets the operator only scale ml-model-service: every other action key is greyed
        # in the theme's disabled colour (and not clickable); scale is not.
        style_of = lambda words: text.get_style_at_offset(app.console, text.plain.index(words))  # noqa: E731
        grey = line.get_component_rich_style("key-line--disabled", partial=True).color
        assert all(style_of(words).color == grey for words in ("Canary weight", "Blue/green switch", "Roll back"))
        assert style_of("Scale").color != grey and style_of("Help").color != grey
        assert "key" not in style_of("Roll back").meta and style_of("Scale").meta["key"] == "s"


async def test_a_theme_switch_redraws_the_key_line_in_the_new_theme_colours():
    app, _ = make_app()
    async with app.run_test(size=(160, 45)) as pilot:
        line = await drawn_key_line(app, pilot)

        def drawn_colour_of_quit_key():
            return next(segment.style.color for segment in line.render_line(0) if segment.text.strip() == "q")

        dark = drawn_colour_of_quit_key()
        await pilot.press("t")
        await until(pilot, lambda: app.theme == "mlops-light")
        light = line.get_component_rich_style("key-line--key", partial=True).color
        assert light != dark
        await until(pilot, lambda: drawn_colour_of_quit_key() == light)


async def test_at_80_columns_the_key_line_still_shows_help_and_quit():
    app, _ = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        plain = (await drawn_key_line(app, pilot)).line().plain
        assert len(plain) <= 80 and " ? Help" in plain and " q Quit" in plain
    app, _ = make_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await drawn_key_line(app, pilot)
        await pilot.resize_terminal(112, 45)  # the SSH window made narrower: the line is made again to fit
        await until(pilot, lambda: " ? Help" in bottom_line(app) and " q Quit" in bottom_line(app))


async def test_clicking_a_key_on_the_key_line_presses_it():
    app, _ = make_app()
    async with app.run_test(size=(160, 45)) as pilot:
        line = await drawn_key_line(app, pilot)
        await pilot.click(KeyLine, offset=(line.line().plain.index("? Help") + 1, 0))
        await until(pilot, lambda: app.screen.__class__.__name__ == "HelpScreen")


async def test_under_churn_the_free_gpu_count_is_redrawn_at_most_once_a_second_and_ends_right():
    app, backend = make_app()
    async with app.run_test(size=(160, 45)) as pilot:
        gpus = app.query_one(GpuPane)
        await until(pilot, lambda: gpus.border_subtitle == "1 gpu free of 12")  # the first count at once
        repaints = []  # the whole pane, as Textual repaints it for a new border title
        original = gpus.refresh
        gpus.refresh = lambda *a, **k: (repaints.append(a), original(*a, **k))[1]  # type: ignore[method-assign]
        node = backend.gpu_nodes["gpu-node-1"]
        for allocated in (4, 3, 2, 4, 3, 2, 1, 0):  # pods come and go on gpu-node-1, 8 times in ~0.4 s
            backend.gpu_nodes["gpu-node-1"] = replace(node, resources=(GpuResource("nvidia.com/gpu", 4, 4, allocated),))
            backend.push()
            await pilot.pause(0.05)
        await until(pilot, lambda: gpus.border_subtitle == "4 gpu free of 12", timeout=3)  # all of gpu-node-1 free
        assert len([r for r in repaints if not r]) <= 2  # not eight full-pane repaints


async def test_the_garbage_collector_paused_for_the_first_frame_is_back_on_after_it():
    gc.disable()  # what `mlops-tui` does before building the app
    try:
        app, _ = make_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: len(names(app)) == 5)
            assert gc.isenabled()
    finally:
        gc.enable()


async def test_a_terminal_narrowed_under_a_dialog_shows_one_pane_when_the_dialog_closes():
    app, _ = make_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: len(names(app)) == 5)
        dashboard = app.screen
        visible = lambda: [p.pane_id for p in app._panes() if p.display and p.region.area]  # noqa: E731
        await pilot.press("question_mark")
        await until(pilot, lambda: app.screen is not dashboard)
        await pilot.resize_terminal(80, 24)  # the operator's SSH window, made smaller behind the help
        await pilot.resize_terminal(82, 24)  # and once more, the layout staying compact
        await until(pilot, lambda: dashboard.has_class("-compact"))
        assert not app.screen.has_class("-compact")
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is dashboard and visible() == ["services"])
        await pilot.resize_terminal(160, 45)
        await until(pilot, lambda: not dashboard.has_class("-compact"))
        await until(pilot, lambda: visible() == ["services", "gpus", "latency", "alerts"])
        await pilot.press("tab")  # to the GPU pane, while the tabs are hidden
        await pilot.resize_terminal(80, 24)  # the window as small as before
        tabs = app.query_one("#pane-tabs")
        await until(pilot, lambda: visible() == ["gpus"] and "▸gpus" in str(tabs.render()))

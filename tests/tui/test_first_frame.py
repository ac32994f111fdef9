"""The first frame (bench/startup.py measures it): what start-up does before it, and what it shows."""

from __future__ import annotations

import pytest
from textual import events
from textual.color import Color
from textual.css.stylesheet import Stylesheet
from textual.widgets import Input

from mlops_tui.backends.fleet import Fleet
from mlops_tui.themes import THEME_NAMES, palettes, screens_stylesheet_path, textual_name
from mlops_tui.tui.app import MlopsApp
from mlops_tui.tui.config import Settings
from mlops_tui.tui.dashboard_screen import DashboardScreen
from mlops_tui.tui.panes import GpuPane
from tests.fakes import T0, InMemoryBackend
from tests.stylesheets import count_parses
from tests.tui.conftest import make_app, seed_fleet, until


def count_reparses(monkeypatch) -> list[int]:
    calls: list[int] = []
    reparse = Stylesheet.reparse

    def counted(self) -> None:
        calls.append(1)
        reparse(self)

    monkeypatch.setattr(Stylesheet, "reparse", counted)
    return calls


@pytest.mark.parametrize("theme", [n for n in THEME_NAMES if palettes()[textual_name(n)]["dark"]])
async def test_a_dark_theme_is_on_the_first_frame_from_one_parse_of_the_stylesheets(theme, monkeypatch):
    """The operator chose a dark theme: the first frame is drawn in it, and start-up parsed every
    stylesheet once (not once in Textual's default theme and again in the chosen one)."""
    reparses = count_reparses(monkeypatch)
    app, _ = make_app(Settings(theme=theme))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        palette = palettes()[textual_name(theme)]
        assert app.theme == textual_name(theme)
        assert app.screen.styles.background == Color.parse(palette["background"])
        assert app.query_one(GpuPane).styles.border_top[1] == Color.parse(palette["variables"]["pane-border"])
        assert app.has_class(f"-theme-{textual_name(theme)}", "-dark-mode")
        assert reparses == []


async def test_the_light_theme_is_on_the_first_frame_too(monkeypatch):
    """The light theme changes what Textual chose by darkness: it goes through Textual's own theme
    switch (one more parse), and is drawn from the first frame all the same."""
    app, _ = make_app(Settings(theme="light"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        palette = palettes()["mlops-light"]
        assert app.screen.styles.background == Color.parse(palette["background"])
        assert app.has_class("-light-mode") and not app.has_class("-dark-mode")


async def test_the_other_screens_rules_are_read_when_the_first_of_them_opens():
    """The dialogs', detail's, logs' and timeline's rules (themes/screens.tcss) are not parsed for the
    first frame; the first screen the operator opens is drawn with them all the same."""
    app, _ = make_app(Settings())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert not app.stylesheet.has_source(screens_stylesheet_path())
        await pilot.press("question_mark")
        await until(pilot, lambda: len(app.screen_stack) == 2)
        await pilot.pause()
        body = app.screen.query_one("#help-body")
        assert body.styles.border_top == ("thick", Color.parse(app.get_css_variables()["accent"]))
        assert body.styles.max_width is not None and body.styles.max_width.value == 100


async def test_the_dashboard_is_not_restyled_as_it_starts_and_later_resumes_are_as_textual_sends_them(monkeypatch):
    """Textual restyles a screen that becomes current when its `ScreenResume` asks to. At start-up
    every node was just styled as it mounted, so that first time is skipped; a later resume asking for
    it (Textual's screen switches do) restyles as usual."""
    restyles: list[int] = []
    restyle = DashboardScreen.update_node_styles

    def counted(self, animate: bool = True) -> None:
        restyles.append(1)
        restyle(self, animate)

    monkeypatch.setattr(DashboardScreen, "update_node_styles", counted)
    app, _ = make_app(Settings())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen) and app.screen.resumed
        assert restyles == []
        app.screen.post_message(events.ScreenResume())
        await until(pilot, lambda: restyles == [1])


async def test_the_filter_field_is_mounted_the_first_time_slash_is_pressed():
    """The first frame has no filter field (its Input costs start-up); `/` brings it, focused."""
    app, _ = make_app(Settings())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert not app.query("#filter")
        await pilot.press("slash", "v", "a", "l")
        await until(pilot, lambda: bool(app.query("#filter")) and app.query_one("#filter", Input).value == "val")
        assert app.focused is app.query_one("#filter", Input)
        assert app.query_one("#filter-bar").display


def app_with_stylesheet_cache(folder) -> MlopsApp:
    backend = InMemoryBackend()
    seed_fleet(backend)
    return MlopsApp(Settings(), lambda s: Fleet([backend], max_rate=100, clock=lambda: T0), clock=lambda: T0,
                    stylesheet_cache=folder)


def declared(styles) -> dict[str, str]:
    return {name: repr(value) for name, value in styles.get_rules().items()}  # a layout compares by identity


async def drawn_styles(app: MlopsApp, pilot) -> list[tuple]:
    """What every node of the dashboard was styled with, once the fleet is in and the selected service's
    trend is shown (the latency pane mounts it then)."""
    from mlops_tui.tui.panes import ServicesPane

    await until(pilot, lambda: app.query_one(ServicesPane).row_count == 5 and bool(app.query("#latency-selected")))
    await pilot.pause()
    return [(type(node).__name__, node.id, declared(node.styles.base))
            for node in app.screen.walk_children(with_self=True)]


async def test_the_next_start_reads_its_stylesheets_from_the_cache_and_draws_the_same_dashboard(tmp_path,
                                                                                              monkeypatch):
    """The operator starts the dashboard twice. The first start parses every stylesheet and keeps the
    parses (after its first frame); the second parses none for its first frame, and every node of it
    is styled exactly as the first start styled it."""
    first = app_with_stylesheet_cache(tmp_path)
    async with first.run_test(size=(120, 40)) as pilot:
        kept = first.parsed_stylesheets.path
        assert kept is not None
        await until(pilot, kept.exists)  # written whole or not at all (a rename)
        styles = await drawn_styles(first, pilot)
        rules = [(rule.selectors, declared(rule.styles)) for rule in first.stylesheet.rules]

    parses = count_parses(monkeypatch)
    second = app_with_stylesheet_cache(tmp_path)
    async with second.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert parses == []
        assert not second.parsed_stylesheets.changed
        assert [(rule.selectors, declared(rule.styles)) for rule in second.stylesheet.rules] == rules
        assert await drawn_styles(second, pilot) == styles

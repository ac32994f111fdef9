"""The first frame (bench/startup.py measures it): what start-up does before it, and what it shows."""

from __future__ import annotations

import pytest
from textual.color import Color
from textual.css.stylesheet import Stylesheet

from mlops_tui.themes import THEME_NAMES, palettes, textual_name
from mlops_tui.tui.config import Settings
from mlops_tui.tui.panes import GpuPane
from tests.tui.conftest import make_app


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

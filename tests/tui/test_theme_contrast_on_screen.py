"""What reaches the screen, measured: the dashboard in each theme, cell by cell, as the compositor
hands it to the terminal (colours after Textual's filters), meets the contrast the palette-level test
(tests/unit/test_theme_contrast.py) computes, and those computed colours are the ones drawn."""

from __future__ import annotations

import unicodedata

import pytest
from rich.segment import Segment
from textual.color import Color
from textual.command import CommandList
from textual.geometry import Region

from mlops_tui.themes import THEME_NAMES
from mlops_tui.tui.config import Settings
from mlops_tui.tui.keyline import KeyLine
from mlops_tui.tui.panes import ServicesPane
from tests.contrast import GRAPHIC_RATIO, ThemeColours, contrast_ratio, text_ratio_for
from tests.tui.conftest import extras, make_app, until
from tests.tui.test_actions_flow import select


def is_graphic(char: str) -> bool:
    """Box drawing, block elements (borders, sparkline bars, scrollbars): 3:1 is their bar."""
    return "\u2500" <= char <= "\u259f"


def screen_segments(app, within: Region | None = None) -> list[tuple[int, Segment]]:
    """(row, segment) for the whole screen (or the segments starting `within` a region), as the
    terminal is sent it."""
    update = app.screen._compositor.render_full_update(simplify=True)
    found = []
    for y, strips in enumerate(update.strips):
        x = 0
        for strip in strips:
            for segment in strip:
                if within is None or within.contains(x, y):
                    found.append((y, segment))
                x += segment.cell_length
    return found


def colours(segment: Segment) -> tuple[Color, Color]:
    style = segment.style
    assert style is not None and style.color is not None and style.bgcolor is not None, repr(segment)
    return Color.from_rich_color(style.color), Color.from_rich_color(style.bgcolor)


def unreadable(app, theme: str, within: Region | None = None) -> list[str]:
    """Every drawn cell (`within` a region) below its ratio, as `row N 'text': fg on bg ratio`."""
    found = []
    for y, segment in screen_segments(app, within):
        style = segment.style
        # Each theme paints its own background: no cell is left to the terminal's default colours.
        assert style is not None and style.bgcolor is not None and style.bgcolor.triplet is not None, (y, segment)
        drawn = segment.text.strip()
        if not drawn or all(unicodedata.category(ch) == "Zs" for ch in drawn):
            continue
        foreground, background = colours(segment)
        needed = GRAPHIC_RATIO if all(is_graphic(ch) for ch in drawn) else text_ratio_for(theme)
        ratio = contrast_ratio(foreground, background)
        if ratio < needed:
            found.append(f"row {y} {drawn[:30]!r}: {foreground.hex} on {background.hex} {ratio:.2f}:1")
    return found


async def dashboard(pilot, app) -> None:
    await until(pilot, lambda: app.fleet is not None and app.query_one(ServicesPane).row_count == 5)
    extras(app.fleet)
    await until(pilot, lambda: app.query_one("#alerts").row_count == 1)
    await until(pilot, lambda: "Canary" in app.query_one(KeyLine).line().plain)


@pytest.mark.parametrize("theme", THEME_NAMES)
async def test_every_cell_on_screen_is_readable_on_its_own_background(theme):
    app, _ = make_app(Settings(theme=theme))
    async with app.run_test(size=(150, 42)) as pilot:
        await dashboard(pilot, app)
        assert unreadable(app, theme) == []


@pytest.mark.parametrize("theme", THEME_NAMES)
async def test_the_colours_the_palette_test_computes_are_the_ones_drawn(theme):
    app, _ = make_app(Settings(theme=theme))
    expected = ThemeColours(theme)
    async with app.run_test(size=(150, 42)) as pilot:
        await dashboard(pilot, app)
        segments = screen_segments(app)
        last_row = max(y for y, _ in segments)

        def drawn(text: str, row: int | None = None) -> tuple[Color, Color]:
            return colours(next(s for y, s in segments if text in s.text and row in (None, y)))

        screen = expected.over("$background", Color(0, 0, 0))
        bar = expected.over("$panel", screen)
        # The status bar's connected source: status-healthy on the panel colour.
        assert drawn("prod-a connected") == (expected.over("$status-healthy", bar), bar)
        # A key the selection cannot use, on the key line: the theme's disabled grey.
        key_line = expected.over("$footer-background", screen)
        assert drawn("Canary", last_row) == (expected.over("$key-disabled", key_line), key_line)
        # The pending GPU line in the GPU pane: status-degraded on the pane.
        pane = expected.over("$surface", screen)
        assert drawn("Pending for GPUs") == (expected.over("$status-degraded", pane), pane)
        # A pane title: the blended muted text, on the pane.
        assert drawn("GPU allocation") == (expected.over("$text-muted", pane), pane)


async def test_after_switching_themes_with_t_every_cell_still_meets_the_new_themes_ratio():
    app, _ = make_app(Settings(theme="dark"))
    async with app.run_test(size=(150, 42), notifications=True) as pilot:
        await dashboard(pilot, app)
        await pilot.press("t", "t")  # dark → light → high-contrast
        await until(pilot, lambda: app.theme == "mlops-high-contrast")
        app.notify("the audit log is not writable", title="Error", severity="error")
        await until(pilot, lambda: any("not writable" in s.text for _, s in screen_segments(app)))
        # The cells, the cursor row, the key line, the theme's toast and the error toast.
        assert unreadable(app, "high-contrast") == []


@pytest.mark.parametrize("theme", THEME_NAMES)
async def test_dialogs_are_readable_over_the_faded_dashboard(theme):
    """The scale dialog and the help: every cell inside them (the dashboard behind is faded on purpose)."""
    app, _ = make_app(Settings(theme=theme))
    async with app.run_test(size=(150, 42)) as pilot:
        await dashboard(pilot, app)
        for key, dialog in (("s", ".dialog"), ("question_mark", "#help-body")):
            await pilot.press(key)
            await until(pilot, lambda dialog=dialog: bool(app.screen.query(dialog)))
            await pilot.pause(0.2)
            region = app.screen.query_one(dialog).region
            assert len(screen_segments(app, region)) > 10
            assert unreadable(app, theme, region) == [], key
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is app.screen_stack[0])


@pytest.mark.parametrize("theme", THEME_NAMES)
async def test_the_detail_screen_the_preview_and_the_command_palette_are_readable(theme):
    """The latency chart (plotext draws it in its own colours unless told the theme's), a scale
    preview, and Textual's command palette (black separators, terminal-dim help unless restyled)."""
    app, _ = make_app(Settings(theme=theme))
    async with app.run_test(size=(150, 42)) as pilot:
        await dashboard(pilot, app)
        await select(pilot, app, "property-valuation-model")
        await pilot.press("enter")
        await until(pilot, lambda: app.screen.__class__.__name__ == "ServiceDetailScreen")
        await until(pilot, lambda: any("SLO" in s.text for _, s in screen_segments(app, app.screen.region)))
        assert unreadable(app, theme) == []
        await pilot.press("escape", "s")
        await until(pilot, lambda: bool(app.screen.query(".dialog Input")))
        await pilot.press("5", "enter")
        await until(pilot, lambda: app.screen.__class__.__name__ == "PreviewScreen", timeout=10)
        await pilot.pause(0.2)
        assert unreadable(app, theme, app.screen.query_one(".dialog").region) == []
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.screen_stack[0])
        await pilot.press("ctrl+p", *"roll")
        await until(pilot, lambda: app.screen.query(CommandList) and app.screen.query_one(CommandList).option_count)
        await pilot.pause(0.2)
        palette = app.screen.query_one("#--input").region.union(app.screen.query_one(CommandList).region)
        assert unreadable(app, theme, palette) == []


@pytest.mark.parametrize("theme", THEME_NAMES)
async def test_at_80x24_every_cell_is_readable_too(theme):
    """One pane at a time, with the pane tabs and the shortened key line."""
    app, _ = make_app(Settings(theme=theme))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.query_one(ServicesPane).row_count == 5)
        await pilot.pause(0.2)
        assert unreadable(app, theme) == []

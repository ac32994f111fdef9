"""The operator rebinds a key in the config file: the key line, the help screen and the command
palette all name the new key, the old one does nothing, and the new one opens the dialog."""

from __future__ import annotations

import re

from textual.widgets import Input

from mlops_tui.tui.cli import parser, settings_from
from mlops_tui.tui.commands import BY_ID
from mlops_tui.tui.keyline import KeyLine
from tests.tui.conftest import make_app, until, visible_text
from tests.tui.test_actions_flow import select


def screen_name(app) -> str:
    return name_of(app.screen)


def name_of(screen) -> str:
    return screen.__class__.__name__


async def test_scale_rebound_to_x_in_the_config_file_reads_x_in_the_key_line_help_and_palette_and_x_scales(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[keys]\nscale = "x"\n', "utf-8")
    settings = settings_from(parser().parse_args(["--config", str(config)]))  # what `mlops-tui --config` reads
    app, backend = make_app(settings)
    async with app.run_test(size=(170, 60)) as pilot:
        await select(pilot, app, "property-valuation-model")

        # The key line.
        line = app.query_one(KeyLine)
        await until(pilot, lambda: " x Scale" in line.line().plain)
        assert " s Scale" not in line.line().plain
        assert " x Scale" in visible_text(app).splitlines()[-1]

        # The help screen: the Scale row's key is x, and no row gives scale the s.
        await pilot.press("question_mark")
        await until(pilot, lambda: screen_name(app) == "HelpScreen")
        await until(pilot, lambda: re.search(r"(?<!\S)x\s+Scale\s+scale:", visible_text(app)) is not None)
        assert re.search(r"(?<!\S)s\s+Scale\b", visible_text(app)) is None
        await pilot.press("escape")
        await until(pilot, lambda: screen_name(app) != "HelpScreen")

        # The command palette's Scale entry.
        await pilot.press("ctrl+p")
        await until(pilot, lambda: screen_name(app) == "CommandPalette")
        await pilot.press(*"Scale")
        await until(pilot, lambda: "key x · scale:" in visible_text(app))
        assert "key s · scale" not in visible_text(app)
        await pilot.press("escape")
        await until(pilot, lambda: screen_name(app) != "CommandPalette")
        await until(pilot, lambda: app.screen is app.screen_stack[0])

        # s no longer scales; x opens the scale dialog (had s opened it, the x would be typed into it).
        await pilot.press("s", "x")
        await until(pilot, lambda: screen_name(app) == BY_ID["scale"].opens)
        assert app.screen.query_one("#replicas", Input).value == "3"
        assert [name_of(screen) for screen in app.screen_stack].count("ScaleDialog") == 1
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.screen_stack[0])
        assert backend.mutations == []


async def test_help_rebound_to_h_opens_help_with_h_and_h_closes_it_again(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[keys]\nhelp = "h"\n', "utf-8")
    app, _ = make_app(settings_from(parser().parse_args(["--config", str(config)])))
    async with app.run_test(size=(170, 100)) as pilot:  # the whole help on one screen
        await until(pilot, lambda: " h Help" in app.query_one(KeyLine).line().plain)
        await pilot.press("question_mark")  # the old key: nothing
        await pilot.press("h")
        await until(pilot, lambda: screen_name(app) == "HelpScreen")
        assert [name_of(screen) for screen in app.screen_stack].count("HelpScreen") == 1
        assert re.search(r"(?<!\S)h\s+Help\s+help:", visible_text(app))
        await pilot.press("h")
        await until(pilot, lambda: app.screen is app.screen_stack[0])

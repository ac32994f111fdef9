"""Themes: Textual `Theme` objects built from `palettes.toml`, plus the app's stylesheet.

Colours are data (palettes.toml), so no Python module holds a colour literal. Widgets style
themselves through the semantic variables (`$status-healthy`, `$alert-firing`, ...).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from functools import cache
from pathlib import Path

THEME_NAMES = ("dark", "light", "high-contrast")
"""Names the operator uses (`--theme dark`); the registered Textual theme is `mlops-<name>`."""

DEFAULT_THEME = "dark"

HERE = Path(__file__).resolve().parent
"""The package's own files (a plain directory: importlib.resources would cost ~3 ms of start-up)."""


def textual_name(name: str) -> str:
    return f"mlops-{name}"


def palettes_text() -> str:
    return HERE.joinpath("palettes.toml").read_text("utf-8")


def parse_palettes(text: str) -> dict[str, dict]:
    """`palettes.toml`'s text as tables. The app keeps this parse between starts (as it keeps its
    stylesheets'), so that a start imports no TOML parser."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    return tomllib.loads(text)


@cache
def palettes() -> dict[str, dict]:
    return parse_palettes(palettes_text())


def build_themes(parsed: Mapping[str, Mapping] | None = None) -> list:
    """Our Textual themes, ready for `App.register_theme`, from `parsed` palettes (default: read now)."""
    from textual.theme import Theme

    themes = []
    for theme_name, palette in (palettes() if parsed is None else parsed).items():
        fields = {k: v for k, v in palette.items() if k != "variables"}
        themes.append(Theme(name=theme_name, variables=dict(palette.get("variables", {})), **fields))
    return themes


def stylesheet_path() -> str:
    return str(HERE / "app.tcss")


def screens_stylesheet_path() -> str:
    """The rules of every screen but the dashboard, read when the first of them opens."""
    return str(HERE / "screens.tcss")

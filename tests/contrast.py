"""WCAG 2.x contrast, and a theme's colours resolved the way Textual draws them.

`ThemeColours` takes a theme from themes/palettes.toml through Textual's own machinery
(`Theme.to_color_system().generate()` plus the theme's variables, as `App.get_css_variables` does), and
resolves a TCSS colour (`$text-muted`, `$foreground 60%`, `auto 87%`, a colour with alpha) over the
background it is drawn on, blending as Textual's compositor does, so a ratio computed here is the
ratio of what reaches the terminal.
"""

from __future__ import annotations

from rich.color import ColorSystem
from textual.color import Color
from textual.theme import Theme

from mlops_tui.themes import build_themes, textual_name

TEXT_RATIO = 4.5
"""WCAG 2.x AA for text."""
HIGH_CONTRAST_TEXT_RATIO = 7.0
"""WCAG 2.x AAA for text: what the high-contrast theme promises."""
GRAPHIC_RATIO = 3.0
"""WCAG 2.x non-text contrast (1.4.11): borders, sparklines, scrollbars."""


def relative_luminance(colour: Color) -> float:
    """WCAG 2.x relative luminance of an opaque sRGB colour."""

    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(colour.r) + 0.7152 * linear(colour.g) + 0.0722 * linear(colour.b)


def contrast_ratio(a: Color, b: Color) -> float:
    """(L1 + 0.05) / (L2 + 0.05), lighter over darker: 1 (invisible) to 21 (black on white)."""
    high, low = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def as_sent(colour: Color, colours: str) -> Color:
    """`colour` as the terminal receives it: itself in truecolor; in a 256-colour terminal
    ("256"), the xterm colour Rich downgrades it to when writing the escape code."""
    if colours == "truecolor":
        return colour
    sent = colour.rich_color.downgrade(ColorSystem.EIGHT_BIT).get_truecolor()
    return Color(sent.red, sent.green, sent.blue)


def text_ratio_for(theme: str) -> float:
    return HIGH_CONTRAST_TEXT_RATIO if theme == "high-contrast" else TEXT_RATIO


def theme(name: str) -> Theme:
    """The registered Textual theme for an operator's theme name (`light` → `mlops-light`)."""
    return next(t for t in build_themes() if t.name == textual_name(name))


class ThemeColours:
    """A theme's variables, and any TCSS colour resolved to the opaque colour drawn over a background."""

    def __init__(self, name: str) -> None:
        chosen = theme(name)
        self.variables: dict[str, str] = {**chosen.to_color_system().generate(), **chosen.variables}
        self.dark = chosen.dark

    def over(self, expression: str, background: Color) -> Color:
        """`expression` (`$name`, `$name 60%`, `#rrggbb`, `auto 87%`) as drawn over the opaque `background`."""
        value, _, percent = expression.strip().partition(" ")
        while value.startswith("$"):
            value, _, inner = self.variables[value[1:]].strip().partition(" ")
            percent = percent or inner
        # Textual's `auto`: black or white, whichever contrasts with what it is drawn on.
        colour = background.get_contrast_text(1.0) if value == "auto" else Color.parse(value)
        if percent:
            colour = colour.multiply_alpha(float(percent.rstrip("%")) / 100)
        return background + colour

    def tint(self, background: Color, expression: str) -> Color:
        """`background-tint: expression` applied to `background` (Widget.background_colors)."""
        value, _, percent = expression.partition(" ")
        colour = Color.parse(self.variables[value.lstrip("$")])
        return background.tint(colour.multiply_alpha(float(percent.rstrip("%")) / 100 if percent else 1.0))

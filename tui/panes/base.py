"""What every pane shares: a title, semantic styles from the theme, and `show(state, delta)`."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.style import Style
from textual.geometry import Region
from textual.widget import Widget

from mlops_tui.backends.state import FleetDelta, FleetState

SEMANTIC_STYLES = (
    "healthy",
    "degraded",
    "down",
    "unknown",
    "canary",
    "stable",
    "gpu-busy",
    "gpu-free",
    "gpu-idle",
    "alert-firing",
    "alert-pending",
    "alert-silenced",
)

AGE_TICK = 1.0
"""Seconds between re-renders of the relative ages on screen ('5s', 'stale 2m'): each tick redraws only
the cells whose text changed."""

PANE_COMPONENT_CLASSES = {f"pane--{name}" for name in SEMANTIC_STYLES}


class SemanticStyles(Widget):
    """Resolves the theme's semantic cell styles (`.pane--<name>` in app.tcss) for every pane.

    One hidden holder, not a copy per pane: Textual styles every component class of every widget
    on each restyle (mount, theme change), so six copies cost six times (bench/startup.py)."""

    COMPONENT_CLASSES = PANE_COMPONENT_CLASSES
    DEFAULT_CSS = "SemanticStyles { display: none; }"

    def style(self, semantic: str) -> Style:
        return self.get_component_rich_style(f"pane--{semantic}", partial=True)


if TYPE_CHECKING:
    # The type checker sees the mixin as the Widget it is always mixed into (its methods use the
    # widget's screen, border and timers); at run time it stays a plain class, so it adds no CSS
    # type name and no second Widget base to the panes.
    _PaneBase = Widget
else:
    _PaneBase = object


class PaneMixin(_PaneBase):
    """Mixed into each pane widget: a title, `show(state, delta)`, and `style_for(semantic)`, the
    rich style of a semantic name as the current theme draws it (from the screen's `SemanticStyles`)."""

    pane_id: str = ""
    pane_title: str = ""
    _semantic_styles: SemanticStyles | None = None
    _subtitle_wanted = ""
    _subtitle_set_at = 0.0
    _subtitle_timer_armed = False

    def style_for(self, semantic: str) -> Style | str:
        if not semantic:
            return ""
        if self._semantic_styles is None:
            self._semantic_styles = self.screen.query_one(SemanticStyles)
        return self._semantic_styles.style(semantic)

    def set_subtitle(self, text: str, *, at_most_every: float = 0.0) -> None:
        """The count on the pane's bottom border. Textual repaints the whole pane whenever a border
        title is set, even to the same text (a pane's worth of bytes over SSH), so it is set only
        when it changes and, for a count that moves with every change (free GPUs under churn), at
        most once every `at_most_every` seconds, the last value always shown in the end."""
        self._subtitle_wanted = text
        if self.border_subtitle == text:
            return
        wait = self._subtitle_set_at + at_most_every - time.monotonic()
        if wait <= 0:
            self._set_wanted_subtitle()
        elif not self._subtitle_timer_armed:
            self._subtitle_timer_armed = True
            self.set_timer(wait, self._set_wanted_subtitle)

    def _set_wanted_subtitle(self) -> None:
        self._subtitle_timer_armed = False
        self._subtitle_set_at = time.monotonic()
        if self.border_subtitle != self._subtitle_wanted:
            self._show_subtitle(self._subtitle_wanted)

    def _show_subtitle(self, text: str) -> None:
        """Set the border subtitle and repaint the bottom border line only. Textual's `border_subtitle`
        setter repaints the whole pane (every row of the table, a pane's worth of bytes over SSH); the
        bottom border is drawn from `_border_subtitle` (what that setter stores) whenever its line is
        repainted, so a dirty region of that one line shows the new count."""
        if not self.is_mounted or self.outer_size.height < 1:
            self.border_subtitle = text
            return
        self._border_subtitle = self.render_str(text).expand_tabs(4).split()[0]
        width, height = self.outer_size
        left, top = self.content_offset
        self.refresh(Region(-left, height - 1 - top, width, 1))  # in content coordinates

    def show(self, state: FleetState, delta: FleetDelta | None) -> None:
        """Render `state`; `delta` (None = everything) says what changed since the last call."""
        raise NotImplementedError

    def restyle(self, state: FleetState) -> None:
        """The theme changed: recompute every cell's style."""
        self.show(state, None)

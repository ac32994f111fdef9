"""What every pane shares: a title, semantic styles from the theme, and `show(state, delta)`."""

from __future__ import annotations

from rich.style import Style

from backends.fleet import FleetDelta, FleetState

SEMANTIC_STYLES = (
    "healthy",
    "degraded",
    "down",
    "unknown",
    "canary",
    "stable",
    "gpu-busy",
    "gpu-free",
    "alert-firing",
    "alert-pending",
    "alert-silenced",
)


PANE_COMPONENT_CLASSES = {f"pane--{name}" for name in SEMANTIC_STYLES}


class PaneMixin:
    """Mixed into each pane widget. Colours come from `pane--<semantic>` component classes,
    which app.tcss styles with the theme's variables. (Textual gathers COMPONENT_CLASSES from
    widget classes only, so each pane class sets `COMPONENT_CLASSES = PANE_COMPONENT_CLASSES`.)"""

    pane_id: str = ""
    pane_title: str = ""

    def style_for(self, semantic: str) -> Style | str:
        if not semantic:
            return ""
        return self.get_component_rich_style(f"pane--{semantic}", partial=True)  # type: ignore[attr-defined]

    def show(self, state: FleetState, delta: FleetDelta | None) -> None:
        """Render `state`; `delta` (None = everything) says what changed since the last call."""
        raise NotImplementedError

    def restyle(self, state: FleetState) -> None:
        """The theme changed: recompute every cell's style."""
        self.show(state, None)

"""The status line: every source's health (connected, stale for N s, error) and the mode badges."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from rich.text import Text
from textual.widgets import Static

from mlops_tui.backends.model import HealthState
from mlops_tui.backends.state import FleetDelta, FleetState
from mlops_tui.tui.format import health_text
from mlops_tui.tui.panes.base import PaneMixin


class StatusBar(PaneMixin, Static):
    """One line, always visible: what is connected and what the operator is allowed to do."""

    COMPONENT_CLASSES = {"status--readonly", "status--demo"}

    def __init__(self, clock: Callable[[], datetime], *, readonly: bool, demo: bool) -> None:
        super().__init__(id="status-bar")
        self._clock = clock
        self.readonly = readonly
        self.demo = demo
        self._state = FleetState()

    def on_mount(self) -> None:
        # Staleness is counted in seconds: re-render once a second, but only while something is stale.
        self.set_interval(1.0, self._tick)
        self._render_line()

    def show(self, state: FleetState, delta: FleetDelta | None = None) -> None:
        """`delta` is not needed: the line is short and always drawn whole."""
        self._state = state
        self._render_line()

    def _tick(self) -> None:
        if any(h.state in (HealthState.STALE, HealthState.CONNECTING) for h in self._state.health.values()):
            self._render_line()

    def _render_line(self) -> None:
        now = self._clock()
        parts: list[Text] = []
        if self.demo:
            parts.append(Text(" DEMO: simulated fleet ", style=self.get_component_rich_style("status--demo")))
        if self.readonly:
            parts.append(Text(" READ-ONLY ", style=self.get_component_rich_style("status--readonly")))
        if not self._state.health:
            parts.append(Text("◌ starting: no source connected yet"))
        # Trouble first: on a narrow terminal the line is cut on the right, so healthy sources go last.
        order = {HealthState.ERROR: 0, HealthState.STALE: 1, HealthState.CONNECTING: 2, HealthState.CONNECTED: 3}
        for health in sorted(self._state.health.values(), key=lambda h: (order[h.state], h.source)):
            text, semantic = health_text(health, now)
            parts.append(Text(text, style=self.style_for(semantic)))
        self.update(Text("  ").join(parts))

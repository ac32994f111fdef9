"""The alerts pane: firing, pending and silenced alerts, tied to the services they concern."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from mlops_tui.backends.state import FleetDelta, FleetState
from mlops_tui.tui.format import ALERT_COLUMNS, ALERT_SINCE, alert_cells, alert_since_cell
from mlops_tui.tui.keyed_table import KeyedTable, columns
from mlops_tui.tui.panes.base import AGE_TICK, PaneMixin

if TYPE_CHECKING:
    from mlops_tui.backends.model import Alert

COLUMNS = columns(ALERT_COLUMNS, floors={"name": 12, "service": 12}, middle={"service"})
"""Every column stays; SERVICE (cluster/namespace/name) is cut in its middle, keeping the name's end."""


def alert_key(alert: Alert) -> str:
    return alert.fingerprint or "\x1f".join(f"{k}={v}" for k, v in alert.labels)


class AlertsPane(PaneMixin, KeyedTable):
    """Alerts from Prometheus and Alertmanager, loudest and newest first."""


    pane_id = "alerts"
    pane_title = "Alerts"

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        super().__init__(COLUMNS, id=self.pane_id, classes="pane")
        self.border_title = self.pane_title
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._alerts: dict[str, Alert] = {}

    def on_mount(self) -> None:
        self.set_interval(AGE_TICK, self.tick_ages)

    def show(self, state: FleetState, delta: FleetDelta | None) -> None:
        if delta is not None and not delta.alerts:
            return
        now = self._clock()
        self._alerts = {alert_key(a): a for a in state.alerts}
        self.sync_rows({key: alert_cells(a, now, self.style_for) for key, a in self._alerts.items()}, keep_order=True)
        firing = sum(1 for a in state.alerts if a.state.value == "firing")
        self.set_subtitle(f"{firing} firing / {len(state.alerts)}")

    def tick_ages(self) -> int:
        """The clock moved: redraw the SINCE cells whose text changed ('5s' → '6s'), nothing else.
        Returns how many rows changed (none when every shown age still reads the same)."""
        now = self._clock()
        moved = {}
        for key, alert in self._alerts.items():
            cells = self.cells(key)
            if cells is None:
                continue
            fresh = alert_since_cell(alert, now)
            if cells[ALERT_SINCE].plain != fresh.plain:
                moved[key] = (*cells[:ALERT_SINCE], fresh, *cells[ALERT_SINCE + 1:])
        if moved:
            self.apply_changes(moved)
        return len(moved)

    def selected_alert(self) -> Alert | None:
        key = self.selected_key()
        return self._alerts.get(key) if key else None

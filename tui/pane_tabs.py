"""The pane tabs of the compact layout (80×24: one pane at a time), each with a badge that says what
is wrong behind it: services in trouble, GPU nodes NotReady, GPUs waiting, alerts firing.

A badge is a glyph and a number (never colour alone), styled from the theme (component classes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from rich.text import Text
from textual.timer import Timer
from textual.widgets import Static

from mlops_tui.backends.state import FleetState
from mlops_tui.backends.vocabulary import AlertState, Severity
from mlops_tui.tui.format import row_state, trouble_rank

if TYPE_CHECKING:
    from mlops_tui.backends.model import Alert, ServiceKey

BADGE_INTERVAL = 1.0
"""Seconds between two countings of the badges (the latest state is always counted in the end)."""


class Badge(NamedTuple):
    text: str
    semantic: str
    """"down" (✖) or "degraded" (▲): the component class that styles it."""


def badges(state: FleetState) -> dict[str, tuple[Badge, ...]]:
    """Each pane's badges, worst first; a pane with nothing wrong has none. A service counts when its
    row says ✖ or ▲ (`trouble_rank` 0 or 1), as the services pane ranks it; stale data (◌) is the
    status bar's to say."""
    firing_on: dict[ServiceKey, list[Alert]] = {}
    for alert in state.alerts:
        if alert.service is not None:
            firing_on.setdefault(alert.service, []).append(alert)
    ranks = [trouble_rank(row_state(service, firing_on.get(key, ()), state.health.get(key.cluster))[0])
             for key, service in state.services.items()]
    down = sum(1 for rank in ranks if rank == 0)
    degraded = sum(1 for rank in ranks if rank == 1)
    services = [Badge(f"✖{down}", "down")] if down else []
    if degraded:
        services.append(Badge(f"▲{degraded}", "degraded"))
    not_ready = sum(1 for node in state.gpu_nodes.values() if not node.ready)
    pending = sum(count for workload in state.pending_gpu for _resource, count in workload.requests)
    gpus = [Badge(f"✖{not_ready} NotReady", "down")] if not_ready else []
    if pending:
        gpus.append(Badge(f"▲{pending} pending", "degraded"))
    firing = [alert for alert in state.alerts if alert.state is AlertState.FIRING]
    alerts = []
    if firing:
        critical = any(alert.severity >= Severity.CRITICAL for alert in firing)
        alerts.append(Badge(f"{'✖' if critical else '▲'}{len(firing)} firing", "down" if critical else "degraded"))
    return {"services": tuple(services), "gpus": tuple(gpus), "latency": (), "alerts": tuple(alerts)}


class PaneTabs(Static):
    """`▸services ✖1 ▲2◂  gpus ✖1 NotReady  latency  alerts ▲4 firing   tab: next pane`."""

    COMPONENT_CLASSES = {"pane-tabs--active", "pane-tabs--down", "pane-tabs--degraded"}

    def __init__(self) -> None:
        super().__init__(id="pane-tabs", markup=False)
        self._badges: dict[str, tuple[Badge, ...]] = {}
        self._views: tuple[str, ...] = ()
        self._active = ""
        self._hint = ""
        self._latest = FleetState()
        self._counted: FleetState | None = None
        self._timer: Timer | None = None

    def show_tabs(self, views: tuple[str, ...], active: str, hint: str) -> None:
        self._views, self._active, self._hint = views, active, hint
        self._draw()

    def show_state(self, state: FleetState) -> None:
        """Badges from `state`, at most once per `BADGE_INTERVAL`: counting folds every row's state
        (~40 ms for 5,000 services on a loaded machine), and under churn updates come 10 times a second."""
        self._latest = state
        if self._timer is None:
            self._count()
            self._timer = self.set_timer(BADGE_INTERVAL, self._count_latest)

    def _count_latest(self) -> None:
        self._timer = None
        if self._latest is not self._counted:
            self.show_state(self._latest)

    def _count(self) -> None:
        self._counted = self._latest
        fresh = badges(self._latest)
        if fresh != self._badges:
            self._badges = fresh
            self._draw()

    def on_resize(self) -> None:
        self._draw()

    def line(self, *, hint: bool = True) -> Text:
        tabs = []
        for view in self._views:
            active = view == self._active
            tab = Text.assemble(("▸" if active else " ") + view,
                                style=self.get_component_rich_style("pane-tabs--active") if active else "")
            for badge in self._badges.get(view, ()):
                tab.append(" ")
                tab.append(badge.text, style=self.get_component_rich_style(f"pane-tabs--{badge.semantic}"))
            tab.append("◂" if active else " ")
            tabs.append(tab)
        line = Text(" ").join(tabs)
        if hint and self._hint:
            line.append(f"   {self._hint}")
        return line

    def _draw(self) -> None:
        if not self.display:
            return  # hidden (the panes side by side): drawn when shown, as its first size comes (`on_resize`)
        line = self.line()
        if self.content_size.width and line.cell_len > self.content_size.width:
            line = self.line(hint=False)  # the badges matter more than the reminder of tab
        self.update(line)

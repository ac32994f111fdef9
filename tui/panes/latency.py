"""The latency pane: p95 trend of the selected service and of the worst services right now."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static

from mlops_tui.backends.model import LatencySeries, ServiceKey
from mlops_tui.backends.state import FleetDelta, FleetState
from mlops_tui.tui.format import latency_summary, literal
from mlops_tui.tui.panes.base import PaneMixin
from mlops_tui.tui.sparkdata import ascii_sparkline, sanitize

WORST_N = 4


def finite_values(series: LatencySeries) -> list[float]:
    """p95 values in ms, NaN and inf dropped: Textual's Sparkline crashes on them."""
    return sanitize([v * 1000 for _t, v in series.p95])


class Trend(Vertical):
    """One service's title line and its p95 trend (Sparkline, or ASCII when glyphs are unsafe)."""

    def __init__(self, ascii_only: bool, **kwargs) -> None:
        super().__init__(classes="trend", **kwargs)
        self.ascii_only = ascii_only
        self._shown: tuple[Text, list[float]] | None = None

    def compose(self) -> ComposeResult:
        yield Static(classes="trend-title")
        if self.ascii_only:
            yield Static(classes="trend-ascii")
        else:
            yield Sparkline([], classes="trend-spark")

    def on_mount(self) -> None:
        if self._shown:  # shown before it was mounted
            self._draw(*self._shown)

    def show(self, title: Text, values: list[float]) -> None:
        self._shown = (title, values)
        if self.is_mounted:
            self._draw(title, values)

    def _draw(self, title: Text, values: list[float]) -> None:
        self.query_one(".trend-title", Static).update(title)
        if self.ascii_only:
            width = max(self.size.width, 10)
            self.query_one(".trend-ascii", Static).update(Text(ascii_sparkline(values, width)))
        else:
            self.query_one(Sparkline).data = values


class LatencyPane(PaneMixin, Vertical):
    """p95/p50, request rate and errors per service from Prometheus."""


    pane_id = "latency"
    pane_title = "Latency p95"
    can_focus = True

    def __init__(self, ascii_only: bool = False) -> None:
        super().__init__(id=self.pane_id, classes="pane")
        self.border_title = self.pane_title
        self.ascii_only = ascii_only
        self.selected: ServiceKey | None = None
        self._state = FleetState()
        self._worst: list[Trend] = []

    def compose(self) -> ComposeResult:
        yield Static("No latency data yet: is a Prometheus configured?", id="latency-empty")
        yield Trend(self.ascii_only, id="latency-selected")
        yield Static("Worst now", id="latency-worst-title")
        # The "worst now" trends are mounted when there is a series to show: fewer widgets to build
        # before the first frame (bench/startup.py), and none at all without a Prometheus.

    def select(self, key: ServiceKey | None) -> None:
        self.selected = key
        self._render_selected()

    def show(self, state: FleetState, delta: FleetDelta | None) -> None:
        self._state = state
        if delta is not None and not delta.latency and not delta.health:
            return
        self.query_one("#latency-empty").display = not state.latency
        self._render_selected()
        worst = sorted(
            (s for s in state.latency.values() if s.current_p95 is not None),
            key=lambda s: (s.current_p95 or 0) / (s.slo_seconds or 0.1),
            reverse=True,
        )[:WORST_N]
        self.query_one("#latency-worst-title").display = bool(worst)
        while len(self._worst) < len(worst):
            trend = Trend(self.ascii_only, id=f"latency-worst-{len(self._worst)}")
            self._worst.append(trend)
            self.mount(trend)
        for i, trend in enumerate(self._worst):
            if i < len(worst):
                trend.display = True
                trend.show(self._title(worst[i]), finite_values(worst[i]))
            else:
                trend.display = False

    def _render_selected(self) -> None:
        trend = self.query_one("#latency-selected", Trend)
        series = self._state.latency.get(self.selected) if self.selected else None
        if series is None:
            trend.display = self.selected is not None
            if self.selected is not None:
                trend.show(literal(f"{self.selected.name}: no latency series"), [])
            return
        trend.display = True
        trend.show(self._title(series), finite_values(series))

    def _title(self, series: LatencySeries) -> Text:
        summary, semantic = latency_summary(series)
        return Text.assemble(literal(series.service.name), literal(f" @{series.service.cluster} "),
                             Text(summary, style=self.style_for(semantic)))

"""The latency pane: p95 trend of the selected service and of the worst services right now."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from mlops_tui.backends.state import FleetDelta, FleetState
from mlops_tui.tui.format import latency_summary, literal, ms, slo_line
from mlops_tui.tui.panes.base import PaneMixin
from mlops_tui.tui.sparkdata import ascii_sparkline, axis_top, block_rows, resample, sanitize

if TYPE_CHECKING:
    from mlops_tui.backends.model import LatencySeries, ServiceKey

WORST_N = 4


def finite_values(series: LatencySeries) -> list[float]:
    """p95 values in ms, NaN and inf dropped (Prometheus's NaN of a window without requests)."""
    return sanitize([v * 1000 for _t, v in series.p95])


class TrendData(NamedTuple):
    """What one trend draws: its title, its p95 values (ms), its SLO (ms) and an optional legend."""

    title: Text
    values: list[float]
    slo_ms: float | None = None
    legend: Text | None = None


class Trend(Vertical):
    """One service's title line and its p95 trend on a 0..`axis_top` scale: bars over the SLO are
    drawn in the theme's `down` style (the SLO marked where a one-line trend cannot draw a line);
    block glyphs, or ASCII when glyphs are unsafe."""

    def __init__(self, ascii_only: bool, style_for: Callable[[str], Style | str], lines: int = 2,
                 **kwargs) -> None:
        super().__init__(classes="trend", **kwargs)
        self.ascii_only = ascii_only
        self.lines = lines
        self._style_for = style_for
        self._shown: TrendData | None = None
        # Held, not queried: a trend mounted as the app closes may never see its children mounted.
        self._title = Static(classes="trend-title")
        self._bars = Static(classes="trend-ascii" if ascii_only else "trend-spark")
        self._legend = Static(classes="trend-legend")

    def compose(self) -> ComposeResult:
        yield self._title
        yield self._bars
        yield self._legend

    def on_mount(self) -> None:
        if self._shown:  # shown before it was mounted
            self._draw(self._shown)

    def on_resize(self) -> None:
        if self._shown:  # the bars are as many as the trend is wide
            self._draw(self._shown)

    def show(self, data: TrendData) -> None:
        self._shown = data
        if self.is_mounted:
            self._draw(data)

    def _draw(self, data: TrendData) -> None:
        self._title.update(data.title)
        self._legend.display = data.legend is not None
        self._legend.update(data.legend or "")
        width = max(self.size.width, 10)
        top = axis_top(data.values, data.slo_ms)
        if self.ascii_only:
            line = ascii_sparkline(data.values, width, top=top)
            self._bars.update(self._marked([line], data, width))
        else:
            rows = block_rows(data.values, width, self.lines, top)
            self._bars.update(self._marked(rows, data, width))

    def _marked(self, rows: list[str], data: TrendData, width: int) -> Text:
        """The rows as text, each bar whose value is over the SLO in the `down` style."""
        over = [data.slo_ms is not None and v > data.slo_ms for v in resample(sanitize(data.values), width)]
        style = self._style_for("down")
        text = Text(no_wrap=True, overflow="crop")
        for n, row in enumerate(rows):
            if n:
                text.append("\n")
            for column, glyph in enumerate(row):
                text.append(glyph, style if column < len(over) and over[column] else "")
        return text


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
        self._selected_trend: Trend | None = None
        self._worst_title: Static | None = None
        self._worst: list[Trend] = []

    def compose(self) -> ComposeResult:
        yield Static("No latency data yet: is a Prometheus configured?", id="latency-empty")
        # The selected service's trend, the "Worst now" title and the worst trends are mounted when
        # there is something to show, in that order: each widget costs ~4 M instructions to mount and
        # style before the first frame (bench/first_frame_instructions.py), and none is shown then.

    def _selected(self) -> Trend:
        if self._selected_trend is None:
            self._selected_trend = Trend(self.ascii_only, self.style_for, lines=3, id="latency-selected")
            self.mount(self._selected_trend, after="#latency-empty")
        return self._selected_trend

    def select(self, key: ServiceKey | None) -> None:
        self.selected = key
        self._render_selected()

    def show(self, state: FleetState, delta: FleetDelta | None) -> None:
        self._state = state
        if delta is not None and not delta.latency and not delta.health:
            return
        self.query_one("#latency-empty").display = not state.latency
        self._render_selected()
        # Worst against their SLO first; services with no known SLO after them, slowest first.
        worst = sorted(
            (s for s in state.latency.values() if s.current_p95 is not None),
            key=lambda s: (s.slo_seconds is not None, (s.current_p95 or 0) / (s.slo_seconds or 1.0)),
            reverse=True,
        )[:WORST_N]
        if self._worst_title is None and worst:
            self._worst_title = Static("Worst now", id="latency-worst-title")
            self.mount(self._worst_title)  # before the first worst trend, mounted below
        if self._worst_title is not None:
            self._worst_title.display = bool(worst)
        while len(self._worst) < len(worst):
            trend = Trend(self.ascii_only, self.style_for, id=f"latency-worst-{len(self._worst)}")
            self._worst.append(trend)
            self.mount(trend)
        for i, trend in enumerate(self._worst):
            if i < len(worst):
                trend.display = True
                trend.show(self._trend(worst[i]))
            else:
                trend.display = False

    def _render_selected(self) -> None:
        series = self._state.latency.get(self.selected) if self.selected else None
        if self.selected is None:
            if self._selected_trend is not None:
                self._selected_trend.display = False
            return
        trend = self._selected()
        trend.display = True
        if series is None:
            trend.show(TrendData(literal(f"{self.selected.name}: no latency series"), []))
            return
        trend.show(self._trend(series, legend=True))

    def _trend(self, series: LatencySeries, legend: bool = False) -> TrendData:
        values = finite_values(series)
        slo_ms = series.slo_seconds * 1000 if series.slo_seconds is not None else None
        text = None
        if legend:
            top = axis_top(values, slo_ms)
            peak = max(values, default=0.0)
            scale = f"axis 0–{ms(top / 1000)}" + (f", peak {ms(peak / 1000)} clipped" if peak > top else "")
            text = Text.assemble(Text(scale + " · ", style=self.style_for("unknown")),
                                 literal(slo_line(series), self.style_for("unknown")))
        return TrendData(self._title(series), values, slo_ms, text)

    def _title(self, series: LatencySeries) -> Text:
        summary, semantic = latency_summary(series)
        return Text.assemble(literal(series.service.name), literal(f" @{series.service.cluster} "),
                             Text(summary, style=self.style_for(semantic)))

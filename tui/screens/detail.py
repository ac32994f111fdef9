"""Service detail (`enter`): replicas with node, state and GPUs; revisions; canary steps; blue-green
colours; autoscaler; warning events; the service's timeline; the latency chart; the service's alerts;
what can be done here.

Imported only when opened, so plotext stays off the first-frame path.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.color import Color
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import Worker, WorkerState
from textual_plotext import PlotextPlot

from mlops_tui.backends.model import Alert, EventInfo, ModelService, ServiceDetail
from mlops_tui.tui.format import (
    autoscaler_text,
    bluegreen_text,
    canary_comparison,
    canary_text,
    literal,
    ms,
    plain,
    requests_text,
    service_state,
    since,
    slo_line,
)
from mlops_tui.tui.keyline import KeyLine
from mlops_tui.tui.panes.base import AGE_TICK
from mlops_tui.tui.screens.timeline import TimelineLog
from mlops_tui.tui.timeline_view import Narrowing, narrowed, table

DETAIL_ENTRIES = 30
"""The service's newest timeline entries the detail screen shows."""


def _table(*columns: str) -> Table:
    table = Table(box=None, show_header=True, header_style="bold", pad_edge=False, expand=False)
    for column in columns:
        table.add_column(column)
    return table


class ServiceDetailScreen(Screen[None]):
    """Everything about one service. `esc` goes back; the action keys work here too."""

    BINDINGS = [Binding("escape", "back", "Back")]

    def __init__(self, service: ModelService) -> None:
        super().__init__()
        self.service = service
        self._alerts: tuple[Alert, ...] = ()
        self._events: tuple[EventInfo, ...] = ()
        self._timeline_version: int | None = None
        self._ages: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
        """The alerts' SINCE and the events' LAST as drawn: a tick redraws a table only when one moved."""

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail"):
            yield Static(id="detail-summary")
            yield Static(Text("Replicas: loading…"), id="detail-replicas")
            yield Static(id="detail-revisions")
            yield Static(id="detail-events")
            yield TimelineLog(id="detail-timeline")
            yield Static(id="detail-alerts")
            yield PlotextPlot(id="detail-latency")
        yield KeyLine()

    def on_mount(self) -> None:
        self.refresh_from_state()
        self.show_timeline()
        self.load_detail()
        self.set_interval(AGE_TICK, self.tick_ages)
        self.set_interval(AGE_TICK, self.show_timeline)

    def _now(self) -> datetime:
        return self.app.clock()  # type: ignore[attr-defined]

    def tick_ages(self) -> bool:
        """Redraw the alerts' or the events' table only if an age in it now reads differently."""
        now = self._now()
        alert_ages, event_ages = self._age_texts(now)
        moved = (alert_ages, event_ages) != self._ages
        if alert_ages != self._ages[0]:
            self._show_alerts(now)
        if event_ages != self._ages[1]:
            self._show_events(now)
        return moved

    def show_timeline(self) -> None:
        """The service's own timeline, the newest entries (`:timeline` shows the whole fleet's)."""
        fleet = self.app.fleet  # type: ignore[attr-defined]
        timeline = fleet.timeline if fleet is not None else None
        version = timeline.version if timeline is not None else -1
        if version == self._timeline_version:
            return
        self._timeline_version = version
        entries = narrowed(timeline.entries() if timeline is not None else (), Narrowing(), self.service.key)
        log = self.query_one("#detail-timeline", TimelineLog)
        shown = table(entries[-DETAIL_ENTRIES:], self._now(), log.severity_style, with_cluster=False)
        title = Text(f"Timeline (oldest first, the last {DETAIL_ENTRIES}; :timeline for the fleet)")
        log.update(Group(title, shown) if entries else Text("Timeline: nothing recorded for this service yet"))

    def _age_texts(self, now: datetime) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return (tuple(since(a.since, now) for a in self._alerts),
                tuple(since(e.last_seen, now) for e in self._events))

    def _show_alerts(self, now: datetime) -> None:
        table = _table("SEVERITY", "STATE", "ALERT", "SINCE", "SUMMARY")
        for alert in self._alerts:
            table.add_row(alert.severity.name.lower(), alert.state.value, literal(alert.name),
                          since(alert.since, now), literal(alert.summary))
        shown = table if self._alerts else Text("Alerts: none for this service")
        self.query_one("#detail-alerts", Static).update(shown)
        self._ages = (self._age_texts(now)[0], self._ages[1])

    def _show_events(self, now: datetime) -> None:
        events = _table("REASON", "COUNT", "LAST", "MESSAGE")
        for event in self._events:
            events.add_row(literal(event.reason), str(event.count), since(event.last_seen, now), literal(event.message))
        self.query_one("#detail-events", Static).update(events if self._events else Text("Warning events: none"))
        self._ages = (self._ages[0], self._age_texts(now)[1])

    def refresh_from_state(self) -> None:
        state = self.app.state  # type: ignore[attr-defined]
        self.service = state.services.get(self.service.key, self.service)
        svc = self.service
        now = self._now()
        lines = Table.grid(padding=(0, 2))
        lines.add_column(style="bold")
        lines.add_column()
        state_text, _ = service_state(svc)
        rows = [
            ("service", str(svc.key)),
            ("kind", f"{svc.key.kind.value} on {svc.platform.value}"),
            ("state", state_text + (f" ({svc.rollout_state}: {svc.rollout_message})" if svc.rollout_message else "")),
            ("replicas", f"{svc.ready} ready / {svc.desired} desired / {svc.updated} updated / "
                         f"{svc.unavailable} unavailable"),
            ("image", svc.image or "-"),
            ("version", f"{svc.version or '-'} (revision {svc.revision or '-'})"),
            ("canary", canary_text(svc, state.latency.get(svc.key), now.timestamp())[0]),
            ("blue-green", bluegreen_text(svc)[0]),
            ("autoscaler", (f"{svc.autoscaler.name} {autoscaler_text(svc)} on {svc.autoscaler.target}"
                            if svc.autoscaler else "-")),
            ("GPUs", f"{requests_text(svc.gpu_requests)} per replica" if svc.gpu_requests else "-"),
            ("actions", ", ".join(sorted(a.value for a in svc.actions - svc.denied)) or "none"),
        ]
        if svc.denied:
            rows.append(("not allowed", ", ".join(sorted(a.value for a in svc.denied))))
        if svc.canary and svc.canary.total_steps:
            rows.append(("canary steps", f"at step {svc.canary.step} of {svc.canary.total_steps}"
                                         + (" (paused)" if svc.canary.paused else "")))
        if svc.blue_green:
            rows.append(("colours", ", ".join(f"{c.name}{' (active)' if c.name == svc.blue_green.active else ''} "
                                              f"{c.ready}/{c.desired} ready" for c in svc.blue_green.colours) or "-"))
        comparison = canary_comparison(svc, state.latency.get(svc.key), now.timestamp())
        rows += [("vs stable" if i == 0 else "", line) for i, line in enumerate(comparison)]
        for condition in svc.conditions:
            rows.append((f"condition {condition.type}", f"{condition.status} {condition.reason} {condition.message}"))
        for name, value in rows:
            lines.add_row(Text(name), literal(value))
        self.query_one("#detail-summary", Static).update(lines)
        self._alerts = tuple(state.alerts_for(svc.key))
        self._show_alerts(now)
        self._plot(state.latency.get(svc.key))

    def _plot(self, series) -> None:
        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        if series is None or not series.p95:
            plt.title("latency: no series for this service")
        else:
            plt.date_form("H:M")
            for name, points, colour in (("p95", series.p95, "sparkline-high"), ("p50", series.p50, "sparkline-low")):
                if points:
                    times = [datetime.fromtimestamp(t).strftime("%H:%M") for t, _v in points]
                    plt.plot(times, [v * 1000 for _t, v in points], label=name, color=self._theme_rgb(colour))
            if series.slo_seconds is not None:
                plt.hline(series.slo_seconds * 1000, color=self._theme_rgb("status-down"))
            plt.title(f"latency (ms): p95 {ms(series.current_p95)}, {plain(slo_line(series))}")
        plot.refresh()

    def _theme_rgb(self, variable: str) -> tuple[int, int, int]:
        """A theme colour for plotext, which draws outside Textual's styles: its own defaults (a
        bright green, a near-black rule) are unreadable on the light and dark surfaces."""
        return Color.parse(self.app.theme_variables[variable]).rgb

    @work(exclusive=True, group="detail", exit_on_error=False, name="reading the service's details")
    async def load_detail(self) -> None:
        fleet = self.app.fleet  # type: ignore[attr-defined]
        if fleet is None:
            return
        try:
            detail: ServiceDetail = await asyncio.to_thread(fleet.describe, self.service)
        except Exception as exc:
            self.query_one("#detail-replicas", Static).update(literal(f"Replicas: could not read: {exc}"))
            return
        replicas = _table("REPLICA", "NODE", "STATE", "READY", "GPUS", "VERSION", "MESSAGE")
        for r in detail.replicas:
            replicas.add_row(literal(r.name), literal(r.node or "-"), literal(r.state), "yes" if r.ready else "no",
                             str(r.gpus or "-"), literal(r.version or "-"), literal(r.message or ""))
        self.query_one("#detail-replicas", Static).update(
            replicas if detail.replicas else Text("Replicas: none reported"))
        revisions = _table("REVISION", "WHAT", "HELD BY")
        for revision in detail.revisions:
            revisions.add_row(literal(revision.revision), literal(revision.summary()),
                              literal(revision.held_by or "-"))
        self.query_one("#detail-revisions", Static).update(
            revisions if detail.revisions else Text("Revisions: no history available"))
        self._events = tuple(detail.events)
        self._show_events(self._now())
        if detail.notes:
            self.notify(plain("; ".join(detail.notes)), timeout=5)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # Worker state messages do not bubble: the app hears of this screen's failures from here.
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            self.app.report_error(event.worker.error, event.worker.name or "reading the service's details")  # type: ignore[attr-defined]

    def action_back(self) -> None:
        self.dismiss(None)

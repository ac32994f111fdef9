"""The fleet-wide incident timeline (`:timeline`): every entry the Fleet's timeline keeps, oldest at
the top and newest at the bottom (tui/timeline_view.py says why), narrowed by the words typed in
the filter field (a service's name, `cluster:NAME`, `kind:alert,action`). `esc` leaves the field,
then the screen."""

from __future__ import annotations

from datetime import datetime

from rich.console import Group, RenderableType
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Input, Static

from mlops_tui.backends.model import ServiceKey, Severity
from mlops_tui.backends.timeline import Timeline
from mlops_tui.tui.format import plain
from mlops_tui.tui.keyline import KeyLine
from mlops_tui.tui.timeline_view import FILTER_HELP, SEVERITY_CLASS, narrowed, parse_filter, table

REFRESH_SECONDS = 1.0
"""How often the view looks for new entries (it redraws only when the timeline moved)."""


class TimelineLog(Static):
    """The entries as one table; rows coloured from the theme through these component classes."""

    COMPONENT_CLASSES = set(SEVERITY_CLASS.values())

    def severity_style(self, severity: Severity) -> Style | str:
        component = SEVERITY_CLASS.get(severity)
        return self.get_component_rich_style(component, partial=True) if component else ""


class TimelineView:
    """What the fleet screen and the detail screen share: read the timeline, narrow it, draw it,
    keep the newest in sight while the operator is at the end."""

    def __init__(self, scroll: VerticalScroll, log: TimelineLog, service: ServiceKey | None,
                 with_cluster: bool = True) -> None:
        self.scroll = scroll
        self.log = log
        self.service = service
        self.with_cluster = with_cluster
        self.filter_text = ""
        self.shown: list = []
        self._drawn: tuple[int, str] | None = None

    def redraw(self, timeline: Timeline | None, now: datetime, *, force: bool = False) -> bool:
        """Draw again if the timeline or the filter moved; returns whether it drew."""
        version = timeline.version if timeline is not None else -1
        if not force and self._drawn == (version, self.filter_text):
            return False
        at_end = self.scroll.scroll_y >= self.scroll.max_scroll_y - 1
        narrowing = parse_filter(self.filter_text)
        entries = timeline.entries() if timeline is not None else ()
        self.shown = narrowed(entries, narrowing, self.service)
        body: RenderableType = table(self.shown, now, self.log.severity_style, with_cluster=self.with_cluster)
        if narrowing.unknown:  # said, never silently ignored
            body = Group(Text(plain(f"no kind called {', '.join(narrowing.unknown)} ({FILTER_HELP})")), body)
        self.log.update(body)
        self._drawn = (version, self.filter_text)
        if at_end:
            self.scroll.call_after_refresh(self.scroll.scroll_end, animate=False)
        return True


class TimelineScreen(Screen[None]):
    """What happened in the fleet, in order."""

    BINDINGS = [Binding("escape", "back", "Back"), Binding("slash", "filter", "Filter")]

    def __init__(self, filter_text: str = "") -> None:
        super().__init__()
        self._initial_filter = filter_text
        self.view: TimelineView | None = None

    def compose(self) -> ComposeResult:
        yield Input(value=self._initial_filter, placeholder=f"filter: {FILTER_HELP}", id="timeline-filter")
        with VerticalScroll(id="timeline-body"):
            yield TimelineLog(Text("Timeline: nothing recorded yet"), id="timeline-log")
        yield KeyLine()

    def on_mount(self) -> None:
        self.view = TimelineView(self.query_one(VerticalScroll), self.query_one(TimelineLog), None)
        self.view.filter_text = self._initial_filter
        self.refresh_entries(force=True)
        self.set_interval(REFRESH_SECONDS, self.refresh_entries)
        self.query_one(VerticalScroll).focus()

    def _timeline(self) -> Timeline | None:
        fleet = self.app.fleet  # type: ignore[attr-defined]
        return fleet.timeline if fleet is not None else None

    def refresh_entries(self, force: bool = False) -> None:
        if self.view is not None:
            self.view.redraw(self._timeline(), self.app.clock(), force=force)  # type: ignore[attr-defined]

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self.view is not None:
            self.view.filter_text = event.value
            self.refresh_entries()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one(VerticalScroll).focus()

    def action_filter(self) -> None:
        self.query_one("#timeline-filter", Input).focus()

    def action_back(self) -> None:
        field = self.query_one("#timeline-filter", Input)
        if field.has_focus:
            self.query_one(VerticalScroll).focus()
            return
        self.dismiss(None)

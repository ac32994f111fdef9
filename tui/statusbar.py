"""The status line: every source's health (connected, stale for N s, error) and the mode badges.

The line is one row; with many sources it does not fit 80 columns. It is shortened step by step,
and a source in trouble is never the one that disappears: healthy sources are summarised first
(`+3 ●`), then the trouble loses its detail, and only then are the last ones counted (`+2 ✖`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Static

from mlops_tui.backends.state import FleetDelta, FleetState
from mlops_tui.backends.vocabulary import HealthState
from mlops_tui.tui.empty import NOTHING_CONFIGURED, SHORT_HINT
from mlops_tui.tui.format import HEALTH_GLYPH, health_text, plain
from mlops_tui.tui.panes.base import PaneMixin
from mlops_tui.tui.production import production_text

if TYPE_CHECKING:
    from mlops_tui.backends.model import ClusterHealth

TROUBLE_ORDER = {HealthState.ERROR: 0, HealthState.STALE: 1, HealthState.CONNECTING: 2, HealthState.CONNECTED: 3}
"""Trouble first: what is cut from the right is what matters least."""

LEVELS = ("full", "healthy summarised", "trouble without detail", "trouble by name", "trouble counted")
"""The line's forms, longest first: the first that fits is shown."""


def source_text(health: ClusterHealth, now: datetime) -> tuple[str, str]:
    """A source's health, naming where it is (its URL) when it cannot be read: the operator checks
    that address first, and an error message alone rarely says it."""
    text, semantic = health_text(health, now)
    if (health.state in (HealthState.ERROR, HealthState.STALE) and health.endpoint
            and health.endpoint not in health.error):
        text += plain(f" ({health.endpoint})")
    return text, semantic


def in_trouble(health: ClusterHealth) -> bool:
    return health.state in (HealthState.ERROR, HealthState.STALE)


class StatusBar(PaneMixin, Static):
    """One line, always visible: what is connected and what the operator is allowed to do."""

    COMPONENT_CLASSES = {"status--readonly", "status--demo", "status--production"}

    def __init__(self, clock: Callable[[], datetime], *, readonly: bool, demo: bool) -> None:
        super().__init__(id="status-bar")
        self._clock = clock
        self.readonly = readonly
        self.demo = demo
        self.production = ""
        """'cluster/namespace' when the services pane's cursor is on a production service: the line
        then starts with a PRODUCTION band (word and colour), kept at every width."""
        self.nothing_configured = False
        """The settings name no source at all: the line says so instead of waiting forever."""
        self._state = FleetState()

    def on_mount(self) -> None:
        # Staleness is counted in seconds: re-render once a second, but only while something is stale.
        self.set_interval(1.0, self._tick)
        self._render_line()

    def on_resize(self) -> None:
        self._render_line()

    def show(self, state: FleetState, delta: FleetDelta | None = None) -> None:
        """`delta` is not needed: the line is short and always drawn whole."""
        self._state = state
        self._render_line()

    def show_production(self, scope: str) -> None:
        """The cursor moved (or its service changed): band or no band."""
        if scope != self.production:
            self.production = scope
            self._render_line()

    def show_nothing_configured(self) -> None:
        self.nothing_configured = True
        self._render_line()

    def _tick(self) -> None:
        if any(h.state in (HealthState.STALE, HealthState.CONNECTING) for h in self._state.health.values()):
            self._render_line()

    def _render_line(self) -> None:
        width = self.content_size.width
        for level in LEVELS:
            line = self.line(level)
            if not width or line.cell_len <= width:
                break
        self.update(line)

    def line(self, level: str = "full") -> Text:
        """The line in one of its forms (`LEVELS`)."""
        now = self._clock()
        full = level == "full"
        parts: list[Text] = []
        if self.production:
            band = production_text(self.production if full else "")
            band.stylize(self.get_component_rich_style("status--production"))
            parts.append(band)
        if self.demo:
            parts.append(Text(" DEMO: simulated fleet " if full else " DEMO ",
                              style=self.get_component_rich_style("status--demo")))
        if self.readonly:
            parts.append(Text(" READ-ONLY ", style=self.get_component_rich_style("status--readonly")))
        if self.nothing_configured and not self._state.health:
            parts.append(Text(f"✖ {NOTHING_CONFIGURED}; {SHORT_HINT}" if full else f"✖ {SHORT_HINT}",
                              style=self.style_for("down")))
        elif not self._state.health:
            parts.append(Text("◌ starting: no source connected yet"))
        sources = sorted(self._state.health.values(), key=lambda h: (TROUBLE_ORDER[h.state], h.source))
        shown = sources if full else [h for h in sources if h.state is not HealthState.CONNECTED]
        connected = [h for h in sources if h not in shown]
        healthy = [] if full else self._summary(connected)
        if level == "trouble counted":
            # Narrower than every troubled name: as many as fit by name, the others counted by glyph.
            parts += self._named_then_counted(shown, [*parts, *healthy], "trouble counted")
        else:
            parts += [self._source_part(health, now, level) for health in shown]
            if not full:  # the room the troubled sources leave names healthy ones, the rest counted
                healthy = self._named_then_counted(connected, parts, "full")
        return Text("  ").join([*parts, *healthy])

    def _source_part(self, health: ClusterHealth, now: datetime, level: str) -> Text:
        text, semantic = source_text(health, now)
        glyph, word, _semantic = HEALTH_GLYPH[health.state]
        if level == "trouble without detail":  # the address stays: it is what the operator checks first
            where = f" ({health.endpoint})" if health.endpoint and in_trouble(health) else ""
            text = plain(f"{glyph} {health.source} {word}{where}")
        elif level in ("trouble by name", "trouble counted"):
            text = plain(f"{glyph} {health.source}")
        return Text(text, style=self.style_for(semantic))

    def _named_then_counted(self, sources: list[ClusterHealth], beside: list[Text], level: str) -> list[Text]:
        """`sources` by name (in `level`'s form) while they fit beside `beside`, then the rest counted
        (`+N ✖`, `+N ●`): every source is named or counted, never neither."""
        width = self.content_size.width
        used = sum(p.cell_len + 2 for p in beside)
        named: list[Text] = []
        for index, health in enumerate(sources):
            part = self._source_part(health, self._clock(), level)
            rest = self._summary(sources[index + 1:])
            if width and used + part.cell_len + 2 + sum(r.cell_len + 2 for r in rest) > width:
                return named + self._summary(sources[index:])
            named.append(part)
            used += part.cell_len + 2
        return named

    def _summary(self, sources: list[ClusterHealth]) -> list[Text]:
        """`+N glyph` per state, worst first: how many sources are not named, never none of them."""
        parts = []
        for state in sorted({h.state for h in sources}, key=TROUBLE_ORDER.__getitem__):
            glyph, _word, semantic = HEALTH_GLYPH[state]
            count = sum(1 for h in sources if h.state is state)
            parts.append(Text(f"+{count} {glyph}", style=self.style_for(semantic)))
        return parts

"""The timeline as the screens show it, in pure functions: the operator's filter words parsed, the
entries they keep, and one table row per entry (every text from a cluster through `literal`).

Newest at the bottom: a timeline is read as a story, cause before effect (as `kubectl events`,
`journalctl` and a postmortem read); the views open scrolled to the end so the newest is in sight,
and follow new entries while the operator is at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from rich.style import Style
from rich.table import Table
from rich.text import Text

from mlops_tui.backends.model import ServiceKey, Severity
from mlops_tui.backends.timeline import EntrySource, TimelineEntry, TimelineFilter
from mlops_tui.tui.format import literal

SHOWN_MAX = 100
"""Rows drawn at most (the newest): the store keeps more, the filter narrows to them and the CLI prints
them all. A rich table costs about 1 ms a row to lay out on the UI thread (1,000 rows: 1.2 s; 100: ~0.13 s)."""
FILTER_HELP = "service name, cluster:NAME, kind:" + "|".join(s.value for s in EntrySource)
SEVERITY_CLASS = {Severity.CRITICAL: "timeline--critical", Severity.WARNING: "timeline--warning"}
"""tcss component classes the rows take their colour from (themes/app.tcss); glyphs say it too."""
StyleOf = Callable[[Severity], Style | str]
SEVERITY_GLYPH = {Severity.CRITICAL: "✖", Severity.WARNING: "▲", Severity.INFO: "·", Severity.NONE: "·"}


@dataclass(frozen=True, slots=True)
class Narrowing:
    """What the filter words ask for: a part of a service's name, a cluster, kinds of entry."""

    service: str = ""
    cluster: str = ""
    sources: frozenset[EntrySource] = frozenset()
    unknown: tuple[str, ...] = ()
    """Words that name no kind (`kind:foo`): said in the header, never silently ignored."""


def parse_filter(text: str) -> Narrowing:
    service: list[str] = []
    cluster = ""
    sources: set[EntrySource] = set()
    unknown: list[str] = []
    kinds = {s.value: s for s in EntrySource}
    for word in text.split():
        name, _, value = word.partition(":")
        if value and name.lower() == "cluster":
            cluster = value
        elif value and name.lower() == "kind":
            for one in value.lower().split(","):
                if one in kinds:
                    sources.add(kinds[one])
                elif one:
                    unknown.append(one)
        else:
            service.append(word)
    return Narrowing(" ".join(service), cluster, frozenset(sources), tuple(unknown))


def narrowed(entries: Iterable[TimelineEntry], narrowing: Narrowing,
             service: ServiceKey | None = None) -> list[TimelineEntry]:
    """The entries the operator asked for: about `service` (the detail screen), and matching the words."""
    where = TimelineFilter(cluster=narrowing.cluster, sources=narrowing.sources)
    wanted = narrowing.service.lower()
    out = []
    for entry in entries:
        if service is not None and not about(entry, service):
            continue
        if not where.matches(entry):
            continue
        if wanted and wanted not in (entry.service.name if entry.service else entry.name).lower():
            continue
        out.append(entry)
    return out


def about(entry: TimelineEntry, key: ServiceKey) -> bool:
    """The entry concerns this service: tied to it, or an unattributed entry on its own object."""
    if entry.service is not None:
        return entry.service == key
    return entry.cluster == key.cluster and entry.name == key.name and entry.namespace == key.namespace


def time_text(at: datetime, now: datetime) -> str:
    """HH:MM:SS in local time; the date too when it is not today."""
    local = at.astimezone()
    return local.strftime("%H:%M:%S") if local.date() == now.astimezone().date() else local.strftime("%m-%d %H:%M")


def table(entries: list[TimelineEntry], now: datetime, style_of: StyleOf, *,
          with_cluster: bool = True) -> Table | Text:
    shown = entries[-SHOWN_MAX:]
    if not shown:
        return Text("Timeline: nothing recorded yet")
    grid = Table(box=None, show_header=True, header_style="bold", pad_edge=False, expand=True)
    grid.add_column("TIME", no_wrap=True)
    grid.add_column("", no_wrap=True)
    grid.add_column("KIND", no_wrap=True)
    if with_cluster:
        grid.add_column("CLUSTER", no_wrap=True)
    grid.add_column("OBJECT", no_wrap=True, overflow="ellipsis", max_width=48)
    grid.add_column("WHAT HAPPENED", overflow="fold", ratio=1)
    for entry in shown:
        row: list[Text | str] = [time_text(entry.at, now), SEVERITY_GLYPH[entry.severity], entry.source.value]
        if with_cluster:
            row.append(literal(entry.cluster))
        row += [literal(entry.object), Text(literal(entry.what).plain)]  # folded, never parsed
        grid.add_row(*row, style=style_of(entry.severity))
    if len(entries) > len(shown):
        grid.caption = f"the newest {len(shown)} of {len(entries)}: narrow with / or print all with mlops-tui timeline"
    return grid

"""The model services pane: one row per service across every cluster, updated cell by cell."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from functools import lru_cache
from typing import TYPE_CHECKING

from rich.text import Text
from textual.message import Message

from mlops_tui.backends.state import FleetDelta, FleetState
from mlops_tui.backends.vocabulary import AlertState, HealthState
from mlops_tui.tui.format import (
    DECISION_COLUMNS,
    SERVICE_COLUMN,
    SERVICE_COLUMNS,
    TROUBLE_NONE,
    canary_text,
    row_state,
    service_cells,
    service_matches,
    stale_age,
    stale_ages,
    trouble_rank,
)
from mlops_tui.tui.keyed_table import Descending, KeyedTable, columns
from mlops_tui.tui.panes.base import AGE_TICK, PaneMixin

if TYPE_CHECKING:
    from mlops_tui.backends.model import Alert, ModelService, ServiceKey

STATE = SERVICE_COLUMN["state"]

FLOORS = {"name": 20, "canary": 6}
"""How narrow a decision column is elided to before the others give way: NAME keeps the most (and is
cut last), CANARY its weight; at 80 columns, scrollbar included, they all fit."""

MIDDLE_ELIDED = frozenset({"name", "cluster", "version"})
"""Cut in the middle: names, clusters and image tags that differ only at the end still differ (CANARY
is cut at its end: its weight comes first)."""

COLUMNS = columns(SERVICE_COLUMNS, optional={key for key, *_ in SERVICE_COLUMNS} - DECISION_COLUMNS,
                  floors=FLOORS, middle=MIDDLE_ELIDED, last_cut="name")

FIRST_DESCENDING = {"state": True, "name": False, "cluster": False, "version": False, "canary": True,
                    "alerts": True}
"""The columns the services can be sorted by, and which way a first press sorts them: the most
trouble, the heaviest canary and the most alerts first; names A to Z. Pressing again reverses."""


def row_key(key: ServiceKey) -> str:
    return f"{key.cluster}\x1f{key.namespace}\x1f{key.kind.value}\x1f{key.name}"


class ServicesPane(PaneMixin, KeyedTable):
    """Model services: replicas, version, canary, blue-green, autoscaler, GPUs, alerts."""


    pane_id = "services"
    pane_title = "Model services"

    class Selected(Message):
        """The operator moved the cursor onto a service."""

        def __init__(self, key: ServiceKey | None) -> None:
            super().__init__()
            self.key = key

    def __init__(self, clock: Callable[[], datetime] | None = None, **kwargs) -> None:
        super().__init__(COLUMNS, id=self.pane_id, classes="pane", **kwargs)
        self.border_title = self.pane_title
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._stale_ages: dict[str, str] = {}
        """Stale cluster → the age its rows show ('2m'), as last drawn."""
        self._count = ""
        self._rows: dict[str, tuple[Text, ...]] = {}
        self._ranks: dict[str, int] = {}
        """Each row's trouble rank (`trouble_rank`): the table re-ranks only when one moves."""
        self._shared_names: frozenset[str] = frozenset()
        """Service names found in more than one cluster: their rows name the cluster too."""
        self._keys: dict[str, ServiceKey] = {}
        self._alerts: dict[ServiceKey, tuple[Alert, ...]] = {}
        """Firing and pending alerts per service, as last drawn."""
        self._canary_cells: dict[ServiceKey, tuple[str, str]] = {}
        """Each canary's CANARY cell (text, style), as last drawn."""
        self._stale_clusters: frozenset[str] = frozenset()
        self._breached: frozenset[ServiceKey] = frozenset()
        """Services whose p95 is over their SLO: a row's state changes when one enters or leaves."""
        self._marks: dict[ServiceKey, tuple[str, bool | None]] = {}
        self._state = FleetState()
        self.filter_text = ""
        self.sort_by("state")

    def sort_by(self, column: str) -> None:
        """Order the rows by `column` (a key of `FIRST_DESCENDING`); the column it is already sorted
        by: the other way round. The cursor stays on its service."""
        current, descending = self.sort_column
        descending = not descending if column == current else FIRST_DESCENDING[column]
        value = self._sort_value(column)

        def order(key: str, _cells: tuple[Text, ...]) -> tuple:
            # Ties always in place order (cluster, namespace, name), whichever way the column goes.
            return (Descending(value(key)) if descending else value(key)), _by_place(key)

        self.order_by(order, column, descending)

    def _sort_value(self, column: str) -> Callable[[str], object]:
        """A row key's value in `column`, from the model (typed fields, never the drawn text)."""
        def service(key: str) -> ModelService | None:
            return self._state.services.get(self._keys[key]) if key in self._keys else None

        def weight(key: str) -> int:
            svc = service(key)
            return -1 if svc is None or svc.canary is None or svc.canary.weight is None else svc.canary.weight

        return {
            "state": lambda key: TROUBLE_NONE - self._ranks.get(key, TROUBLE_NONE),  # larger: worse
            "name": lambda key: key.rsplit("\x1f", 1)[-1],
            "cluster": lambda key: key.split("\x1f", 1)[0],
            "version": lambda key: (svc.version or "") if (svc := service(key)) else "",
            "canary": weight,
            "alerts": lambda key: len(self._alerts.get(self._keys[key], ())) if key in self._keys else 0,
        }[column]

    def show(self, state: FleetState, delta: FleetDelta | None) -> None:
        self._state = state
        grouped: dict[ServiceKey, list[Alert]] = {}
        for alert in state.alerts:
            if alert.service is not None and alert.state in (AlertState.FIRING, AlertState.PENDING):
                grouped.setdefault(alert.service, []).append(alert)
        alerts = {key: tuple(found) for key, found in grouped.items()}
        stale = frozenset(name for name, h in state.health.items()
                          if h.state in (HealthState.STALE, HealthState.ERROR))
        breached = frozenset(k for k, series in state.latency.items() if series.breached)
        if delta is None:
            changed = set(state.services)
            self._rows.clear()
            self._keys.clear()
            self._shared_names = _shared_names(state)
        else:
            changed = set(delta.services)
            for key in delta.removed:
                self._rows.pop(row_key(key), None)
                self._keys.pop(row_key(key), None)
                self._ranks.pop(row_key(key), None)
                self._canary_cells.pop(key, None)
            if delta.removed or any(row_key(k) not in self._keys for k in delta.services):
                shared = _shared_names(state)
                if shared != self._shared_names:
                    moved_names = shared ^ self._shared_names
                    changed |= {k for k in state.services if k.name in moved_names}
                    self._shared_names = shared
            if delta.alerts:
                changed |= {k for k in set(alerts) | set(self._alerts)
                            if alerts.get(k) != self._alerts.get(k) and k in state.services}
            if delta.health and stale != self._stale_clusters:
                moved = stale ^ self._stale_clusters
                changed |= {k for k in state.services if k.cluster in moved}
            if delta.latency:
                changed |= {k for k in breached ^ self._breached if k in state.services}
                changed |= self._canary_cells_moved(state)
        ages = stale_ages(state.health, self._clock())
        if delta is not None and delta.health:
            aged = {name for name, age in ages.items() if self._stale_ages.get(name) != age}
            if aged:  # stale since another moment: its rows say the new age
                changed |= {k for k in state.services if k.cluster in aged}
        self._alerts = alerts
        self._stale_clusters = stale
        self._breached = breached
        self._stale_ages = ages
        for key in sorted(changed):
            service = state.services.get(key)
            if service is None:
                continue
            rk = row_key(key)
            self._rows[rk] = self._cells(service, self._marks.get(key))
            self._keys[rk] = key
        if delta is None:  # a full render keeps a stable, readable order
            self._rows = dict(sorted(self._rows.items()))
        if delta is None or self.filter_text:
            self._sync()
            return
        # The common case under churn: only the rows that changed are touched.
        upserts = {row_key(k): self._rows[row_key(k)] for k in sorted(changed) if row_key(k) in self._rows}
        self.apply_changes(upserts, [row_key(k) for k in delta.removed])
        self._set_count(f"{len(self._rows)}")

    def mark(self, key: ServiceKey, mark: tuple[str, bool | None]) -> None:
        """Show the last action on this service in its row: succeeded (True), failed (False) or still
        being verified (None)."""
        self._marks[key] = mark
        service = self._state.services.get(key)
        if service is not None:
            self._rows[row_key(key)] = self._cells(service, mark)
            self._sync()

    def _canary_cells_moved(self, state: FleetState) -> set[ServiceKey]:
        """Canaries whose CANARY cell would read otherwise than drawn: new figures (a share or a
        verdict moved), or figures gone stale with the clock; other rows are not touched."""
        now = self._clock().timestamp()
        return {k for k, s in state.services.items()
                if s.canary and canary_text(s, state.latency.get(k), now) != self._canary_cells.get(k)}

    def _tick_canaries(self) -> int:
        """The clock moved: a canary whose figures went stale stops showing its share and verdict
        (they are no longer judged). Returns rows changed."""
        upserts = {}
        for key in self._canary_cells_moved(self._state):
            service, rk = self._state.services.get(key), row_key(key)
            if service is not None and rk in self._rows:
                upserts[rk] = self._rows[rk] = self._cells(service, self._marks.get(key))
        if upserts and self.filter_text:
            self._sync()
        elif upserts:
            self.apply_changes(upserts)
        return len(upserts)

    def _cells(self, service: ModelService, mark: tuple[str, bool | None] | None) -> tuple[Text, ...]:
        key = service.key
        alerts, health = self._alerts.get(key, ()), self._state.health.get(key.cluster)
        latency = self._state.latency.get(key)
        self._ranks[row_key(key)] = trouble_rank(row_state(service, alerts, health, latency)[0])
        now = self._clock().timestamp()
        if service.canary is not None:
            self._canary_cells[key] = canary_text(service, latency, now)
        cells = service_cells(service, alerts, self.style_for, mark, health,
                              with_cluster=key.name in self._shared_names, latency=latency, now=now)
        age = self._stale_ages.get(key.cluster)
        return _with_age(cells, cells[STATE].plain, age) if age else cells

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self._sync()

    def _sync(self) -> None:
        services = self._state.services
        if self.filter_text:
            rows = {
                rk: cells
                for rk, cells in self._rows.items()
                if (svc := services.get(self._keys[rk])) is not None and service_matches(svc, self.filter_text)
            }
        else:
            rows = self._rows
        self.sync_rows(rows)
        self._set_count(f"{len(rows)}/{len(self._rows)}" if self.filter_text else f"{len(rows)}")

    def _set_count(self, count: str) -> None:
        """The bottom border: the row count and, while a cluster is stale, how old its rows are (the
        oldest; each row names its own)."""
        self._count = count
        health = self._state.health
        aged = [(h.since, c) for c, age in self._stale_ages.items() if age and (h := health.get(c)) and h.since]
        oldest = min(aged)[1] if aged else ""
        self.set_subtitle(f"{count} · ◌ stale {self._stale_ages[oldest]}" if oldest else count)

    def on_mount(self) -> None:
        self.set_interval(AGE_TICK, self.tick_ages)

    def tick_ages(self) -> int:
        """The clock moved: the state cells of a stale cluster's rows say its new age ('◌ stale 2m'). Only
        rows on screen are redrawn, and only where the text changed (5,000 rows of a stale cluster would
        cost a third of a second a tick); a row scrolled into view says its age at the next tick. A canary
        whose figures went stale stops showing them. Otherwise this does nothing. Returns rows changed."""
        canaries = self._tick_canaries()
        if not self._stale_ages:
            return canaries
        now = self._clock()
        services, health = self._state.services, self._state.health
        for cluster in self._stale_ages:
            self._stale_ages[cluster] = stale_age(health.get(cluster), now)
        top = self.scroll_offset.y
        upserts = {}
        for rk in self.shown_keys[top:top + self.size.height]:
            key = self._keys.get(rk)
            age = self._stale_ages.get(key.cluster) if key is not None else None
            service = services.get(key) if key is not None else None
            cells = self.cells(rk)
            if not age or service is None or cells is None:
                continue
            word = row_state(service, self._alerts.get(service.key, ()), health.get(service.key.cluster))[0]
            if cells[STATE].plain != f"{word} {age}":
                upserts[rk] = self._rows[rk] = _with_age(cells, word, age)
        if upserts:
            self.apply_changes(upserts)
        self._set_count(self._count)
        return len(upserts) + canaries

    def selected_service_key(self) -> ServiceKey | None:
        key = self.selected_key()
        return self._keys.get(key) if key else None

    def on_keyed_table_row_highlighted(self, event: KeyedTable.RowHighlighted) -> None:
        event.stop()
        self.post_message(self.Selected(self._keys.get(event.key) if event.key else None))


def _with_age(cells: tuple[Text, ...], word: str, age: str) -> tuple[Text, ...]:
    """The row with its state cell saying how old the data is: '◌ stale' → '◌ stale 2m'."""
    state = cells[STATE]
    aged = Text(f"{word} {age}" if age else word, style=state.style, no_wrap=True)
    return (*cells[:STATE], aged, *cells[STATE + 1:])


def _shared_names(state: FleetState) -> frozenset[str]:
    clusters: dict[str, set[str]] = {}
    for key in state.services:
        clusters.setdefault(key.name, set()).add(key.cluster)
    return frozenset(name for name, where in clusters.items() if len(where) > 1)


@lru_cache(maxsize=65536)
def _by_place(row: str) -> tuple[str, ...]:
    """A row key's (cluster, namespace, name, kind): the order among rows of equal trouble."""
    cluster, namespace, kind, name = row.split("\x1f")
    return cluster, namespace, name, kind

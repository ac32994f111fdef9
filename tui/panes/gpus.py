"""The GPU pane: per node, allocated/free GPUs and who holds them; GPUs held but idle, and what
waits for GPUs (grouped per workload), in that order under the table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from mlops_tui.backends.state import FleetDelta, FleetState
from mlops_tui.backends.vocabulary import short_resource_name
from mlops_tui.tui.format import GPU_COLUMNS, free_by_resource, gpu_cells, literal, pending_group_line, stale_ages
from mlops_tui.tui.keyed_table import KeyedTable, columns
from mlops_tui.tui.panes.base import AGE_TICK, PaneMixin

if TYPE_CHECKING:
    from mlops_tui.backends.model import GpuNode


def with_metrics(node: GpuNode, state: FleetState) -> GpuNode:
    """Join DCGM metrics (keyed by host name) onto the node the orchestrator reports."""
    devices = state.gpu_metrics.get(node.node)
    if not devices:
        return node
    utils = [d.utilisation for d in devices if d.utilisation is not None]
    used = [d.memory_used_mib for d in devices if d.memory_used_mib is not None]
    free = [d.memory_free_mib for d in devices if d.memory_free_mib is not None]
    return replace(
        node,
        devices=devices,
        utilisation=sum(utils) / len(utils) if utils else node.utilisation,
        memory_used_mib=sum(used) if used else node.memory_used_mib,
        memory_total_mib=(sum(used) + sum(free)) if used and free else node.memory_total_mib,
    )


COLUMNS = columns(GPU_COLUMNS, optional={"mem", "holders"}, floors={"node": 10, "cluster": 6, "alloc": 12, "free": 4},
                  middle={"node", "cluster", "alloc"}, last_cut="node")
"""At 80 columns: state, node, cluster, allocation, free and utilisation stay (node names that differ
only at the end, gpu-node-1 and gpu-node-2, still differ; the count after the bar stays); memory
and holders where room is left."""


class GpuTable(PaneMixin, KeyedTable):

    def __init__(self) -> None:
        super().__init__(COLUMNS, id="gpu-table")


class GpuPane(PaneMixin, Vertical):
    """GPU allocation per node, and the workloads pending for lack of GPUs."""


    pane_id = "gpus"
    pane_title = "GPU allocation"
    can_focus = False

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        super().__init__(id=self.pane_id, classes="pane")
        self.border_title = self.pane_title
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._cells: dict[tuple[str, str], tuple[GpuNode, object, str, tuple[Text, ...]]] = {}
        self._pending_shown: tuple = ()
        self._pending: Static | None = None
        """The idle and pending lines under the table, once there have been some."""
        self._counted = False
        self._state = FleetState()
        self._stale_ages: dict[str, str] = {}
        """Stale cluster → the age its nodes' rows show, as last drawn."""

    def on_mount(self) -> None:
        self.set_interval(AGE_TICK, self.tick_ages)

    def tick_ages(self) -> bool:
        """The clock moved: a stale cluster's nodes say their new age. Nothing is drawn unless an age
        text changed; without a stale cluster this does nothing. True when the rows were redrawn."""
        if not self._stale_ages or stale_ages(self._state.health, self._clock()) == self._stale_ages:
            return False
        self._draw_rows(self._state)
        return True

    def compose(self) -> ComposeResult:
        yield GpuTable()
        # The idle and pending lines below the table are mounted the first time there are some: a widget
        # costs ~2 M instructions to mount and style before the first frame, where it has nothing to show.

    @property
    def table(self) -> GpuTable:
        return self.query_one(GpuTable)

    def show(self, state: FleetState, delta: FleetDelta | None) -> None:
        self._state = state
        if delta is not None and not delta.gpus and not (delta.health and self._ages_moved(state)):
            return
        if delta is None:
            self._cells.clear()
        self._draw_rows(state)
        if delta is not None and not delta.gpus:
            return
        self._draw_counts(state, delta)

    def _ages_moved(self, state: FleetState) -> bool:
        return stale_ages(state.health, self._clock()) != self._stale_ages

    def _draw_rows(self, state: FleetState) -> None:
        table = self.table
        self._stale_ages = ages = stale_ages(state.health, self._clock())
        rows = {}
        for (cluster, name), node in sorted(state.gpu_nodes.items()):
            # The Fleet keeps an unchanged node's object, so identity says whether to re-format it.
            metrics = state.gpu_metrics.get(name)
            age = ages.get(cluster, "")
            cached = self._cells.get((cluster, name))
            if cached is None or cached[0] is not node or cached[1] is not metrics or cached[2] != age:
                cached = (node, metrics, age, gpu_cells(with_metrics(node, state), table.style_for, stale=age))
                self._cells[(cluster, name)] = cached
            rows[f"{cluster}\x1f{name}"] = cached[3]
        for gone in set(self._cells) - set(state.gpu_nodes):
            del self._cells[gone]
        table.sync_rows(rows)

    def _draw_counts(self, state: FleetState, delta: FleetDelta | None) -> None:
        # Each resource counted on its own: 7 MIG slices are not 7 more GPUs.
        counts = free_by_resource(state.gpu_nodes.values())
        subtitle = " · ".join(f"{free} {short_resource_name(name)} free of {total}"
                              for name, (free, total) in counts.items())
        # The first count shows at once; after that, a count that moves with every scheduled pod is
        # redrawn at most once a second (each redraw repaints the whole pane).
        self.set_subtitle(subtitle or "no GPUs", at_most_every=1.0 if self._counted else 0.0)
        self._counted = self._counted or bool(counts)
        # Held-but-idle GPUs first: an operator whose GPU service is Pending reads where capacity is
        # before what waits for it.
        from mlops_tui.backends.gpu_groups import group_pending  # at the first data, not for the first frame
        from mlops_tui.backends.gpu_idle import idle_by_workload

        idle = idle_by_workload(state.gpu_nodes.values(), state.gpu_metrics)
        shown = (idle, state.pending_gpu)
        if shown == self._pending_shown and delta is not None:
            return
        self._pending_shown = shown
        lines = [literal(f"◇ {holding.line}", self.table.style_for("gpu-idle")) for holding in idle[:5]]
        groups = group_pending(state.pending_gpu)
        if groups:
            waiting = sum(g.replicas for g in groups)
            lines.append(Text(f"Pending for GPUs ({waiting} replica{'s' if waiting != 1 else ''}):"))
            lines += [pending_group_line(g) for g in groups[:10]]
        if self._pending is None:
            if not lines:
                return
            self._pending = Static(id="gpu-pending")
            self.mount(self._pending)
        self._pending.update(Text("\n").join(lines))
        self._pending.display = bool(lines)

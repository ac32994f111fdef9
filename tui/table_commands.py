"""The services table's commands (sort keys, wide mode), as app actions: the keys are app bindings
(tui/commands.py), so they work whichever pane has focus."""

from __future__ import annotations

from textual.app import App

from mlops_tui.tui.keyed_table import KeyedTable
from mlops_tui.tui.panes import ServicesPane


class TableCommands(App[None]):
    """Mixed into `MlopsApp`: one action per command, each a line."""

    def _sort_services(self, column: str) -> None:
        for pane in self.query(ServicesPane):
            pane.sort_by(column)

    def action_sort_trouble(self) -> None:
        self._sort_services("state")

    def action_sort_name(self) -> None:
        self._sort_services("name")

    def action_sort_cluster(self) -> None:
        self._sort_services("cluster")

    def action_sort_version(self) -> None:
        self._sort_services("version")

    def action_sort_canary(self) -> None:
        self._sort_services("canary")

    def action_sort_alerts(self) -> None:
        self._sort_services("alerts")

    def action_wide(self) -> None:
        """Every table of the dashboard together, as the services pane goes (k9s: one wide mode)."""
        panes = self.query(ServicesPane)
        wide = not panes.first().wide if panes else True
        for table in self.query(KeyedTable):
            table.wide = wide

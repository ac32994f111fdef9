"""The dashboard's panes: each renders one slice of a FleetState it is given."""

from mlops_tui.tui.panes.alerts import AlertsPane
from mlops_tui.tui.panes.gpus import GpuPane
from mlops_tui.tui.panes.latency import LatencyPane
from mlops_tui.tui.panes.services import ServicesPane

PANES = (ServicesPane, GpuPane, LatencyPane, AlertsPane)
"""Every pane, in focus order: the app redraws, focuses and switches between these (a new pane is
one module here, one entry in this tuple and its place in `MlopsApp.compose`)."""

__all__ = ["PANES", "AlertsPane", "GpuPane", "LatencyPane", "ServicesPane"]

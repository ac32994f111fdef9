"""The dashboard's panes: each renders one slice of a FleetState it is given."""

from mlops_tui.tui.panes.alerts import AlertsPane
from mlops_tui.tui.panes.gpus import GpuPane
from mlops_tui.tui.panes.latency import LatencyPane
from mlops_tui.tui.panes.services import ServicesPane

PANES = (ServicesPane, GpuPane, LatencyPane, AlertsPane)
"""The one registry of panes, in focus order."""

__all__ = ["PANES", "AlertsPane", "GpuPane", "LatencyPane", "ServicesPane"]

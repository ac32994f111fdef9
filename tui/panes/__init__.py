"""The dashboard's panes: each renders one slice of a FleetState it is given."""

from tui.panes.alerts import AlertsPane
from tui.panes.gpus import GpuPane
from tui.panes.latency import LatencyPane
from tui.panes.services import ServicesPane

PANES = (ServicesPane, GpuPane, LatencyPane, AlertsPane)
"""The one registry of panes, in focus order."""

__all__ = ["PANES", "AlertsPane", "GpuPane", "LatencyPane", "ServicesPane"]

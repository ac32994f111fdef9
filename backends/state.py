"""What the UI reads: one immutable snapshot of the fleet (`FleetState`) and what moved since the
last one (`FleetDelta`). The Fleet (backends/fleet.py) builds them; widgets only read them.

Kept apart from the Fleet so that drawing the first frame does not import actions, plans and
backends (backends/fleet.py and backends/plans.py are imported when the Fleet starts).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlops_tui.backends.model import (
        Alert,
        ClusterHealth,
        GpuDeviceMetrics,
        GpuNode,
        LatencySeries,
        ModelService,
        PendingGpuWorkload,
        ServiceKey,
    )


@dataclass(frozen=True, slots=True)
class FleetState:
    """Everything the UI shows, as of one moment. Never mutated: a change makes a new one."""

    services: Mapping[ServiceKey, ModelService] = field(default_factory=dict)
    gpu_nodes: Mapping[tuple[str, str], GpuNode] = field(default_factory=dict)
    """Keyed by (cluster, node)."""
    pending_gpu: tuple[PendingGpuWorkload, ...] = ()
    alerts: tuple[Alert, ...] = ()
    """Merged across sources without duplicates, tied to services, loudest and newest first."""
    latency: Mapping[ServiceKey, LatencySeries] = field(default_factory=dict)
    gpu_metrics: Mapping[str, tuple[GpuDeviceMetrics, ...]] = field(default_factory=dict)
    health: Mapping[str, ClusterHealth] = field(default_factory=dict)
    readonly: bool = False
    version: int = 0

    def alerts_for(self, key: ServiceKey) -> tuple[Alert, ...]:
        return tuple(a for a in self.alerts if a.service == key)


@dataclass(frozen=True, slots=True)
class FleetDelta:
    """What changed between two published states, so panes can skip untouched rows."""

    services: frozenset[ServiceKey] = frozenset()
    """Added or changed."""
    removed: frozenset[ServiceKey] = frozenset()
    latency: frozenset[ServiceKey] = frozenset()
    gpus: bool = False
    alerts: bool = False
    health: bool = False

    @property
    def empty(self) -> bool:
        return not (self.services or self.removed or self.latency or self.gpus or self.alerts or self.health)

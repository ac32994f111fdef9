"""The contract between engine adapters and the Fleet.

A backend owns one source (a Kubernetes context, a Swarm manager, a Prometheus, an Alertmanager).
It keeps its own live cache in its own threads and pushes `Change` records into a sink; it never
touches the UI. Actions go the other way: the Fleet asks the backend that owns a service to plan,
apply and verify an intent.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from mlops_tui.backends.model import (
    Alert,
    ClusterHealth,
    ClusterRef,
    GpuDeviceMetrics,
    GpuNode,
    LatencySeries,
    LogLine,
    LogOptions,
    LogSources,
    ModelService,
    ObjectText,
    PendingGpuWorkload,
    Revision,
    ServiceDetail,
    ServiceKey,
    Silence,
)
from mlops_tui.backends.plans import ActionOutcome, ActionPlan, Intent, VerifyResult
from mlops_tui.backends.timeline import TimelineEntry


@dataclass(frozen=True, slots=True)
class Change:
    """What one source learned since its last change. Thread-safe to build anywhere.

    Mappings hold upserts, with None meaning 'removed'. `snapshot=True` says this change is the
    source's whole truth: everything the source reported before and does not report now is gone
    (used after a full list or resync).
    """

    source: str
    services: Mapping[ServiceKey, ModelService | None] = field(default_factory=dict)
    gpu_nodes: Mapping[str, GpuNode | None] = field(default_factory=dict)
    """Keyed by node name within the source's cluster."""
    pending_gpu: tuple[PendingGpuWorkload, ...] | None = None
    """When not None, replaces the source's list of workloads pending for lack of GPUs."""
    alerts: tuple[Alert, ...] | None = None
    """When not None, replaces the alerts this source reported."""
    latency: Mapping[ServiceKey, LatencySeries | None] = field(default_factory=dict)
    gpu_metrics: Mapping[str, tuple[GpuDeviceMetrics, ...] | None] = field(default_factory=dict)
    """DCGM metrics keyed by host name, joined to GPU nodes by the Fleet's readers."""
    health: ClusterHealth | None = None
    snapshot: bool = False
    history: tuple[TimelineEntry, ...] = ()
    """Dated facts for the timeline the engine keeps itself (Events, Swarm task states): the Fleet's
    timeline keeps each once, however often a relist sends it again."""


ChangeSink = Callable[[Change], None]


@runtime_checkable
class Backend(Protocol):
    """One source of fleet data, optionally able to act on the services it reports."""

    name: str
    """Unique source name: the cluster name for engines, e.g. 'prometheus' for metrics."""

    cluster: ClusterRef | None
    """The cluster this backend reports, or None for metrics and alert sources."""

    def start(self, sink: ChangeSink) -> None:
        """Begin reading (in the backend's own threads) and push every change into `sink`."""

    def stop(self) -> None:
        """Stop reading and release connections. Must return promptly."""


@runtime_checkable
class ActionBackend(Backend, Protocol):
    """A backend that can plan, apply and verify actions on what it reports."""

    def plan(self, service: ModelService, intent: Intent) -> ActionPlan:
        """Read current state and build the exact plan; raise ActionRefused for invalid intents."""

    def apply(self, plan: ActionPlan) -> None:
        """Send the plan's mutations once. Raise ActionConflict / ActionForbidden / ActionError."""

    def verify(self, plan: ActionPlan, timeout: float, progress: Callable[[str], None]) -> VerifyResult:
        """Follow the object until it converges on the plan's intent or `timeout` seconds pass."""


# -- what some backends can do besides reading and acting (checked with isinstance, never getattr) --


@runtime_checkable
class DescribesServices(Protocol):
    def describe(self, service: ModelService) -> ServiceDetail:
        """The detail screen's replicas, events, revisions and notes for one service, read now."""


@runtime_checkable
class ListsRevisions(Protocol):
    def revisions(self, service: ModelService) -> Sequence[Revision]:
        """What the rollback picker offers, newest first."""


@runtime_checkable
class ListsContainers(Protocol):
    def containers(self, service: ModelService) -> Sequence[tuple[str, str]]:
        """(container, image) pairs the image update chooses from, main container first."""


LogSink = Callable[[LogLine], None]
"""Called from the streaming threads for every line, in the order each replica printed them."""
LogStatus = Callable[[str], None]
"""Called from the streaming threads: '' once a stream is open, else one sentence on what went wrong."""


@runtime_checkable
class StreamsLogs(Protocol):
    def log_sources(self, service: ModelService) -> LogSources:
        """The replicas and containers the log view can pick from, read now."""

    def stream_logs(self, service: ModelService, options: LogOptions, on_line: LogSink, on_status: LogStatus,
                    stop: threading.Event) -> None:
        """Read (and follow) the logs until `stop` is set or, when not following, until every stream
        ended. Blocks; reconnects with backoff after an error, which it reports through `on_status`."""


@runtime_checkable
class ShowsObjects(Protocol):
    """The object screen: a service's or a GPU node's object, read from the engine now (never the
    cache, which keeps reduced objects) and rendered here, so the UI only ever holds text."""

    def manifest(self, service: ModelService, managed_fields: bool = False) -> ObjectText:
        """The object as `kubectl get -o yaml` / `docker service inspect` prints it."""

    def describe_object(self, service: ModelService) -> ObjectText:
        """The object as `kubectl describe` / `docker service inspect --pretty` prints it."""

    def node_manifest(self, node: GpuNode, managed_fields: bool = False) -> ObjectText:
        """A node as `kubectl get node -o yaml` / `docker node inspect` prints it."""

    def describe_node(self, node: GpuNode) -> ObjectText:
        """A node as `kubectl describe node` / `docker node inspect --pretty` prints it."""


@runtime_checkable
class RecordsActions(Protocol):
    def record_action(self, outcome: ActionOutcome, operator: str) -> None:
        """Leave a trace of an applied action on the object itself (a Kubernetes Event)."""


@runtime_checkable
class PublishesServices(Protocol):
    def published(self, key: ServiceKey) -> ModelService | None:
        """The backend's latest record of a service (ahead of a FleetState that may not have caught up)."""


@runtime_checkable
class Wakeable(Protocol):
    def wake(self) -> None:
        """Poll now instead of at the next interval (new services appeared)."""


@runtime_checkable
class HoldsSilences(Protocol):
    def list_silences(self, include_expired: bool = True) -> tuple[Silence, ...]:
        """An Alertmanager: the silences it holds (silence and expire are its actions)."""

"""The domain model every other module speaks.

Backends fill these frozen dataclasses from engine JSON (in their `translate.py`); the Fleet merges
them into one `FleetState`; the UI only ever reads them. No raw Kubernetes or Docker object goes
past a backend's translate layer, and nothing here imports an engine client or Textual.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal

# The model's words (its enums and helpers) live in backends/vocabulary.py, so that the first frame can
# use them without the dataclasses below; every one is importable from here as well.
from mlops_tui.backends.vocabulary import GPU_RESOURCE_PREFIX as GPU_RESOURCE_PREFIX
from mlops_tui.backends.vocabulary import SLO_ANNOTATION as SLO_ANNOTATION
from mlops_tui.backends.vocabulary import (
    ActionKind,
    AlertState,
    HealthState,
    Labels,
    Platform,
    ServiceKind,
    Severity,
    SloSource,
    short_resource_name,
)
from mlops_tui.backends.vocabulary import freeze_labels as freeze_labels
from mlops_tui.backends.vocabulary import slo_from_annotation as slo_from_annotation


@dataclass(frozen=True, slots=True)
class ClusterRef:
    """One engine endpoint the operator watches: a kubeconfig context or a Swarm manager."""

    name: str
    platform: Platform
    endpoint: str = ""
    """Where it is reached (API server URL, docker host), for display only; never a credential."""


@dataclass(frozen=True, slots=True)
class ServiceKey:
    """Identity of a model service across the whole fleet: (cluster, namespace, kind, name).

    The kind is part of the identity: a Deployment `x` and an Argo Rollout `x` in one namespace (the
    Rollout `workloadRef` migration pattern) are two services, and scaling one must not touch the other.
    """

    cluster: str
    namespace: str
    """Kubernetes namespace, or the Swarm stack (empty when the service is not in a stack)."""
    kind: ServiceKind
    name: str = ""

    def sort_key(self) -> tuple[str, str, str, str]:
        """Sorted by place and name first, so that a Deployment and a Rollout of one name sit together."""
        return (self.cluster, self.namespace, self.name, self.kind.value)

    def __lt__(self, other: ServiceKey) -> bool:
        if not isinstance(other, ServiceKey):
            return NotImplemented
        return self.sort_key() < other.sort_key()

    def __le__(self, other: ServiceKey) -> bool:
        if not isinstance(other, ServiceKey):
            return NotImplemented
        return self.sort_key() <= other.sort_key()

    def __gt__(self, other: ServiceKey) -> bool:
        if not isinstance(other, ServiceKey):
            return NotImplemented
        return self.sort_key() > other.sort_key()

    def __ge__(self, other: ServiceKey) -> bool:
        if not isinstance(other, ServiceKey):
            return NotImplemented
        return self.sort_key() >= other.sort_key()

    def __str__(self) -> str:
        scope = f"{self.namespace}/" if self.namespace else ""
        return f"{self.cluster}/{scope}{self.name}"


@dataclass(frozen=True, slots=True)
class Condition:
    type: str
    status: str
    reason: str = ""
    message: str = ""


@dataclass(frozen=True, slots=True)
class Canary:
    """A stable/canary split, whichever engine runs it (Argo, KServe, Istio, a Swarm pair)."""

    source: str
    """'argo', 'kserve', 'istio' or 'swarm': which mechanism moves the weight."""
    stable_version: str = ""
    canary_version: str = ""
    weight: int | None = None
    """Percent of traffic to the canary, when known."""
    step: int | None = None
    """Argo's current step index (0-based), when the strategy has steps."""
    total_steps: int | None = None
    paused: bool = False
    aborted: bool = False
    message: str = ""
    reachable_weights: tuple[int, ...] = ()
    """Weights the engine can actually reach (a Swarm split by task count); empty means any 0-100."""
    stable_service: str = ""
    canary_service: str = ""
    """The workloads serving each side when they are two services (an Istio pair of Deployments, a
    Swarm pair); empty when one workload runs both (Argo, KServe): its series then tell the sides
    apart by a label (`backends/canary_compare.py`)."""


@dataclass(frozen=True, slots=True)
class ColourState:
    """One side of a blue-green pair: its name, and how many of its pods/tasks are ready."""

    name: str
    ready: int
    desired: int


@dataclass(frozen=True, slots=True)
class BlueGreen:
    source: str
    """'service-selector' (a Kubernetes Service), 'argo' or 'swarm'."""
    active: str
    """Colour or version that receives production traffic."""
    preview: str | None = None
    selector: Labels = ()
    """The selector (or alias owner) that decides what is active."""
    selector_key: str = ""
    """The selector key that names the colour (e.g. 'version' or 'color')."""
    colours: tuple[ColourState, ...] = ()
    router: str = ""
    """The object switched: Service name, Argo Rollout, or Swarm alias."""


@dataclass(frozen=True, slots=True)
class Autoscaler:
    name: str
    min_replicas: int
    max_replicas: int
    current_replicas: int
    desired_replicas: int
    target: str = ""
    """Human summary of what it scales on, e.g. 'cpu 70%' or 'inference_latency_p95 100m'."""
    active: bool = True
    """False when the HPA reports ScalingActive=False (e.g. its target was scaled to 0)."""


@dataclass(frozen=True, slots=True)
class ModelService:
    key: ServiceKey
    platform: Platform
    image: str = ""
    version: str = ""
    desired: int = 0
    ready: int = 0
    updated: int = 0
    unavailable: int = 0
    canary: Canary | None = None
    blue_green: BlueGreen | None = None
    autoscaler: Autoscaler | None = None
    gpus_per_replica: int = 0
    """GPU units one replica asks for; `gpu_requests` says of which resource."""
    gpu_requests: tuple[tuple[str, int], ...] = ()
    """(resource, count) one replica asks for, e.g. (('nvidia.com/gpu', 4),)."""
    conditions: tuple[Condition, ...] = ()
    labels: Labels = ()
    revision: str = ""
    """Current revision: Deployment revision annotation, Swarm version index, KServe revision."""
    rollout_state: str = ""
    """'progressing', 'paused', 'updating', 'rollback_started', 'completed', 'degraded', ... or ''."""
    rollout_message: str = ""
    replicated: bool = True
    """False for a Swarm global service (its task count follows the nodes)."""
    actions: frozenset[ActionKind] = frozenset()
    """What this service supports, as decided by its backend."""
    denied: frozenset[ActionKind] = frozenset()
    """Supported actions the current credentials may not do (from SelfSubjectAccessReview etc.)."""
    production: bool = False
    """In a namespace/stack marked production: scaling to 0 needs the name typed to confirm."""
    slo_seconds: float | None = None
    """The p95 latency SLO the workload declares (`SLO_ANNOTATION`: a Kubernetes annotation or a
    Swarm service label), None when it declares none or an unreadable one."""

    @property
    def labels_dict(self) -> dict[str, str]:
        return dict(self.labels)

    @property
    def progressing(self) -> bool:
        return self.updated < self.desired or self.rollout_state in ("progressing", "updating", "rollback_started")


@dataclass(frozen=True, slots=True)
class GpuHolder:
    """Who holds GPUs of one resource on a node: a pod (Kubernetes) or a task (Swarm), and its service
    if known. A pod holding two kinds (a full GPU and a MIG slice) is two holders."""

    workload: str
    gpus: int
    """How many of `resource` it holds."""
    service: ServiceKey | None = None
    devices: tuple[str, ...] = ()
    """GPU ids when the engine says which (Swarm named generic resources, DCGM uuid)."""
    resource: str = "nvidia.com/gpu"


@dataclass(frozen=True, slots=True)
class GpuResource:
    """One kind of GPU a node offers, counted on its own and never added to another kind.

    A replica asking for 4 `nvidia.com/gpu` cannot use a `nvidia.com/mig-1g.5gb` slice nor a
    `nvidia.com/gpu.shared` time-slice, so each extended resource (full GPUs, shared GPUs, each MIG
    profile, each Swarm generic-resource kind) has its own capacity, allocatable, allocated and free.
    """

    name: str
    """The scheduler's name: 'nvidia.com/gpu', 'nvidia.com/gpu.shared', 'nvidia.com/mig-1g.5gb', or a
    Swarm generic resource kind such as 'NVIDIA-GPU'."""
    capacity: int
    allocatable: int
    allocated: int

    @property
    def free(self) -> int:
        return max(self.allocatable - self.allocated, 0)

    @property
    def short_name(self) -> str:
        return short_resource_name(self.name)


@dataclass(frozen=True, slots=True)
class Taint:
    key: str
    value: str = ""
    effect: str = "NoSchedule"
    """'NoSchedule', 'PreferNoSchedule' or 'NoExecute'."""


@dataclass(frozen=True, slots=True)
class GpuDeviceMetrics:
    """One GPU as DCGM reports it: utilisation percent and framebuffer MiB."""

    gpu: str
    uuid: str = ""
    model: str = ""
    utilisation: float | None = None
    memory_used_mib: float | None = None
    memory_free_mib: float | None = None
    pod: str = ""
    namespace: str = ""
    idle: bool = False
    """Its utilisation, averaged over the idle window, is below the idle threshold (decided by the
    metrics backend from its settings; `utilisation` is then that average)."""


@dataclass(frozen=True, slots=True)
class GpuNode:
    cluster: str
    node: str
    resources: tuple[GpuResource, ...] = ()
    """Each GPU resource the node offers, sorted by name (full GPUs before MIG profiles)."""
    holders: tuple[GpuHolder, ...] = ()
    utilisation: float | None = None
    """Mean GPU utilisation percent, when DCGM metrics exist."""
    memory_used_mib: float | None = None
    memory_total_mib: float | None = None
    ready: bool = True
    schedulable: bool = True
    devices: tuple[GpuDeviceMetrics, ...] = ()
    labels: Labels = ()
    taints: tuple[Taint, ...] = ()

    def resource(self, name: str) -> GpuResource | None:
        return next((r for r in self.resources if r.name == name), None)

    def free_of(self, name: str) -> int:
        """Free units of one resource that new work can get: none on a NotReady or cordoned node."""
        resource = self.resource(name)
        return resource.free if resource is not None and self.ready and self.schedulable else 0

    @property
    def full(self) -> bool:
        """Every resource it offers is taken."""
        return bool(self.resources) and all(r.allocatable > 0 and r.free == 0 for r in self.resources)


@dataclass(frozen=True, slots=True)
class PendingGpuWorkload:
    """A pod or task that cannot start for lack of GPUs, with the scheduler's own words."""

    cluster: str
    namespace: str
    name: str
    requests: tuple[tuple[str, int], ...]
    """(resource, count) it asks for, one entry per GPU resource."""
    message: str
    service: ServiceKey | None = None
    since: datetime | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    name: str
    severity: Severity
    state: AlertState
    labels: Labels
    summary: str = ""
    description: str = ""
    since: datetime | None = None
    service: ServiceKey | None = None
    fingerprint: str = ""
    source: str = ""
    """Which Prometheus/Alertmanager reported it."""
    silenced_by: tuple[str, ...] = ()
    inhibited_by: tuple[str, ...] = ()
    value: str = ""

    @property
    def identity(self) -> Labels:
        """What makes two reports the same alert: its labels (as Alertmanager fingerprints them)."""
        return self.labels


@dataclass(frozen=True, slots=True)
class Silence:
    id: str
    matchers: tuple[tuple[str, str, bool, bool], ...]
    """(name, value, is_regex, is_equal)."""
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    state: str


@dataclass(frozen=True, slots=True)
class Slo:
    """A p95 latency objective and where it came from."""

    p95_seconds: float
    source: SloSource
    origin: str = ""
    """Which entry: the config key, the annotation name, or the alert rule's name."""

    @property
    def described(self) -> str:
        """'alert rule HighInferenceLatency', 'annotation mlops-tui.io/slo-p95-ms', 'config'."""
        return f"{self.source.value} {self.origin}".strip()


@dataclass(frozen=True, slots=True)
class SideFigures:
    """One side of a canary as Prometheus sees it over the rate window."""

    p95: float | None = None
    """Seconds (the mean when the runtime exports only counters)."""
    error_ratio: float | None = None
    """Failed / all requests, 0-1; None when the runtime has no error signal."""
    rps: float | None = None


@dataclass(frozen=True, slots=True)
class CanaryFigures:
    """Canary against stable, side by side, as read at `at` (unix time). The rules that judge them
    (actual share, divergence, regression) are in `backends/canary_compare.py`."""

    stable: SideFigures
    canary: SideFigures
    at: float
    stale_after: float
    """Seconds after `at` from which the figures are too old to judge by (missed refreshes)."""
    estimate: str = "quantile"
    """'mean' when p95 holds the mean latency (see `LatencySeries.estimate`)."""


@dataclass(frozen=True, slots=True)
class LatencySeries:
    """Recent latency of one service; points are (unix time, seconds) with no NaN or inf."""

    service: ServiceKey
    p50: tuple[tuple[float, float], ...] = ()
    p95: tuple[tuple[float, float], ...] = ()
    rps: float | None = None
    error_ratio: float | None = None
    slo: Slo | None = None
    """None: no SLO is known for the service; its latency is then never called breached."""
    preset: str = ""
    estimate: str = "quantile"
    """'quantile', or 'mean' when the runtime exports only counters (Triton without summaries,
    TorchServe): p50 and p95 then both hold the mean latency; show it as 'mean', not 'p95'."""
    canary: CanaryFigures | None = None
    """For a service with a canary: its canary and stable sides, when Prometheus tells them apart."""

    @property
    def current_p95(self) -> float | None:
        return self.p95[-1][1] if self.p95 else None

    @property
    def current_p50(self) -> float | None:
        return self.p50[-1][1] if self.p50 else None

    @property
    def slo_seconds(self) -> float | None:
        return self.slo.p95_seconds if self.slo is not None else None

    @property
    def breached(self) -> bool:
        """The latest p95 is over a known SLO (an unknown SLO is never breached)."""
        now = self.current_p95
        return now is not None and self.slo is not None and now > self.slo.p95_seconds


@dataclass(frozen=True, slots=True)
class ClusterHealth:
    """Whether a source (cluster, Prometheus, Alertmanager) is being read, and since when not."""

    source: str
    platform: Platform | None
    state: HealthState
    since: datetime | None = None
    """When the current state began (staleness is measured from here)."""
    last_sync: datetime | None = None
    error: str = ""
    endpoint: str = ""
    user: str = ""
    """Who we act as there (kubeconfig user, OS user for Swarm), for permission messages and audit."""
    readonly: bool = False
    unreadable: int = 0
    """Objects the source sent that could not be read: set aside (and counted here), never fatal."""


@dataclass(frozen=True, slots=True)
class ReplicaInfo:
    """One pod (Kubernetes) or task (Swarm) of a service, for the detail screen."""

    name: str
    node: str
    state: str
    ready: bool
    gpus: int = 0
    message: str = ""
    version: str = ""


@dataclass(frozen=True, slots=True)
class EventInfo:
    """A warning event about a service (Kubernetes Event, Swarm task error)."""

    reason: str
    message: str
    count: int = 1
    last_seen: datetime | None = None


@dataclass(frozen=True, slots=True)
class Revision:
    """A version of a service the engine keeps: what the rollback picker offers and the detail screen lists.

    One type for every engine: a Deployment's or Rollout's ReplicaSet revision, a KServe predictor
    revision, Swarm's current spec and its one PreviousSpec."""

    revision: str
    """The engine's identifier: '3' (a Deployment revision), a KServe revision name, 'previous' (Swarm)."""
    image: str = ""
    version: str = ""
    created: datetime | None = None
    current: bool = False
    held_by: str = ""
    """What keeps it in the engine: the ReplicaSet's name, Swarm's 'PreviousSpec'."""
    change_cause: str = ""
    differs: str = ""
    """What sets this revision apart from another with the same image ('env BATCH_SIZE differs ...')."""

    def age_seconds(self, now: datetime | None = None) -> float | None:
        if self.created is None:
            return None
        return ((now or datetime.now(timezone.utc)) - self.created).total_seconds()

    def label(self, now: datetime | None = None) -> str:
        """The picker's line: 'revision N', then what tells it apart from every other revision."""
        return " · ".join([f"revision {self.revision}", *self._traits(now)])

    def summary(self, now: datetime | None = None) -> str:
        """The line without its revision number (the detail screen shows that in its own column)."""
        return " · ".join(self._traits(now))

    def _traits(self, now: datetime | None) -> list[str]:
        parts = []
        image, version = self.image, self.version
        what = image + (f" ({version})" if version and image and version not in image else "") if image else version
        if what and what != self.revision:
            parts.append(what)
        parts += [extra for extra in (self.change_cause, self.differs) if extra]
        age = self.age_seconds(now)
        if age is not None:
            parts.append(f"{_short_age(age)} old")
        if self.current:
            parts.append("current")
        return parts


def _short_age(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True, slots=True)
class ServiceDetail:
    """What the detail screen shows beyond the row: filled on demand by the owning backend."""

    replicas: tuple[ReplicaInfo, ...] = ()
    events: tuple[EventInfo, ...] = ()
    revisions: tuple[Revision, ...] = ()
    """Newest first."""
    notes: tuple[str, ...] = ()


# -- logs -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line a pod's container or a Swarm task printed, as its engine sent it (never interpreted)."""

    source: str
    """Which replica printed it: the pod name, or the task as `docker service logs` names it
    (`service.1.taskid@node`)."""
    text: str
    time: datetime | None = None


@dataclass(frozen=True, slots=True)
class LogOptions:
    """What the log view asks for: `kubectl logs` / `docker service logs` options."""

    replica: str = ""
    """One pod or task by name; empty: every replica, interleaved."""
    container: str = ""
    """A pod's container; empty: the main one (KServe's `kserve-container`, else the first)."""
    previous: bool = False
    """The last terminated instance of the container (`--previous`): read once, not followed."""
    since_seconds: int | None = 300
    """None: everything the engine kept."""
    tail_lines: int | None = None
    follow: bool = True


@dataclass(frozen=True, slots=True)
class LogSources:
    """What the log view's picker offers for one service."""

    replicas: tuple[str, ...] = ()
    containers: tuple[str, ...] = ()
    """Containers of the service's pods, main first; empty for a Swarm service (one per task)."""
    previous: bool = False
    """The engine can show a crashed container's previous instance (Kubernetes only)."""


@dataclass(frozen=True, slots=True)
class ObjectText:
    """One engine object rendered by its backend for the object screen (`d` describe, `y` YAML/JSON):
    the UI shows `body` literally and never sees the raw API object."""

    title: str
    """What the object is, e.g. 'Deployment ml-prod/bert on prod-a'."""
    format: Literal["yaml", "json", "text"]
    body: str
    hidden: str = ""
    """What the body leaves out and how to see it ('managed fields hidden: m shows them'), or empty."""

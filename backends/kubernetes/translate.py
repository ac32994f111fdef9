"""Kubernetes JSON -> domain model. Pure functions, no I/O, tolerant of missing or odd fields.

Everything here takes plain parsed JSON (dicts from orjson) or the small `*Facts` records this module
extracts from them, and returns `backends.model` dataclasses. Pods and ReplicaSets are reduced to
facts as soon as they arrive, so the live cache holds a few hundred bytes per pod instead of the
whole object.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from backends.model import (
    ActionKind,
    Autoscaler,
    BlueGreen,
    Canary,
    ColourState,
    Condition,
    GpuHolder,
    GpuNode,
    MigSlice,
    ModelService,
    PendingGpuWorkload,
    Platform,
    ServiceKey,
    ServiceKind,
    freeze_labels,
)

GPU_RESOURCE = "nvidia.com/gpu"
SHARED_GPU_RESOURCE = "nvidia.com/gpu.shared"
MIG_PREFIX = "nvidia.com/mig-"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
ARGO_REVISION_ANNOTATION = "rollout.argoproj.io/revision"
POD_TEMPLATE_HASH = "pod-template-hash"
ROLLOUTS_POD_TEMPLATE_HASH = "rollouts-pod-template-hash"
KSERVE_ISVC_LABEL = "serving.kserve.io/inferenceservice"
COLOUR_KEYS = ("version", "color", "colour", "slot")
"""Selector keys that can name the live side of a blue-green Service, most common first."""
PRODUCTION_LABEL = ("environment", "production")


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _int(value: Any, default: int = 0) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return default
    return default


def _str_map(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def parse_time(text: Any) -> datetime | None:
    """RFC 3339 as Kubernetes writes it ('2026-11-29T02:00:00Z'), or None."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


_QUANTITY = re.compile(r"^([0-9.]+)(m|k|Ki|M|Mi|G|Gi)?$")
_SUFFIX = {None: 1, "m": 0.001, "k": 1e3, "Ki": 1024, "M": 1e6, "Mi": 1024**2, "G": 1e9, "Gi": 1024**3}


def quantity_count(value: Any) -> int:
    """A countable resource quantity (GPUs) as an int: '2' -> 2, 1 -> 1, '1000m' -> 1, junk -> 0."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return max(int(value), 0)
    if not isinstance(value, str):
        return 0
    match = _QUANTITY.match(value.strip())
    if not match:
        return 0
    try:
        return max(int(float(match.group(1)) * _SUFFIX[match.group(2)]), 0)
    except (ValueError, KeyError):
        return 0


def is_gpu_resource(name: str) -> bool:
    return name in (GPU_RESOURCE, SHARED_GPU_RESOURCE) or name.startswith(MIG_PREFIX)


def gpu_resources(resources: Any) -> dict[str, int]:
    """The GPU entries of a capacity/allocatable/requests map, as counts (zeros dropped)."""
    out: dict[str, int] = {}
    for name, value in _dict(resources).items():
        if isinstance(name, str) and is_gpu_resource(name):
            count = quantity_count(value)
            if count:
                out[name] = count
    return out


def _container_gpus(container: Any) -> dict[str, int]:
    resources = _dict(_dict(container).get("resources"))
    requests = gpu_resources(resources.get("requests"))
    # Extended resources cannot be overcommitted: a limit alone sets the request to the limit.
    for name, count in gpu_resources(resources.get("limits")).items():
        requests.setdefault(name, count)
    return requests


def pod_gpu_requests(spec: Any) -> dict[str, int]:
    """GPU requests of a pod spec as the scheduler counts them: containers summed, then the max with
    each init container, plus the pod overhead."""
    spec = _dict(spec)
    total: dict[str, int] = {}
    for container in _list(spec.get("containers")):
        for name, count in _container_gpus(container).items():
            total[name] = total.get(name, 0) + count
    for container in _list(spec.get("initContainers")):
        for name, count in _container_gpus(container).items():
            if count > total.get(name, 0):
                total[name] = count
    for name, count in gpu_resources(spec.get("overhead")).items():
        total[name] = total.get(name, 0) + count
    return total


def image_tag(image: str) -> str:
    """'repo/model:v2.1' -> 'v2.1'; a digest or an untagged image gives ''."""
    if not image or "@" in image:
        return ""
    last = image.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else ""


def _first_image(pod_spec: Any) -> str:
    containers = _list(_dict(pod_spec).get("containers"))
    return str(_dict(containers[0]).get("image") or "") if containers else ""


def template_version(template: Any) -> tuple[str, str]:
    """(image, version) of a pod template: the `version` label wins, then the image tag."""
    template = _dict(template)
    labels = _str_map(_dict(template.get("metadata")).get("labels"))
    image = _first_image(template.get("spec"))
    version = labels.get("version") or labels.get("app.kubernetes.io/version") or image_tag(image)
    return image, version


def labels_match(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """Equality-based selector match; an empty selector matches nothing (as a Service's does)."""
    if not selector:
        return False
    return all(labels.get(k) == v for k, v in selector.items())


def label_selector_match(selector: Any, labels: Mapping[str, str]) -> bool:
    """A LabelSelector ({matchLabels, matchExpressions}) against labels."""
    selector = _dict(selector)
    for k, v in _str_map(selector.get("matchLabels")).items():
        if labels.get(k) != v:
            return False
    for expr in _list(selector.get("matchExpressions")):
        expr = _dict(expr)
        key, op, values = expr.get("key"), expr.get("operator"), [str(v) for v in _list(expr.get("values"))]
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return bool(selector.get("matchLabels") or selector.get("matchExpressions"))


def _conditions(status: Any) -> list[dict]:
    return [c for c in _list(_dict(status).get("conditions")) if isinstance(c, dict)]


def _condition(status: Any, kind: str) -> dict | None:
    return next((c for c in _conditions(status) if c.get("type") == kind), None)


def meta(obj: Any) -> dict:
    return _dict(_dict(obj).get("metadata"))


def obj_key(obj: Any) -> tuple[str, str]:
    m = meta(obj)
    return str(m.get("namespace") or ""), str(m.get("name") or "")


# ---------------------------------------------------------------------------------------------
# Facts: what the cache keeps of high-volume objects.


@dataclass(slots=True)
class PodFacts:
    namespace: str
    name: str
    labels: dict[str, str]
    owner_kind: str
    owner_name: str
    node: str
    phase: str
    scheduled: bool
    ready: bool
    gpus: dict[str, int]
    unschedulable_message: str = ""
    pending_since: datetime | None = None

    @property
    def counts_on_node(self) -> bool:
        """Holds its requests on its node: Running, or Pending but already scheduled."""
        return bool(self.node) and (self.phase == "Running" or (self.phase == "Pending" and self.scheduled))

    @property
    def gpu_total(self) -> int:
        return sum(self.gpus.values())


def pod_facts(obj: Any) -> PodFacts:
    m = meta(obj)
    spec = _dict(_dict(obj).get("spec"))
    status = _dict(_dict(obj).get("status"))
    owner_kind = owner_name = ""
    for ref in _list(m.get("ownerReferences")):
        ref = _dict(ref)
        if ref.get("controller") or not owner_kind:
            owner_kind, owner_name = str(ref.get("kind") or ""), str(ref.get("name") or "")
    phase = str(status.get("phase") or "Pending")
    scheduled_cond = _condition(status, "PodScheduled")
    node = str(spec.get("nodeName") or "")
    scheduled = bool(node) and (scheduled_cond is None or scheduled_cond.get("status") == "True")
    ready_cond = _condition(status, "Ready")
    message = ""
    since = None
    if phase == "Pending" and scheduled_cond is not None and scheduled_cond.get("status") == "False":
        message = str(scheduled_cond.get("message") or scheduled_cond.get("reason") or "Unschedulable")
        since = parse_time(scheduled_cond.get("lastTransitionTime"))
    return PodFacts(
        namespace=str(m.get("namespace") or ""),
        name=str(m.get("name") or ""),
        labels=_str_map(m.get("labels")),
        owner_kind=owner_kind,
        owner_name=owner_name,
        node=node,
        phase=phase,
        scheduled=scheduled,
        ready=bool(ready_cond and ready_cond.get("status") == "True"),
        gpus=pod_gpu_requests(spec),
        unschedulable_message=message,
        pending_since=since,
    )


@dataclass(slots=True)
class ReplicaSetFacts:
    namespace: str
    name: str
    owner_kind: str
    owner_name: str
    revision: str
    image: str
    version: str
    replicas: int
    ready: int
    created: datetime | None
    pod_hash: str


def replicaset_facts(obj: Any) -> ReplicaSetFacts:
    m = meta(obj)
    owner_kind = owner_name = ""
    for ref in _list(m.get("ownerReferences")):
        ref = _dict(ref)
        if ref.get("controller") or not owner_kind:
            owner_kind, owner_name = str(ref.get("kind") or ""), str(ref.get("name") or "")
    annotations = _str_map(m.get("annotations"))
    template = _dict(_dict(_dict(obj).get("spec")).get("template"))
    image, version = template_version(template)
    labels = _str_map(m.get("labels"))
    return ReplicaSetFacts(
        namespace=str(m.get("namespace") or ""),
        name=str(m.get("name") or ""),
        owner_kind=owner_kind,
        owner_name=owner_name,
        revision=annotations.get(REVISION_ANNOTATION) or annotations.get(ARGO_REVISION_ANNOTATION, ""),
        image=image,
        version=version,
        replicas=_int(_dict(_dict(obj).get("spec")).get("replicas")),
        ready=_int(_dict(_dict(obj).get("status")).get("readyReplicas")),
        created=parse_time(m.get("creationTimestamp")),
        pod_hash=labels.get(ROLLOUTS_POD_TEMPLATE_HASH) or labels.get(POD_TEMPLATE_HASH, ""),
    )


@dataclass(slots=True)
class NodeFacts:
    name: str
    capacity: dict[str, int]
    allocatable: dict[str, int]
    ready: bool
    schedulable: bool
    labels: dict[str, str]


def node_facts(obj: Any) -> NodeFacts:
    m = meta(obj)
    status = _dict(_dict(obj).get("status"))
    ready = _condition(status, "Ready")
    return NodeFacts(
        name=str(m.get("name") or ""),
        capacity=gpu_resources(status.get("capacity")),
        allocatable=gpu_resources(status.get("allocatable")),
        ready=bool(ready and ready.get("status") == "True"),
        schedulable=not _dict(_dict(obj).get("spec")).get("unschedulable"),
        labels=_str_map(m.get("labels")),
    )


@dataclass(slots=True)
class EventFacts:
    namespace: str
    kind: str
    name: str
    reason: str
    message: str
    time: datetime | None


def event_facts(obj: Any) -> EventFacts:
    obj = _dict(obj)
    involved = _dict(obj.get("involvedObject")) or _dict(obj.get("regarding"))
    return EventFacts(
        namespace=str(involved.get("namespace") or meta(obj).get("namespace") or ""),
        kind=str(involved.get("kind") or ""),
        name=str(involved.get("name") or ""),
        reason=str(obj.get("reason") or ""),
        message=str(obj.get("message") or obj.get("note") or ""),
        time=parse_time(obj.get("lastTimestamp") or obj.get("eventTime") or meta(obj).get("creationTimestamp")),
    )


# ---------------------------------------------------------------------------------------------
# GPUs


def _node_gpu_count(resources: Mapping[str, int]) -> int:
    return sum(resources.values())


def gpu_node(
    cluster: str,
    node: NodeFacts,
    pods: Iterable[PodFacts],
    service_of: Any = None,
) -> GpuNode | None:
    """The node's GPU picture, or None when it has no GPU resources at all.

    `service_of(pod) -> ServiceKey | None` names the service a pod belongs to.
    """
    if not node.capacity and not node.allocatable:
        return None
    allocated: dict[str, int] = {}
    holders = []
    for pod in pods:
        if not pod.gpus or not pod.counts_on_node:
            continue
        for name, count in pod.gpus.items():
            allocated[name] = allocated.get(name, 0) + count
        resource = next(iter(pod.gpus)) if len(pod.gpus) == 1 else ",".join(sorted(pod.gpus))
        holders.append(
            GpuHolder(
                workload=f"{pod.namespace}/{pod.name}",
                gpus=pod.gpu_total,
                service=service_of(pod) if service_of else None,
                resource=resource,
            )
        )
    holders.sort(key=lambda h: h.workload)
    mig = tuple(
        MigSlice(profile=name[len(MIG_PREFIX) :], total=node.capacity.get(name, 0), allocated=allocated.get(name, 0))
        for name in sorted(set(node.capacity) | set(node.allocatable))
        if name.startswith(MIG_PREFIX)
    )
    return GpuNode(
        cluster=cluster,
        node=node.name,
        total=_node_gpu_count(node.capacity),
        allocatable=_node_gpu_count(node.allocatable),
        allocated=sum(allocated.values()),
        holders=tuple(holders),
        mig=mig,
        ready=node.ready,
        schedulable=node.schedulable,
        labels=freeze_labels(node.labels),
    )


def pending_gpu(cluster: str, pod: PodFacts, service: ServiceKey | None = None) -> PendingGpuWorkload | None:
    """A pod the scheduler could not place and that asks for GPUs, with the scheduler's message."""
    if pod.phase != "Pending" or pod.node or not pod.gpus or not pod.unschedulable_message:
        return None
    return PendingGpuWorkload(
        cluster=cluster,
        namespace=pod.namespace,
        name=pod.name,
        gpus=pod.gpu_total,
        message=pod.unschedulable_message,
        service=service,
        since=pod.pending_since,
    )


# ---------------------------------------------------------------------------------------------
# Autoscaler


def hpa_target(hpa: Any) -> tuple[str, str, str]:
    """(namespace, kind, name) of what the HPA scales."""
    ref = _dict(_dict(_dict(hpa).get("spec")).get("scaleTargetRef"))
    ns, _ = obj_key(hpa)
    return ns, str(ref.get("kind") or ""), str(ref.get("name") or "")


def _metric_text(metric: Any) -> str:
    metric = _dict(metric)
    kind = metric.get("type")
    if kind in ("Resource", "ContainerResource"):
        body = _dict(metric.get("resource") or metric.get("containerResource"))
        name = str(body.get("name") or "?")
        target = _dict(body.get("target"))
        if "averageUtilization" in target:
            return f"{name} {target['averageUtilization']}%"
        if "targetAverageUtilization" in body:  # autoscaling/v2beta1 shape
            return f"{name} {body['targetAverageUtilization']}%"
        value = target.get("averageValue") or target.get("value")
        return f"{name} {value}" if value is not None else name
    if kind in ("Pods", "Object", "External"):
        body = _dict(metric.get({"Pods": "pods", "Object": "object", "External": "external"}[kind]))
        name = str(_dict(body.get("metric")).get("name") or body.get("metricName") or "?")
        target = _dict(body.get("target"))
        value = target.get("averageValue") or target.get("value") or target.get("averageUtilization")
        return f"{name} {value}" if value is not None else name
    return str(kind or "")


def autoscaler(hpa: Any) -> Autoscaler:
    hpa = _dict(hpa)
    spec = _dict(hpa.get("spec"))
    status = _dict(hpa.get("status"))
    metrics = [_metric_text(m) for m in _list(spec.get("metrics"))]
    if not metrics and "targetCPUUtilizationPercentage" in spec:  # autoscaling/v1
        metrics = [f"cpu {spec['targetCPUUtilizationPercentage']}%"]
    active = _condition(status, "ScalingActive")
    return Autoscaler(
        name=obj_key(hpa)[1],
        min_replicas=_int(spec.get("minReplicas"), 1),
        max_replicas=_int(spec.get("maxReplicas")),
        current_replicas=_int(status.get("currentReplicas")),
        desired_replicas=_int(status.get("desiredReplicas")),
        target=", ".join(m for m in metrics if m),
        active=not (active is not None and active.get("status") == "False"),
    )


# ---------------------------------------------------------------------------------------------
# Canary: Argo, KServe, Istio


def argo_current_weight(rollout: Any) -> int | None:
    """The canary weight Argo is at, as `kubectl argo rollouts get` computes it."""
    rollout = _dict(rollout)
    status = _dict(rollout.get("status"))
    canary = _dict(_dict(_dict(rollout.get("spec")).get("strategy")).get("canary"))
    weights = _dict(_dict(status.get("canary")).get("weights"))
    if weights.get("canary") and "weight" in _dict(weights.get("canary")):
        return _int(_dict(weights["canary"]).get("weight"))
    if status.get("abort"):
        return 0
    steps = _list(canary.get("steps"))
    if not steps:
        return None
    index = status.get("currentStepIndex")
    if index is None:
        return None
    index = _int(index)
    if index >= len(steps):
        return 100
    for step in reversed(steps[: index + 1]):
        step = _dict(step)
        if "setWeight" in step:
            return _int(step.get("setWeight"))
    return 0


def argo_canary(rollout: Any, replicasets: Iterable[ReplicaSetFacts] = ()) -> Canary | None:
    rollout = _dict(rollout)
    spec = _dict(rollout.get("spec"))
    canary = _dict(spec.get("strategy")).get("canary")
    if not isinstance(canary, dict):
        return None
    status = _dict(rollout.get("status"))
    steps = _list(canary.get("steps"))
    by_hash = {rs.pod_hash: rs for rs in replicasets if rs.pod_hash}
    stable = by_hash.get(str(status.get("stableRS") or ""))
    current = by_hash.get(str(status.get("currentPodHash") or ""))
    _, template_ver = template_version(spec.get("template"))
    paused = bool(spec.get("paused") or _list(status.get("pauseConditions")) or status.get("controllerPause"))
    message = str(status.get("message") or "")
    return Canary(
        source="argo",
        stable_version=stable.version if stable else "",
        canary_version=current.version if current else template_ver,
        weight=argo_current_weight(rollout),
        step=_int(status["currentStepIndex"]) if status.get("currentStepIndex") is not None else None,
        total_steps=len(steps) if steps else None,
        paused=paused,
        aborted=bool(status.get("abort")),
        message=message,
    )


def argo_blue_green(rollout: Any, replicasets: Iterable[ReplicaSetFacts] = ()) -> BlueGreen | None:
    rollout = _dict(rollout)
    spec = _dict(rollout.get("spec"))
    bg = _dict(spec.get("strategy")).get("blueGreen")
    if not isinstance(bg, dict):
        return None
    status = _dict(rollout.get("status"))
    bg_status = _dict(status.get("blueGreen"))
    active_hash = str(bg_status.get("activeSelector") or status.get("stableRS") or "")
    preview_hash = str(bg_status.get("previewSelector") or "")
    rs_list = [rs for rs in replicasets if rs.pod_hash and (rs.replicas or rs.pod_hash in (active_hash, preview_hash))]
    by_hash = {rs.pod_hash: rs for rs in rs_list}

    def name_of(pod_hash: str) -> str:
        rs = by_hash.get(pod_hash)
        return f"{rs.version or pod_hash}" if rs else pod_hash

    return BlueGreen(
        source="argo",
        active=name_of(active_hash),
        preview=name_of(preview_hash) if preview_hash and preview_hash != active_hash else None,
        selector=((ROLLOUTS_POD_TEMPLATE_HASH, active_hash),) if active_hash else (),
        selector_key=ROLLOUTS_POD_TEMPLATE_HASH,
        colours=tuple(ColourState(name=name_of(rs.pod_hash), ready=rs.ready, desired=rs.replicas) for rs in rs_list),
        router=str(bg.get("activeService") or obj_key(rollout)[1]),
    )


def kserve_canary(isvc: Any) -> Canary | None:
    isvc = _dict(isvc)
    predictor_spec = _dict(_dict(isvc.get("spec")).get("predictor"))
    predictor = _dict(_dict(_dict(isvc.get("status")).get("components")).get("predictor"))
    percent = predictor_spec.get("canaryTrafficPercent")
    latest = str(predictor.get("latestReadyRevision") or predictor.get("latestCreatedRevision") or "")
    previous = str(predictor.get("previousRolledoutRevision") or "")
    traffic = [t for t in _list(predictor.get("traffic")) if isinstance(t, dict)]
    weight = None
    for entry in traffic:
        if entry.get("latestRevision") is True or entry.get("tag") == "latest" or (
            latest and entry.get("revisionName") == latest
        ):
            weight = _int(entry.get("percent"))
            break
    if weight is None and percent is not None:
        weight = _int(percent)
    if percent is None and len(traffic) < 2:
        return None
    return Canary(
        source="kserve",
        stable_version=previous or str(predictor.get("latestRolledoutRevision") or ""),
        canary_version=latest,
        weight=weight,
        message=f"canaryTrafficPercent {percent}" if percent is not None else "",
    )


@dataclass(frozen=True, slots=True)
class IstioSplit:
    """A VirtualService route that splits traffic between a stable and a canary destination."""

    virtual_service: str
    http_index: int
    stable_index: int
    canary_index: int
    stable_host: str
    canary_host: str
    stable_weight: int
    canary_weight: int


def _short_host(host: str) -> str:
    return host.split(".", 1)[0]


def istio_splits(vs: Any) -> list[IstioSplit]:
    """Every http route of a VirtualService with a stable and a canary destination."""
    splits = []
    name = obj_key(vs)[1]
    for h, http in enumerate(_list(_dict(_dict(vs).get("spec")).get("http"))):
        routes = [_dict(r) for r in _list(_dict(http).get("route"))]
        if len(routes) < 2:
            continue
        labels = []
        for route in routes:
            dest = _dict(route.get("destination"))
            labels.append((_short_host(str(dest.get("host") or "")), str(dest.get("subset") or "")))
        canary = next((i for i, (host, subset) in enumerate(labels) if "canary" in host or "canary" in subset), None)
        stable = next((i for i, (host, subset) in enumerate(labels) if "stable" in host or "stable" in subset), None)
        if canary is None:
            canary = 1 if stable != 1 else 0
        if stable is None or stable == canary:
            stable = next(i for i in range(len(routes)) if i != canary)
        splits.append(
            IstioSplit(
                virtual_service=name,
                http_index=h,
                stable_index=stable,
                canary_index=canary,
                stable_host=labels[stable][0],
                canary_host=labels[canary][0],
                stable_weight=_int(routes[stable].get("weight"), 0),
                canary_weight=_int(routes[canary].get("weight"), 0),
            )
        )
    return splits


def istio_canary(split: IstioSplit, stable_version: str = "", canary_version: str = "") -> Canary:
    total = split.stable_weight + split.canary_weight
    weight = round(100 * split.canary_weight / total) if total else 0
    return Canary(
        source="istio",
        stable_version=stable_version or split.stable_host,
        canary_version=canary_version or split.canary_host,
        weight=weight,
        message=f"VirtualService {split.virtual_service}: {split.stable_host} {split.stable_weight} / "
        f"{split.canary_host} {split.canary_weight}",
    )


# ---------------------------------------------------------------------------------------------
# Blue-green behind a Service selector


@dataclass(frozen=True, slots=True)
class SelectorSwitch:
    """A Service whose selector picks one colour among Deployments of several colours."""

    service: str
    selector: dict
    key: str
    active: str
    members: dict
    """Deployment name -> colour."""
    colours: tuple[ColourState, ...]

    def blue_green(self) -> BlueGreen:
        return BlueGreen(
            source="service-selector",
            active=self.active,
            selector=freeze_labels(self.selector),
            selector_key=self.key,
            colours=self.colours,
            router=self.service,
        )


def _template_labels(deployment: Any) -> dict[str, str]:
    template = _dict(_dict(_dict(deployment).get("spec")).get("template"))
    return _str_map(_dict(template.get("metadata")).get("labels"))


def selector_switches(services: Iterable[Any], deployments: Iterable[Any]) -> list[SelectorSwitch]:
    """Services (of one namespace) that act as blue-green routers over the Deployments given."""
    deployments = list(deployments)
    out = []
    for svc in services:
        selector = _str_map(_dict(_dict(svc).get("spec")).get("selector"))
        for key in COLOUR_KEYS:
            if key not in selector:
                continue
            base = {k: v for k, v in selector.items() if k != key}
            members: dict[str, str] = {}
            colours: dict[str, list[int]] = {}
            for dep in deployments:
                labels = _template_labels(dep)
                if key not in labels or (base and not labels_match(base, labels)):
                    continue
                if not base and labels.get(key) != selector[key]:
                    continue
                colour = labels[key]
                members[obj_key(dep)[1]] = colour
                status = _dict(_dict(dep).get("status"))
                tally = colours.setdefault(colour, [0, 0])
                tally[0] += _int(status.get("readyReplicas"))
                tally[1] += _int(_dict(_dict(dep).get("spec")).get("replicas"), 1)
            if len(colours) >= 2:
                out.append(
                    SelectorSwitch(
                        service=obj_key(svc)[1],
                        selector=selector,
                        key=key,
                        active=selector[key],
                        members=members,
                        colours=tuple(ColourState(c, r, d) for c, (r, d) in sorted(colours.items())),
                    )
                )
                break
    return out


# ---------------------------------------------------------------------------------------------
# Model services


def warning_conditions(events: Iterable[EventFacts]) -> tuple[Condition, ...]:
    return tuple(Condition(type="Warning", status="True", reason=e.reason, message=e.message) for e in events)


def _status_conditions(status: Any) -> tuple[Condition, ...]:
    return tuple(
        Condition(
            type=str(c.get("type") or ""),
            status=str(c.get("status") or ""),
            reason=str(c.get("reason") or ""),
            message=str(c.get("message") or ""),
        )
        for c in _conditions(status)
    )


def deployment_rollout_state(deployment: Any) -> tuple[str, str]:
    """('progressing' | 'paused' | 'degraded' | 'completed', message) from spec and conditions."""
    deployment = _dict(deployment)
    spec = _dict(deployment.get("spec"))
    status = _dict(deployment.get("status"))
    progressing = _condition(status, "Progressing")
    message = str(_dict(progressing).get("message") or "")
    if spec.get("paused"):
        return "paused", message
    if progressing is not None and progressing.get("reason") == "ProgressDeadlineExceeded":
        return "degraded", message
    desired = _int(spec.get("replicas"), 1)
    observed = _int(status.get("observedGeneration"))
    generation = _int(meta(deployment).get("generation"))
    updated = _int(status.get("updatedReplicas"))
    total = _int(status.get("replicas"))
    # A new template still replacing old pods; pods merely unready after it finished are not a rollout.
    if observed < generation or updated < desired or total > updated:
        return "progressing", message
    return "completed", message


def deployment_service(
    cluster: str,
    deployment: Any,
    *,
    hpa: Any = None,
    canary: Canary | None = None,
    blue_green: BlueGreen | None = None,
    production: bool = False,
    warnings: Iterable[EventFacts] = (),
    denied: frozenset[ActionKind] = frozenset(),
) -> ModelService:
    deployment = _dict(deployment)
    ns, name = obj_key(deployment)
    spec = _dict(deployment.get("spec"))
    status = _dict(deployment.get("status"))
    image, version = template_version(spec.get("template"))
    desired = _int(spec.get("replicas"), 1)
    state, message = deployment_rollout_state(deployment)
    actions = {ActionKind.SCALE, ActionKind.ROLLBACK}
    if hpa is not None:
        actions.add(ActionKind.SET_AUTOSCALER_BOUNDS)
    if canary is not None:
        actions.add(ActionKind.CANARY_WEIGHT)
    if blue_green is not None:
        actions.add(ActionKind.BLUE_GREEN_SWITCH)
    return ModelService(
        key=ServiceKey(cluster, ns, ServiceKind.DEPLOYMENT, name),
        platform=Platform.K8S,
        image=image,
        version=version,
        desired=desired,
        ready=_int(status.get("readyReplicas")),
        updated=_int(status.get("updatedReplicas")),
        unavailable=_int(status.get("unavailableReplicas")),
        canary=canary,
        blue_green=blue_green,
        autoscaler=autoscaler(hpa) if hpa is not None else None,
        gpus_per_replica=sum(pod_gpu_requests(_dict(spec.get("template")).get("spec")).values()),
        conditions=_status_conditions(status) + warning_conditions(warnings),
        labels=freeze_labels(_str_map(meta(deployment).get("labels"))),
        revision=_str_map(meta(deployment).get("annotations")).get(REVISION_ANNOTATION, ""),
        rollout_state=state,
        rollout_message=message,
        actions=frozenset(actions),
        denied=denied & frozenset(actions),
        production=production,
    )


def rollout_service(
    cluster: str,
    rollout: Any,
    *,
    replicasets: Iterable[ReplicaSetFacts] = (),
    hpa: Any = None,
    production: bool = False,
    warnings: Iterable[EventFacts] = (),
    denied: frozenset[ActionKind] = frozenset(),
) -> ModelService:
    rollout = _dict(rollout)
    ns, name = obj_key(rollout)
    spec = _dict(rollout.get("spec"))
    status = _dict(rollout.get("status"))
    replicasets = list(replicasets)
    image, version = template_version(spec.get("template"))
    canary = argo_canary(rollout, replicasets)
    blue_green = argo_blue_green(rollout, replicasets)
    desired = _int(spec.get("replicas"), 1)
    actions = {ActionKind.SCALE, ActionKind.ROLLBACK, ActionKind.ABORT, ActionKind.RETRY}
    actions |= {ActionKind.PROMOTE, ActionKind.PROMOTE_FULL}
    if blue_green is not None:
        actions.add(ActionKind.BLUE_GREEN_SWITCH)
    if hpa is not None:
        actions.add(ActionKind.SET_AUTOSCALER_BOUNDS)
    phase = str(status.get("phase") or "").lower()
    if status.get("abort"):
        phase = "degraded" if phase != "degraded" else phase
    state = {"healthy": "completed"}.get(phase, phase)
    return ModelService(
        key=ServiceKey(cluster, ns, ServiceKind.ROLLOUT, name),
        platform=Platform.K8S,
        image=image,
        version=version,
        desired=desired,
        ready=_int(status.get("readyReplicas")),
        updated=_int(status.get("updatedReplicas")),
        unavailable=max(_int(status.get("replicas")) - _int(status.get("availableReplicas")), 0),
        canary=canary,
        blue_green=blue_green,
        autoscaler=autoscaler(hpa) if hpa is not None else None,
        gpus_per_replica=sum(pod_gpu_requests(_dict(spec.get("template")).get("spec")).values()),
        conditions=_status_conditions(status) + warning_conditions(warnings),
        labels=freeze_labels(_str_map(meta(rollout).get("labels"))),
        revision=_str_map(meta(rollout).get("annotations")).get(ARGO_REVISION_ANNOTATION)
        or next((rs.revision for rs in replicasets if rs.pod_hash and rs.pod_hash == status.get("currentPodHash")), ""),
        rollout_state=state,
        rollout_message=str(status.get("message") or ""),
        actions=frozenset(actions),
        denied=denied & frozenset(actions),
        production=production,
    )


def isvc_service(
    cluster: str,
    isvc: Any,
    *,
    pods: Iterable[PodFacts] = (),
    production: bool = False,
    warnings: Iterable[EventFacts] = (),
    denied: frozenset[ActionKind] = frozenset(),
) -> ModelService:
    isvc = _dict(isvc)
    ns, name = obj_key(isvc)
    spec = _dict(isvc.get("spec"))
    predictor = _dict(spec.get("predictor"))
    status = _dict(isvc.get("status"))
    model = next(
        (_dict(v) for k, v in predictor.items() if isinstance(v, dict) and ("storageUri" in v or "image" in v)), {}
    )
    model_format = str(_dict(model.get("modelFormat")).get("name") or "")
    storage = str(model.get("storageUri") or "")
    image = str(model.get("image") or storage)
    live = [p for p in pods if p.phase in ("Running", "Pending")]
    min_replicas = predictor.get("minReplicas")
    desired = _int(min_replicas, 1) if min_replicas is not None else max(len(live), 1)
    desired = max(desired, len(live))
    ready_cond = _condition(status, "Ready")
    component = _dict(_dict(status.get("components")).get("predictor"))
    canary = kserve_canary(isvc)
    actions = {ActionKind.CANARY_WEIGHT, ActionKind.ROLLBACK}
    ready = sum(1 for p in live if p.ready)
    if not live and ready_cond is not None and ready_cond.get("status") == "True":
        ready = desired
    return ModelService(
        key=ServiceKey(cluster, ns, ServiceKind.INFERENCE_SERVICE, name),
        platform=Platform.K8S,
        image=image,
        version=storage.rstrip("/").rsplit("/", 1)[-1] if storage else model_format,
        desired=desired,
        ready=ready,
        updated=ready,
        unavailable=max(desired - ready, 0),
        canary=canary,
        gpus_per_replica=sum(gpu_resources(_dict(model.get("resources")).get("limits")).values())
        or sum(gpu_resources(_dict(model.get("resources")).get("requests")).values()),
        conditions=_status_conditions(status) + warning_conditions(warnings),
        labels=freeze_labels(_str_map(meta(isvc).get("labels"))),
        revision=str(component.get("latestReadyRevision") or component.get("latestCreatedRevision") or ""),
        rollout_state="progressing" if canary and (canary.weight or 0) not in (0, 100) else "",
        rollout_message=str(_dict(ready_cond).get("message") or ""),
        actions=frozenset(actions),
        denied=denied & frozenset(actions),
        production=production,
    )


def namespace_is_production(namespace_obj: Any) -> bool:
    labels = _str_map(meta(namespace_obj).get("labels"))
    return labels.get(PRODUCTION_LABEL[0]) == PRODUCTION_LABEL[1]


@dataclass(frozen=True, slots=True)
class Revision:
    """One entry of the rollback picker."""

    revision: str
    image: str
    version: str
    created: datetime | None
    current: bool = False
    replicaset: str = ""

    def age_seconds(self, now: datetime | None = None) -> float | None:
        if self.created is None:
            return None
        return ((now or datetime.now(timezone.utc)) - self.created).total_seconds()


def revisions(current_revision: str, replicasets: Iterable[ReplicaSetFacts]) -> tuple[Revision, ...]:
    """Revisions of a Deployment or Rollout, newest first, from its ReplicaSets."""
    out = [
        Revision(
            revision=rs.revision,
            image=rs.image,
            version=rs.version,
            created=rs.created,
            current=rs.revision == current_revision,
            replicaset=rs.name,
        )
        for rs in replicasets
        if rs.revision
    ]
    out.sort(key=lambda r: _int(r.revision), reverse=True)
    return tuple(out)

"""Kubernetes JSON -> domain model. Pure functions, no I/O, tolerant of missing or odd fields.

Everything here takes plain parsed JSON (dicts from orjson) or the small `*Facts` records this module
extracts from them, and returns `backends.model` dataclasses. Pods and ReplicaSets are reduced to
facts as soon as they arrive, so the live cache holds a few hundred bytes per pod instead of the
whole object.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mlops_tui.backends.gpu_fit import FitNode, ReplicaNeeds, Requirement, Toleration
from mlops_tui.backends.model import (
    SLO_ANNOTATION,
    ActionKind,
    Autoscaler,
    BlueGreen,
    Canary,
    ColourState,
    Condition,
    GpuHolder,
    GpuNode,
    GpuResource,
    ModelService,
    PendingGpuWorkload,
    Platform,
    Revision,
    ServiceKey,
    ServiceKind,
    Taint,
    freeze_labels,
    slo_from_annotation,
)

GPU_RESOURCE = "nvidia.com/gpu"
SHARED_GPU_RESOURCE = "nvidia.com/gpu.shared"
MIG_PREFIX = "nvidia.com/mig-"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
ARGO_REVISION_ANNOTATION = "rollout.argoproj.io/revision"
POD_TEMPLATE_HASH = "pod-template-hash"
ROLLOUTS_POD_TEMPLATE_HASH = "rollouts-pod-template-hash"


def declared_slo(obj: Any) -> float | None:
    """The p95 SLO (seconds) the workload's `SLO_ANNOTATION` declares, if any."""
    return slo_from_annotation(str_map(meta(obj).get("annotations")).get(SLO_ANNOTATION))
KSERVE_ISVC_LABEL = "serving.kserve.io/inferenceservice"
COLOUR_KEYS = ("version", "color", "colour", "slot")
"""Selector keys that can name the live side of a blue-green Service, most common first."""
PRODUCTION_LABEL = ("environment", "production")


def as_dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def as_int(value: Any, default: int = 0) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else default
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return default
    return default


def dig(value: Any, *keys: str) -> dict:
    """The dict at `value[k1][k2]...`, or {} wherever a level is missing or not a dict."""
    for key in keys:
        value = as_dict(value).get(key)
    return as_dict(value)


def str_map(value: Any) -> dict[str, str]:
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
        return max(int(value), 0) if math.isfinite(value) else 0
    if not isinstance(value, str):
        return 0
    match = _QUANTITY.match(value.strip())
    if not match:
        return 0
    try:
        return max(int(float(match.group(1)) * _SUFFIX[match.group(2)]), 0)
    except (ValueError, KeyError, OverflowError):  # '1.2.3', or more digits than a float holds
        return 0


def is_gpu_resource(name: str) -> bool:
    return name in (GPU_RESOURCE, SHARED_GPU_RESOURCE) or name.startswith(MIG_PREFIX)


def gpu_resources(resources: Any) -> dict[str, int]:
    """The GPU entries of a capacity/allocatable/requests map, as counts (zeros dropped)."""
    out: dict[str, int] = {}
    if not isinstance(resources, dict):
        return out
    for name, value in resources.items():
        if isinstance(name, str) and is_gpu_resource(name):
            count = quantity_count(value)
            if count:
                out[name] = count
    return out


def _container_gpus(container: Any) -> dict[str, int]:
    resources = container.get("resources") if isinstance(container, dict) else None
    if not isinstance(resources, dict):
        return {}
    requests = gpu_resources(resources.get("requests"))
    # Extended resources cannot be overcommitted: a limit alone sets the request to the limit.
    limits = resources.get("limits")
    if limits:
        for name, count in gpu_resources(limits).items():
            requests.setdefault(name, count)
    return requests


def pod_gpu_requests(spec: Any) -> dict[str, int]:
    """GPU requests of a pod spec as the scheduler counts them: containers summed, then the max with
    each init container, plus the pod overhead."""
    total: dict[str, int] = {}
    if not isinstance(spec, dict):
        return total
    for container in as_list(spec.get("containers")):
        for name, count in _container_gpus(container).items():
            total[name] = total.get(name, 0) + count
    init = spec.get("initContainers")
    if init:
        for container in as_list(init):
            for name, count in _container_gpus(container).items():
                if count > total.get(name, 0):
                    total[name] = count
    overhead = spec.get("overhead")
    if overhead:
        for name, count in gpu_resources(overhead).items():
            total[name] = total.get(name, 0) + count
    return total


def image_tag(image: str) -> str:
    """'repo/model:v2.1' -> 'v2.1'; a digest or an untagged image gives ''."""
    if not image or "@" in image:
        return ""
    last = image.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else ""


def _first_image(pod_spec: Any) -> str:
    containers = as_list(as_dict(pod_spec).get("containers"))
    return str(as_dict(containers[0]).get("image") or "") if containers else ""


def template_version(template: Any) -> tuple[str, str]:
    """(image, version) of a pod template: the `version` label wins, then the image tag."""
    template = as_dict(template)
    labels = str_map(as_dict(template.get("metadata")).get("labels"))
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
    selector = as_dict(selector)
    for k, v in str_map(selector.get("matchLabels")).items():
        if labels.get(k) != v:
            return False
    for expr in as_list(selector.get("matchExpressions")):
        expr = as_dict(expr)
        key, op, values = expr.get("key"), expr.get("operator"), [str(v) for v in as_list(expr.get("values"))]
        # A missing or non-string key names no label: the label reads as absent.
        present = isinstance(key, str) and key in labels
        value = labels.get(key) if isinstance(key, str) else None
        if op == "In" and value not in values:
            return False
        if op == "NotIn" and value in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return bool(selector.get("matchLabels") or selector.get("matchExpressions"))


def _conditions(status: Any) -> list[dict]:
    return [c for c in as_list(as_dict(status).get("conditions")) if isinstance(c, dict)]


def _condition(status: Any, kind: str) -> dict | None:
    return next((c for c in _conditions(status) if c.get("type") == kind), None)


def meta(obj: Any) -> dict:
    return as_dict(as_dict(obj).get("metadata"))


def obj_key(obj: Any) -> tuple[str, str]:
    m = meta(obj)
    return str(m.get("namespace") or ""), str(m.get("name") or "")


WORKLOAD_COUNTS = ("replicas", "readyReplicas", "availableReplicas", "updatedReplicas")
"""Counts a workload's spec and status carry; one that is not a whole number is an unreadable object."""


def unreadable_workload(obj: Any) -> str:
    """Why a Deployment, Rollout or InferenceService cannot be shown (one line), or '' when it can.

    The translators are tolerant of missing fields, but not of a shape that would show a wrong number:
    `spec.replicas: "three"` read as 0 would put a healthy service on screen as scaled to zero. The
    API server validates Deployments; custom resources with loose schemas (and proxies, aggregated
    APIs) can still carry such an object, so the view skips it and counts it instead."""
    if not isinstance(obj, dict):
        return "not an object"
    m = obj.get("metadata")
    if not isinstance(m, dict) or not isinstance(m.get("name"), str) or not m.get("name"):
        return "no metadata.name"
    if not isinstance(m.get("namespace"), str) or not m.get("namespace"):
        return "no metadata.namespace"
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return "no spec"
    for where, block in (("spec", spec), ("status", obj.get("status"))):
        if block is None:
            continue
        if not isinstance(block, dict):
            return f"{where} is not an object"
        for field in WORKLOAD_COUNTS:
            value = block.get(field)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                return f"{where}.{field} is {value!r}, not a count"
    for field in ("selector", "template", "predictor"):
        if spec.get(field) is not None and not isinstance(spec.get(field), dict):
            return f"spec.{field} is not an object"
    predictor = as_dict(spec.get("predictor"))  # an InferenceService's counts are its predictor's bounds
    for field in ("minReplicas", "maxReplicas"):
        value = predictor.get(field)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            return f"spec.predictor.{field} is {value!r}, not a count"
    return ""


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
    terminating: bool = False
    """Deleted and within its grace period: still on its node, no longer a replica a Service sends to."""

    @property
    def counts_on_node(self) -> bool:
        """Holds its requests on its node: Running, or Pending but already scheduled."""
        return bool(self.node) and (self.phase == "Running" or (self.phase == "Pending" and self.scheduled))

    @property
    def gpu_total(self) -> int:
        return sum(self.gpus.values())


def pod_facts(obj: Any) -> PodFacts:
    # The one translation run per pod (55,000 at a time in a first sync): plain lookups, one pass over
    # the conditions, each field read once.
    obj = as_dict(obj)
    m = as_dict(obj.get("metadata"))
    spec = as_dict(obj.get("spec"))
    status = as_dict(obj.get("status"))
    owner_kind = owner_name = ""
    refs = m.get("ownerReferences")
    if refs:
        for ref in as_list(refs):
            ref = as_dict(ref)
            if ref.get("controller") or not owner_kind:
                owner_kind, owner_name = str(ref.get("kind") or ""), str(ref.get("name") or "")
    phase = str(status.get("phase") or "Pending")
    scheduled_cond = ready_cond = None
    for cond in as_list(status.get("conditions")):
        if isinstance(cond, dict):
            kind = cond.get("type")
            if kind == "Ready":
                ready_cond = ready_cond or cond
            elif kind == "PodScheduled":
                scheduled_cond = scheduled_cond or cond
    node = str(spec.get("nodeName") or "")
    scheduled = bool(node) and (scheduled_cond is None or scheduled_cond.get("status") == "True")
    message = ""
    since = None
    if phase == "Pending" and scheduled_cond is not None and scheduled_cond.get("status") == "False":
        message = str(scheduled_cond.get("message") or scheduled_cond.get("reason") or "Unschedulable")
        since = parse_time(scheduled_cond.get("lastTransitionTime"))
    return PodFacts(
        str(m.get("namespace") or ""),
        str(m.get("name") or ""),
        str_map(m.get("labels")),
        owner_kind,
        owner_name,
        node,
        phase,
        scheduled,
        ready_cond is not None and ready_cond.get("status") == "True",
        pod_gpu_requests(spec),
        message,
        since,
        bool(m.get("deletionTimestamp")),
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
    change_cause: str = ""
    """The `kubernetes.io/change-cause` annotation (kubectl --record, or set by CI)."""
    env: tuple[tuple[str, str], ...] = ()
    """(container.VAR, short digest of its value): tells two revisions of one image apart without
    keeping (or ever showing) the values, which can be secrets."""


CHANGE_CAUSE_ANNOTATION = "kubernetes.io/change-cause"


def _env_digest(pod_spec: Any) -> tuple[tuple[str, str], ...]:
    out = []
    for container in as_list(as_dict(pod_spec).get("containers")):
        name = str(as_dict(container).get("name") or "")
        for var in as_list(as_dict(container).get("env")):
            var = as_dict(var)
            source = var.get("value") if "value" in var else var.get("valueFrom")
            digest = hashlib.sha256(repr(source).encode()).hexdigest()[:8]
            out.append((f"{name}.{var.get('name')}", digest))
    return tuple(sorted(out))


def replicaset_facts(obj: Any) -> ReplicaSetFacts:
    m = meta(obj)
    owner_kind = owner_name = ""
    for ref in as_list(m.get("ownerReferences")):
        ref = as_dict(ref)
        if ref.get("controller") or not owner_kind:
            owner_kind, owner_name = str(ref.get("kind") or ""), str(ref.get("name") or "")
    annotations = str_map(m.get("annotations"))
    template = as_dict(as_dict(as_dict(obj).get("spec")).get("template"))
    image, version = template_version(template)
    labels = str_map(m.get("labels"))
    return ReplicaSetFacts(
        namespace=str(m.get("namespace") or ""),
        name=str(m.get("name") or ""),
        owner_kind=owner_kind,
        owner_name=owner_name,
        revision=annotations.get(REVISION_ANNOTATION) or annotations.get(ARGO_REVISION_ANNOTATION, ""),
        image=image,
        version=version,
        replicas=as_int(as_dict(as_dict(obj).get("spec")).get("replicas")),
        ready=as_int(as_dict(as_dict(obj).get("status")).get("readyReplicas")),
        created=parse_time(m.get("creationTimestamp")),
        pod_hash=labels.get(ROLLOUTS_POD_TEMPLATE_HASH) or labels.get(POD_TEMPLATE_HASH, ""),
        change_cause=annotations.get(CHANGE_CAUSE_ANNOTATION, ""),
        env=_env_digest(template.get("spec")),
    )


@dataclass(slots=True)
class NodeFacts:
    name: str
    capacity: dict[str, int]
    allocatable: dict[str, int]
    ready: bool
    schedulable: bool
    labels: dict[str, str]
    taints: tuple[Taint, ...] = ()


def _taints(spec: Any) -> tuple[Taint, ...]:
    return tuple(
        Taint(str(t.get("key") or ""), str(t.get("value") or ""), str(t.get("effect") or "NoSchedule"))
        for t in as_list(as_dict(spec).get("taints"))
        if isinstance(t, dict)
    )


def node_facts(obj: Any) -> NodeFacts:
    m = meta(obj)
    status = as_dict(as_dict(obj).get("status"))
    ready = _condition(status, "Ready")
    return NodeFacts(
        name=str(m.get("name") or ""),
        capacity=gpu_resources(status.get("capacity")),
        allocatable=gpu_resources(status.get("allocatable")),
        ready=bool(ready and ready.get("status") == "True"),
        schedulable=not as_dict(as_dict(obj).get("spec")).get("unschedulable"),
        labels=str_map(m.get("labels")),
        taints=_taints(as_dict(obj).get("spec")),
    )


@dataclass(slots=True)
class EventFacts:
    namespace: str
    kind: str
    name: str
    reason: str
    message: str
    time: datetime | None
    type: str = "Warning"
    action_id: str = ""
    """The plan id an `MlopsTuiAction` Event carries (its `mlops-tui.io/action-id` annotation)."""
    uid: str = ""


def event_facts(obj: Any) -> EventFacts:
    obj = as_dict(obj)
    involved = as_dict(obj.get("involvedObject")) or as_dict(obj.get("regarding"))
    return EventFacts(
        namespace=str(involved.get("namespace") or meta(obj).get("namespace") or ""),
        kind=str(involved.get("kind") or ""),
        name=str(involved.get("name") or ""),
        reason=str(obj.get("reason") or ""),
        message=str(obj.get("message") or obj.get("note") or ""),
        time=parse_time(obj.get("lastTimestamp") or obj.get("eventTime") or meta(obj).get("creationTimestamp")),
        type=str(obj.get("type") or "Warning"),
        action_id=str(as_dict(meta(obj).get("annotations")).get("mlops-tui.io/action-id") or ""),
        uid=str(meta(obj).get("uid") or ""),
    )


# ---------------------------------------------------------------------------------------------
# GPUs


def gpu_node(
    cluster: str,
    node: NodeFacts,
    pods: Iterable[PodFacts],
    service_of: Any = None,
) -> GpuNode | None:
    """The node's GPU picture, one `GpuResource` per extended resource (never summed across kinds),
    or None when it has no GPU resources at all.

    `service_of(pod) -> ServiceKey | None` names the service a pod belongs to.
    """
    if not node.capacity and not node.allocatable:
        return None
    allocated: dict[str, int] = {}
    holders = []
    for pod in pods:
        if not pod.gpus or not pod.counts_on_node:
            continue
        service = service_of(pod) if service_of else None
        for name, count in sorted(pod.gpus.items()):
            allocated[name] = allocated.get(name, 0) + count
            holders.append(GpuHolder(workload=f"{pod.namespace}/{pod.name}", gpus=count, service=service,
                                     resource=name))
    holders.sort(key=lambda h: (h.workload, h.resource))
    resources = tuple(
        GpuResource(name=name, capacity=node.capacity.get(name, 0), allocatable=node.allocatable.get(name, 0),
                    allocated=allocated.get(name, 0))
        for name in sorted(set(node.capacity) | set(node.allocatable) | set(allocated))
    )
    return GpuNode(
        cluster=cluster,
        node=node.name,
        resources=resources,
        holders=tuple(holders),
        ready=node.ready,
        schedulable=node.schedulable,
        labels=freeze_labels(node.labels),
        taints=node.taints,
    )


def pending_gpu(cluster: str, pod: PodFacts, service: ServiceKey | None = None) -> PendingGpuWorkload | None:
    """A pod the scheduler could not place and that asks for GPUs, with the scheduler's message."""
    if pod.phase != "Pending" or pod.node or not pod.gpus or not pod.unschedulable_message:
        return None
    return PendingGpuWorkload(
        cluster=cluster,
        namespace=pod.namespace,
        name=pod.name,
        requests=tuple(sorted(pod.gpus.items())),
        message=pod.unschedulable_message,
        service=service,
        since=pod.pending_since,
    )


def replica_needs(pod_spec: Any) -> ReplicaNeeds:
    """What one replica of a pod template asks of a node: GPU requests, tolerations, nodeSelector and
    required node affinity (`requiredDuringSchedulingIgnoredDuringExecution`)."""
    spec = as_dict(pod_spec)
    tolerations = tuple(
        Toleration(key=str(t.get("key") or ""), operator=str(t.get("operator") or "Equal"),
                   value=str(t.get("value") or ""), effect=str(t.get("effect") or ""))
        for t in as_list(spec.get("tolerations"))
        if isinstance(t, dict)
    )
    required = dig(spec, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution")
    terms = tuple(
        tuple(
            Requirement(str(e.get("key") or ""), str(e.get("operator") or ""),
                        tuple(str(v) for v in as_list(e.get("values"))))
            for e in as_list(as_dict(term).get("matchExpressions"))
            if isinstance(e, dict)
        )
        for term in as_list(required.get("nodeSelectorTerms"))
    )
    return ReplicaNeeds(
        requests=tuple(sorted(pod_gpu_requests(spec).items())),
        tolerations=tolerations,
        node_selector=tuple(sorted(str_map(spec.get("nodeSelector")).items())),
        affinity_terms=terms,
    )


def fit_node(node: NodeFacts, gpu: GpuNode | None) -> FitNode:
    """Any node (GPU or not) for the placement check: free units per GPU resource from its GpuNode."""
    return FitNode(
        name=node.name,
        free={r.name: r.free for r in gpu.resources} if gpu is not None else {},
        labels=dict(node.labels),
        taints=node.taints,
        ready=node.ready,
        schedulable=node.schedulable,
    )


# ---------------------------------------------------------------------------------------------
# Autoscaler


def hpa_target(hpa: Any) -> tuple[str, str, str]:
    """(namespace, kind, name) of what the HPA scales."""
    ref = as_dict(as_dict(as_dict(hpa).get("spec")).get("scaleTargetRef"))
    ns, _ = obj_key(hpa)
    return ns, str(ref.get("kind") or ""), str(ref.get("name") or "")


def _metric_text(metric: Any) -> str:
    metric = as_dict(metric)
    kind = metric.get("type")
    if kind in ("Resource", "ContainerResource"):
        body = as_dict(metric.get("resource") or metric.get("containerResource"))
        name = str(body.get("name") or "?")
        target = as_dict(body.get("target"))
        if "averageUtilization" in target:
            return f"{name} {target['averageUtilization']}%"
        if "targetAverageUtilization" in body:  # autoscaling/v2beta1 shape
            return f"{name} {body['targetAverageUtilization']}%"
        value = target.get("averageValue") or target.get("value")
        return f"{name} {value}" if value is not None else name
    if kind in ("Pods", "Object", "External"):
        body = as_dict(metric.get({"Pods": "pods", "Object": "object", "External": "external"}[kind]))
        name = str(as_dict(body.get("metric")).get("name") or body.get("metricName") or "?")
        target = as_dict(body.get("target"))
        value = target.get("averageValue") or target.get("value") or target.get("averageUtilization")
        return f"{name} {value}" if value is not None else name
    return str(kind or "")


def autoscaler(hpa: Any) -> Autoscaler:
    hpa = as_dict(hpa)
    spec = as_dict(hpa.get("spec"))
    status = as_dict(hpa.get("status"))
    metrics = [_metric_text(m) for m in as_list(spec.get("metrics"))]
    if not metrics and "targetCPUUtilizationPercentage" in spec:  # autoscaling/v1
        metrics = [f"cpu {spec['targetCPUUtilizationPercentage']}%"]
    active = _condition(status, "ScalingActive")
    return Autoscaler(
        name=obj_key(hpa)[1],
        min_replicas=as_int(spec.get("minReplicas"), 1),
        max_replicas=as_int(spec.get("maxReplicas")),
        current_replicas=as_int(status.get("currentReplicas")),
        desired_replicas=as_int(status.get("desiredReplicas")),
        target=", ".join(m for m in metrics if m),
        active=not (active is not None and active.get("status") == "False"),
    )


# ---------------------------------------------------------------------------------------------
# Canary: Argo, KServe, Istio


def argo_current_weight(rollout: Any) -> int | None:
    """The canary weight Argo is at, as `kubectl argo rollouts get` computes it."""
    rollout = as_dict(rollout)
    status = as_dict(rollout.get("status"))
    canary = as_dict(as_dict(as_dict(rollout.get("spec")).get("strategy")).get("canary"))
    weights = as_dict(as_dict(status.get("canary")).get("weights"))
    if weights.get("canary") and "weight" in as_dict(weights.get("canary")):
        return as_int(as_dict(weights["canary"]).get("weight"))
    if status.get("abort"):
        return 0
    steps = as_list(canary.get("steps"))
    if not steps:
        return None
    index = status.get("currentStepIndex")
    if index is None:
        return None
    index = as_int(index)
    if index >= len(steps):
        return 100
    for step in reversed(steps[: index + 1]):
        step = as_dict(step)
        if "setWeight" in step:
            return as_int(step.get("setWeight"))
    return 0


def argo_canary(rollout: Any, replicasets: Iterable[ReplicaSetFacts] = ()) -> Canary | None:
    rollout = as_dict(rollout)
    spec = as_dict(rollout.get("spec"))
    canary = as_dict(spec.get("strategy")).get("canary")
    if not isinstance(canary, dict):
        return None
    status = as_dict(rollout.get("status"))
    steps = as_list(canary.get("steps"))
    by_hash = {rs.pod_hash: rs for rs in replicasets if rs.pod_hash}
    stable = by_hash.get(str(status.get("stableRS") or ""))
    current = by_hash.get(str(status.get("currentPodHash") or ""))
    _, template_ver = template_version(spec.get("template"))
    paused = bool(spec.get("paused") or as_list(status.get("pauseConditions")) or status.get("controllerPause"))
    message = str(status.get("message") or "")
    return Canary(
        source="argo",
        stable_version=stable.version if stable else "",
        canary_version=current.version if current else template_ver,
        weight=argo_current_weight(rollout),
        step=as_int(status["currentStepIndex"]) if status.get("currentStepIndex") is not None else None,
        total_steps=len(steps) if steps else None,
        paused=paused,
        aborted=bool(status.get("abort")),
        message=message,
    )


def argo_blue_green(rollout: Any, replicasets: Iterable[ReplicaSetFacts] = ()) -> BlueGreen | None:
    rollout = as_dict(rollout)
    spec = as_dict(rollout.get("spec"))
    bg = as_dict(spec.get("strategy")).get("blueGreen")
    if not isinstance(bg, dict):
        return None
    status = as_dict(rollout.get("status"))
    bg_status = as_dict(status.get("blueGreen"))
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
    isvc = as_dict(isvc)
    predictor_spec = as_dict(as_dict(isvc.get("spec")).get("predictor"))
    predictor = as_dict(as_dict(as_dict(isvc.get("status")).get("components")).get("predictor"))
    percent = predictor_spec.get("canaryTrafficPercent")
    latest = str(predictor.get("latestReadyRevision") or predictor.get("latestCreatedRevision") or "")
    previous = str(predictor.get("previousRolledoutRevision") or "")
    traffic = [t for t in as_list(predictor.get("traffic")) if isinstance(t, dict)]
    weight = None
    for entry in traffic:
        if entry.get("latestRevision") is True or entry.get("tag") == "latest" or (
            latest and entry.get("revisionName") == latest
        ):
            weight = as_int(entry.get("percent"))
            break
    if weight is None and percent is not None:
        weight = as_int(percent)
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
    for h, http in enumerate(as_list(as_dict(as_dict(vs).get("spec")).get("http"))):
        routes = [as_dict(r) for r in as_list(as_dict(http).get("route"))]
        if len(routes) < 2:
            continue
        labels = []
        for route in routes:
            dest = as_dict(route.get("destination"))
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
                stable_weight=as_int(routes[stable].get("weight"), 0),
                canary_weight=as_int(routes[canary].get("weight"), 0),
            )
        )
    return splits


def istio_canary(split: IstioSplit, stable_version: str = "", canary_version: str = "",
                 stable_service: str = "", canary_service: str = "") -> Canary:
    """`stable_service`/`canary_service`: the Deployments behind each destination, when one each."""
    total = split.stable_weight + split.canary_weight
    weight = round(100 * split.canary_weight / total) if total else 0
    return Canary(
        source="istio",
        stable_version=stable_version or split.stable_host,
        canary_version=canary_version or split.canary_host,
        weight=weight,
        message=f"VirtualService {split.virtual_service}: {split.stable_host} {split.stable_weight} / "
        f"{split.canary_host} {split.canary_weight}",
        stable_service=stable_service,
        canary_service=canary_service,
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
    template = as_dict(as_dict(as_dict(deployment).get("spec")).get("template"))
    return str_map(as_dict(template.get("metadata")).get("labels"))


def weighted_destinations(vs: Any) -> set[str]:
    """Short host names of every destination of a weighted route (an http route with two or more
    destinations) of a VirtualService: the Services a canary split sends traffic to."""
    hosts: set[str] = set()
    for http in as_list(as_dict(as_dict(vs).get("spec")).get("http")):
        routes = [as_dict(r) for r in as_list(as_dict(http).get("route"))]
        if len(routes) >= 2:
            hosts.update(_short_host(str(as_dict(r.get("destination")).get("host") or "")) for r in routes)
    return hosts - {""}


def argo_managed_services(rollout: Any) -> set[str]:
    """Services an Argo Rollout switches itself: blueGreen active/preview, canary stable/canary."""
    strategy = as_dict(as_dict(as_dict(rollout).get("spec")).get("strategy"))
    blue_green, canary = as_dict(strategy.get("blueGreen")), as_dict(strategy.get("canary"))
    names = (blue_green.get("activeService"), blue_green.get("previewService"),
             canary.get("stableService"), canary.get("canaryService"))
    return {str(n) for n in names if n}


def selector_switches(
    services: Iterable[Any],
    deployments: Iterable[Any],
    *,
    weighted_destinations: Iterable[str] = (),
    argo_services: Iterable[str] = (),
) -> list[SelectorSwitch]:
    """Services (of one namespace) that act as blue-green routers over the Deployments given.

    The rules, in order; the first that applies decides:
    1. A Service an Argo Rollout names (`blueGreen.activeService/previewService`, or a canary's
       `stableService/canaryService`) is switched by Argo, not by us: Argo's blue-green is read from the
       Rollout itself (`argo_blue_green`), and such a Service is never a selector switch.
    2. A Service that is a destination of a weighted route (an Istio VirtualService http route with two
       or more destinations, `weighted_destinations`) is one side of a canary: pointing it at the other
       version's pods would silently send the canary's share to stable. Never a blue-green switch.
    3. Otherwise, a Service whose selector has a colour key (`version`, `color`, `colour`, `slot`) and
       whose other selector keys match the pod templates of Deployments of two or more colours is a
       selector switch (the seed's `ml-model-service`: `version: v2.0` over `ml-model-v2-0` / `-v2-1`);
       switching patches that one key.
    """
    excluded = set(weighted_destinations) | set(argo_services)
    services = [svc for svc in services if obj_key(svc)[1] not in excluded]
    deployments = list(deployments)
    out = []
    for svc in services:
        selector = str_map(as_dict(as_dict(svc).get("spec")).get("selector"))
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
                status = as_dict(as_dict(dep).get("status"))
                tally = colours.setdefault(colour, [0, 0])
                tally[0] += as_int(status.get("readyReplicas"))
                tally[1] += as_int(as_dict(as_dict(dep).get("spec")).get("replicas"), 1)
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
    deployment = as_dict(deployment)
    spec = as_dict(deployment.get("spec"))
    status = as_dict(deployment.get("status"))
    progressing = _condition(status, "Progressing")
    message = str(as_dict(progressing).get("message") or "")
    if spec.get("paused"):
        return "paused", message
    if progressing is not None and progressing.get("reason") == "ProgressDeadlineExceeded":
        return "degraded", message
    desired = as_int(spec.get("replicas"), 1)
    observed = as_int(status.get("observedGeneration"))
    generation = as_int(meta(deployment).get("generation"))
    updated = as_int(status.get("updatedReplicas"))
    total = as_int(status.get("replicas"))
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
    deployment = as_dict(deployment)
    ns, name = obj_key(deployment)
    spec = as_dict(deployment.get("spec"))
    status = as_dict(deployment.get("status"))
    image, version = template_version(spec.get("template"))
    desired = as_int(spec.get("replicas"), 1)
    state, message = deployment_rollout_state(deployment)
    gpus = pod_gpu_requests(as_dict(spec.get("template")).get("spec"))
    actions = {ActionKind.SCALE, ActionKind.ROLLBACK, ActionKind.UPDATE_IMAGE, ActionKind.RESTART}
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
        ready=as_int(status.get("readyReplicas")),
        updated=as_int(status.get("updatedReplicas")),
        unavailable=as_int(status.get("unavailableReplicas")),
        canary=canary,
        blue_green=blue_green,
        autoscaler=autoscaler(hpa) if hpa is not None else None,
        gpus_per_replica=sum(gpus.values()),
        gpu_requests=tuple(sorted(gpus.items())),
        conditions=_status_conditions(status) + warning_conditions(warnings),
        labels=freeze_labels(str_map(meta(deployment).get("labels"))),
        revision=str_map(meta(deployment).get("annotations")).get(REVISION_ANNOTATION, ""),
        rollout_state=state,
        rollout_message=message,
        actions=frozenset(actions),
        denied=denied & frozenset(actions),
        production=production,
        slo_seconds=declared_slo(deployment),
    )


def _rollout_running_version(rollout: Any, replicasets: Iterable[ReplicaSetFacts]) -> tuple[str, str]:
    """(image, version) the Rollout's pods run. After an abort the controller scales the canary
    away and the stable ReplicaSet serves alone, so the row shows the stable version, not the
    template of the canary that was given up."""
    spec = as_dict(as_dict(rollout).get("spec"))
    status = as_dict(as_dict(rollout).get("status"))
    if status.get("abort"):
        stable_hash = str(status.get("stableRS") or "")
        stable = next((rs for rs in replicasets if stable_hash and rs.pod_hash == stable_hash), None)
        if stable is not None:
            return stable.image, stable.version
    return template_version(spec.get("template"))


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
    rollout = as_dict(rollout)
    ns, name = obj_key(rollout)
    spec = as_dict(rollout.get("spec"))
    status = as_dict(rollout.get("status"))
    replicasets = list(replicasets)
    image, version = _rollout_running_version(rollout, replicasets)
    canary = argo_canary(rollout, replicasets)
    blue_green = argo_blue_green(rollout, replicasets)
    desired = as_int(spec.get("replicas"), 1)
    actions = {ActionKind.SCALE, ActionKind.ROLLBACK, ActionKind.ABORT, ActionKind.RETRY}
    actions |= {ActionKind.PROMOTE, ActionKind.PROMOTE_FULL, ActionKind.UPDATE_IMAGE, ActionKind.RESTART}
    if blue_green is not None:
        actions.add(ActionKind.BLUE_GREEN_SWITCH)
    if hpa is not None:
        actions.add(ActionKind.SET_AUTOSCALER_BOUNDS)
    phase = str(status.get("phase") or "").lower()
    if status.get("abort"):
        phase = "degraded" if phase != "degraded" else phase
    state = {"healthy": "completed"}.get(phase, phase)
    gpus = pod_gpu_requests(as_dict(spec.get("template")).get("spec"))
    return ModelService(
        key=ServiceKey(cluster, ns, ServiceKind.ROLLOUT, name),
        platform=Platform.K8S,
        image=image,
        version=version,
        desired=desired,
        ready=as_int(status.get("readyReplicas")),
        updated=as_int(status.get("updatedReplicas")),
        unavailable=max(as_int(status.get("replicas")) - as_int(status.get("availableReplicas")), 0),
        canary=canary,
        blue_green=blue_green,
        autoscaler=autoscaler(hpa) if hpa is not None else None,
        gpus_per_replica=sum(gpus.values()),
        gpu_requests=tuple(sorted(gpus.items())),
        conditions=_status_conditions(status) + warning_conditions(warnings),
        labels=freeze_labels(str_map(meta(rollout).get("labels"))),
        revision=str_map(meta(rollout).get("annotations")).get(ARGO_REVISION_ANNOTATION)
        or next((rs.revision for rs in replicasets if rs.pod_hash and rs.pod_hash == status.get("currentPodHash")), ""),
        rollout_state=state,
        rollout_message=str(status.get("message") or ""),
        actions=frozenset(actions),
        denied=denied & frozenset(actions),
        production=production,
        slo_seconds=declared_slo(rollout),
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
    isvc = as_dict(isvc)
    ns, name = obj_key(isvc)
    spec = as_dict(isvc.get("spec"))
    predictor = as_dict(spec.get("predictor"))
    status = as_dict(isvc.get("status"))
    model = next(
        (as_dict(v) for k, v in predictor.items() if isinstance(v, dict) and ("storageUri" in v or "image" in v)), {}
    )
    model_format = str(as_dict(model.get("modelFormat")).get("name") or "")
    storage = str(model.get("storageUri") or "")
    containers = [as_dict(c) for c in as_list(predictor.get("containers"))]
    main = next((c for c in containers if c.get("name") == "kserve-container"), containers[0] if containers else {})
    named_image = str(main.get("image") or model.get("image") or "")
    image = named_image or storage
    live = [p for p in pods if p.phase in ("Running", "Pending") and not p.terminating]
    min_replicas = predictor.get("minReplicas")
    desired = as_int(min_replicas, 1) if min_replicas is not None else max(len(live), 1)
    desired = max(desired, len(live))
    ready_cond = _condition(status, "Ready")
    component = as_dict(as_dict(status.get("components")).get("predictor"))
    canary = kserve_canary(isvc)
    actions = {ActionKind.CANARY_WEIGHT, ActionKind.ROLLBACK}
    if named_image:  # otherwise the serving runtime's image runs: nothing on the object to update
        actions.add(ActionKind.UPDATE_IMAGE)
    ready = sum(1 for p in live if p.ready)
    if not live and ready_cond is not None and ready_cond.get("status") == "True":
        ready = desired
    return ModelService(
        key=ServiceKey(cluster, ns, ServiceKind.INFERENCE_SERVICE, name),
        platform=Platform.K8S,
        image=image,
        version=storage.rstrip("/").rsplit("/", 1)[-1] if storage else image_tag(named_image) or model_format,
        desired=desired,
        ready=ready,
        updated=ready,
        unavailable=max(desired - ready, 0),
        canary=canary,
        gpus_per_replica=sum(gpu_resources(as_dict(model.get("resources")).get("limits")).values())
        or sum(gpu_resources(as_dict(model.get("resources")).get("requests")).values()),
        conditions=_status_conditions(status) + warning_conditions(warnings),
        labels=freeze_labels(str_map(meta(isvc).get("labels"))),
        revision=str(component.get("latestReadyRevision") or component.get("latestCreatedRevision") or ""),
        rollout_state="progressing" if canary and (canary.weight or 0) not in (0, 100) else "",
        rollout_message=str(as_dict(ready_cond).get("message") or ""),
        actions=frozenset(actions),
        denied=denied & frozenset(actions),
        production=production,
        slo_seconds=declared_slo(isvc),
    )


def namespace_is_production(namespace_obj: Any) -> bool:
    labels = str_map(meta(namespace_obj).get("labels"))
    return labels.get(PRODUCTION_LABEL[0]) == PRODUCTION_LABEL[1]


def revisions(current_revision: str, replicasets: Iterable[ReplicaSetFacts]) -> tuple[Revision, ...]:
    """Revisions of a Deployment or Rollout, newest first, from its ReplicaSets. Two revisions of
    the same image say what else differs (env names, or 'other template fields')."""
    sets = sorted((rs for rs in replicasets if rs.revision), key=lambda rs: as_int(rs.revision), reverse=True)
    out = []
    for i, rs in enumerate(sets):
        twin = next((o for o in sets[i + 1:] + sets[:i] if o.image == rs.image), None)
        out.append(Revision(
            revision=rs.revision,
            image=rs.image,
            version=rs.version,
            created=rs.created,
            current=rs.revision == current_revision,
            held_by=rs.name,
            change_cause=rs.change_cause,
            differs=_difference(rs, twin) if twin is not None else "",
        ))
    return tuple(out)


def _difference(rs: ReplicaSetFacts, other: ReplicaSetFacts) -> str:
    mine, theirs = dict(rs.env), dict(other.env)
    changed = sorted(k.split(".", 1)[1] for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k))
    if changed:
        return f"env {', '.join(changed)} differs from revision {other.revision}"
    return f"other template fields differ from revision {other.revision}"

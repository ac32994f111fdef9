"""What kube-apiserver's pod strategy decides on its own: the status a created pod starts with, its QoS
class, and whether (and for how long) a DELETE is graceful."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from mlops_tui.sim.kube.objects import quantity

Obj = dict[str, Any]
DEFAULT_GRACE = 30
_QOS_RESOURCES = ("cpu", "memory")


def qos_class(spec: Any) -> str:
    """Guaranteed / Burstable / BestEffort by the kubelet's rule (`GetPodQOS`): only cpu and memory count;
    Guaranteed needs both limits on every container and requests equal to them (requests were already
    defaulted from limits)."""
    spec = spec if isinstance(spec, dict) else {}
    requests: dict[str, float] = {}
    limits: dict[str, float] = {}
    guaranteed = True
    for c in [*(spec.get("initContainers") or ()), *(spec.get("containers") or ())]:
        res = (c.get("resources") or {}) if isinstance(c, dict) else {}
        for name, value in (res.get("requests") or {}).items():
            if name in _QOS_RESOURCES and quantity(value) > 0:
                requests[name] = requests.get(name, 0.0) + quantity(value)
        found = set()
        for name, value in (res.get("limits") or {}).items():
            if name in _QOS_RESOURCES and quantity(value) > 0:
                found.add(name)
                limits[name] = limits.get(name, 0.0) + quantity(value)
        if found != set(_QOS_RESOURCES):
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and len(requests) == len(limits) and all(abs(limits.get(k, -1) - v) < 1e-9
                                                           for k, v in requests.items()):
        return "Guaranteed"
    return "Burstable"


def initial_status(spec: Any) -> Obj:
    """The status the API server gives every pod it creates, whatever the client sent."""
    return {"phase": "Pending", "qosClass": qos_class(spec)}


def grace_seconds(pod: Obj, options: Obj) -> int:
    """How long a DELETE lets the pod terminate: 0 means gone at once.

    An explicit `gracePeriodSeconds` wins (0 or negative: at once), then the pod's
    `terminationGracePeriodSeconds`; a pod never bound to a node, or already finished, goes at once."""
    spec = pod.get("spec") or {}
    phase = (pod.get("status") or {}).get("phase")
    if not spec.get("nodeName") or phase in ("Succeeded", "Failed"):
        return 0
    sent = options.get("gracePeriodSeconds")
    grace = sent if isinstance(sent, int) and not isinstance(sent, bool) else spec.get("terminationGracePeriodSeconds")
    if not isinstance(grace, int) or isinstance(grace, bool):
        grace = DEFAULT_GRACE
    return max(0, grace)


def begin_termination(pod: Obj, grace: int, now: datetime | None = None) -> Obj | None:
    """The pod as the server stores it once a graceful DELETE arrived, or None when nothing changes.

    A second DELETE may only shorten the grace (as the real server: a longer one is ignored)."""
    meta = pod["metadata"]
    current = meta.get("deletionGracePeriodSeconds")
    if meta.get("deletionTimestamp") and isinstance(current, int) and grace >= current:
        return None
    now = now or datetime.now(timezone.utc)
    new = dict(pod)
    new["metadata"] = {**meta, "deletionTimestamp": (now + timedelta(seconds=grace)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                       "deletionGracePeriodSeconds": grace}
    return new


def terminating(pod: Obj) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))

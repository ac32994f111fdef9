"""Builders for the objects fleets are made of, and the helpers controllers share (hashes, quantities)."""

from __future__ import annotations

import hashlib
import math
from typing import Any

import orjson

Obj = dict[str, Any]
_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def safe_encode(data: bytes, length: int = 10) -> str:
    """A short name suffix from `data`, in the alphabet Kubernetes uses for pod-template-hash."""
    digest = hashlib.sha256(data).digest()
    return "".join(_SAFE[b % len(_SAFE)] for b in digest[:length])


def strip_nulls(value: Any) -> Any:
    """Drop null map values recursively (`creationTimestamp: null` in templates compares as absent)."""
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_nulls(v) for v in value]
    return value


def template_hash(template: Any, label: str = "pod-template-hash") -> str:
    t = strip_nulls(orjson.loads(orjson.dumps(template or {})))
    labels = (t.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(label, None)
    return safe_encode(orjson.dumps(t, option=orjson.OPT_SORT_KEYS))


_SUFFIX = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
           "m": 1e-3}


def quantity(value: Any) -> float:
    """A Kubernetes quantity as a float (cpu in cores, memory in bytes); garbage counts as 0."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = str(value or "").strip()
    for suffix in ("Ki", "Mi", "Gi", "Ti", "k", "K", "M", "G", "T", "m"):
        if text.endswith(suffix):
            try:
                return float(text[: -len(suffix)]) * _SUFFIX[suffix]
            except ValueError:
                return 0.0
    try:
        return float(text)
    except ValueError:
        return 0.0


def pod_requests(spec: Obj) -> dict[str, float]:
    """What the scheduler counts: per resource, sum over containers, max with each init container.

    Extended resources (nvidia.com/*) given only as limits count as requests, as on a real cluster."""
    total: dict[str, float] = {}
    for c in spec.get("containers") or ():
        res = (c.get("resources") or {}) if isinstance(c, dict) else {}
        merged = {**{k: v for k, v in (res.get("limits") or {}).items() if "/" in k}, **(res.get("requests") or {})}
        for k, v in merged.items():
            total[k] = total.get(k, 0.0) + quantity(v)
    for c in spec.get("initContainers") or ():
        res = (c.get("resources") or {}) if isinstance(c, dict) else {}
        for k, v in {**(res.get("limits") or {}), **(res.get("requests") or {})}.items():
            total[k] = max(total.get(k, 0.0), quantity(v))
    return total


def resolve_int_or_percent(value: Any, total: int, round_up: bool, default: str = "25%") -> int:
    value = default if value is None else value
    if isinstance(value, str) and value.endswith("%"):
        try:
            pct = float(value[:-1])
        except ValueError:
            pct = 25.0
        raw = total * pct / 100.0
        return int(math.ceil(raw) if round_up else math.floor(raw))
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def owner_ref(obj: Obj, controller: bool = True) -> Obj:
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"], "controller": controller, "blockOwnerDeletion": True}


def controller_uid(obj: Obj) -> str | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if ref.get("controller"):
            return ref.get("uid")
    return None


# -- builders ------------------------------------------------------------------------------------

def namespace(name: str, labels: dict[str, str] | None = None) -> Obj:
    return {"metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name, **(labels or {})}},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}


def node(name: str, index: int, cpu: int = 32, memory_gi: int = 256, gpus: int = 0, gpu_product: str = "",
         mig: dict[str, int] | None = None) -> Obj:
    capacity = {"cpu": str(cpu), "memory": f"{memory_gi}Gi", "pods": "110", "ephemeral-storage": "500Gi"}
    labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
              "node.kubernetes.io/instance-type": "gpu" if gpus else "cpu"}
    if gpus:
        capacity["nvidia.com/gpu"] = str(gpus)
        labels["nvidia.com/gpu.present"] = "true"
        labels["nvidia.com/gpu.product"] = gpu_product or "NVIDIA-A100-SXM4-80GB"
        labels["nvidia.com/gpu.count"] = str(gpus)
    for res, count in (mig or {}).items():
        capacity[res] = str(count)
        labels["nvidia.com/mig.strategy"] = "mixed"
    return {"metadata": {"name": name, "labels": labels},
            "spec": {"podCIDR": f"10.244.{index}.0/24"},
            "status": {"capacity": capacity, "allocatable": dict(capacity),
                       "conditions": node_conditions(True, "2026-01-01T00:00:00Z"),
                       "addresses": [{"type": "InternalIP", "address": f"10.0.{index // 250}.{index % 250 + 1}"},
                                     {"type": "Hostname", "address": name}],
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                       "nodeInfo": node_info(name)}}


def node_info(name: str) -> Obj:
    """Every field NodeSystemInfo requires (typed clients refuse a node without one), stable per name:
    machineID as /etc/machine-id (32 hex), systemUUID and bootID as UUIDs."""
    digest = hashlib.sha256(name.encode()).hexdigest()
    boot = hashlib.sha256(f"boot:{name}".encode()).hexdigest()

    def as_uuid(h: str) -> str:
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"

    return {"machineID": digest[:32], "systemUUID": as_uuid(digest[32:64]).upper(), "bootID": as_uuid(boot),
            "kubeletVersion": "v1.32.0", "kubeProxyVersion": "v1.32.0", "osImage": "Ubuntu 22.04.4 LTS",
            "kernelVersion": "5.15.0-105-generic", "containerRuntimeVersion": "containerd://1.7.13",
            "operatingSystem": "linux", "architecture": "amd64"}


def node_conditions(ready: bool, when: str) -> list[Obj]:
    base = [{"type": t, "status": "False", "reason": r, "message": m, "lastHeartbeatTime": when,
             "lastTransitionTime": when}
            for t, r, m in (("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                            ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                            ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"))]
    if ready:
        base.append({"type": "Ready", "status": "True", "reason": "KubeletReady",
                     "message": "kubelet is posting ready status", "lastHeartbeatTime": when,
                     "lastTransitionTime": when})
    else:
        for c in base:
            c.update(status="Unknown", reason="NodeStatusUnknown", message="Kubelet stopped posting node status.")
        base.append({"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown",
                     "message": "Kubelet stopped posting node status.", "lastHeartbeatTime": when,
                     "lastTransitionTime": when})
    return base


def container(name: str, image: str, requests: dict[str, Any] | None = None, limits: dict[str, Any] | None = None,
              env: dict[str, str] | None = None, port: int | None = 8080) -> Obj:
    c: Obj = {"name": name, "image": image, "imagePullPolicy": "IfNotPresent",
              "resources": {}, "terminationMessagePath": "/dev/termination-log",
              "terminationMessagePolicy": "File"}
    if requests:
        c["resources"]["requests"] = dict(requests)
    if limits:
        c["resources"]["limits"] = dict(limits)
    if env:
        c["env"] = [{"name": k, "value": v} for k, v in env.items()]
    if port:
        c["ports"] = [{"containerPort": port, "protocol": "TCP", "name": "http"}]
    return c


def pod_template(labels: dict[str, str], containers: list[Obj]) -> Obj:
    return {"metadata": {"labels": dict(labels)},
            "spec": {"containers": containers, "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
                     "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler"}}


def deployment(name: str, ns: str, labels: dict[str, str], selector: dict[str, str], replicas: int,
               containers: list[Obj], annotations: dict[str, str] | None = None) -> Obj:
    meta: Obj = {"name": name, "namespace": ns, "labels": dict(labels)}
    if annotations:
        meta["annotations"] = dict(annotations)
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
            "spec": {"replicas": replicas, "selector": {"matchLabels": dict(selector)},
                     "template": pod_template(labels, containers), "revisionHistoryLimit": 10,
                     "progressDeadlineSeconds": 600,
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%",
                                                                             "maxUnavailable": "25%"}}}}


def service(name: str, ns: str, selector: dict[str, str], port: int = 80, target: int = 8080,
            cluster_ip: str = "", labels: dict[str, str] | None = None) -> Obj:
    return {"metadata": {"name": name, "namespace": ns, "labels": dict(labels or {})},
            "spec": {"type": "ClusterIP", "selector": dict(selector), "clusterIP": cluster_ip,
                     "clusterIPs": [cluster_ip], "sessionAffinity": "None",
                     "ports": [{"name": "http", "port": port, "targetPort": target, "protocol": "TCP"}]},
            "status": {"loadBalancer": {}}}

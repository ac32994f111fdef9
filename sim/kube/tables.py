"""Server-side printing (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`): kubectl's usual columns."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

Obj = dict[str, Any]
Column = tuple[str, str, int, Callable[[Obj], Any]]  # (name, type, priority, cell)


def human_duration(seconds: float) -> str:
    """apimachinery `duration.HumanDuration`."""
    s = int(seconds)
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m" if s % 60 == 0 else f"{m}m{s % 60}s"
    if m < 180:
        return f"{m}m"
    h = s // 3600
    if h < 8:
        return f"{h}h" if m % 60 == 0 else f"{h}h{m % 60}m"
    if h < 48:
        return f"{h}h"
    if h < 24 * 8:
        return f"{h // 24}d" if h % 24 == 0 else f"{h // 24}d{h % 24}h"
    if h < 24 * 365 * 2:
        return f"{h // 24}d"
    if h < 24 * 365 * 8:
        d = (h // 24) % 365
        return f"{h // 24 // 365}y" if d == 0 else f"{h // 24 // 365}y{d}d"
    return f"{h // 24 // 365}y"


def _ts(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=None).timestamp() - time.timezone
    except ValueError:
        return None


def age(value: str | None) -> str:
    t = _ts(value)
    return "<unknown>" if t is None else human_duration(time.time() - t)


def _meta(o: Obj) -> Obj:
    return o.get("metadata") or {}


def _spec(o: Obj) -> Obj:
    return o.get("spec") or {}


def _status(o: Obj) -> Obj:
    return o.get("status") or {}


def _name(o: Obj) -> str:
    return _meta(o).get("name", "")


def _age(o: Obj) -> str:
    return age(_meta(o).get("creationTimestamp"))


def _int(v: Any) -> int:
    try:
        return int(v or 0)
    except (TypeError, ValueError):
        return 0


def _pod_status(o: Obj) -> str:
    st = _status(o)
    if _meta(o).get("deletionTimestamp"):
        return "Terminating"
    reason = st.get("reason") or st.get("phase") or "Unknown"
    for cs in st.get("containerStatuses") or ():
        state = cs.get("state") or {}
        waiting, terminated = state.get("waiting"), state.get("terminated")
        if waiting and waiting.get("reason"):
            reason = waiting["reason"]
        elif terminated and terminated.get("reason"):
            reason = terminated["reason"]  # a Job's pod that finished shows Completed
    return reason


def _pod_ready(o: Obj) -> str:
    total = len(_spec(o).get("containers") or ())
    ready = sum(1 for cs in _status(o).get("containerStatuses") or () if cs.get("ready"))
    return f"{ready}/{total}"


def _restarts(o: Obj) -> int:
    return sum(_int(cs.get("restartCount")) for cs in _status(o).get("containerStatuses") or ())


def _template_containers(o: Obj) -> list[Obj]:
    return list(((_spec(o).get("template") or {}).get("spec") or {}).get("containers") or ())


def _containers(o: Obj) -> str:
    return ",".join(c.get("name", "") for c in _template_containers(o))


def _images(o: Obj) -> str:
    return ",".join(c.get("image", "") for c in _template_containers(o))


def _selector(o: Obj) -> str:
    from mlops_tui.sim.kube.selectors import selector_string

    return selector_string(_spec(o).get("selector")) or "<none>"


def _node_status(o: Obj) -> str:
    ready = next((c for c in _status(o).get("conditions") or () if c.get("type") == "Ready"), None)
    out = "Ready" if ready and ready.get("status") == "True" else ("NotReady" if ready else "Unknown")
    if _spec(o).get("unschedulable"):
        out += ",SchedulingDisabled"
    return out


def _roles(o: Obj) -> str:
    roles = sorted(k.split("/", 1)[1] for k in (_meta(o).get("labels") or {})
                   if k.startswith("node-role.kubernetes.io/"))
    return ",".join(roles) or "<none>"


def _svc_ports(o: Obj) -> str:
    parts = []
    for p in _spec(o).get("ports") or ():
        s = str(p.get("port", ""))
        if p.get("nodePort"):
            s += f":{p['nodePort']}"
        parts.append(f"{s}/{p.get('protocol', 'TCP')}")
    return ",".join(parts) or "<none>"


def _endpoints(o: Obj) -> str:
    addrs = []
    for subset in o.get("subsets") or ():
        for a in subset.get("addresses") or ():
            for p in subset.get("ports") or [{}]:
                addrs.append(f"{a.get('ip')}:{p.get('port')}" if p.get("port") else a.get("ip", ""))
    if not addrs:
        return "<none>"
    shown = ",".join(addrs[:3])
    return shown + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "")


def _hpa_targets(o: Obj) -> str:
    current = {(_m_key(m)): m for m in _status(o).get("currentMetrics") or ()}
    parts = []
    for m in _spec(o).get("metrics") or ():
        key = _m_key(m)
        target = (m.get(m.get("type", "").lower() or "resource") or {}).get("target") or {}
        cur = (current.get(key) or {}).get(m.get("type", "").lower() or "resource", {}).get("current", {})
        if target.get("type") == "Utilization":
            val = cur.get("averageUtilization")
            parts.append(f"{key[1]}: {val if val is not None else '<unknown>'}%/{target.get('averageUtilization')}%"
                         if val is not None else f"{key[1]}: <unknown>/{target.get('averageUtilization')}%")
        else:
            want = target.get("averageValue") or target.get("value")
            got = cur.get("averageValue") or cur.get("value") or "<unknown>"
            parts.append(f"{got}/{want}")
    return ", ".join(parts) or "<none>"


def _m_key(m: Obj) -> tuple[str, str]:
    t = m.get("type", "")
    body = m.get(t.lower(), {}) if t else {}
    name = body.get("name") or (body.get("metric") or {}).get("name", "")
    return t, name


def _event_object(o: Obj) -> str:
    inv = o.get("involvedObject") or {}
    return f"{(inv.get('kind') or '').lower()}/{inv.get('name', '')}"


def _event_last_seen(o: Obj) -> str:
    return age(o.get("lastTimestamp") or o.get("eventTime") or _meta(o).get("creationTimestamp"))


def _job_status(o: Obj) -> str:
    """printJob's order: a finished condition first, then deletion, suspension, else Running."""
    true = {c.get("type") for c in _status(o).get("conditions") or () if c.get("status") == "True"}
    if "Complete" in true:
        return "Complete"
    if "Failed" in true:
        return "Failed"
    if _meta(o).get("deletionTimestamp"):
        return "Terminating"
    for kind in ("Suspended", "FailureTarget", "SuccessCriteriaMet"):
        if kind in true:
            return kind
    return "Running"


def _job_completions(o: Obj) -> str:
    done = _int(_status(o).get("succeeded"))
    completions = _spec(o).get("completions")
    if completions is not None:
        return f"{done}/{_int(completions)}"
    parallelism = _int(_spec(o).get("parallelism"))
    return f"{done}/1 of {parallelism}" if parallelism > 1 else f"{done}/1"


def _job_duration(o: Obj) -> str:
    start = _ts(_status(o).get("startTime"))
    if start is None:
        return ""
    end = _ts(_status(o).get("completionTime"))
    return human_duration((end if end is not None else time.time()) - start)


def _isvc_pct(o: Obj, latest: bool) -> Any:
    for t in ((_status(o).get("components") or {}).get("predictor") or {}).get("traffic") or ():
        if bool(t.get("latestRevision")) == latest:
            return t.get("percent")
    return None


def _isvc_ready(o: Obj) -> str:
    ready = next((c for c in _status(o).get("conditions") or () if c.get("type") == "Ready"), None)
    return ready.get("status", "Unknown") if ready else "Unknown"


def _pred(o: Obj, field: str) -> str:
    return ((_status(o).get("components") or {}).get("predictor") or {}).get(field, "")


COLUMNS: dict[str, list[Column]] = {
    "pods": [
        ("Name", "string", 0, _name), ("Ready", "string", 0, _pod_ready), ("Status", "string", 0, _pod_status),
        ("Restarts", "string", 0, lambda o: str(_restarts(o))), ("Age", "string", 0, _age),
        ("IP", "string", 1, lambda o: _status(o).get("podIP") or "<none>"),
        ("Node", "string", 1, lambda o: _spec(o).get("nodeName") or "<none>"),
        ("Nominated Node", "string", 1, lambda o: _status(o).get("nominatedNodeName") or "<none>"),
        ("Readiness Gates", "string", 1, lambda o: "<none>"),
    ],
    "deployments": [
        ("Name", "string", 0, _name),
        ("Ready", "string", 0, lambda o: f"{_int(_status(o).get('readyReplicas'))}/{_int(_spec(o).get('replicas'))}"),
        ("Up-to-date", "integer", 0, lambda o: _int(_status(o).get("updatedReplicas"))),
        ("Available", "integer", 0, lambda o: _int(_status(o).get("availableReplicas"))),
        ("Age", "string", 0, _age), ("Containers", "string", 1, _containers), ("Images", "string", 1, _images),
        ("Selector", "string", 1, _selector),
    ],
    "replicasets": [
        ("Name", "string", 0, _name), ("Desired", "integer", 0, lambda o: _int(_spec(o).get("replicas"))),
        ("Current", "integer", 0, lambda o: _int(_status(o).get("replicas"))),
        ("Ready", "integer", 0, lambda o: _int(_status(o).get("readyReplicas"))), ("Age", "string", 0, _age),
        ("Containers", "string", 1, _containers), ("Images", "string", 1, _images),
        ("Selector", "string", 1, _selector),
    ],
    "nodes": [
        ("Name", "string", 0, _name), ("Status", "string", 0, _node_status), ("Roles", "string", 0, _roles),
        ("Age", "string", 0, _age),
        ("Version", "string", 0, lambda o: (_status(o).get("nodeInfo") or {}).get("kubeletVersion", "")),
        ("Internal-IP", "string", 1, lambda o: next((a.get("address") for a in _status(o).get("addresses") or ()
                                                     if a.get("type") == "InternalIP"), "<none>")),
        ("External-IP", "string", 1, lambda o: "<none>"),
        ("OS-Image", "string", 1, lambda o: (_status(o).get("nodeInfo") or {}).get("osImage", "")),
        ("Kernel-Version", "string", 1, lambda o: (_status(o).get("nodeInfo") or {}).get("kernelVersion", "")),
        ("Container-Runtime", "string", 1,
         lambda o: (_status(o).get("nodeInfo") or {}).get("containerRuntimeVersion", "")),
    ],
    "services": [
        ("Name", "string", 0, _name), ("Type", "string", 0, lambda o: _spec(o).get("type", "ClusterIP")),
        ("Cluster-IP", "string", 0, lambda o: _spec(o).get("clusterIP") or "<none>"),
        ("External-IP", "string", 0, lambda o: ",".join(_spec(o).get("externalIPs") or ()) or "<none>"),
        ("Port(s)", "string", 0, _svc_ports), ("Age", "string", 0, _age),
        ("Selector", "string", 1, lambda o: ",".join(f"{k}={v}" for k, v in sorted(
            (_spec(o).get("selector") or {}).items())) or "<none>"),
    ],
    "endpoints": [("Name", "string", 0, _name), ("Endpoints", "string", 0, _endpoints), ("Age", "string", 0, _age)],
    "namespaces": [("Name", "string", 0, _name), ("Status", "string", 0, lambda o: _status(o).get("phase", "Active")),
                   ("Age", "string", 0, _age)],
    "configmaps": [("Name", "string", 0, _name), ("Data", "integer", 0, lambda o: len(o.get("data") or {})),
                   ("Age", "string", 0, _age)],
    "serviceaccounts": [("Name", "string", 0, _name),
                        ("Secrets", "string", 0, lambda o: str(len(o.get("secrets") or ()))),
                        ("Age", "string", 0, _age)],
    "jobs": [
        ("Name", "string", 0, _name), ("Status", "string", 0, _job_status),
        ("Completions", "string", 0, _job_completions), ("Duration", "string", 0, _job_duration),
        ("Age", "string", 0, _age), ("Containers", "string", 1, _containers), ("Images", "string", 1, _images),
        ("Selector", "string", 1, _selector),
    ],
    "daemonsets": [
        ("Name", "string", 0, _name),
        ("Desired", "integer", 0, lambda o: _int(_status(o).get("desiredNumberScheduled"))),
        ("Current", "integer", 0, lambda o: _int(_status(o).get("currentNumberScheduled"))),
        ("Ready", "integer", 0, lambda o: _int(_status(o).get("numberReady"))),
        ("Up-to-date", "integer", 0, lambda o: _int(_status(o).get("updatedNumberScheduled"))),
        ("Available", "integer", 0, lambda o: _int(_status(o).get("numberAvailable"))),
        ("Node Selector", "string", 0, lambda o: ",".join(f"{k}={v}" for k, v in sorted(
            (((_spec(o).get("template") or {}).get("spec") or {}).get("nodeSelector") or {}).items())) or "<none>"),
        ("Age", "string", 0, _age), ("Containers", "string", 1, _containers), ("Images", "string", 1, _images),
        ("Selector", "string", 1, _selector),
    ],
    "events": [
        ("Last Seen", "string", 0, _event_last_seen), ("Type", "string", 0, lambda o: o.get("type", "")),
        ("Reason", "string", 0, lambda o: o.get("reason", "")), ("Object", "string", 0, _event_object),
        ("Message", "string", 0, lambda o: o.get("message", "")),
        ("Source", "string", 1, lambda o: (o.get("source") or {}).get("component", "")),
        ("Count", "integer", 1, lambda o: _int(o.get("count"))), ("Name", "string", 1, _name),
    ],
    "horizontalpodautoscalers": [
        ("Name", "string", 0, _name),
        ("Reference", "string", 0, lambda o: f"{(_spec(o).get('scaleTargetRef') or {}).get('kind', '')}/"
                                             f"{(_spec(o).get('scaleTargetRef') or {}).get('name', '')}"),
        ("Targets", "string", 0, _hpa_targets),
        ("MinPods", "string", 0, lambda o: str(_spec(o).get("minReplicas", 1))),
        ("MaxPods", "integer", 0, lambda o: _int(_spec(o).get("maxReplicas"))),
        ("Replicas", "integer", 0, lambda o: _int(_status(o).get("currentReplicas"))), ("Age", "string", 0, _age),
    ],
    "rollouts": [
        ("Name", "string", 0, _name), ("Desired", "integer", 0, lambda o: _int(_spec(o).get("replicas", 1))),
        ("Current", "integer", 0, lambda o: _int(_status(o).get("replicas"))),
        ("Up-to-date", "integer", 0, lambda o: _int(_status(o).get("updatedReplicas"))),
        ("Available", "integer", 0, lambda o: _int(_status(o).get("availableReplicas"))), ("Age", "date", 0, _age),
    ],
    "inferenceservices": [
        ("Name", "string", 0, _name), ("URL", "string", 0, lambda o: _status(o).get("url", "")),
        ("Ready", "string", 0, _isvc_ready), ("Prev", "integer", 0, lambda o: _isvc_pct(o, False)),
        ("Latest", "integer", 0, lambda o: _isvc_pct(o, True)),
        ("PrevRolledoutRevision", "string", 0, lambda o: _pred(o, "previousRolledoutRevision")),
        ("LatestReadyRevision", "string", 0, lambda o: _pred(o, "latestReadyRevision")), ("Age", "date", 0, _age),
    ],
    "virtualservices": [
        ("Name", "string", 0, _name), ("Gateways", "string", 0, lambda o: _spec(o).get("gateways") or None),
        ("Hosts", "string", 0, lambda o: _spec(o).get("hosts") or None), ("Age", "date", 0, _age),
    ],
}
DEFAULT: list[Column] = [("Name", "string", 0, _name),
                         ("Created At", "date", 0, lambda o: _meta(o).get("creationTimestamp", ""))]


def columns(resource: str) -> list[Column]:
    return COLUMNS.get(resource, DEFAULT)


def column_definitions(resource: str) -> list[Obj]:
    out = []
    for name, typ, priority, _fn in columns(resource):
        d: Obj = {"name": name, "type": typ, "format": "name" if name == "Name" else "", "description": name,
                  "priority": priority}
        out.append(d)
    return out


def row(resource: str, obj: Obj, include: str = "Metadata") -> Obj:
    r: Obj = {"cells": [fn(obj) for _n, _t, _p, fn in columns(resource)]}
    if include == "Object":
        r["object"] = obj
    elif include != "None":
        r["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": _meta(obj)}
    return r


def table(resource: str, objs: list[Obj], meta: Obj, include: str = "Metadata", headers: bool = True) -> Obj:
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
            "columnDefinitions": column_definitions(resource) if headers else [],
            "rows": [row(resource, o, include) for o in objs]}

"""`mlops-tui status`: connect like the app does, wait for the first full sync, print, exit.

Exit code 0 when every source was read, 1 when one could not be (error, stale, or no answer within
`--timeout`): runbooks and scripts can rely on it.
"""

from __future__ import annotations

import enum
import sys
import threading
import time
from dataclasses import fields, is_dataclass
from datetime import datetime, timezone
from typing import Any

import orjson

from mlops_tui.backends.model import (
    Alert,
    ClusterHealth,
    GpuNode,
    HealthState,
    LatencySeries,
    PendingGpuWorkload,
    ServiceKey,
    Severity,
)
from mlops_tui.backends.state import FleetState
from mlops_tui.backends.timeline import TimelineEntry
from mlops_tui.tui.config import Settings
from mlops_tui.tui.empty import NOTHING_CONFIGURED, how_to_start
from mlops_tui.tui.format import age, plain, requests_text, row_state


def to_jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [to_jsonable(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    return value


SCHEMA_VERSION = 1
"""`status --json`'s schema (docs/status.schema.json). Adding a field keeps the version; removing,
renaming or changing the meaning of one bumps it."""


def fleet_document(state: FleetState, problems: list[str], now: datetime) -> dict[str, Any]:
    """The fleet as plain data: what `status --json` prints (docs/status.schema.json describes it)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": now.astimezone(timezone.utc).isoformat(),
        "sources": [source_document(state.health[name], now) for name in sorted(state.health)],
        "services": [service_document(state, key) for key in sorted(state.services)],
        "gpu_nodes": [gpu_node_document(state.gpu_nodes[k]) for k in sorted(state.gpu_nodes)],
        "gpu_totals": gpu_totals(state),
        "pending_gpu": [pending_document(p) for p in state.pending_gpu],
        "alerts": [alert_document(a) for a in state.alerts],
        "problems": list(problems),
    }


def key_document(key: ServiceKey) -> dict[str, str]:
    return {"cluster": key.cluster, "namespace": key.namespace, "kind": key.kind.value, "name": key.name}


def source_document(health: ClusterHealth, now: datetime) -> dict[str, Any]:
    """One source, with how old its data is: seconds since its last good sync (null before the first)."""
    return {
        "name": health.source,
        "platform": health.platform.value if health.platform else None,
        "state": health.state.value,
        "endpoint": health.endpoint,
        "user": health.user,
        "readonly": health.readonly,
        "error": health.error,
        "since": _time(health.since),
        "last_sync": _time(health.last_sync),
        "data_age_seconds": round((now - health.last_sync).total_seconds(), 1) if health.last_sync else None,
        "unreadable_objects": health.unreadable,
    }


def service_document(state: FleetState, key: ServiceKey) -> dict[str, Any]:
    service = state.services[key]
    series = state.latency.get(key)
    return {
        **key_document(key),
        "platform": service.platform.value,
        "state": _row_word(state, key),
        "ready": service.ready,
        "desired": service.desired,
        "updated": service.updated,
        "image": service.image,
        "version": service.version,
        "revision": service.revision,
        "production": service.production,
        "labels": dict(service.labels),
        "canary": to_jsonable(service.canary),
        "blue_green": to_jsonable(service.blue_green),
        "autoscaler": to_jsonable(service.autoscaler),
        "gpu_requests": dict(service.gpu_requests),
        "rollout_state": service.rollout_state,
        "alerts": [{"name": a.name, "severity": severity_name(a.severity), "state": a.state.value}
                   for a in state.alerts if a.service == key],
        "latency": latency_document(series) if series is not None else None,
    }


def _row_word(state: FleetState, key: ServiceKey) -> str:
    """The state word the dashboard's row shows ('ok', 'degraded', 'stale', '1 critical', ...)."""
    firing = [a for a in state.alerts if a.service == key]
    return row_state(state.services[key], firing, state.health.get(key.cluster),
                     state.latency.get(key))[0].split(" ", 1)[1]


def latency_document(series: LatencySeries) -> dict[str, Any]:
    """The latest latency against its SLO, in milliseconds and requests per second (null: not measured)."""
    def ms(seconds: float | None) -> float | None:
        return round(seconds * 1000, 3) if seconds is not None else None

    return {
        "p50_ms": ms(series.current_p50),
        "p95_ms": ms(series.current_p95),
        "estimate": series.estimate,
        "requests_per_second": series.rps,
        "error_ratio": series.error_ratio,
        "slo_p95_ms": ms(series.slo_seconds),
        "slo_source": series.slo.source.value if series.slo is not None else None,
        "slo_origin": series.slo.origin if series.slo is not None else None,
        "slo_breached": series.breached,
    }


def gpu_node_document(node: GpuNode) -> dict[str, Any]:
    """A GPU node with one entry per resource (capacity, allocatable, allocated, free): resources are
    never added up, so 8 GPUs and 7 MIG slices are not 'total: 15'. `free` is what new work can get
    (0 on a NotReady or cordoned node)."""
    return {
        "cluster": node.cluster,
        "node": node.node,
        "ready": node.ready,
        "schedulable": node.schedulable,
        "resources": [{"name": r.name, "capacity": r.capacity, "allocatable": r.allocatable,
                       "allocated": r.allocated, "free": node.free_of(r.name)} for r in node.resources],
        "holders": [{"workload": h.workload, "resource": h.resource, "count": h.gpus,
                     "service": key_document(h.service) if h.service else None} for h in node.holders],
        "utilisation": node.utilisation,
        "labels": dict(node.labels),
    }


def gpu_totals(state: FleetState) -> list[dict[str, Any]]:
    """Per cluster and resource name (never summed across names): allocatable, allocated, free."""
    totals: dict[tuple[str, str], list[int]] = {}
    for node in state.gpu_nodes.values():
        for resource in node.resources:
            entry = totals.setdefault((node.cluster, resource.name), [0, 0, 0])
            entry[0] += resource.allocatable
            entry[1] += resource.allocated
            entry[2] += node.free_of(resource.name)
    return [{"cluster": cluster, "resource": name, "allocatable": a, "allocated": b, "free": c}
            for (cluster, name), (a, b, c) in sorted(totals.items())]


def pending_document(pending: PendingGpuWorkload) -> dict[str, Any]:
    return {"cluster": pending.cluster, "namespace": pending.namespace, "name": pending.name,
            "requests": dict(pending.requests), "message": pending.message,
            "service": key_document(pending.service) if pending.service else None, "since": _time(pending.since)}


def alert_document(alert: Alert) -> dict[str, Any]:
    return {
        "name": alert.name,
        "severity": severity_name(alert.severity),
        "state": alert.state.value,
        "source": alert.source,
        "summary": alert.summary,
        "description": alert.description,
        "since": _time(alert.since),
        "labels": dict(alert.labels),
        "service": key_document(alert.service) if alert.service else None,
        "silenced_by": list(alert.silenced_by),
    }


def severity_name(severity: Severity) -> str:
    return severity.name.lower()


def _time(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).isoformat() if value is not None else None


def wait_for_sync(fleet, timeout: float) -> FleetState:
    """Until every source has answered (connected or failed), or `timeout` seconds."""
    deadline = time.monotonic() + timeout
    names = set(fleet.backends)
    while True:
        fleet.flush()
        state = fleet.state
        settled = all(
            name in state.health and state.health[name].state is not HealthState.CONNECTING for name in names
        )
        if settled or time.monotonic() >= deadline:
            return state
        time.sleep(0.1)


def unreadable(state: FleetState, names) -> list[str]:
    problems = []
    for name in sorted(names):
        health = state.health.get(name)
        if health is None or health.state is HealthState.CONNECTING:
            problems.append(f"{name}: no answer in time")
        elif health.state in (HealthState.ERROR, HealthState.STALE):
            # Name the address: the operator checks it first, and the error alone rarely says it.
            where = f" ({health.endpoint})" if health.endpoint and health.endpoint not in health.error else ""
            problems.append(f"{name}: {health.state.value}: {health.error or 'unreachable'}{where}")
    return problems


def print_table(state: FleetState, out=sys.stdout) -> None:
    now = datetime.now(timezone.utc)

    def table(header: list[str], rows: list[list[str]]) -> None:
        widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
        print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip(), file=out)
        for row in rows:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), file=out)
        print(file=out)

    table(["SOURCE", "PLATFORM", "STATE", "SINCE", "ERROR"], [
        [plain(h.source), h.platform.value if h.platform else "metrics", h.state.value,
         age((now - h.since).total_seconds()) if h.since else "-", plain(h.error) or "-"]
        for h in (state.health[n] for n in sorted(state.health))
    ])
    table(["CLUSTER", "NAMESPACE", "KIND", "NAME", "READY", "VERSION", "STATE"], [
        [plain(k.cluster), plain(k.namespace or "-"), k.kind.value, plain(k.name),
         f"{s.ready}/{s.desired}", plain(s.version or "-"), row_state(s, [a for a in state.alerts if a.service == k],
                                                                       state.health.get(k.cluster),
                                                                       state.latency.get(k))[0]]
        for k, s in sorted(state.services.items())
    ])
    table(["CLUSTER", "NODE", "RESOURCE", "ALLOCATABLE", "ALLOCATED", "FREE", "READY", "HELD BY"], [
        [plain(n.cluster), plain(n.node), plain(r.name), str(r.allocatable), str(r.allocated), str(n.free_of(r.name)),
         "yes" if n.ready else "no",
         plain(", ".join(f"{h.workload}×{h.gpus}" for h in n.holders if h.resource == r.name)) or "-"]
        for _k, n in sorted(state.gpu_nodes.items()) for r in n.resources
    ])
    if state.pending_gpu:
        table(["CLUSTER", "NAMESPACE", "PENDING", "WANTS", "WHY"], [
            [plain(p.cluster), plain(p.namespace or "-"), plain(p.name), plain(requests_text(p.requests)),
             plain(p.message)]
            for p in state.pending_gpu
        ])
    if state.alerts:
        table(["SEVERITY", "STATE", "ALERT", "SERVICE", "SUMMARY"], [
            [a.severity.name.lower(), a.state.value, plain(a.name), plain(str(a.service) if a.service else "-"),
             plain(a.summary or "-")]
            for a in state.alerts
        ])


class _Collector:
    """Builds and starts the Fleet and waits for its first sync in a daemon thread, so that the command
    can answer at its deadline whatever an engine does (a socket that accepts and never answers holds
    a connect or a read for as long as its own timeout, and a backend's stop joins that thread)."""

    def __init__(self, settings: Settings, timeout: float) -> None:
        self.settings = settings
        self.timeout = timeout
        self.fleet: Any = None
        self.state: FleetState | None = None
        self.error: BaseException | None = None
        self.done = threading.Event()

    def run(self) -> None:
        from mlops_tui.tui.sources import build_fleet

        deadline = time.monotonic() + self.timeout
        try:
            self.fleet = build_fleet(self.settings)
            self.fleet.start()
            self.state = wait_for_sync(self.fleet, max(deadline - time.monotonic(), 0.0))
        except BaseException as exc:  # reported by the main thread
            self.error = exc
        finally:
            self.done.set()


def collect(settings: Settings, timeout: float) -> tuple[FleetState, list[str]]:
    """The fleet as read within `timeout` seconds, and what could not be read: a hard bound on the whole
    command (set-up, first sync and stopping), whatever the engines do."""
    state, problems, _ = collect_timeline(settings, timeout)
    return state, problems


def collect_timeline(settings: Settings, timeout: float) -> tuple[FleetState, list[str], tuple[TimelineEntry, ...]]:
    """`collect`, and the timeline the Fleet built from what the engines keep (Events, alert starts,
    Swarm tasks) and the audit log."""
    deadline = time.monotonic() + timeout
    collector = _Collector(settings, timeout)
    threading.Thread(target=collector.run, name="status", daemon=True).start()
    finished = collector.done.wait(timeout + 0.2)
    if collector.error is not None:
        raise collector.error
    fleet = collector.fleet
    if fleet is None:  # still setting up its sources at the deadline
        return FleetState(), [f"no source answered within {timeout:g}s (still connecting)"], ()
    if not fleet.backends:
        fleet.stop()
        return FleetState(), [NOTHING_CONFIGURED], fleet.timeline.entries()
    fleet.flush()
    state = collector.state if finished and collector.state is not None else fleet.state
    problems = unreadable(state, fleet.backends)
    # Stopping closes connections; one stuck in an engine that never answers is left to its daemon
    # thread rather than holding the answer back.
    stopper = threading.Thread(target=fleet.stop, name="status-stop", daemon=True)
    stopper.start()
    stopper.join(max(deadline + 0.5 - time.monotonic(), 0.1))
    return state, problems, fleet.timeline.entries()


def run_status(settings: Settings, *, as_json: bool, timeout: float) -> int:
    state, problems = collect(settings, timeout)
    if as_json:
        document = fleet_document(state, problems, datetime.now(timezone.utc))
        sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        if problems != [NOTHING_CONFIGURED]:  # empty tables would only push the how-to off the screen
            print_table(state)
        for problem in problems:
            if problem == NOTHING_CONFIGURED:
                print(f"mlops-tui: {how_to_start()}", file=sys.stderr)
            else:
                print(f"mlops-tui: cannot read {plain(problem)}", file=sys.stderr)
    return 1 if problems else 0

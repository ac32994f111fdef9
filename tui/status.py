"""`mlops-tui status`: connect like the app does, wait for the first full sync, print, exit.

Exit code 0 when every source was read, 1 when one could not be (error, stale, or no answer within
`--timeout`): runbooks and scripts can rely on it.
"""

from __future__ import annotations

import enum
import sys
import time
from dataclasses import fields, is_dataclass
from datetime import datetime, timezone
from typing import Any

import orjson

from mlops_tui.backends.model import GpuNode, HealthState
from mlops_tui.backends.state import FleetState
from mlops_tui.tui.config import Settings
from mlops_tui.tui.format import age, plain, requests_text, service_state


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


def fleet_document(state: FleetState) -> dict[str, Any]:
    """The fleet as plain data: what `status --json` prints."""
    services = []
    for key in sorted(state.services):
        service = to_jsonable(state.services[key])
        service["labels"] = dict(state.services[key].labels)
        services.append(service)
    return {
        "clusters": [to_jsonable(state.health[name]) for name in sorted(state.health)],
        "services": services,
        "gpu_nodes": [gpu_node_document(state.gpu_nodes[k]) for k in sorted(state.gpu_nodes)],
        "pending_gpu": [to_jsonable(p) for p in state.pending_gpu],
        "alerts": [to_jsonable(a) for a in state.alerts],
    }


def gpu_node_document(node: GpuNode) -> dict[str, Any]:
    """A GPU node with one entry per resource (capacity, allocatable, allocated, free): resources are
    never added up, so 8 GPUs and 7 MIG slices are not 'total: 15'. `free` is what new work can get
    (0 on a NotReady or cordoned node)."""
    document = to_jsonable(node)
    document["resources"] = [
        {**to_jsonable(resource), "free": node.free_of(resource.name)} for resource in node.resources
    ]
    return document


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
            problems.append(f"{name}: {health.state.value}: {health.error or 'unreachable'}")
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
         f"{s.ready}/{s.desired}", plain(s.version or "-"), service_state(s)[0]]
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


def run_status(settings: Settings, *, as_json: bool, timeout: float) -> int:
    from mlops_tui.tui.sources import build_fleet

    fleet = build_fleet(settings)
    fleet.start()
    try:
        state = wait_for_sync(fleet, timeout)
    finally:
        fleet.stop()
    problems = unreadable(state, fleet.backends)
    if as_json:
        document = fleet_document(state)
        document["problems"] = problems
        sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print_table(state)
        for problem in problems:
            print(f"mlops-tui: cannot read {plain(problem)}", file=sys.stderr)
    return 1 if problems else 0

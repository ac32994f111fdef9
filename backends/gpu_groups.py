"""GPU holders and Pending GPU replicas counted per workload, not per pod or task.

An operator looking for capacity asks "who holds the GPUs" and "what waits for them"; three replicas
of one Deployment are one answer each time (`pvm×2`, `llm-reranker: 3 replicas Pending`), so both
are grouped by the service the engine resolved (ReplicaSet → Deployment, Rollout, InferenceService,
Swarm service), else by the pod or task itself. Pure and engine-independent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlops_tui.backends.model import GpuHolder, PendingGpuWorkload, ServiceKey


def holder_name(holder: GpuHolder) -> str:
    """The service's name when the engine knows it, else the pod or task as the engine named it."""
    return holder.service.name if holder.service else holder.workload


def aggregate_holders(holders: Iterable[GpuHolder]) -> tuple[tuple[str, str, int], ...]:
    """(name, resource, units) per workload and resource, in first-seen order: two replicas of one
    service holding a GPU each are one entry of 2."""
    totals: dict[tuple[object, str], list] = {}
    for holder in holders:
        key = (holder.service or holder.workload, holder.resource)
        entry = totals.setdefault(key, [holder_name(holder), holder.resource, 0])
        entry[2] += holder.gpus
    return tuple((name, resource, units) for name, resource, units in totals.values())


@dataclass(frozen=True, slots=True)
class PendingGroup:
    """Replicas of one workload that wait for the same GPUs."""

    cluster: str
    namespace: str
    name: str
    """The service's name, else the pod or task's."""
    requests: tuple[tuple[str, int], ...]
    """What each replica asks for."""
    replicas: int
    message: str
    """The scheduler's words most of them carry."""
    service: ServiceKey | None = None
    since: datetime | None = None
    """When the first of them started waiting."""


def group_pending(pending: Iterable[PendingGpuWorkload]) -> tuple[PendingGroup, ...]:
    """One group per (workload, what a replica asks for), the largest first."""
    groups: dict[tuple, list[PendingGpuWorkload]] = {}
    for p in pending:
        who = p.service if p.service is not None else (p.cluster, p.namespace, p.name)
        groups.setdefault((who, p.requests), []).append(p)
    out = []
    for members in groups.values():
        first = members[0]
        message = Counter(m.message for m in members).most_common(1)[0][0]
        starts = [m.since for m in members if m.since is not None]
        out.append(PendingGroup(
            cluster=first.cluster,
            namespace=first.service.namespace if first.service else first.namespace,
            name=first.service.name if first.service else first.name,
            requests=first.requests,
            replicas=len(members),
            message=message,
            service=first.service,
            since=min(starts) if starts else None,
        ))
    return tuple(sorted(out, key=lambda g: (-g.replicas, g.cluster, g.namespace, g.name)))

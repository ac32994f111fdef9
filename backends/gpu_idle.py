"""GPUs held but idle: who holds each GPU whose averaged DCGM utilisation is below the idle threshold.

The first place to find capacity when a GPU service is Pending. Pure and engine-independent: the
orchestrator says who holds GPUs on a node (`GpuNode.holders`), DCGM says which GPU is idle
(`GpuDeviceMetrics.idle`), and a GPU is matched to its holder by the pod DCGM names on it
(`exported_pod`/`pod` with DCGM_EXPORTER_KUBERNETES) or by its UUID among the devices the engine
assigned (Swarm named generic resources). Without either, a node whose every GPU is idle still
tells: every GPU held on it is idle.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlops_tui.backends.gpu_groups import holder_name

if TYPE_CHECKING:
    from mlops_tui.backends.model import GpuDeviceMetrics, GpuHolder, GpuNode, ServiceKey


def _holder_of(device: GpuDeviceMetrics, holders: Sequence[GpuHolder]) -> GpuHolder | None:
    for holder in holders:
        if device.uuid and device.uuid in holder.devices:
            return holder
        if device.pod and (holder.workload == f"{device.namespace}/{device.pod}"
                           or (not device.namespace and holder.workload.endswith("/" + device.pod))):
            return holder
    return None


def idle_holders(node: GpuNode, devices: Sequence[GpuDeviceMetrics]) -> tuple[tuple[GpuHolder, int], ...]:
    """(holder, GPUs of it that are idle) on one node; free idle GPUs are not listed (idle is their
    normal state), nor GPUs DCGM has no figure for."""
    if not devices or not any(d.idle for d in devices):
        return ()
    if all(d.idle for d in devices):
        return tuple((h, h.gpus) for h in node.holders)
    counts: dict[int, int] = {}
    extra: list[tuple[GpuHolder, int]] = []
    for device in devices:
        if not device.idle:
            continue
        holder = _holder_of(device, node.holders)
        if holder is not None:
            index = node.holders.index(holder)
            counts[index] = min(counts.get(index, 0) + 1, holder.gpus)
        elif device.pod:  # DCGM names a pod the orchestrator has not reported (yet): still a holder
            from mlops_tui.backends.model import GpuHolder  # here: the GPU pane's first frame needs no dataclass

            extra.append((GpuHolder(workload=f"{device.namespace}/{device.pod}" if device.namespace else device.pod,
                                    gpus=1), 1))
    return tuple((node.holders[i], n) for i, n in sorted(counts.items())) + tuple(extra)


@dataclass(frozen=True, slots=True)
class IdleHolding:
    """GPUs one workload holds, idle, across the nodes of one cluster."""

    cluster: str
    name: str
    """The service's name, else the pod or task."""
    scope: str
    """Where it runs: 'cluster/namespace' (or the cluster alone for a stack-less Swarm service)."""
    gpus: int
    nodes: tuple[str, ...]
    service: ServiceKey | None = None

    @property
    def line(self) -> str:
        """'idle: 3 GPUs held by pvm (prod-a/ml-prod)'."""
        return f"idle: {self.gpus} GPU{'s' if self.gpus != 1 else ''} held by {self.name} ({self.scope})"


def idle_by_workload(nodes: Iterable[GpuNode],
                     metrics: Mapping[str, Sequence[GpuDeviceMetrics]]) -> tuple[IdleHolding, ...]:
    """Idle held GPUs per workload over every node (DCGM metrics keyed by host name), most first."""
    found: dict[tuple, list] = {}
    for node in nodes:
        for holder, gpus in idle_holders(node, metrics.get(node.node, ())):
            key = (node.cluster, holder.service or holder.workload)
            entry = found.setdefault(key, [holder, 0, []])
            entry[1] += gpus
            entry[2].append(node.node)
    out = []
    for (cluster, _who), (holder, gpus, where) in found.items():
        if holder.service is not None:
            scope = "/".join(p for p in (cluster, holder.service.namespace) if p)
        else:
            namespace = holder.workload.split("/", 1)[0] if "/" in holder.workload else ""
            scope = "/".join(p for p in (cluster, namespace) if p)
        name = holder_name(holder).rsplit("/", 1)[-1]
        out.append(IdleHolding(cluster, name, scope, gpus, tuple(sorted(set(where))), holder.service))
    return tuple(sorted(out, key=lambda h: (-h.gpus, h.cluster, h.name)))

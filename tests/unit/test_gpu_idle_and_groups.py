"""GPUs held but idle, holders counted per workload, Pending GPU replicas grouped per workload: what
the GPU pane tells an operator whose GPU service is Pending."""

from __future__ import annotations

from datetime import datetime, timezone

from mlops_tui.backends.gpu_groups import aggregate_holders, group_pending
from mlops_tui.backends.gpu_idle import idle_by_workload, idle_holders
from mlops_tui.backends.model import (
    GpuDeviceMetrics,
    GpuHolder,
    GpuNode,
    GpuResource,
    PendingGpuWorkload,
    ServiceKey,
    ServiceKind,
)
from mlops_tui.tui.format import each_replica_text, gpu_cells, pending_group_line

PVM = ServiceKey("prod-a", "ml-prod", ServiceKind.DEPLOYMENT, "pvm")
RERANKER = ServiceKey("prod-a", "ml-staging", ServiceKind.DEPLOYMENT, "llm-reranker")
EMBEDDER = ServiceKey("swarm", "ml", ServiceKind.SWARM_SERVICE, "llm-embedder")


def node(name: str, holders: tuple[GpuHolder, ...], gpus: int = 4, cluster: str = "prod-a") -> GpuNode:
    held = sum(h.gpus for h in holders)
    return GpuNode(cluster, name, (GpuResource("nvidia.com/gpu", gpus, gpus, held),), holders)


def gpu(index: int, util: float, pod: str = "", namespace: str = "", uuid: str = "", idle_below: float = 5.0):
    return GpuDeviceMetrics(str(index), uuid=uuid or f"GPU-{index}", utilisation=util, pod=pod,
                            namespace=namespace, idle=util < idle_below)


def test_idle_gpus_are_matched_to_the_pods_dcgm_names_on_them_and_free_idle_gpus_are_not_flagged():
    n = node("gpu-node-1", (GpuHolder("ml-prod/pvm-1", 1, PVM), GpuHolder("ml-prod/pvm-2", 1, PVM),
                            GpuHolder("ml-staging/llm-reranker-a", 1, RERANKER)))
    devices = (gpu(0, 1.0, "pvm-1", "ml-prod"), gpu(1, 2.0, "pvm-2", "ml-prod"),
               gpu(2, 80.0, "llm-reranker-a", "ml-staging"), gpu(3, 0.0))  # gpu 3: free, idle as free GPUs are
    found = idle_holders(n, devices)
    assert [(h.workload, count) for h, count in found] == [("ml-prod/pvm-1", 1), ("ml-prod/pvm-2", 1)]
    assert "◇ 2 idle" in gpu_cells(GpuNode(**{**_fields(n), "devices": devices}))[0].plain


def test_swarm_gpus_are_matched_by_the_uuid_the_engine_assigned():
    n = node("swarm-gpu-1", (GpuHolder("llm-embedder.1", 1, EMBEDDER, devices=("GPU-aa",), resource="NVIDIA-GPU"),
                             GpuHolder("llm-embedder.2", 1, EMBEDDER, devices=("GPU-bb",), resource="NVIDIA-GPU")),
             cluster="swarm")
    devices = (gpu(0, 0.5, uuid="GPU-aa"), gpu(1, 60.0, uuid="GPU-bb"))
    [(holder, count)] = idle_holders(n, devices)
    assert (holder.workload, count) == ("llm-embedder.1", 1)


def test_without_pod_labels_a_node_whose_every_gpu_is_idle_holds_its_gpus_idle():
    """DCGM without its Kubernetes mapping names no pod; a node all idle still says who holds idle GPUs."""
    n = node("gpu-node-2", (GpuHolder("ml-prod/pvm-3", 2, PVM),))
    assert [(h.workload, c) for h, c in idle_holders(n, (gpu(0, 1), gpu(1, 0), gpu(2, 3), gpu(3, 4)))] == \
        [("ml-prod/pvm-3", 2)]
    assert idle_holders(n, (gpu(0, 1), gpu(1, 50), gpu(2, 3), gpu(3, 4))) == ()  # cannot tell which: says nothing


def test_the_idle_line_counts_a_workloads_idle_gpus_across_nodes_and_names_where_it_runs():
    nodes = [node("gpu-node-1", (GpuHolder("ml-prod/pvm-1", 2, PVM),)),
             node("gpu-node-2", (GpuHolder("ml-prod/pvm-2", 1, PVM), GpuHolder("ml-staging/llm-reranker-a", 1,
                                                                               RERANKER)))]
    metrics = {"gpu-node-1": (gpu(0, 1, "pvm-1", "ml-prod"), gpu(1, 2, "pvm-1", "ml-prod"), gpu(2, 50), gpu(3, 50)),
               "gpu-node-2": (gpu(0, 0, "pvm-2", "ml-prod"), gpu(1, 90, "llm-reranker-a", "ml-staging"))}
    [holding] = idle_by_workload(nodes, metrics)
    assert holding.line == "idle: 3 GPUs held by pvm (prod-a/ml-prod)"
    assert holding.nodes == ("gpu-node-1", "gpu-node-2")


def test_holders_are_counted_per_workload_not_listed_per_pod():
    n = node("gpu-node-1", (GpuHolder("ml-prod/pvm-1", 1, PVM), GpuHolder("ml-prod/pvm-2", 1, PVM),
                            GpuHolder("ml-prod/debug-pod", 1)))
    assert aggregate_holders(n.holders) == (("pvm", "nvidia.com/gpu", 2), ("ml-prod/debug-pod", "nvidia.com/gpu", 1))
    assert gpu_cells(n)[-1].plain == "pvm×2, ml-prod/debug-pod×1"


def test_pending_replicas_of_one_workload_are_one_line_with_the_count_and_what_each_asks():
    since = datetime(2026, 12, 1, 3, 0, tzinfo=timezone.utc)
    message = "0/5 nodes are available: 3 Insufficient nvidia.com/gpu."
    pending = [PendingGpuWorkload("prod-a", "ml-staging", f"llm-reranker-6f7-{i}", (("nvidia.com/gpu", 4),),
                                  message, service=RERANKER, since=since.replace(minute=i)) for i in (2, 1, 3)]
    pending.append(PendingGpuWorkload("prod-a", "ml-prod", "pvm-9", (("nvidia.com/gpu", 1),), message, service=PVM))
    reranker, pvm = group_pending(pending)
    assert (reranker.name, reranker.replicas, reranker.since) == ("llm-reranker", 3, since.replace(minute=1))
    assert pending_group_line(reranker).plain == (
        "◷ llm-reranker (prod-a/ml-staging): 3 replicas Pending, 4 GPUs each: "
        "0/5 nodes are available: 3 Insufficient nvidia.com/gpu.")
    assert pending_group_line(pvm).plain.startswith("◷ pvm (prod-a/ml-prod): 1 replica Pending, 1 GPU each:")


def test_pods_without_a_known_workload_stay_apart_and_mig_requests_read_by_profile():
    mig = (("nvidia.com/mig-1g.5gb", 1),)
    pending = [PendingGpuWorkload("c", "ns", f"bare-{i}", mig, "Insufficient") for i in (1, 2)]
    assert [g.replicas for g in group_pending(pending)] == [1, 1]
    assert each_replica_text((("nvidia.com/mig-1g.5gb", 1),)) == "1 mig-1g.5gb each"


def _fields(n: GpuNode) -> dict:
    return {name: getattr(n, name) for name in GpuNode.__slots__}

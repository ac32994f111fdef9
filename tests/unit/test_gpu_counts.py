"""GPUs are counted per resource wherever the operator reads them: the GPU pane, `status` and `status --json`.

The story: gpu-node-3 has 8 full GPUs (5 taken) and 7 MIG 1g.5gb slices (2 taken). Before, it read
`ALLOC 7/15 FREE 8` and `total: 15`, so a 4-GPU replica looked like it fit. It must read 5/8 GPUs with
3 free, and 2/7 slices with 5 free, separately.
"""

from __future__ import annotations

import io
from datetime import datetime, timezone

from mlops_tui.backends.kubernetes import translate as tr
from mlops_tui.backends.model import GpuHolder, GpuNode, GpuResource, ServiceKey, ServiceKind
from mlops_tui.backends.state import FleetState
from mlops_tui.tui.format import GPU_COLUMNS, free_by_resource, gpu_cells
from mlops_tui.tui.status import fleet_document, print_table

RERANKER = ServiceKey("demo-prod", "ml-staging", ServiceKind.DEPLOYMENT, "llm-reranker")
GPU_NODE_3 = GpuNode(
    "demo-prod", "gpu-node-3",
    resources=(GpuResource("nvidia.com/gpu", 8, 8, 5), GpuResource("nvidia.com/mig-1g.5gb", 7, 7, 2)),
    holders=(GpuHolder("ml-staging/bert-mig-a", 1, None, resource="nvidia.com/mig-1g.5gb"),
             GpuHolder("ml-staging/bert-mig-b", 1, None, resource="nvidia.com/mig-1g.5gb"),
             GpuHolder("ml-staging/llm-reranker-x", 4, RERANKER)),
)
COLUMN = {key: i for i, (key, *_rest) in enumerate(GPU_COLUMNS)}


def test_the_gpu_pane_shows_each_resource_on_its_own():
    cells = gpu_cells(GPU_NODE_3)
    assert cells[COLUMN["alloc"]].plain == "█████░░░ 5/8 gpu, 2/7 mig-1g.5gb"
    assert cells[COLUMN["free"]].plain == "3 gpu, 5 mig-1g.5gb"
    assert "15" not in cells[COLUMN["alloc"]].plain and cells[COLUMN["free"]].plain != "8"
    assert cells[COLUMN["holders"]].plain == ("ml-staging/bert-mig-a×1 mig-1g.5gb, ml-staging/bert-mig-b×1 mig-1g.5gb, "
                                              "llm-reranker×4 gpu")


def test_a_full_gpu_only_node_keeps_its_plain_bar():
    node = GpuNode("c", "gpu-node-1", resources=(GpuResource("nvidia.com/gpu", 4, 4, 1),))
    cells = gpu_cells(node)
    assert (cells[COLUMN["alloc"]].plain, cells[COLUMN["free"]].plain) == ("██░░░░░░ 1/4", "3")


def test_a_notready_or_cordoned_node_offers_nothing_free():
    for state in ({"ready": False}, {"schedulable": False}):
        node = GpuNode("c", "n", resources=(GpuResource("nvidia.com/gpu", 4, 4, 0),), **state)
        assert gpu_cells(node)[COLUMN["free"]].plain == "0"
        assert free_by_resource([node]) == {"nvidia.com/gpu": (0, 4)}


def test_the_pane_total_adds_each_resource_across_nodes_never_across_resources():
    other = GpuNode("demo-prod", "gpu-node-1", resources=(GpuResource("nvidia.com/gpu", 4, 4, 1),))
    assert free_by_resource([GPU_NODE_3, other]) == {"nvidia.com/gpu": (6, 12), "nvidia.com/mig-1g.5gb": (5, 7)}


def test_status_json_has_one_entry_per_resource_and_no_total():
    state = FleetState(gpu_nodes={("demo-prod", "gpu-node-3"): GPU_NODE_3})
    document = fleet_document(state, [], datetime(2026, 12, 1, tzinfo=timezone.utc))
    (node,) = document["gpu_nodes"]
    assert document["gpu_totals"] == [
        {"cluster": "demo-prod", "resource": "nvidia.com/gpu", "allocatable": 8, "allocated": 5, "free": 3},
        {"cluster": "demo-prod", "resource": "nvidia.com/mig-1g.5gb", "allocatable": 7, "allocated": 2, "free": 5}]
    assert "total" not in node
    assert node["resources"] == [
        {"name": "nvidia.com/gpu", "capacity": 8, "allocatable": 8, "allocated": 5, "free": 3},
        {"name": "nvidia.com/mig-1g.5gb", "capacity": 7, "allocatable": 7, "allocated": 2, "free": 5},
    ]
    out = io.StringIO()
    print_table(state, out)
    rows = [line.split() for line in out.getvalue().splitlines() if line.startswith("demo-prod")]
    assert [row[2:6] for row in rows] == [["nvidia.com/gpu", "8", "5", "3"], ["nvidia.com/mig-1g.5gb", "7", "2", "5"]]


def test_the_kubernetes_translation_of_a_mig_node_keeps_resources_apart():
    node = tr.node_facts({"metadata": {"name": "gpu-node-3"},
                          "status": {"capacity": {"nvidia.com/gpu": "8", "nvidia.com/mig-1g.5gb": "7", "cpu": "32"},
                                     "allocatable": {"nvidia.com/gpu": "8", "nvidia.com/mig-1g.5gb": "7"},
                                     "conditions": [{"type": "Ready", "status": "True"}]}})
    pod = tr.pod_facts({"metadata": {"name": "r", "namespace": "s"},
                        "spec": {"nodeName": "gpu-node-3", "containers": [
                            {"resources": {"limits": {"nvidia.com/gpu": "4", "nvidia.com/mig-1g.5gb": "1"}}}]},
                        "status": {"phase": "Running"}})
    gpu = tr.gpu_node("demo-prod", node, [pod])
    assert [(r.name, r.allocated, r.free) for r in gpu.resources] == [
        ("nvidia.com/gpu", 4, 4), ("nvidia.com/mig-1g.5gb", 1, 6)]
    assert [(h.resource, h.gpus) for h in gpu.holders] == [("nvidia.com/gpu", 4), ("nvidia.com/mig-1g.5gb", 1)]


def test_the_services_gpu_column_never_reads_mig_slices_as_full_gpus():
    from mlops_tui.tui.format import gpus_text
    from tests.fakes import service

    assert gpus_text(service("llm", desired=4, gpu_requests=(("nvidia.com/gpu", 4),), gpus_per_replica=4)) == "16"
    assert gpus_text(service("bert", desired=2, gpu_requests=(("nvidia.com/mig-1g.5gb", 1),),
                             gpus_per_replica=1)) == "2m"
    assert gpus_text(service("tiny", desired=3, gpu_requests=(("nvidia.com/gpu.shared", 1),),
                             gpus_per_replica=1)) == "3s"
    assert gpus_text(service("cpu", desired=3)) == "-"

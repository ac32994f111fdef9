"""The operator's GPU service is Pending: the GPU pane says first where GPUs are held but idle (who
holds them, where), flags the node's row, counts holders per workload, and says what waits for GPUs
one line per workload."""

from __future__ import annotations

from mlops_tui.backends.base import Change
from mlops_tui.backends.model import (
    GpuDeviceMetrics,
    GpuHolder,
    GpuNode,
    GpuResource,
    PendingGpuWorkload,
    ServiceKey,
    ServiceKind,
)
from mlops_tui.tui.panes import GpuPane
from tests.tui.conftest import make_app, until

PVM = ServiceKey("prod-a", "ml-prod", ServiceKind.DEPLOYMENT, "property-valuation-model")
RERANKER = ServiceKey("prod-a", "ml-staging", ServiceKind.DEPLOYMENT, "llm-reranker")
MESSAGE = "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."


def held_but_idle(fleet) -> None:
    """gpu-node-3: two replicas of property-valuation-model hold a GPU each, both idle for the window;
    llm-reranker's three other replicas wait for 2 GPUs each."""
    node = GpuNode("prod-a", "gpu-node-3", (GpuResource("nvidia.com/gpu", 4, 4, 3),), holders=(
        GpuHolder("ml-prod/property-valuation-model-7d4-a", 1, PVM),
        GpuHolder("ml-prod/property-valuation-model-7d4-b", 1, PVM),
        GpuHolder("ml-staging/llm-reranker-5f-1", 1, RERANKER)))
    devices = (
        GpuDeviceMetrics("0", "GPU-a", utilisation=1.0, pod="property-valuation-model-7d4-a", namespace="ml-prod",
                         idle=True),
        GpuDeviceMetrics("1", "GPU-b", utilisation=2.0, pod="property-valuation-model-7d4-b", namespace="ml-prod",
                         idle=True),
        GpuDeviceMetrics("2", "GPU-c", utilisation=91.0, pod="llm-reranker-5f-1", namespace="ml-staging"),
        GpuDeviceMetrics("3", "GPU-d", utilisation=0.0, idle=True),  # free: idle is what free GPUs are
    )
    fleet.submit(Change(source="prod-a", gpu_nodes={"gpu-node-3": node}))
    fleet.submit(Change(source="prometheus", gpu_metrics={"gpu-node-3": devices}))
    fleet.submit(Change(source="prod-a", pending_gpu=tuple(
        PendingGpuWorkload("prod-a", "ml-staging", f"llm-reranker-5f-{i}", (("nvidia.com/gpu", 2),), MESSAGE,
                           service=RERANKER) for i in (2, 3, 4))))
    fleet.flush()


async def test_idle_held_gpus_are_read_before_what_waits_for_gpus_and_pending_replicas_are_one_line():
    app, _backend = make_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.fleet is not None and bool(app.state.services))
        held_but_idle(app.fleet)
        pane = app.query_one(GpuPane)
        key = "prod-a\x1fgpu-node-3"
        await until(pilot, lambda: key in pane.table.shown_keys)
        cells = [c.plain for c in pane.table.cells(key)]
        assert cells[0] == "◇ 2 idle"
        assert cells[-1] == "property-valuation-model×2, llm-reranker×1"
        await until(pilot, lambda: "idle:" in str(pane.query_one("#gpu-pending").render()))
        lines = str(pane.query_one("#gpu-pending").render()).splitlines()
        assert lines[0] == "◇ idle: 2 GPUs held by property-valuation-model (prod-a/ml-prod)"
        assert lines.index("Pending for GPUs (3 replicas):") > 0
        waiting = [line for line in lines if "llm-reranker" in line]
        assert waiting == ["◷ llm-reranker (prod-a/ml-staging): 3 replicas Pending, 2 GPUs each: " + MESSAGE]

"""The demo shows what the GPU pane is for (issue 17 §3): llm-reranker's running replicas hold GPUs
that stay idle (DCGM from the simulated Prometheus, averaged over the window), while its other
replicas wait for GPUs, one line for all of them."""

from __future__ import annotations

import time

import pytest

from mlops_tui.backends.gpu_groups import group_pending
from mlops_tui.backends.gpu_idle import idle_by_workload
from mlops_tui.tui.config import Settings
from mlops_tui.tui.sources import build_fleet

pytestmark = pytest.mark.integration


def test_the_demo_shows_gpus_held_but_idle_and_a_pending_workload_on_one_line(tmp_path):
    fleet = build_fleet(Settings(demo=True, audit_log=str(tmp_path / "audit.jsonl")))
    fleet.start()
    try:
        deadline = time.monotonic() + 120
        idle, groups = (), ()
        while time.monotonic() < deadline:
            state = fleet.state
            idle = idle_by_workload(state.gpu_nodes.values(), state.gpu_metrics)
            groups = group_pending(state.pending_gpu)
            if any(h.name == "llm-reranker" for h in idle) and any(g.name == "llm-reranker" for g in groups):
                break
            time.sleep(0.5)
        reranker = next((h for h in idle if h.name == "llm-reranker"), None)
        assert reranker is not None, idle
        assert reranker.gpus % 4 == 0 and reranker.gpus > 0  # whole replicas of 4 GPUs each
        assert reranker.line == f"idle: {reranker.gpus} GPUs held by llm-reranker (demo-prod/ml-staging)"
        [waiting] = [g for g in groups if g.name == "llm-reranker"]
        pods = [p for p in fleet.state.pending_gpu if p.service is not None and p.service.name == "llm-reranker"]
        assert waiting.replicas == len(pods) >= 1 and waiting.requests == (("nvidia.com/gpu", 4),)
        assert not any(h.name == "property-valuation-model" for h in idle)  # busy GPUs are not flagged
    finally:
        fleet.stop()

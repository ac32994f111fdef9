"""The demo's incident, deterministic: the seed fleet with four HighInferenceLatency alerts firing on
their services, a GPU node NotReady, GPUs pending, and a Swarm service whose update paused (beside a
healthy one, which the trouble-first order puts last)."""

from __future__ import annotations

from dataclasses import replace

from mlops_tui.backends.base import Change
from mlops_tui.backends.fleet import Fleet
from mlops_tui.backends.model import (
    Alert,
    AlertState,
    PendingGpuWorkload,
    Platform,
    ServiceKind,
    Severity,
    freeze_labels,
)
from mlops_tui.tui.app import MlopsApp
from mlops_tui.tui.config import Settings
from tests.fakes import T0, InMemoryBackend, service
from tests.tui.conftest import seed_fleet, until

SLOW = ("property-valuation-model", "property-price-predictor", "ensemble-predictor", "ml-model-service")
"""The services whose p95 latency is over their SLO: one HighInferenceLatency alert each."""

TROUBLE_FIRST = ["ensemble-predictor", "ml-model-service", "property-price-predictor", "property-valuation-model",
                 "llm-reranker", "fraud-scorer", "feature-store"]
"""The services table once the alerts are in: every row in trouble (▲) by place, the healthy one last."""


def incident_app(settings: Settings | None = None) -> tuple[MlopsApp, InMemoryBackend, InMemoryBackend]:
    """The app on the seed cluster (gpu-node-2 NotReady) and a Swarm whose update paused."""
    kube = InMemoryBackend()
    seed_fleet(kube)
    # The Argo canary is paused at its step, not rolling: every replica is on the current spec.
    kube.services = {k: replace(s, updated=s.desired) for k, s in kube.services.items()}
    swarm = InMemoryBackend("swarm-demo", Platform.SWARM)
    paused = service("fraud-scorer", cluster="swarm-demo", namespace="", kind=ServiceKind.SWARM_SERVICE,
                     platform=Platform.SWARM, version="v3", desired=3, ready=3, updated=1, rollout_state="paused",
                     rollout_message="update paused due to failure or early termination of task")
    healthy = service("feature-store", cluster="swarm-demo", namespace="", kind=ServiceKind.SWARM_SERVICE,
                      platform=Platform.SWARM, version="v7", desired=2, ready=2, updated=2)
    swarm.services = {paused.key: paused, healthy.key: healthy}
    app = MlopsApp(settings or Settings(), lambda s: Fleet([kube, swarm], max_rate=100, clock=lambda: T0),
                   clock=lambda: T0)
    return app, kube, swarm


def fire(fleet: Fleet) -> None:
    """Prometheus reports the four alerts, and a GPU workload waits for GPUs."""
    keys = {key.name: key for key in fleet.state.services}
    alerts = tuple(
        Alert("HighInferenceLatency", Severity.WARNING, AlertState.FIRING,
              freeze_labels({"alertname": "HighInferenceLatency", "namespace": keys[name].namespace,
                             "service": name, "severity": "warning"}),
              summary="Model inference latency is high", since=T0, service=keys[name], source="prometheus")
        for name in SLOW)
    fleet.submit(Change(source="prometheus", alerts=alerts))
    fleet.submit(Change(source="prod-a", pending_gpu=(PendingGpuWorkload(
        "prod-a", "ml-staging", "llm-reranker-5f-xyz", (("nvidia.com/gpu", 2),),
        "0/5 nodes are available: 3 Insufficient nvidia.com/gpu."),)))
    fleet.flush()


async def settle_on_incident(pilot) -> None:
    """Wait until the incident is on screen, trouble ranked first."""
    from mlops_tui.tui.panes import AlertsPane, ServicesPane

    app = pilot.app
    await until(pilot, lambda: app.fleet is not None and app.query_one(ServicesPane).row_count == 7)
    fire(app.fleet)
    await until(pilot, lambda: app.query_one(AlertsPane).row_count == 4)
    # The alerted rows are re-ranked with the next re-rank (RERANK_DELAY): trouble first (by place),
    # the one healthy service last.
    table = app.query_one(ServicesPane)
    await until(pilot, lambda: [k.rsplit("\x1f", 1)[-1] for k in table.shown_keys] == TROUBLE_FIRST, timeout=10)
    if app.compact:  # the tabs' badges are counted at most once a second (tui/pane_tabs.py)
        await until(pilot, lambda: "▲4 firing" in str(app.query_one("#pane-tabs").render()))
    await pilot.pause(0.2)

from __future__ import annotations

from mlops_tui.backends.fleet import Fleet
from mlops_tui.backends.model import (
    ActionKind,
    Alert,
    AlertState,
    Autoscaler,
    BlueGreen,
    Canary,
    ColourState,
    GpuHolder,
    GpuNode,
    GpuResource,
    LatencySeries,
    PendingGpuWorkload,
    ServiceKind,
    Severity,
    Slo,
    SloSource,
    freeze_labels,
)
from mlops_tui.tui.app import MlopsApp
from mlops_tui.tui.config import Settings
from tests.fakes import T0, InMemoryBackend, service

SEED_RULE_SLO = Slo(0.5, SloSource.ALERT_RULE, "HighInferenceLatency")
"""The SLO the seed's HighInferenceLatency rule gives the services it watches."""


def seed_fleet(backend: InMemoryBackend) -> None:
    """The seed article's fleet, as the in-memory backend reports it."""
    services = [
        service("property-valuation-model", version="v2.1", gpus_per_replica=1, gpu_requests=(("nvidia.com/gpu", 1),),
                autoscaler=Autoscaler("model-hpa", 2, 20, 3, 3, "cpu 70%"),
                labels=freeze_labels({"app": "valuation-model", "version": "v2.1"}),
                actions=frozenset({ActionKind.SCALE, ActionKind.ROLLBACK})),
        service("property-price-predictor", kind=ServiceKind.INFERENCE_SERVICE, version="v1", desired=1, ready=1,
                canary=Canary("kserve", "v1", "v2", weight=10)),
        service("ensemble-predictor", kind=ServiceKind.ROLLOUT, version="v2.0", desired=5, ready=5,
                canary=Canary("argo", "v1.9", "v2.0", weight=20, step=1, total_steps=8, paused=True)),
        service("ml-model-service", version="v2.0", desired=3, ready=3,
                blue_green=BlueGreen("service-selector", "v2.0", colours=(ColourState("v2.0", 3, 3),
                                                                          ColourState("v2.1", 3, 3)))),
        service("llm-reranker", namespace="ml-staging", desired=4, ready=1, gpus_per_replica=2,
                gpu_requests=(("nvidia.com/gpu", 2),)),
    ]
    backend.services = {s.key: s for s in services}
    backend.gpu_nodes = {
        "gpu-node-1": GpuNode("prod-a", "gpu-node-1", (GpuResource("nvidia.com/gpu", 4, 4, 3),), holders=(
            GpuHolder("property-valuation-model-7d4-abc", 1, services[0].key),)),
        "gpu-node-2": GpuNode("prod-a", "gpu-node-2", (GpuResource("nvidia.com/gpu", 8, 8, 8),), ready=False),
    }


def make_app(settings: Settings | None = None, backends=None, **fleet_kwargs) -> tuple[MlopsApp, InMemoryBackend]:
    """The app on the in-memory fleet; `fleet_kwargs` go to the Fleet (e.g. audit=list.append)."""
    backend = InMemoryBackend()
    seed_fleet(backend)
    chosen = backends or [backend]
    app = MlopsApp(settings or Settings(), lambda s: Fleet(chosen, max_rate=100, clock=lambda: T0,
                                                          readonly=s.readonly, **fleet_kwargs), clock=lambda: T0)
    return app, backend


def extras(fleet: Fleet) -> None:
    """Latency, alerts and pending GPUs for the seed fleet, as the metrics sources would push them."""
    from mlops_tui.backends.base import Change

    svc = next(k for k in fleet.state.services if k.name == "property-valuation-model")
    points = tuple((T0.timestamp() - 60 * (30 - i), 0.05 + 0.02 * (i % 7) + (0.5 if i > 24 else 0)) for i in range(30))
    fleet.submit(Change(source="prometheus", latency={svc: LatencySeries(svc, p50=tuple((t, v / 2) for t, v in points),
                                                                         p95=points, rps=42.0, error_ratio=0.004,
                                                                         slo=SEED_RULE_SLO)}))
    fleet.submit(Change(source="prometheus", alerts=(Alert(
        "HighInferenceLatency", Severity.WARNING, AlertState.FIRING,
        freeze_labels({"alertname": "HighInferenceLatency", "namespace": "ml-prod",
                       "service": "property-valuation-model", "severity": "warning"}),
        summary="Model inference latency is high", since=T0),)))
    fleet.submit(Change(source="prod-a", pending_gpu=(PendingGpuWorkload(
        "prod-a", "ml-staging", "llm-reranker-5f-xyz", (("nvidia.com/gpu", 2),),
        "0/5 nodes are available: 3 Insufficient nvidia.com/gpu."),)))
    fleet.flush()


async def until(pilot, predicate, timeout: float = 20.0) -> None:
    """Let the app run until `predicate()` holds; fail with a clear message otherwise. The limit only
    bounds a failure: a story that holds returns as soon as it does (CI saw 5 s run out on a loaded
    2-core machine while a screen was being pushed)."""
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {predicate.__doc__ or predicate}")
        await pilot.pause(0.05)


def visible_text(app) -> str:
    """What the terminal shows right now, as plain text (from Textual's own screenshot)."""
    import html
    import re

    svg = app.export_screenshot()
    lines = re.findall(r"<text[^>]*>(.*?)</text>", svg, flags=re.S)
    return html.unescape("".join(re.sub(r"<[^>]+>", "", line) for line in lines)).replace("\xa0", " ")

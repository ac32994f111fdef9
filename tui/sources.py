"""Settings → backends → Fleet. Runs in a worker thread: engine clients are imported here, lazily.

A source that cannot even be constructed (unknown context, bad URL) still appears, as an error in
the status bar, and never stops the others from starting.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any

from mlops_tui.backends.base import Backend, Change, ChangeSink, Wakeable
from mlops_tui.backends.fleet import Fleet, utcnow
from mlops_tui.backends.model import ClusterHealth, ClusterRef, HealthState, Platform
from mlops_tui.tui.audit import AuditLog
from mlops_tui.tui.config import Settings

log = logging.getLogger(__name__)


@dataclass
class FailedSource:
    """Stands in for a source that could not be set up, so the operator sees why."""

    name: str
    error: str
    platform: Platform | None = None
    cluster: ClusterRef | None = field(default=None)

    def start(self, sink: ChangeSink) -> None:
        sink(Change(source=self.name, health=ClusterHealth(
            source=self.name, platform=self.platform, state=HealthState.ERROR, since=utcnow(), error=self.error)))

    def stop(self) -> None:
        pass


def build_backends(settings: Settings, fleet_view: Any) -> list[Backend]:
    """Every backend the settings ask for. `fleet_view()` returns the Fleet's current state
    (metrics sources use it to tie series to services)."""
    backends: list[Backend] = []
    backends += _kubernetes(settings)
    backends += _swarm(settings)
    backends += _metrics(settings, fleet_view)
    return backends


def _kubernetes(settings: Settings) -> list[Backend]:
    try:
        from mlops_tui.backends.kubernetes.client import backends_from_settings
    except ImportError as exc:  # pragma: no cover - packaging problem, shown to the operator
        return [FailedSource("kubernetes", f"Kubernetes support unavailable: {exc}", Platform.K8S)]
    try:
        return list(backends_from_settings(
            contexts=settings.contexts,
            all_contexts=settings.all_contexts,
            kubeconfig=settings.kubeconfig,
            namespaces=settings.namespaces,
            selector=settings.selector,
            explicit=bool(settings.contexts or settings.all_contexts or settings.kubeconfig),
        ))
    except Exception as exc:
        return [FailedSource("kubernetes", str(exc) or type(exc).__name__, Platform.K8S)]


def _swarm(settings: Settings) -> list[Backend]:
    try:
        from mlops_tui.backends.swarm import backends_from_settings
    except ImportError as exc:  # pragma: no cover
        return [FailedSource("swarm", f"Swarm support unavailable: {exc}", Platform.SWARM)]
    try:
        return list(backends_from_settings(settings.swarm))
    except Exception as exc:
        return [FailedSource("swarm", str(exc) or type(exc).__name__, Platform.SWARM)]


def _metrics(settings: Settings, fleet_view: Any) -> list[Backend]:
    backends: list[Backend] = []
    services = lambda: fleet_view().services.values()  # noqa: E731
    if settings.prometheus:
        try:
            from mlops_tui.backends.alerts import PrometheusAlertsSource
            from mlops_tui.backends.prometheus import PrometheusBackend

            backends.append(PrometheusBackend(
                settings.prometheus,
                services=services,
                refresh_seconds=settings.refresh_seconds,
                slo_ms=settings.slo_ms,
                slo_overrides=settings.slo,
            ))
            backends.append(PrometheusAlertsSource(settings.prometheus, refresh_seconds=settings.refresh_seconds))
        except Exception as exc:
            backends.append(FailedSource("prometheus", str(exc) or type(exc).__name__))
    if settings.alertmanager:
        try:
            from mlops_tui.backends.alerts import AlertmanagerBackend

            backends.append(AlertmanagerBackend(settings.alertmanager, refresh_seconds=settings.refresh_seconds))
        except Exception as exc:
            backends.append(FailedSource("alertmanager", str(exc) or type(exc).__name__))
    return backends


def build_fleet(settings: Settings) -> Fleet:
    """The Fleet for these settings, with the audit log attached. Not started.

    With `--demo`, the simulated engines are started first (in this worker thread, never before
    the first frame) and the settings point the real backends at them; they stop with the Fleet.
    """
    demo = None
    if settings.demo:
        settings, demo = start_demo_for(settings)
    audit = AuditLog(settings.audit_path)
    fleet = Fleet(readonly=settings.readonly, readonly_sources=settings.readonly_clusters, audit=audit.append)
    if demo is not None:
        fleet.add_stop_hook(demo.stop)
    for backend in build_backends(settings, lambda: fleet.state):
        try:
            fleet.add_backend(backend)
        except ValueError as exc:
            log.warning("%s", exc)
    wake_metrics_on_new_services(fleet)
    return fleet


def start_demo_for(settings: Settings):
    """Start the simulated fleet and return settings aimed at it (the originals are untouched)."""
    from mlops_tui.sim.demo import start_demo

    demo = start_demo(seed=0, scale=settings.demo_scale, clusters=1)
    aimed = replace(
        settings,
        kubeconfig=demo.kubeconfig,
        contexts=list(demo.contexts),
        all_contexts=False,
        swarm=[f"{demo.docker_host}?name=swarm-demo"],
        prometheus=demo.prometheus_url,
        alertmanager=demo.alertmanager_url,
        # Demo actions are audited apart from real ones (same directory, its own file).
        audit_log=settings.audit_log or str(settings.audit_path.with_name("demo-audit.jsonl")),
    )
    return aimed, demo


def wake_metrics_on_new_services(fleet: Fleet, min_interval: float = 2.0) -> None:
    """Metrics are tied to services by name: when new services appear (first sync, a new
    deployment), poll metrics now instead of waiting for the next refresh."""
    wakers = [b.wake for b in fleet.backends.values() if isinstance(b, Wakeable)]
    if not wakers:
        return
    seen: set = set()
    last = [0.0]

    def on_update(_state, delta) -> None:
        new = delta.services - seen
        if not new:
            return
        seen.update(new)
        now = time.monotonic()
        if now - last[0] >= min_interval:
            last[0] = now
            for wake in wakers:
                wake()

    fleet.subscribe(on_update)

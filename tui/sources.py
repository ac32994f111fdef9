"""Settings → backends → Fleet. Runs in a worker thread: engine clients are imported here, lazily.

A source that cannot even be constructed (unknown context, bad URL) still appears, as an error in
the status bar, and never stops the others from starting (backends/failed_source.py).
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

from mlops_tui.backends import registry
from mlops_tui.backends.base import Backend, Wakeable
from mlops_tui.backends.engine_spec import BuildContext
from mlops_tui.backends.fleet import Fleet
from mlops_tui.backends.production import ProductionScope
from mlops_tui.tui.audit import TIMELINE_RECORDS, AuditLog, timeline_entries
from mlops_tui.tui.config import Settings

log = logging.getLogger(__name__)


def build_backends(settings: Settings, fleet_view: Any) -> list[Backend]:
    """Every backend the settings ask for, engine by engine (backends/registry.py). `fleet_view()`
    returns the Fleet's current state (metrics sources use it to tie series to services)."""
    context = BuildContext(services=lambda: fleet_view().services.values())
    return registry.build_backends(settings.engines, context)


def build_fleet(settings: Settings) -> Fleet:
    """The Fleet for these settings, with the audit log attached. Not started.

    With `--demo`, the simulated engines are started first (in this worker thread, never before
    the first frame) and the settings point the real backends at them; they stop with the Fleet.
    """
    demo = None
    if settings.demo:
        settings, demo = start_demo_for(settings)
    audit = AuditLog(settings.audit_path)
    # No action without its record: an audit log that cannot be written makes the whole app read-only.
    problem = audit.problem()
    if problem:
        log.warning("%s", problem)
    fleet = Fleet(readonly=settings.readonly or bool(problem), readonly_sources=settings.readonly_clusters,
                  audit=audit.append, readonly_reason=problem,
                  production=ProductionScope(tuple(settings.production)))
    if demo is not None:
        fleet.add_stop_hook(demo.stop)
    # This operator's past actions: the timeline survives a restart where the audit log keeps them.
    try:
        fleet.timeline.add(timeline_entries(audit.last(TIMELINE_RECORDS)))
    except OSError as exc:  # an unreadable log costs the timeline its past actions, nothing else
        log.warning("the audit log %s cannot be read for the timeline: %s", settings.audit_path, exc)
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

    demo = start_demo(seed=0, scale=settings.demo_scale, clusters=1, time_scale=settings.demo_time_scale)
    aimed = (settings
             .with_engine("kubernetes", kubeconfig=demo.kubeconfig, contexts=list(demo.contexts), all_contexts=False)
             .with_engine("swarm", endpoints=[f"{demo.docker_host}?name=swarm-demo"])
             .with_engine("prometheus", url=demo.prometheus_url)
             .with_engine("alertmanager", url=demo.alertmanager_url))
    # Demo actions are audited apart from real ones (settings.audit_path: its own file).
    aimed = replace(aimed, audit_log=str(settings.audit_path))
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

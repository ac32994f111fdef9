"""Timeline entries from two successive `FleetState`s: what moved between them, in plain words.

Diffing published snapshots (rather than each engine's watch stream) covers every engine the same
way: a KServe, Istio, Argo or Swarm canary weight is one `Canary.weight` whatever sent it. A change
seen here is stamped with the time the Fleet published it (within the publish interval of when
it happened); facts the engines date themselves (Events, alert `startsAt`, Swarm task timestamps,
the audit log) come with their own time through `Change.history` and the alert rules below.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from mlops_tui.backends.model import (
    Alert,
    AlertState,
    Canary,
    GpuNode,
    LatencySeries,
    ModelService,
    Platform,
    ServiceKey,
    Severity,
)
from mlops_tui.backends.state import FleetDelta, FleetState
from mlops_tui.backends.timeline import EntrySource, TimelineEntry

TROUBLED_ROLLOUT = frozenset({"paused", "rollback_started", "rollback_paused", "degraded", "aborted", "failed"})


def state_entries(old: FleetState, new: FleetState, now: datetime,
                  delta: FleetDelta | None = None) -> list[TimelineEntry]:
    """What happened between `old` and `new`. A source's first picture (nothing of its cluster in
    `old`) is the starting point, not a change: it adds no service or node entries. With the
    publish's `delta`, only the services it names are compared (a single change in a fleet of
    thousands costs what it changed, not a pass over every service)."""
    out: list[TimelineEntry] = []
    seen_clusters: set[str] | None = None
    keys: Iterable[ServiceKey] = new.services.keys() if delta is None else sorted(delta.services)
    for key in keys:
        service = new.services.get(key)
        before = old.services.get(key)
        if service is None or before is service:  # unchanged since the last publish: no field compare
            continue
        if before is None:
            if seen_clusters is None:
                seen_clusters = {k.cluster for k in old.services} | {c for c, _ in old.gpu_nodes}
            if key.cluster in seen_clusters:
                out.append(_entry(now, key, EntrySource.REVISION, f"appeared ({_what_runs(service)})"))
            continue
        if before != service:
            out.extend(_service_entries(before, service, now))
    gone = old.services.keys() - new.services.keys() if delta is None else \
        sorted(k for k in delta.removed if k in old.services and k not in new.services)
    clusters_now: set[str] | None = None
    for key in gone:
        if clusters_now is None:
            clusters_now = {k.cluster for k in new.services}
        if key.cluster in clusters_now:
            out.append(_entry(now, key, EntrySource.REVISION, "removed", Severity.WARNING))
    for node_key, node in new.gpu_nodes.items():
        before_node = old.gpu_nodes.get(node_key)
        if before_node is not None and before_node != node:
            out.extend(_node_entries(before_node, node, now))
    out.extend(_latency_entries(old, new, now))
    out.extend(alert_entries(old.alerts, new.alerts, now))
    return out


def node_fact(cluster: str, node: str, became: str) -> str:
    """A node became 'Ready', 'NotReady', 'cordoned', 'uncordoned' (the state's words)."""
    return f"node|{cluster}|{node}|{became}"


def rescale_fact(cluster: str, namespace: str, autoscaler: str, replicas: int | None) -> str:
    return f"rescale|{cluster}|{namespace}|{autoscaler}|{replicas}"


def _entry(now: datetime, key: ServiceKey, source: EntrySource, what: str,
           severity: Severity = Severity.INFO, fact: str = "") -> TimelineEntry:
    return TimelineEntry(at=now, cluster=key.cluster, kind=key.kind.value, namespace=key.namespace, name=key.name,
                         what=what, source=source, severity=severity, service=key, fact=fact)


def _what_runs(service: ModelService) -> str:
    return service.image or service.version or service.revision or "no image"


def _service_entries(old: ModelService, new: ModelService, now: datetime) -> Iterator[TimelineEntry]:
    key = new.key
    # Swarm's revision is its version index, moved by every write (UpdateStatus too): its image says more.
    if old.revision != new.revision and new.revision and new.platform is not Platform.SWARM:
        image = f" ({new.image})" if new.image != old.image and new.image else ""
        yield _entry(now, key, EntrySource.REVISION, f"revision {old.revision or '?'} → {new.revision}{image}")
    elif old.image != new.image and new.image:
        yield _entry(now, key, EntrySource.REVISION, f"image {old.image or '?'} → {new.image}")
    # Swarm dates its UpdateStatus itself: backends/swarm/history.py reports it with that time.
    if old.rollout_state != new.rollout_state and new.rollout_state and new.platform is not Platform.SWARM:
        state = new.rollout_state.replace("_", " ")
        message = f": {new.rollout_message}" if new.rollout_message else ""
        loud = Severity.WARNING if new.rollout_state in TROUBLED_ROLLOUT else Severity.INFO
        yield _entry(now, key, EntrySource.ROLLOUT, f"update {state}{message}", loud)
    yield from _canary_entries(key, old.canary, new.canary, now)
    if old.blue_green and new.blue_green and old.blue_green.active != new.blue_green.active:
        yield _entry(now, key, EntrySource.TRAFFIC,
                     f"traffic switched {old.blue_green.active} → {new.blue_green.active} ({new.blue_green.source})")
    before_hpa, after_hpa = old.autoscaler, new.autoscaler
    if before_hpa and after_hpa and before_hpa.desired_replicas != after_hpa.desired_replicas:
        on = f" on {after_hpa.target}" if after_hpa.target else ""
        yield _entry(now, key, EntrySource.SCALING, f"autoscaler {after_hpa.name} wants "
                     f"{before_hpa.desired_replicas} → {after_hpa.desired_replicas} replicas{on}",
                     fact=rescale_fact(key.cluster, key.namespace, after_hpa.name, after_hpa.desired_replicas))
    elif old.desired != new.desired and new.replicated:
        yield _entry(now, key, EntrySource.SCALING, f"replicas {old.desired} → {new.desired}")


def _canary_entries(key: ServiceKey, old: Canary | None, new: Canary | None,
                    now: datetime) -> Iterator[TimelineEntry]:
    if old is None and new is None:
        return
    if old is None and new is not None:
        weight = f" at {new.weight} %" if new.weight is not None else ""
        yield _entry(now, key, EntrySource.TRAFFIC, f"canary {new.canary_version or 'started'}{weight} ({new.source})")
        return
    if new is None:
        yield _entry(now, key, EntrySource.TRAFFIC, "canary ended")
        return
    assert old is not None
    if old.weight != new.weight:
        yield _entry(now, key, EntrySource.TRAFFIC,
                     f"canary weight {_pct(old.weight)} → {_pct(new.weight)} ({new.source})")
    if old.step != new.step and new.step is not None:
        total = f"/{new.total_steps}" if new.total_steps else ""
        yield _entry(now, key, EntrySource.ROLLOUT, f"step {new.step + 1}{total}")
    if new.aborted and not old.aborted:
        message = f": {new.message}" if new.message else ""
        yield _entry(now, key, EntrySource.ROLLOUT, f"rollout aborted{message}", Severity.WARNING)
    elif new.paused != old.paused:
        yield _entry(now, key, EntrySource.ROLLOUT, "rollout paused" if new.paused else "rollout resumed")


def _pct(weight: int | None) -> str:
    return "?" if weight is None else f"{weight} %"


def _node_entries(old: GpuNode, new: GpuNode, now: datetime) -> Iterator[TimelineEntry]:
    def entry(what: str, severity: Severity) -> TimelineEntry:
        return TimelineEntry(at=now, cluster=new.cluster, kind="Node", name=new.node, what=what,
                             source=EntrySource.NODE, severity=severity, fact=node_fact(new.cluster, new.node, what))
    if old.ready != new.ready:
        yield entry("Ready" if new.ready else "NotReady", Severity.INFO if new.ready else Severity.CRITICAL)
    if old.schedulable != new.schedulable:
        yield entry("uncordoned" if new.schedulable else "cordoned", Severity.INFO)


def _latency_entries(old: FleetState, new: FleetState, now: datetime) -> Iterator[TimelineEntry]:
    for key, series in new.latency.items():
        before: LatencySeries | None = old.latency.get(key)
        if before is None or before.breached == series.breached or series.current_p95 is None or series.slo is None:
            continue
        figures = f"p95 {series.current_p95:.2f} s, SLO {series.slo.p95_seconds:.2f} s"
        if series.breached:
            yield _entry(now, key, EntrySource.LATENCY, f"latency over SLO ({figures})", Severity.WARNING)
        else:
            yield _entry(now, key, EntrySource.LATENCY, f"latency back under SLO ({figures})")


def _alert_id(alert: Alert) -> str:
    return alert.fingerprint or repr(alert.labels)


def alert_entries(old: tuple[Alert, ...], new: tuple[Alert, ...], now: datetime) -> list[TimelineEntry]:
    """pending → firing → resolved, silenced, silence expired. An alert first seen is dated by its own
    start (Alertmanager's `startsAt`, Prometheus' `activeAt`), so a restart finds the same entry."""
    before = {_alert_id(a): a for a in old}
    after = {_alert_id(a): a for a in new}
    out: list[TimelineEntry] = []
    for ident, alert in after.items():
        prior = before.get(ident)
        if prior is None:
            at = alert.since or now
            out.append(_alert_entry(alert, at, _alert_words(alert), ident))
            if alert.state is AlertState.SILENCED:
                # started earlier, silenced since: both facts, the start first
                out.append(_alert_entry(alert, now, "silenced", ident))
        elif prior.service is None and alert.service is not None and prior.state is alert.state:
            # tied to its service once the services arrived: the same entry, now naming it
            out.append(_alert_entry(alert, alert.since or now, _alert_words(alert), ident))
        elif prior.state is not alert.state:
            if prior.state is AlertState.SILENCED and alert.state is AlertState.FIRING:
                words = "firing again: silence expired"
            else:
                words = _alert_words(alert)
            out.append(_alert_entry(alert, now, words, ident))
    for ident, alert in before.items():
        if ident not in after:
            out.append(_alert_entry(alert, now, "resolved", ident, Severity.INFO))
    return out


def _alert_words(alert: Alert) -> str:
    summary = f": {alert.summary}" if alert.summary else ""
    if alert.state is AlertState.SILENCED:
        return "silenced" + summary
    return alert.state.value + summary


def _alert_entry(alert: Alert, at: datetime, words: str, ident: str,
                 severity: Severity | None = None) -> TimelineEntry:
    key = alert.service
    labels = dict(alert.labels)
    return TimelineEntry(
        at=at, cluster=key.cluster if key else alert.source, kind="Alert",
        namespace=key.namespace if key else labels.get("namespace", ""), name=alert.name,
        what=f"{words}" + (f" on {key.name}" if key else ""), source=EntrySource.ALERT,
        severity=alert.severity if severity is None else severity, service=key,
        identity=f"alert|{ident}|{words.split(':')[0]}|{at.isoformat()}",
    )

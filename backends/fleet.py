"""The Fleet: one immutable picture of every source, and the only gate for mutations.

Backends push `Change`s from their own threads. The Fleet queues them and publishes new
`FleetState` snapshots, each with a `FleetDelta` naming what moved, so the UI redraws only the rows
that changed: at once while changes are few, at most `max_rate` a second under load (pacing.py).
Actions go through `plan` and `apply`: read-only mode, permission marks and blocking preconditions
are enforced here, whatever the UI shows, and every attempt ends in one audit record.
"""

from __future__ import annotations

import getpass
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, Literal, TypeVar

from mlops_tui.backends.backoff import Backoff
from mlops_tui.backends.base import (
    ActionBackend,
    Backend,
    Change,
    DescribesServices,
    ListsContainers,
    ListsRevisions,
    PublishesServices,
    RecordsActions,
    ShowsObjects,
    StreamsLogs,
)
from mlops_tui.backends.canary_compare import weight_warning
from mlops_tui.backends.clock import SYSTEM_CLOCK, Clock
from mlops_tui.backends.correlate import ServiceIndex, merge_alerts
from mlops_tui.backends.model import (
    ActionKind,
    Alert,
    ClusterHealth,
    GpuNode,
    HealthState,
    ModelService,
    ObjectText,
    PendingGpuWorkload,
    Revision,
    ServiceDetail,
    ServiceKey,
)
from mlops_tui.backends.pacing import PublishPacer
from mlops_tui.backends.plans import (
    ActionConflict,
    ActionError,
    ActionForbidden,
    ActionInDoubt,
    ActionOutcome,
    ActionPartial,
    ActionPlan,
    ActionRefused,
    Intent,
    Outcome,
    Promote,
    Risk,
    SetCanaryWeight,
    field_changes,
    what_changed,
)
from mlops_tui.backends.production import ProductionScope, needs_typed_name
from mlops_tui.backends.state import FleetDelta, FleetState
from mlops_tui.backends.timeline import Timeline, action_entry
from mlops_tui.backends.timeline_diff import state_entries

log = logging.getLogger(__name__)
K = TypeVar("K")
V = TypeVar("V")

AuditSink = Callable[[Mapping[str, Any]], None]
Listener = Callable[["FleetState", "FleetDelta"], None]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class _SourceIndex:
    """Which entries each source reported, so a snapshot change can drop what it no longer has."""

    services: set[ServiceKey] = field(default_factory=set)
    latency: set[ServiceKey] = field(default_factory=set)
    gpu_nodes: set[tuple[str, str]] = field(default_factory=set)
    gpu_metrics: set[str] = field(default_factory=set)


class Fleet:
    """Owns the backends and the current `FleetState`."""

    def __init__(
        self,
        backends: Iterable[Backend] = (),
        *,
        readonly: bool = False,
        readonly_sources: Iterable[str] = (),
        audit: AuditSink | None = None,
        max_rate: float = 20.0,
        burst: int = 3,
        operator: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        publish_clock: Clock = SYSTEM_CLOCK,
        sleep: Callable[[float], None] = time.sleep,
        readonly_reason: str = "",
        production: ProductionScope | None = None,
    ) -> None:
        self._backends: dict[str, Backend] = {}
        for backend in backends:
            self.add_backend(backend)
        self.readonly = readonly
        self.readonly_sources = frozenset(readonly_sources)
        self._audit = audit
        self._pacer = PublishPacer(max_rate, burst)
        self.operator = operator or _os_user()
        self._clock = clock
        self._publish_clock = publish_clock
        """What the publisher paces itself by (under load); tests pass a manual one."""
        self._sleep = sleep
        """How the resolution of an in-doubt call waits between re-reads (tests pass a counting one)."""
        self.readonly_reason = readonly_reason
        """Why the app is read-only when the operator did not ask (the audit log is not writable)."""
        self.production = production or ProductionScope()
        """The config's production patterns: services they match are production, as their engine's
        marker makes them (backends/production.py)."""
        self._lock = threading.Lock()
        self._pending: list[Change] = []
        self._wake = threading.Condition(self._lock)
        self._state = FleetState(readonly=readonly)
        self._index: dict[str, _SourceIndex] = {}
        self._alerts_index: ServiceIndex | None = None
        self._alerts_by_source: dict[str, tuple[Alert, ...]] = {}
        self._pending_gpu_by_source: dict[str, tuple[PendingGpuWorkload, ...]] = {}
        self._listeners: list[Listener] = []
        self._publisher: threading.Thread | None = None
        self._stopping = threading.Event()
        self._applied_plans: set[str] = set()
        self._recorded_plans: set[str] = set()  # see abandon()
        self._abandoned_plans: set[str] = set()
        self._records_lock = threading.Lock()
        self._stop_hooks: list[Callable[[], None]] = []
        self.timeline = Timeline()
        """What happened, in order: diffs of the published states, the engines' dated history, actions."""

    # -- wiring -------------------------------------------------------------------------------

    def add_backend(self, backend: Backend) -> None:
        if backend.name in self._backends:
            raise ValueError(f"two sources are both named {backend.name!r}: names must be unique")
        self._backends[backend.name] = backend

    @property
    def backends(self) -> Mapping[str, Backend]:
        return MappingProxyType(self._backends)

    def subscribe(self, listener: Listener) -> None:
        """Call `listener(state, delta)` (from the publisher thread) after each publish."""
        self._listeners.append(listener)

    def start(self) -> None:
        """Start the publisher, then every backend (each in its own threads)."""
        self._publisher = threading.Thread(target=self._publish_loop, name="fleet-publisher", daemon=True)
        self._publisher.start()
        for backend in self._backends.values():
            self.submit(
                Change(
                    source=backend.name,
                    health=ClusterHealth(
                        source=backend.name,
                        platform=backend.cluster.platform if backend.cluster else None,
                        state=HealthState.CONNECTING,
                        since=self._clock(),
                        endpoint=backend.cluster.endpoint if backend.cluster else "",
                        readonly=self.is_readonly(backend.name),
                    ),
                )
            )
            try:
                backend.start(self.submit)
            except Exception as exc:  # a backend that cannot even start must not stop the others
                log.exception("backend %s failed to start", backend.name)
                self.submit(Change(source=backend.name, health=self._error_health(backend, exc)))

    def add_stop_hook(self, hook: Callable[[], None]) -> None:
        """Run `hook` after the backends stop (e.g. to stop the demo's simulated engines)."""
        self._stop_hooks.append(hook)

    def stop(self) -> None:
        self._stopping.set()
        with self._wake:
            self._wake.notify_all()
        for backend in self._backends.values():
            try:
                backend.stop()
            except Exception:
                log.exception("backend %s failed to stop cleanly", backend.name)
        for hook in self._stop_hooks:
            try:
                hook()
            except Exception:
                log.exception("stop hook failed")

    # -- the read side -------------------------------------------------------------------------

    @property
    def state(self) -> FleetState:
        return self._state

    def submit(self, change: Change) -> None:
        """Queue a change from any thread; it is published at once, or within 1/max_rate s under load."""
        with self._wake:
            self._pending.append(change)
            self._wake.notify()

    def flush(self) -> FleetDelta:
        """Apply every queued change now and notify listeners (tests and one-shot commands)."""
        with self._lock:
            changes, self._pending = self._pending, []
        return self._publish(changes)

    def _publish_loop(self) -> None:
        while not self._stopping.is_set():
            with self._wake:
                while not self._pending and not self._stopping.is_set():
                    # Woken by submit() or stop(); the timeout is only a safety net, not pacing.
                    self._wake.wait(timeout=1.0)
            if self._stopping.is_set():
                return
            # Under load, coalesce: wait for the pacer's next token so a burst becomes one publish.
            wait = self._pacer.wait_before_next(self._publish_clock.monotonic())
            if wait > 0:
                self._publish_clock.wait(self._stopping, wait)
            with self._lock:
                changes, self._pending = self._pending, []
            self._pacer.published(self._publish_clock.monotonic())
            try:
                self._publish(changes)
            except Exception:
                log.exception("fleet publish failed")

    def _publish(self, changes: list[Change]) -> FleetDelta:
        if not changes:
            return FleetDelta()
        with self._lock:  # one publisher at a time (flush may race the loop in tests)
            old = self._state
            state, delta = self._merge(old, changes)
            self._state = state
            self.timeline.add(entry for change in changes for entry in change.history)
            self.timeline.add(state_entries(old, state, self._clock(), delta))
        if not delta.empty:
            for listener in list(self._listeners):
                try:
                    listener(state, delta)
                except Exception:
                    log.exception("fleet listener failed")
        return delta

    def _service_index(self, services: Mapping[ServiceKey, ModelService], before: Mapping[ServiceKey, ModelService],
                       changed: set[ServiceKey], removed: set[ServiceKey]) -> ServiceIndex:
        """The index alerts are tied to services by, built again only when what it reads moved: a
        service came or went, or started or stopped serving. (Built on every publish, it cost a pass
        over every service for a one-replica change: most of a publish at 5,000 services.)"""
        stale = self._alerts_index is None or bool(removed) or any(
            key not in before or (before[key].desired > 0) != (services[key].desired > 0) for key in changed)
        if stale or self._alerts_index is None:
            self._alerts_index = ServiceIndex(services.values())
        return self._alerts_index

    def _merge(self, old: FleetState, changes: list[Change]) -> tuple[FleetState, FleetDelta]:
        services = _mutable(old.services)
        latency = _mutable(old.latency)
        gpu_nodes = _mutable(old.gpu_nodes)
        gpu_metrics = _mutable(old.gpu_metrics)
        health = _mutable(old.health)
        changed: set[ServiceKey] = set()
        removed: set[ServiceKey] = set()
        latency_changed: set[ServiceKey] = set()
        gpus = alerts = health_changed = False
        for change in changes:
            index = self._index.setdefault(change.source, _SourceIndex())
            if change.snapshot:
                for key in index.services - set(change.services):
                    if services.pop(key, None) is not None:
                        removed.add(key)
                        changed.discard(key)
                index.services &= set(change.services)
                for key in index.latency - set(change.latency):
                    if latency.pop(key, None) is not None:
                        latency_changed.add(key)
                index.latency &= set(change.latency)
                wanted_nodes = {(change.source, node) for node in change.gpu_nodes}
                for node_key in index.gpu_nodes - wanted_nodes:
                    gpus |= gpu_nodes.pop(node_key, None) is not None
                index.gpu_nodes &= wanted_nodes
                for host in index.gpu_metrics - set(change.gpu_metrics):
                    gpus |= gpu_metrics.pop(host, None) is not None
                index.gpu_metrics &= set(change.gpu_metrics)
            for key, service in change.services.items():
                if service is not None and not service.production and self.production.matches(
                        key.cluster, key.namespace):
                    service = replace(service, production=True)
                if service is None:
                    index.services.discard(key)
                    if services.pop(key, None) is not None:
                        removed.add(key)
                        changed.discard(key)
                elif services.get(key) != service:
                    services[key] = service
                    index.services.add(key)
                    changed.add(key)
                    removed.discard(key)
                else:
                    index.services.add(key)
            for key, series in change.latency.items():
                if series is None:
                    index.latency.discard(key)
                    if latency.pop(key, None) is not None:
                        latency_changed.add(key)
                elif latency.get(key) != series:
                    latency[key] = series
                    index.latency.add(key)
                    latency_changed.add(key)
            for node_name, node in change.gpu_nodes.items():
                node_key = (change.source, node_name)
                if node is None:
                    index.gpu_nodes.discard(node_key)
                    gpus |= gpu_nodes.pop(node_key, None) is not None
                elif gpu_nodes.get(node_key) != node:
                    gpu_nodes[node_key] = node
                    index.gpu_nodes.add(node_key)
                    gpus = True
            for host, devices in change.gpu_metrics.items():
                if devices is None:
                    index.gpu_metrics.discard(host)
                    gpus |= gpu_metrics.pop(host, None) is not None
                elif gpu_metrics.get(host) != devices:
                    gpu_metrics[host] = devices
                    index.gpu_metrics.add(host)
                    gpus = True
            if change.pending_gpu is not None and self._pending_gpu_by_source.get(change.source) != change.pending_gpu:
                self._pending_gpu_by_source[change.source] = change.pending_gpu
                gpus = True
            if change.alerts is not None and self._alerts_by_source.get(change.source) != change.alerts:
                self._alerts_by_source[change.source] = change.alerts
                alerts = True
            # A backend reports its own health without knowing the operator made its cluster
            # read-only; the Fleet does, and keeps the flag on, so the UI can say why keys are off.
            reported = change.health
            if reported is not None and self.is_readonly(change.source) and not reported.readonly:
                reported = replace(reported, readonly=True)
            if reported is not None and health.get(change.source) != reported:
                health[change.source] = reported
                health_changed = True
        merged_alerts = old.alerts
        if alerts or changed or removed:
            merged_alerts = merge_alerts(self._alerts_by_source, self._service_index(services, old.services,
                                                                                     changed, removed))
            alerts = merged_alerts != old.alerts
        pending_gpu = old.pending_gpu
        if gpus:
            pending_gpu = tuple(p for source in sorted(self._pending_gpu_by_source)
                                for p in self._pending_gpu_by_source[source])
        state = FleetState(
            services=MappingProxyType(services),
            gpu_nodes=MappingProxyType(gpu_nodes),
            pending_gpu=pending_gpu,
            alerts=merged_alerts,
            latency=MappingProxyType(latency),
            gpu_metrics=MappingProxyType(gpu_metrics),
            health=MappingProxyType(health),
            readonly=self.readonly,
            version=old.version + 1,
        )
        delta = FleetDelta(
            services=frozenset(changed),
            removed=frozenset(removed),
            latency=frozenset(latency_changed),
            gpus=gpus,
            alerts=alerts,
            health=health_changed,
        )
        return state, delta

    # -- the write side ------------------------------------------------------------------------

    def is_readonly(self, source: str) -> bool:
        return self.readonly or source in self.readonly_sources

    def action_backend(self, source: str) -> ActionBackend:
        backend = self._backends.get(source)
        if backend is None:
            raise ActionRefused(f"no source named {source!r} is connected")
        if not isinstance(backend, ActionBackend):
            raise ActionRefused(f"{source} is read-only by nature: it has no actions")
        return backend

    def plan(self, service: ModelService, intent: Intent) -> ActionPlan:
        """Ask the owning backend for a plan against the service as the operator saw it.

        Refuses early, before any engine is asked, in read-only mode or when the service's
        backend does not support the action.
        """
        source = service.key.cluster
        self._refuse_if_readonly(source, intent)
        hpa_bounds = intent.kind is ActionKind.SET_AUTOSCALER_BOUNDS and service.autoscaler is not None
        if intent.kind not in service.actions and not hpa_bounds:
            raise ActionRefused(f"{service.key.name} does not support {intent.kind.value}")
        plan = self.action_backend(source).plan(service, intent)
        return self._production_guard(service, self._with_canary_warning(service, intent, plan))

    def _production_guard(self, service: ModelService, plan: ActionPlan) -> ActionPlan:
        """In production, the plan says so, and one that reduces serving capacity or moves traffic
        asks for the service's name typed (whatever its engine's planner asked)."""
        if not self.production.production(service):
            return plan
        plan = replace(plan, production=True)
        # A blocked plan cannot be sent: no name field to type into (its `o` override is re-planned here).
        if plan.noop or plan.blocked or plan.confirm_text or not needs_typed_name(service, plan.intent):
            return plan
        return replace(plan, confirm_text=service.key.name, risk=max(plan.risk, Risk.HIGH))

    def _with_canary_warning(self, service: ModelService, intent: Intent, plan: ActionPlan) -> ActionPlan:
        """A shift of traffic towards a canary (a weight up, a promote) carries what Prometheus says of
        the canary against stable: worse (with the figures), or unknown. Added here, engine-independent,
        from the latest snapshot's figures; never blocking."""
        if isinstance(intent, SetCanaryWeight):
            towards = intent.weight
        elif isinstance(intent, Promote):
            towards = 100
        else:
            return plan
        warning = weight_warning(service.canary, self._state.latency.get(service.key), towards,
                                 self._clock().timestamp())
        return replace(plan, warnings=(*plan.warnings, warning)) if warning is not None else plan

    def describe(self, service: ModelService) -> ServiceDetail:
        """Replicas, events and revisions of one service, read from its backend on demand."""
        backend = self._backends.get(service.key.cluster)
        if isinstance(backend, DescribesServices):
            return backend.describe(service)
        return ServiceDetail(revisions=tuple(self.revisions(service)))

    def revisions(self, service: ModelService) -> list[Revision]:
        """The revisions the service can be rolled back to, newest first; empty when its backend
        cannot list them (the dialog then offers 'previous' only)."""
        backend = self._backends.get(service.key.cluster)
        return list(backend.revisions(service)) if isinstance(backend, ListsRevisions) else []

    def containers(self, service: ModelService) -> list[tuple[str, str]]:
        """(container, image) pairs the image update can choose from, main container first; empty
        when the service runs one container only (a Swarm service)."""
        backend = self._backends.get(service.key.cluster)
        return list(backend.containers(service)) if isinstance(backend, ListsContainers) else []

    def log_streamer(self, service: ModelService) -> StreamsLogs | None:
        """The backend that can stream this service's logs, or None when its engine cannot."""
        backend = self._backends.get(service.key.cluster)
        return backend if isinstance(backend, StreamsLogs) else None
    def object_text(self, target: ModelService | GpuNode, view: Literal["describe", "yaml"],
                    managed_fields: bool = False) -> ObjectText:
        """The object screen's text for a service or a GPU node, read from its backend now; raises
        `ActionRefused` (its words are the operator's) when the backend cannot show objects."""
        source = target.key.cluster if isinstance(target, ModelService) else target.cluster
        backend = self._backends.get(source)
        if not isinstance(backend, ShowsObjects):
            raise ActionRefused(f"{source} cannot show its objects")
        if isinstance(target, ModelService):
            return backend.describe_object(target) if view == "describe" else backend.manifest(target, managed_fields)
        return backend.describe_node(target) if view == "describe" else backend.node_manifest(target, managed_fields)

    def plan_on(self, source: str, target: Any, intent: Intent) -> ActionPlan:
        """Plan an action that is not about a model service (e.g. a silence on an Alertmanager)."""
        self._refuse_if_readonly(source, intent)
        return self.action_backend(source).plan(target, intent)

    def _refuse_if_readonly(self, source: str, intent: Intent) -> None:
        if self.is_readonly(source):
            why = f" ({self.readonly_reason})" if self.readonly_reason else ""
            raise ActionRefused(f"read-only mode: {intent.kind.value} is disabled for {source}{why}")

    def apply(
        self,
        plan: ActionPlan,
        *,
        confirmed_text: str = "",
        verify_timeout: float = 120.0,
        progress: Callable[[str], None] | None = None,
    ) -> ActionOutcome:
        """Apply a confirmed plan once, verify it converged, and audit it whatever happens.

        Blocks until verified or `verify_timeout`: call it from a worker thread.
        """
        report = progress or (lambda _msg: None)
        started = self._clock()
        try:
            self._check_allowed(plan, confirmed_text)
        except ActionRefused as exc:
            return self._finish(plan, Outcome.REFUSED, str(exc), started)
        except ActionForbidden as exc:
            return self._finish(plan, Outcome.FORBIDDEN, str(exc), started)
        if plan.noop:
            self._applied_plans.add(plan.id)
            return self._finish(plan, Outcome.NOOP, "nothing to do: already as asked", started, after=plan.before)
        backend = self.action_backend(plan.source)
        try:
            # Write-ahead: the intent and the calls are on disk before the first call leaves, so a
            # crash, a signal or an SSH drop during the apply or the wait still leaves a record.
            self._write(intent_record(plan, self.operator, started))
        except Exception as exc:
            return self._finish(plan, Outcome.REFUSED, unaudited_detail(exc), started)
        self._applied_plans.add(plan.id)
        report(f"applying: {plan.description}")
        note = ""
        try:
            backend.apply(plan)
        except ActionInDoubt as exc:
            resolved = self._resolve(plan, exc, started, verify_timeout, report)
            if resolved is not None:
                return resolved
            note = f"the answer to {exc.in_doubt} was lost; re-reading showed it applied. "
        except ActionPartial as exc:
            return self._finish(plan, Outcome.PARTIAL, str(exc), started, landed=exc.landed,
                                not_landed=exc.not_landed, completing=exc.completing, reverting=exc.reverting)
        except ActionConflict as exc:
            # Never retried: the operator sees a fresh preview that names what changed, and decides.
            replanned = self._replan(backend, plan)
            return self._finish(plan, Outcome.CONFLICT, conflict_detail(exc, plan, replanned), started,
                                replanned=replanned)
        except ActionForbidden as exc:
            return self._finish(plan, Outcome.FORBIDDEN, str(exc), started)
        except ActionRefused as exc:
            return self._finish(plan, Outcome.REFUSED, str(exc), started)
        except ActionError as exc:
            return self._finish(plan, Outcome.FAILED, str(exc), started)
        except Exception as exc:
            log.exception("apply failed")
            return self._finish(plan, Outcome.FAILED, f"{type(exc).__name__}: {exc}", started)
        report("applied; waiting for the change to converge")
        try:
            result = backend.verify(plan, verify_timeout, report)
        except Exception as exc:
            log.exception("verify failed")
            return self._finish(plan, Outcome.APPLIED_NOT_CONVERGED, f"applied, but could not verify: {exc}", started)
        outcome = Outcome.SUCCEEDED if result.converged else Outcome.APPLIED_NOT_CONVERGED
        return self._finish(plan, outcome, note + result.detail, started, after=result.after)

    def _resolve(self, plan: ActionPlan, doubt: ActionInDoubt, started: datetime, timeout: float,
                 report: Callable[[str], None]) -> ActionOutcome | None:
        """A call whose answer was lost: audit 'unknown' at once, then let the backend re-read the
        engine (with the shared backoff) until it can tell. None when the call is known applied and
        nothing else is missing (the caller goes on to verify); otherwise the final outcome."""
        self._write_quietly(audit_record(self._outcome(plan, Outcome.UNKNOWN, str(doubt), started), self.operator,
                                         phase="unknown"))
        report(f"{doubt}; re-reading to tell whether it was applied")
        applied = self._probe_until_known(doubt, timeout)
        landed = doubt.landed + ((doubt.in_doubt,) if applied else ())
        not_landed = ((doubt.in_doubt,) if applied is False else ()) + doubt.not_sent
        if applied is None:
            return self._finish(plan, Outcome.UNKNOWN,
                                f"{doubt}; still unknown after {timeout:.0f} s of re-reading: look before acting again",
                                started, landed=doubt.landed, not_landed=doubt.not_sent)
        if landed and not_landed:
            partial = (f"{doubt}; re-read: landed: {'; '.join(landed)}; not landed: {'; '.join(not_landed)}")
            completing, reverting = self._followups(doubt, landed)
            return self._finish(plan, Outcome.PARTIAL, partial, started, landed=landed, not_landed=not_landed,
                                completing=completing, reverting=reverting)
        if not applied:
            return self._finish(plan, Outcome.NOT_APPLIED,
                                f"{doubt}; re-reading showed the engine did not apply it: nothing changed",
                                started, not_landed=not_landed)
        return None

    @staticmethod
    def _followups(doubt: ActionInDoubt, landed: tuple[str, ...]) -> tuple[ActionPlan | None, ActionPlan | None]:
        if doubt.followups is None:
            return None, None
        try:
            return doubt.followups(landed)
        except Exception:
            log.exception("could not build the completing and reverting plans")
            return None, None

    def _probe_until_known(self, doubt: ActionInDoubt, timeout: float) -> bool | None:
        backoff = Backoff(base=0.25, cap=5.0)
        deadline = time.monotonic() + timeout
        while True:
            try:
                known = doubt.probe()
            except Exception:
                log.debug("re-read of an in-doubt call failed", exc_info=True)
                known = None
            if known is not None:
                return known
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._stopping.is_set():
                return None
            self._sleep(min(backoff.next(), remaining))

    def _write(self, record: Mapping[str, Any]) -> None:
        if self._audit is not None:
            self._audit(record)

    def _write_quietly(self, record: Mapping[str, Any]) -> bool:
        """Write a record; a failure is logged, never raised (the result must still reach the operator)."""
        try:
            self._write(record)
            return True
        except Exception:
            log.exception("could not write the audit record")
            return False

    def _outcome(self, plan: ActionPlan, outcome: Outcome, detail: str, started: datetime) -> ActionOutcome:
        return ActionOutcome(plan=plan, outcome=outcome, detail=detail, started=started, finished=self._clock())

    def _check_allowed(self, plan: ActionPlan, confirmed_text: str) -> None:
        if self.is_readonly(plan.source):
            raise ActionRefused(f"read-only mode: nothing is sent to {plan.source}")
        if plan.id in self._applied_plans:
            raise ActionRefused("this plan was already applied; make a new one")
        if plan.target is not None:
            service = self._state.services.get(plan.target)
            if service is not None and plan.intent.kind in service.denied:
                user = plan.user or self.operator
                raise ActionForbidden(f"not allowed for {user} in {plan.target.namespace or plan.source}")
        if plan.blocked:
            raise ActionRefused("; ".join(w.text for w in plan.blocked))
        if plan.confirm_text and confirmed_text != plan.confirm_text:
            raise ActionRefused(f"type {plan.confirm_text!r} to confirm this action")
        if plan.target is not None and not plan.confirm_text and not plan.noop:
            # A plan that did not come through `plan` (or was altered since) is held to the same rule.
            service = self._state.services.get(plan.target)
            if service is not None and self.production.production(service) and needs_typed_name(service, plan.intent):
                raise ActionRefused(f"{service.key.name} is production: {plan.description} needs its name typed")

    def _replan(self, backend: ActionBackend, plan: ActionPlan) -> ActionPlan | None:
        """A new plan for the same intent against the object as it is now: the backend re-reads the
        engine, and the service record is the backend's latest (not a FleetState entry that may not
        have caught up with the change that caused the conflict)."""
        if plan.target is None:
            return None
        latest = backend.published(plan.target) if isinstance(backend, PublishesServices) else None
        service = latest or self._state.services.get(plan.target)
        if service is None:
            return None
        try:
            # The fresh preview warns of a worse canary, and asks for a production name, as the first did.
            fresh = self._with_canary_warning(service, plan.intent, backend.plan(service, plan.intent))
            return self._production_guard(service, fresh)
        except Exception:
            log.exception("re-plan after conflict failed")
            return None

    def _finish(
        self,
        plan: ActionPlan,
        outcome: Outcome,
        detail: str,
        started: datetime,
        *,
        after: Mapping[str, str] | None = None,
        replanned: ActionPlan | None = None,
        landed: tuple[str, ...] = (),
        not_landed: tuple[str, ...] = (),
        completing: ActionPlan | None = None,
        reverting: ActionPlan | None = None,
    ) -> ActionOutcome:
        result = ActionOutcome(
            plan=plan,
            outcome=outcome,
            detail=detail,
            started=started,
            finished=self._clock(),
            after=dict(after or {}),
            replanned=replanned,
            landed=landed,
            not_landed=not_landed,
            completing=completing,
            reverting=reverting,
        )
        # The record is written (and flushed by the sink) before anyone hears the result; a sink that
        # fails now (the disk filled during the wait) is logged: the operator still hears the result.
        record = audit_record(result, self.operator)
        if self._audit is not None and self._first_record(plan, abandoning=False):
            self._write_quietly(record)
        if outcome is not Outcome.NOOP:
            self.timeline.add(e for e in (action_entry(record, result.finished),) if e is not None)
        if plan.target is not None and outcome not in (Outcome.REFUSED, Outcome.NOOP):
            recorder = self._backends.get(plan.source)
            if isinstance(recorder, RecordsActions):
                try:
                    recorder.record_action(result, self.operator)
                except Exception:
                    log.exception("could not record the action on the object")
        return result

    # -- abandoning a verification (the operator quit while an applied action was followed) ---------

    def abandon(self, plan: ActionPlan,
                reason: str = "mlops-tui quit before verification finished") -> ActionOutcome | None:
        """Audit a confirmed plan whose apply/verify will not be waited for: one record saying it was
        applied and not verified. If its apply thread still ends later, it writes no second record.
        Returns None (and writes nothing) when the plan already has its record."""
        if not self._first_record(plan, abandoning=True):
            return None
        now = self._clock()
        result = ActionOutcome(plan=plan, outcome=Outcome.APPLIED_NOT_CONVERGED,
                               detail=f"applied; not verified: {reason}", started=now, finished=now)
        record = audit_record(result, self.operator, phase="abandoned")
        self._write_quietly(record)
        self.timeline.add(e for e in (action_entry(record, now),) if e is not None)
        return result

    def _first_record(self, plan: ActionPlan, *, abandoning: bool) -> bool:
        """Whether to write this plan's record: an abandoned plan gets exactly one, from whichever of
        abandon() and the apply thread comes first (they run on different threads)."""
        with self._records_lock:
            if plan.id in self._abandoned_plans:
                return False
            if abandoning:
                if plan.id in self._recorded_plans:
                    return False
                self._abandoned_plans.add(plan.id)
            else:
                self._recorded_plans.add(plan.id)
            return True

    def _error_health(self, backend: Backend, exc: Exception) -> ClusterHealth:
        return ClusterHealth(
            source=backend.name,
            platform=backend.cluster.platform if backend.cluster else None,
            state=HealthState.ERROR,
            since=self._clock(),
            error=str(exc) or type(exc).__name__,
        )


def conflict_detail(exc: ActionConflict, plan: ActionPlan, replanned: ActionPlan | None) -> str:
    """What changed first (from the two previews), then what the engine said (which calls landed)."""
    changed = (field_changes(plan, replanned) or exc.changed or what_changed(plan, replanned)
               or "the object changed since your preview")
    return f"{changed}; nothing more was sent: {exc}"



def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def _true_before(result: ActionOutcome) -> dict[str, str]:
    """What the object held when the mutation reached it. Applied plans carry a precondition, so that
    is the preview's `before`; a conflict means the object had moved on, to what the re-plan read
    (empty when it could not be re-read): the preview's stale `before` is never recorded as fact."""
    if result.outcome is not Outcome.CONFLICT:
        return dict(result.plan.before)
    return dict(result.replanned.before) if result.replanned is not None else {}


def unaudited_detail(exc: Exception) -> str:
    return (f"the audit log cannot be written ({type(exc).__name__}: {exc}): nothing was sent; "
            f"actions need a writable audit log")


def _mutable(mapping: Mapping[K, V]) -> dict[K, V]:
    """A dict copy of a state's mapping. `dict(proxy)` of a MappingProxyType hashes every key again
    (thousands of ServiceKeys per publish); the proxy's own `copy()` copies its dict as a dict does."""
    copy = mapping.copy() if isinstance(mapping, MappingProxyType | dict) else None
    return copy if isinstance(copy, dict) else dict(mapping)


def _stamp(when: datetime) -> str:
    return when.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def intent_record(plan: ActionPlan, operator: str, when: datetime) -> dict[str, Any]:
    """The write-ahead line: what is about to be sent, before the first call. Its `id` ties it to the
    result line written after; an intent with no result line means the app stopped in between."""
    return {
        "id": plan.id,
        "phase": "intent",
        "time": _stamp(when),
        "started": _stamp(when),
        "operator": operator,
        "user": plan.user or operator,
        "cluster": plan.source,
        "target": plan.target_name,
        "namespace": plan.target.namespace if plan.target else "",
        "kind": plan.target.kind.value if plan.target else "",
        "action": plan.intent.kind.value,
        "intent": plan.description,
        "before": dict(plan.before),
        "planned": dict(plan.after),
        "result": "intent",
        "detail": f"about to send {len(plan.mutations)} call(s)",
        "overrides": [w.code for w in plan.warnings if w.overridden],
        "calls": [f"{m.method} {m.path}" for m in plan.mutations],
    }


def audit_record(result: ActionOutcome, operator: str, phase: str = "result") -> dict[str, Any]:
    """One audit line. Holds what was done and to what, never request bodies (they can carry env
    values or secrets from pod templates), tokens or environment variables."""
    plan = result.plan
    return {
        "id": plan.id,
        "phase": phase,
        "time": _stamp(result.finished),
        "started": _stamp(result.started),
        "operator": operator,
        "user": plan.user or operator,
        "cluster": plan.source,
        "target": plan.target_name,
        "namespace": plan.target.namespace if plan.target else "",
        "kind": plan.target.kind.value if plan.target else "",
        "action": plan.intent.kind.value,
        "intent": plan.description,
        "before": _true_before(result),
        "planned": dict(plan.after),
        "previewed": dict(plan.before),
        "after": dict(result.after),
        "result": result.outcome.value,
        "error": "" if result.ok or result.outcome is Outcome.SUCCEEDED else result.detail,
        "detail": result.detail,
        "warnings": [w.code for w in plan.warnings],
        "overrides": [w.code for w in plan.warnings if w.overridden],
        "calls": [f"{m.method} {m.path}" for m in plan.mutations],
        "landed": list(result.landed),
        "not_landed": list(result.not_landed),
    }

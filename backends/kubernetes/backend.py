"""`KubernetesBackend`: one kubeconfig context, watched live and acted upon. The facade over the parts:

- start-up: API discovery (which optional groups exist: Argo Rollouts, KServe, Istio), `whoami`, then
  one `Reflector` per watched resource (and namespace) feeding the `ClusterCache`;
- health: connecting / connected / stale since / error, from the reflectors' failures and, when every
  watch has gone quiet, the `Liveness` probe (a frozen API server closes nothing);
- the `PublishedView` turns every cache write into the `Change` pushed to the fleet;
- `AccessReviews` greys out what the operator may not do;
- actions are the `ActionPlanner`'s (plan, apply once, verify, record), the detail screen's describe
  and the pickers' revisions and containers are answered here from the cache or the API server.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from mlops_tui.backends.backoff import Backoff
from mlops_tui.backends.base import Change, ChangeSink
from mlops_tui.backends.clock import SYSTEM_CLOCK, Clock
from mlops_tui.backends.gpu_fit import FitNode
from mlops_tui.backends.kubernetes.access import AccessReviews, who_am_i
from mlops_tui.backends.kubernetes.actions import ActionPlanner
from mlops_tui.backends.kubernetes.cache import ClusterCache, ObjKey
from mlops_tui.backends.kubernetes.client import ApiError, ClusterTarget, Transport, api_path, gc_paused
from mlops_tui.backends.kubernetes.history import event_entry
from mlops_tui.backends.kubernetes.liveness import QUIET_SECONDS, Liveness, version_probe
from mlops_tui.backends.kubernetes.logs import containers_of, stream_pods
from mlops_tui.backends.kubernetes.objects import ObjectReader
from mlops_tui.backends.kubernetes.reflector import Reflector, ReflectorHandler, ResourceSpec, utcnow
from mlops_tui.backends.kubernetes.resources import CORE_RESOURCES, OPTIONAL_RESOURCES, REDUCERS
from mlops_tui.backends.kubernetes.view import PublishedView
from mlops_tui.backends.model import (
    ClusterHealth,
    ClusterRef,
    EventInfo,
    GpuNode,
    HealthState,
    LogLine,
    LogOptions,
    LogSources,
    ModelService,
    ObjectText,
    Platform,
    ReplicaInfo,
    Revision,
    ServiceDetail,
    ServiceKey,
    ServiceKind,
)
from mlops_tui.backends.plans import ActionOutcome, ActionPlan, Intent, VerifyResult

log = logging.getLogger(__name__)

ACCESS_SWEEP_SECONDS = 300
"""How often the permissions of the published services are asked again without being woken."""
HISTORY_RESOURCES = ("events", "normalevents")
"""Watched resources whose objects are dated facts for the timeline."""
TOLD_ONCE = frozenset({"normalevents"})
"""Read for the timeline only: once told (at the first sync, then each event), the cache lets them go.
Kept, they grew with the cluster's event rate for as long as the API server keeps Events (an hour by
default): every scale under churn is one more. Warnings stay: the detail screen shows the latest."""


class KubernetesBackend(ReflectorHandler):
    """One kubeconfig context, watched live; implements `ActionBackend` (plan/apply/verify) and the
    optional `DescribesServices`, `ListsRevisions`, `ListsContainers`, `RecordsActions`,
    `ShowsObjects` and `PublishesServices` of `backends.base`."""

    def __init__(
        self,
        target: ClusterTarget,
        transport: Transport,
        *,
        page_limit: int = 500,
        watch_timeout: tuple[int, int] = (240, 300),
        idle_timeout: float = 90.0,
        backoff: tuple[float, float] = (0.5, 30.0),
        check_access: bool = True,
        clock: Callable[[], datetime] = utcnow,
        timer: Clock = SYSTEM_CLOCK,
        quiet: float = QUIET_SECONDS,
    ) -> None:
        self.target = target
        self.transport = transport
        self.name = target.context
        self.user = target.user or "unknown"
        self.endpoint = target.server or getattr(transport, "server", "")
        # Typed as the `Backend` protocol declares it (a settable attribute must match exactly).
        self.cluster: ClusterRef | None = ClusterRef(self.name, Platform.K8S, self.endpoint)
        self._page_limit = page_limit
        self._watch_timeout = watch_timeout
        self._idle_timeout = idle_timeout
        self._backoff = backoff
        self._check_access = check_access
        self._clock = clock
        self._sink: ChangeSink | None = None
        # Serialises the reflectors' writes: each write and the change it makes are published in order.
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.reflectors: list[Reflector] = []
        self._synced_once = False
        self._discovery_error = ""
        self._health: ClusterHealth | None = None
        self.optional_available: dict[str, str] = {}
        """Optional resource name -> the API version discovery prefers (absent: not installed)."""
        self.cache = ClusterCache()
        self.access = AccessReviews(transport)
        self._view = PublishedView(self.name, self.cache, self.access)
        self._access_wake = threading.Event()
        self._planner = ActionPlanner(self)
        self._timer = timer
        self.liveness = Liveness(version_probe(transport), self._last_heard, self._liveness_changed,
                                 clock=timer, quiet=quiet)
        self._objects = ObjectReader(self, lambda: self._clock())

    # -- Backend protocol ---------------------------------------------------------------------

    def start(self, sink: ChangeSink) -> None:
        self._sink = sink
        self._push_health(HealthState.CONNECTING)
        boot = threading.Thread(target=self._bootstrap, name=f"k8s-boot-{self.name}", daemon=True)
        self._threads.append(boot)
        boot.start()
        alive = threading.Thread(target=self.liveness.run, args=(self._stop,), name=f"k8s-alive-{self.name}",
                                 daemon=True)
        self._threads.append(alive)
        alive.start()
        if self._check_access:
            access = threading.Thread(target=self._access_loop, name=f"k8s-access-{self.name}", daemon=True)
            self._threads.append(access)
            access.start()

    def stop(self) -> None:
        self._stop.set()
        self._access_wake.set()
        for reflector in list(self.reflectors):
            reflector.stop()
        deadline = time.monotonic() + 2.0
        for reflector in list(self.reflectors):
            reflector.join(max(deadline - time.monotonic(), 0.05))
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0.05))
        self.transport.close()

    # -- actions (ActionBackend, RecordsActions, ListsContainers, ListsRevisions) ----------------

    def plan(self, service: ModelService, intent: Intent) -> ActionPlan:
        return self._planner.plan(service, intent)

    def apply(self, plan: ActionPlan) -> None:
        self._planner.apply(plan)

    def verify(self, plan: ActionPlan, timeout: float, progress: Callable[[str], None]) -> VerifyResult:
        return self._planner.verify(plan, timeout, progress)

    def record_action(self, outcome: ActionOutcome, operator: str) -> None:
        self._planner.record_action(outcome, operator)

    def containers(self, service: ModelService) -> list[tuple[str, str]]:
        """The image update picker: (container, image), main container first."""
        return self._planner.containers(service.key)

    def revisions(self, target: ServiceKey | ModelService) -> tuple[Revision, ...]:
        """The rollback picker: revisions newest first (revision, image/version, created/age)."""
        return self._planner.revisions(target.key if isinstance(target, ModelService) else target)

    # -- what the planner and the fleet read (PublishesServices) ---------------------------------

    def can(self, ns: str, verb: str, group: str, resource: str, sub: str = "") -> bool | None:
        """SelfSubjectAccessReview, cached; None when the server cannot answer."""
        return self.access.can(ns, verb, group, resource, sub)

    def published(self, key: ServiceKey) -> ModelService | None:
        return self._view.published(key)

    def fit_nodes(self) -> list[FitNode] | None:
        """Every node of the cache for the GPU placement check (CPU-only nodes too: the scheduler counts
        them in its '0/N nodes'), with its free units per GPU resource, labels, taints and state; None when
        the nodes cannot be read (no permission): then the preview says nothing rather than guess."""
        with self._lock:
            readers = [r for r in self.reflectors if r.spec.name == "nodes"]
            if not readers or any(r.disabled or not r.synced for r in readers):
                return None
            return self._view.fit_nodes()

    def pending_for(self, key: ServiceKey) -> int:
        """How many of this service's pods wait for GPUs now."""
        with self._lock:
            return self._view.pending_for(key)

    def describe(self, service: ModelService) -> ServiceDetail:
        """The detail screen: pods with node, phase and GPUs; warning events; revisions. From the cache."""
        key = service.key
        ns = key.namespace
        if key.kind is ServiceKind.INFERENCE_SERVICE:
            mine = self.cache.pods_of_isvc(ns, key.name)
            versions: dict[str, str] = {}
        else:
            mine = self.cache.pods_of_owner(ns, key.kind.value, key.name)
            versions = {rs.name: rs.version for rs in self.cache.replicasets_of(ns, key.kind.value, key.name)}
        warnings = self.cache.warnings_for(ns, key.kind.value, key.name)
        replicas = tuple(
            ReplicaInfo(name=p.name, node=p.node, state=p.phase, ready=p.ready, gpus=p.gpu_total,
                        message=p.unschedulable_message, version=versions.get(p.owner_name, ""))
            for p in sorted(mine, key=lambda p: p.name)
        )
        events = tuple(EventInfo(reason=e.reason, message=e.message, last_seen=e.time) for e in reversed(warnings))
        revisions = self.revisions(key) if key.kind is not ServiceKind.INFERENCE_SERVICE else ()
        return ServiceDetail(replicas=replicas, events=events, revisions=revisions)

    # -- logs (StreamsLogs) ----------------------------------------------------------------------

    def _pod_names(self, service: ModelService) -> list[str]:
        key = service.key
        if key.kind is ServiceKind.INFERENCE_SERVICE:
            pods = self.cache.pods_of_isvc(key.namespace, key.name)
        else:
            pods = self.cache.pods_of_owner(key.namespace, key.kind.value, key.name)
        return sorted(p.name for p in pods)

    def log_sources(self, service: ModelService) -> LogSources:
        """The pods of the service (from the cache) and the containers of the first (from the API)."""
        pods = tuple(self._pod_names(service))
        containers: tuple[str, ...] = ()
        if pods:
            pod = self.transport.request("GET", api_path("", "v1", "pods", service.key.namespace, pods[0])).json()
            containers = containers_of(pod)
        return LogSources(replicas=pods, containers=containers, previous=True)

    def stream_logs(self, service: ModelService, options: LogOptions, on_line: Callable[[LogLine], None],
                    on_status: Callable[[str], None], stop: threading.Event) -> None:
        pods = [options.replica] if options.replica else (lambda: self._pod_names(service))
        stream_pods(self.transport, service.key.namespace, pods, options, on_line, on_status, stop)
    # -- the object screen (ShowsObjects) ---------------------------------------------------------

    def manifest(self, service: ModelService, managed_fields: bool = False) -> ObjectText:
        return self._objects.manifest(service, managed_fields)

    def describe_object(self, service: ModelService) -> ObjectText:
        return self._objects.describe_object(service)

    def node_manifest(self, node: GpuNode, managed_fields: bool = False) -> ObjectText:
        return self._objects.node_manifest(node, managed_fields)

    def describe_node(self, node: GpuNode) -> ObjectText:
        return self._objects.describe_node(node)

    # -- health -------------------------------------------------------------------------------

    @property
    def health(self) -> ClusterHealth | None:
        return self._health

    def _push_health(self, state: HealthState, error: str = "", since: datetime | None = None) -> None:
        old = self._health
        if old is not None and old.state == state and old.error == error:
            return
        now = self._clock()
        health = ClusterHealth(
            source=self.name,
            platform=Platform.K8S,
            state=state,
            since=since or now,
            last_sync=now if state is HealthState.CONNECTED else (old.last_sync if old else None),
            error=error,
            endpoint=self.endpoint,
            user=self.user,
            unreadable=old.unreadable if old else 0,
        )
        self._health = health
        self._emit(Change(source=self.name, health=health))

    def _count_unreadable(self) -> None:
        """A workload skipped as unreadable, or readable again: the cluster's health carries the count
        (the status line's "1 object unreadable"), as the Swarm backend's does."""
        count = self._view.unreadable
        if self._health is not None and self._health.unreadable != count:
            self._health = replace(self._health, unreadable=count)
            self._emit(Change(source=self.name, health=self._health))

    def _refresh_health(self) -> None:
        with self._lock:
            # (since, reflector) pairs: the pair keeps the narrowed `datetime` next to its reflector.
            failing = [(r.failing_since, r) for r in self.reflectors if r.failing_since is not None and not r.disabled]
            if not self._synced_once:
                errors = [(since, r) for since, r in failing if r.spec.essential or not r.synced]
                if errors:
                    since, first = min(errors, key=lambda pair: pair[0])
                    self._push_health(HealthState.ERROR, f"{first.spec.name}: {first.error}", since)
                elif self._discovery_error:
                    self._push_health(HealthState.ERROR, self._discovery_error)
                return
            # Stale since the oldest of: a reflector failing, the API server silent (watches quiet, no probe
            # answered). Both say the data shown may be old.
            reasons = [(since, f"{r.spec.name}: {r.error}") for since, r in failing]
            if self.liveness.silent_since is not None:
                reasons.append((self.liveness.silent_since, self.liveness.error))
            if reasons:
                since, error = min(reasons, key=lambda pair: pair[0])
                self._push_health(HealthState.STALE, error, since)
            else:
                self._push_health(HealthState.CONNECTED)

    def _liveness_changed(self) -> None:
        if self.liveness.silent_since is None:
            for reflector in list(self.reflectors):
                if reflector.failing_since is not None:
                    reflector.wake()
        self._refresh_health()

    def _emit(self, change: Change | None) -> None:
        if change is not None and self._sink is not None and not self._stop.is_set():
            self._sink(change)

    # -- start-up -----------------------------------------------------------------------------

    def _bootstrap(self) -> None:
        groups = self._discover()
        if self._stop.is_set():
            return
        self._whoami()
        specs = list(CORE_RESOURCES)
        for spec in OPTIONAL_RESOURCES:
            if spec.group in groups:
                specs.append(replace(spec, version=groups[spec.group]))
                self.optional_available[spec.name] = groups[spec.group]
        with self._lock:
            for spec in specs:
                self.cache.watch(spec.name)
                self.reflectors.extend(self._reflectors_for(spec))
            for reflector in self.reflectors:
                if not self._stop.is_set():
                    reflector.start()

    def _discover(self) -> dict[str, str]:
        """API group -> its preferred version (`kubectl api-versions`), retried with backoff until it
        answers or the backend stops."""
        backoff = Backoff(*self._backoff)
        groups: dict[str, str] = {}
        while not self._stop.is_set():
            try:
                body = self.transport.request("GET", "/apis", timeout=(5.0, 15.0)).json() or {}
                for group in body.get("groups") or ():
                    preferred = (group.get("preferredVersion") or {}).get("version")
                    if group.get("name") and preferred:
                        groups[group["name"]] = preferred
                self._discovery_error = ""
                break
            except ApiError as exc:
                self._discovery_error = f"discovery: {exc}"
                self._refresh_health()
                self._stop.wait(backoff.next())
        return groups

    def _reflectors_for(self, spec: ResourceSpec) -> list[Reflector]:
        """One reflector per namespace asked for (one for all when none, or when cluster-scoped)."""
        namespaces = self.target.namespaces if spec.namespaced and self.target.namespaces else ("",)
        return [
            Reflector(
                self.transport,
                spec,
                self,
                namespace=ns,
                label_selector=self.target.selector if spec.model_selector else "",
                page_limit=self._page_limit,
                watch_timeout=self._watch_timeout,
                idle_timeout=self._idle_timeout,
                backoff=Backoff(*self._backoff),
                reduce=REDUCERS.get(spec.name),
                clock=self._timer,
            )
            for ns in namespaces
        ]

    def _whoami(self) -> None:
        """The user the API server sees (`kubectl auth whoami`); the kubeconfig's user name if it cannot say."""
        try:
            username = who_am_i(self.transport)
        except ApiError as exc:
            log.info("%s: whoami unavailable (%s); using the kubeconfig user %s", self.name, exc, self.user)
            return
        if username and username != self.user:
            self.user = username
            if self._health is not None:
                self._health = replace(self._health, user=self.user)
                self._emit(Change(source=self.name, health=self._health))

    # -- ReflectorHandler ---------------------------------------------------------------------

    def _last_heard(self) -> float | None:
        """The latest word from any watched resource (None before the first)."""
        heard = [r.last_heard for r in list(self.reflectors) if r.last_heard is not None and not r.disabled]
        return max(heard, default=None)

    def _all_synced(self) -> bool:
        return bool(self.reflectors) and all(r.synced or r.disabled for r in self.reflectors)

    def on_list(self, reflector: Reflector, items: list[tuple[ObjKey, Any]]) -> None:
        # Indexing a whole list and translating every service allocate as much as the parse did: the
        # cyclic GC stays paused for it too (`gc_paused`), or it rescans the fresh objects again and again.
        with self._lock, gc_paused():
            reflector.synced = True  # under the lock, so exactly one on_list sees everything synced
            told_once = self._synced_once and reflector.spec.name in TOLD_ONCE
            self.cache.replace(reflector.spec.name, reflector.namespace, () if told_once else items)
            if self._synced_once:
                self._emit(self._view.snapshot())  # a relist: the whole picture again, as a snapshot
                self._emit(self._history([value for _, value in items], reflector.spec.name))
            else:
                self._first_sync_if_complete()
            self._count_unreadable()

    def on_unavailable(self, reflector: Reflector, exc: ApiError) -> None:
        with self._lock:
            if not self._synced_once:
                self._first_sync_if_complete()

    def _first_sync_if_complete(self) -> None:
        """Once every reflector has listed (or is switched off): the first snapshot, then 'connected'."""
        if self._all_synced():
            self._synced_once = True
            self._emit(self._view.snapshot())
            self._count_unreadable()  # before 'connected': a one-shot `status` stops reading at it
            for resource in HISTORY_RESOURCES:  # after the services, so each Event finds its service
                self._emit(self._history([self.cache.get(resource, k) for k in self.cache.keys(resource)], resource))
            for resource in TOLD_ONCE:
                self.cache.replace(resource, "", ())
            self._refresh_health()
            self._access_wake.set()

    def on_status(self, reflector: Reflector) -> None:
        self._refresh_health()

    def on_event(self, reflector: Reflector, kind: str, key: ObjKey, value: Any) -> None:
        name = reflector.spec.name
        with self._lock:
            if self._synced_once and name in TOLD_ONCE:
                if kind != "DELETED":
                    self._emit(self._history([value], name))
                return
            old, new = self.cache.apply(name, kind, key, value)
            if self._synced_once:
                self._emit(self._view.changed(name, key, old, new))
                self._count_unreadable()
                if new is not None:
                    self._emit(self._history([new], name))

    def _history(self, values: list[Any], resource: str) -> Change | None:
        """The timeline's entries from Events (the API server's own history of the last hour or so)."""
        if resource not in HISTORY_RESOURCES:
            return None
        entries = tuple(e for e in (event_entry(self.name, v, self._view.service_of_object) for v in values) if e)
        return Change(source=self.name, history=entries) if entries else None

    # -- permissions --------------------------------------------------------------------------

    def _access_loop(self) -> None:
        while not self._stop.is_set():
            self._access_wake.wait(timeout=ACCESS_SWEEP_SECONDS)
            self._access_wake.clear()
            if self._stop.is_set():
                return
            with self._lock:
                wanted = self._view.published_kinds()
            self.access.sweep(wanted, self._republish, self._stop.is_set)

    def _republish(self, ns: str, kind: ServiceKind) -> None:
        """A permission came back denied: the services of that kind in `ns` show it greyed out."""
        with self._lock:
            self._emit(self._view.republish(kind, ns))
            self._count_unreadable()

"""The live cache: one reflector thread per resource, and the `KubernetesBackend` built on them.

Why our own reflector and not `kubernetes.watch.Watch` / `kubernetes.informer.SharedInformer`:
`Watch(deserialize=False)` never advances its resourceVersion and raises KeyError on an ERROR event
(engine-facts A1), and SharedInformer lists and watches through the typed models, which costs
several times the raw parse (figures in bench/RESULTS.md, `bench/k8s_informer_choice.py`).

A reflector does what client-go's Reflector does: a paginated raw LIST (a 410 on `continue`
restarts it), a WATCH from the list's resourceVersion with bookmarks (skipped, but their RV kept),
a relist on 410 Expired (an ERROR event or an HTTP 410), a resume from the last RV on any other
disconnect, exponential backoff with jitter, and an explicit timeout on every call. Each resource
has its own thread, each cluster its own reflectors: a cluster that is down slows nobody else.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

import orjson

from mlops_tui.backends.backoff import Backoff
from mlops_tui.backends.base import Change, ChangeSink
from mlops_tui.backends.gpu_fit import FitNode
from mlops_tui.backends.kubernetes import translate as tr
from mlops_tui.backends.kubernetes.client import ApiError, ClusterTarget, StreamHandle, Transport, api_path, gc_paused
from mlops_tui.backends.model import (
    ActionKind,
    ClusterHealth,
    ClusterRef,
    EventInfo,
    GpuNode,
    HealthState,
    ModelService,
    PendingGpuWorkload,
    Platform,
    ReplicaInfo,
    Revision,
    ServiceDetail,
    ServiceKey,
    ServiceKind,
)
from mlops_tui.backends.plans import ActionPlan, Intent, VerifyResult

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True, slots=True)
class ResourceSpec:
    name: str
    group: str
    version: str
    plural: str
    namespaced: bool = True
    essential: bool = True
    """A 403/404 on a non-essential resource switches it off instead of failing the cluster."""
    field_selector: str = ""
    model_selector: bool = False
    """The operator's model-service label selector applies to this list."""


CORE_RESOURCES = (
    ResourceSpec("namespaces", "", "v1", "namespaces", namespaced=False, essential=False),
    ResourceSpec("deployments", "apps", "v1", "deployments", model_selector=True),
    ResourceSpec("replicasets", "apps", "v1", "replicasets"),
    ResourceSpec("pods", "", "v1", "pods"),
    ResourceSpec("nodes", "", "v1", "nodes", namespaced=False, essential=False),
    ResourceSpec("services", "", "v1", "services"),
    ResourceSpec("hpas", "autoscaling", "v2", "horizontalpodautoscalers", essential=False),
    ResourceSpec("events", "", "v1", "events", essential=False, field_selector="type=Warning"),
)
OPTIONAL_RESOURCES = (
    ResourceSpec("rollouts", "argoproj.io", "v1alpha1", "rollouts", essential=False, model_selector=True),
    ResourceSpec(
        "inferenceservices", "serving.kserve.io", "v1beta1", "inferenceservices", essential=False, model_selector=True
    ),
    ResourceSpec("virtualservices", "networking.istio.io", "v1", "virtualservices", essential=False),
)
"""Watched only when discovery shows their API group (the version is discovery's preferred one)."""


class Expired(Exception):
    """410: the resourceVersion (or continue token) is too old: relist."""


class Reflector:
    """List + watch one resource (in one namespace or all) in its own thread."""

    def __init__(
        self,
        transport: Transport,
        spec: ResourceSpec,
        handler: ReflectorHandler,
        *,
        namespace: str = "",
        label_selector: str = "",
        page_limit: int = 500,
        watch_timeout: tuple[int, int] = (240, 300),
        idle_timeout: float = 90.0,
        backoff: Backoff | None = None,
        reduce: Callable[[Any], Any] | None = None,
    ) -> None:
        self.transport = transport
        self.spec = spec
        self.handler = handler
        self.namespace = namespace
        self.label_selector = label_selector
        self.page_limit = page_limit
        self.watch_timeout = watch_timeout
        self.idle_timeout = idle_timeout
        self.backoff = backoff or Backoff()
        self.reduce = reduce or (lambda obj: obj)
        self.rv: str | None = None
        self.synced = False
        self.disabled = False
        self.error = ""
        self.failing_since: datetime | None = None
        self.requests: list[tuple[str, str]] = []
        """(kind, resourceVersion) of every list/watch request, oldest first (for tests and logs)."""
        self.relists = 0
        self._stop = threading.Event()
        self._stream: StreamHandle | None = None
        self._thread: threading.Thread | None = None

    @property
    def path(self) -> str:
        ns = self.namespace if self.spec.namespaced else ""
        return api_path(self.spec.group, self.spec.version, self.spec.plural, namespace=ns)

    def _selectors(self) -> list[tuple[str, str]]:
        query = []
        if self.spec.field_selector:
            query.append(("fieldSelector", self.spec.field_selector))
        if self.label_selector:
            query.append(("labelSelector", self.label_selector))
        return query

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name=f"k8s-{self.spec.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        stream = self._stream
        if stream is not None:
            stream.close()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    # -- the loop -----------------------------------------------------------------------------

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.rv is None:
                    items, rv = self.list()
                    if self._stop.is_set():
                        return
                    self.rv = rv
                    self.handler.on_list(self, items)
                    self.synced = True
                    self._ok()
                started = time.monotonic()
                seen = self.watch()
                if not seen and time.monotonic() - started < 1.0:
                    # A watch that closes at once, again and again, must not spin.
                    self._stop.wait(self.backoff.next())
            except Expired:
                self.rv = None
                self.relists += 1
                if self.relists > 1:
                    self._stop.wait(min(self.backoff.next(), 2.0))
            except ApiError as exc:
                if self._stop.is_set():
                    return
                if exc.status in (403, 404) and not self.spec.essential:
                    log.info("%s unavailable (%s): not watched", self.spec.name, exc)
                    self.disabled = True
                    self.error = str(exc)
                    self.handler.on_unavailable(self, exc)
                    return
                self._fail(exc)
                self._stop.wait(self.backoff.next())
            except Exception as exc:  # a bug or a malformed answer: report it and keep going
                if self._stop.is_set():
                    return
                log.exception("%s reflector failed", self.spec.name)
                self._fail(ApiError(0, type(exc).__name__, str(exc)))
                self._stop.wait(self.backoff.next())

    def _ok(self) -> None:
        self.backoff.reset()
        if self.failing_since is not None or self.error:
            self.failing_since = None
            self.error = ""
            self.handler.on_status(self)

    def _fail(self, exc: ApiError) -> None:
        first = self.failing_since is None
        if first:
            self.failing_since = utcnow()
        self.error = str(exc)
        self.handler.on_status(self)

    def list(self) -> tuple[list[tuple[tuple[str, str], Any]], str]:
        """Every object as (key, reduced value), and the list's resourceVersion."""
        items: list[tuple[tuple[str, str], Any]] = []
        cont = ""
        rv = ""
        restarts = 0
        with gc_paused():
            while not self._stop.is_set():
                query = [("limit", str(self.page_limit)), *self._selectors()]
                if cont:
                    query.append(("continue", cont))
                self.requests.append(("list", cont and "continue"))
                try:
                    body = self.transport.request("GET", self.path, query, timeout=(5.0, 60.0)).json()
                except ApiError as exc:
                    if exc.status == 410 and cont and restarts < 5:
                        # The continue token expired mid-list: start the list again from the top.
                        items, cont, rv, restarts = [], "", "", restarts + 1
                        continue
                    raise
                body = body if isinstance(body, dict) else {}
                reduce = self.reduce
                for obj in body.get("items") or ():
                    if isinstance(obj, dict):
                        items.append((tr.obj_key(obj), reduce(obj)))
                meta = body.get("metadata") or {}
                rv = rv or str(meta.get("resourceVersion") or "")
                cont = str(meta.get("continue") or "")
                if not cont:
                    break
        return items, rv

    def watch(self) -> int:
        """Follow the stream until it closes; returns how many events it carried."""
        low, high = self.watch_timeout
        seconds = random.randint(low, high) if high > low else low
        query = [
            ("watch", "true"),
            ("allowWatchBookmarks", "true"),
            ("resourceVersion", self.rv or ""),
            ("timeoutSeconds", str(seconds)),
            *self._selectors(),
        ]
        self.requests.append(("watch", self.rv or ""))
        stream = self.transport.stream(self.path, query, timeout=(5.0, max(self.idle_timeout, 1.0)))
        self._stream = stream
        seen = 0
        try:
            if self._stop.is_set():
                return 0
            self._ok()
            for line in stream.lines():
                if self._stop.is_set():
                    return seen
                try:
                    event = orjson.loads(line)
                except orjson.JSONDecodeError:
                    log.warning("%s: undecodable watch line skipped", self.spec.name)
                    continue
                if not isinstance(event, dict):
                    continue
                kind = event.get("type")
                obj = event.get("object")
                obj = obj if isinstance(obj, dict) else {}
                rv = str(tr.meta(obj).get("resourceVersion") or "")
                if kind == "BOOKMARK":
                    if rv:
                        self.rv = rv
                    continue
                if kind == "ERROR":
                    code = tr.as_int(obj.get("code"))
                    if code == 410:
                        raise Expired(str(obj.get("message") or "Expired"))
                    raise ApiError(code, str(obj.get("reason") or "Error"), str(obj.get("message") or ""))
                if kind not in ("ADDED", "MODIFIED", "DELETED"):
                    continue
                seen += 1
                self.handler.on_event(self, kind, tr.obj_key(obj), self.reduce(obj))
                if rv:
                    self.rv = rv
        finally:
            self._stream = None
            stream.close()
        return seen


class ReflectorHandler:
    def on_list(self, reflector: Reflector, items: list[tuple[tuple[str, str], Any]]) -> None: ...

    def on_event(self, reflector: Reflector, kind: str, key: tuple[str, str], value: Any) -> None: ...

    def on_status(self, reflector: Reflector) -> None: ...

    def on_unavailable(self, reflector: Reflector, exc: ApiError) -> None: ...


# ---------------------------------------------------------------------------------------------


def _slim_service(obj: Any) -> dict:
    m = tr.meta(obj)
    return {
        "metadata": {"name": m.get("name"), "namespace": m.get("namespace")},
        "spec": {"selector": tr.as_dict(tr.as_dict(obj.get("spec")).get("selector"))},
    }


REDUCERS: dict[str, Callable[[Any], Any]] = {
    "pods": tr.pod_facts,
    "replicasets": tr.replicaset_facts,
    "nodes": tr.node_facts,
    "events": tr.event_facts,
    "services": _slim_service,
    "namespaces": tr.namespace_is_production,
}

# (verb, group, resource, subresource) each action needs, by service kind.
PERMISSIONS: dict[tuple[ServiceKind, ActionKind], tuple[tuple[str, str, str, str], ...]] = {
    (ServiceKind.DEPLOYMENT, ActionKind.SCALE): (("patch", "apps", "deployments", "scale"),),
    (ServiceKind.DEPLOYMENT, ActionKind.ROLLBACK): (("patch", "apps", "deployments", ""),),
    (ServiceKind.DEPLOYMENT, ActionKind.SET_AUTOSCALER_BOUNDS): (
        ("patch", "autoscaling", "horizontalpodautoscalers", ""),
    ),
    (ServiceKind.DEPLOYMENT, ActionKind.CANARY_WEIGHT): (("update", "networking.istio.io", "virtualservices", ""),),
    (ServiceKind.DEPLOYMENT, ActionKind.BLUE_GREEN_SWITCH): (("patch", "", "services", ""),),
    (ServiceKind.ROLLOUT, ActionKind.SCALE): (("patch", "argoproj.io", "rollouts", "scale"),),
    (ServiceKind.ROLLOUT, ActionKind.ROLLBACK): (("patch", "argoproj.io", "rollouts", ""),),
    (ServiceKind.ROLLOUT, ActionKind.SET_AUTOSCALER_BOUNDS): (
        ("patch", "autoscaling", "horizontalpodautoscalers", ""),
    ),
    (ServiceKind.ROLLOUT, ActionKind.PROMOTE): (("patch", "argoproj.io", "rollouts", "status"),),
    (ServiceKind.ROLLOUT, ActionKind.PROMOTE_FULL): (("patch", "argoproj.io", "rollouts", "status"),),
    (ServiceKind.ROLLOUT, ActionKind.ABORT): (("patch", "argoproj.io", "rollouts", "status"),),
    (ServiceKind.ROLLOUT, ActionKind.RETRY): (("patch", "argoproj.io", "rollouts", "status"),),
    (ServiceKind.ROLLOUT, ActionKind.BLUE_GREEN_SWITCH): (("patch", "argoproj.io", "rollouts", "status"),),
    (ServiceKind.INFERENCE_SERVICE, ActionKind.CANARY_WEIGHT): (
        ("patch", "serving.kserve.io", "inferenceservices", ""),
    ),
    (ServiceKind.INFERENCE_SERVICE, ActionKind.ROLLBACK): (("patch", "serving.kserve.io", "inferenceservices", ""),),
    (ServiceKind.DEPLOYMENT, ActionKind.UPDATE_IMAGE): (("patch", "apps", "deployments", ""),),
    (ServiceKind.DEPLOYMENT, ActionKind.RESTART): (("patch", "apps", "deployments", ""),),
    (ServiceKind.ROLLOUT, ActionKind.UPDATE_IMAGE): (("patch", "argoproj.io", "rollouts", ""),),
    (ServiceKind.ROLLOUT, ActionKind.RESTART): (("patch", "argoproj.io", "rollouts", ""),),
    (ServiceKind.INFERENCE_SERVICE, ActionKind.UPDATE_IMAGE): (
        ("patch", "serving.kserve.io", "inferenceservices", ""),
    ),
}


class KubernetesBackend(ReflectorHandler):
    """One kubeconfig context, watched live; implements `ActionBackend` (plan/apply/verify)."""

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
    ) -> None:
        self.target = target
        self.transport = transport
        self.name = target.context
        self.user = target.user or "unknown"
        endpoint = target.server or getattr(transport, "server", "")
        self.cluster = ClusterRef(self.name, Platform.K8S, endpoint)
        self._page_limit = page_limit
        self._watch_timeout = watch_timeout
        self._idle_timeout = idle_timeout
        self._backoff = backoff
        self._check_access = check_access
        self._clock = clock
        self._sink: ChangeSink | None = None
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.reflectors: list[Reflector] = []
        self._synced_once = False
        self._discovery_error = ""
        self._health: ClusterHealth | None = None
        self.optional_available: dict[str, str] = {}
        # The cache.
        self.store: dict[str, dict[tuple[str, str], Any]] = {}
        self._ns_index: dict[str, dict[str, set[str]]] = {}
        self._rs_by_owner: dict[tuple[str, str, str], set[str]] = {}
        self._pods_by_node: dict[str, set[tuple[str, str]]] = {}
        self._pods_by_isvc: dict[tuple[str, str], set[str]] = {}
        self._hpa_by_target: dict[tuple[str, str, str], tuple[str, str]] = {}
        self._warnings: dict[tuple[str, str, str], deque] = {}
        self._bg: dict[tuple[str, str], Any] = {}
        self._istio: dict[tuple[str, str], tuple[Any, Any]] = {}
        self._published: dict[ServiceKey, ModelService] = {}
        self._gpu: dict[str, GpuNode] = {}
        self._pending: dict[tuple[str, str], PendingGpuWorkload] = {}
        self._access: dict[tuple[str, str, str, str, str], bool] = {}
        self._access_wake = threading.Event()
        from mlops_tui.backends.kubernetes.actions import ActionPlanner  # local: actions imports watch types

        self._planner = ActionPlanner(self)

    # -- Backend protocol ---------------------------------------------------------------------

    def start(self, sink: ChangeSink) -> None:
        self._sink = sink
        self._push_health(HealthState.CONNECTING)
        boot = threading.Thread(target=self._bootstrap, name=f"k8s-boot-{self.name}", daemon=True)
        self._threads.append(boot)
        boot.start()
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

    def plan(self, service: ModelService, intent: Intent) -> ActionPlan:
        return self._planner.plan(service, intent)

    def apply(self, plan: ActionPlan) -> None:
        self._planner.apply(plan)

    def verify(self, plan: ActionPlan, timeout: float, progress: Callable[[str], None]) -> VerifyResult:
        return self._planner.verify(plan, timeout, progress)

    def record_action(self, outcome: Any, operator: str) -> None:
        self._planner.record_action(outcome, operator)

    def containers(self, service: ModelService) -> list[tuple[str, str]]:
        """The image update picker: (container, image), main container first."""
        return self._planner.containers(service.key)

    def revisions(self, target: ServiceKey | ModelService) -> tuple[Revision, ...]:
        """The rollback picker: revisions newest first (revision, image/version, created/age)."""
        return self._planner.revisions(target.key if isinstance(target, ModelService) else target)

    def describe(self, service: ModelService) -> ServiceDetail:
        """The detail screen: pods with node, phase and GPUs; warning events; revisions. From the cache."""
        key = service.key
        ns = key.namespace
        with self._lock:
            pods = self.store.get("pods", {})
            if key.kind is ServiceKind.INFERENCE_SERVICE:
                mine = [pods[(ns, p)] for p in self._pods_by_isvc.get((ns, key.name), ()) if (ns, p) in pods]
                versions: dict[str, str] = {}
            else:
                owners = set(self._rs_by_owner.get((ns, key.kind.value, key.name), ()))
                mine = [p for (pod_ns, _), p in pods.items()
                        if pod_ns == ns and p.owner_kind == "ReplicaSet" and p.owner_name in owners]
                versions = {rs.name: rs.version for rs in self.replicasets_of(ns, key.kind.value, key.name)}
            warnings = self._warnings_for(ns, key.kind.value, key.name)
        replicas = tuple(
            ReplicaInfo(name=p.name, node=p.node, state=p.phase, ready=p.ready, gpus=p.gpu_total,
                        message=p.unschedulable_message, version=versions.get(p.owner_name, ""))
            for p in sorted(mine, key=lambda p: p.name)
        )
        events = tuple(EventInfo(reason=e.reason, message=e.message, last_seen=e.time) for e in reversed(warnings))
        revisions = self.revisions(key) if key.kind is not ServiceKind.INFERENCE_SERVICE else ()
        return ServiceDetail(replicas=replicas, events=events, revisions=revisions)

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
            endpoint=self.cluster.endpoint,
            user=self.user,
        )
        self._health = health
        self._emit(Change(source=self.name, health=health))

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
            if failing:
                since, first = min(failing, key=lambda pair: pair[0])
                self._push_health(HealthState.STALE, f"{first.spec.name}: {first.error}", since)
            else:
                self._push_health(HealthState.CONNECTED)

    def _emit(self, change: Change) -> None:
        if self._sink is not None and not self._stop.is_set():
            self._sink(change)

    # -- start-up -----------------------------------------------------------------------------

    def _bootstrap(self) -> None:
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
                self.store.setdefault(spec.name, {})
                namespaces = self.target.namespaces if spec.namespaced and self.target.namespaces else ("",)
                for ns in namespaces:
                    reflector = Reflector(
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
                    )
                    self.reflectors.append(reflector)
            for reflector in self.reflectors:
                if not self._stop.is_set():
                    reflector.start()

    def _whoami(self) -> None:
        """The user the API server sees (`kubectl auth whoami`); the kubeconfig's user name if it cannot say."""
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
        try:
            answer = self.transport.request(
                "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", body=body, timeout=(5.0, 10.0)
            ).json()
        except ApiError as exc:
            log.info("%s: whoami unavailable (%s); using the kubeconfig user %s", self.name, exc, self.user)
            return
        username = tr.dig(answer, "status", "userInfo").get("username")
        if username and username != self.user:
            self.user = str(username)
            if self._health is not None:
                self._health = replace(self._health, user=self.user)
                self._emit(Change(source=self.name, health=self._health))

    # -- ReflectorHandler ---------------------------------------------------------------------

    def _all_synced(self) -> bool:
        return bool(self.reflectors) and all(r.synced or r.disabled for r in self.reflectors)

    def on_list(self, reflector: Reflector, items: list[tuple[tuple[str, str], Any]]) -> None:
        with self._lock:
            reflector.synced = True  # under the lock, so exactly one on_list sees everything synced
            store = self.store.setdefault(reflector.spec.name, {})
            if reflector.namespace:
                for key in [k for k in store if k[0] == reflector.namespace]:
                    del store[key]
            else:
                store.clear()
            store.update(items)
            self._reindex(reflector.spec.name)
            if self._synced_once:
                self._full_translate()  # a relist: the whole picture again, as a snapshot
            else:
                self._first_sync_if_complete()

    def on_unavailable(self, reflector: Reflector, exc: ApiError) -> None:
        with self._lock:
            if not self._synced_once:
                self._first_sync_if_complete()

    def _first_sync_if_complete(self) -> None:
        """Once every reflector has listed (or is switched off): the first snapshot, then 'connected'."""
        if self._all_synced():
            self._synced_once = True
            self._full_translate()
            self._refresh_health()
            self._access_wake.set()

    def on_status(self, reflector: Reflector) -> None:
        self._refresh_health()

    def on_event(self, reflector: Reflector, kind: str, key: tuple[str, str], value: Any) -> None:
        name = reflector.spec.name
        with self._lock:
            store = self.store.setdefault(name, {})
            old = store.get(key)
            if kind == "DELETED":
                store.pop(key, None)
                new = None
            else:
                store[key] = value
                new = value
            self._index_one(name, key, old, new)
            if self._synced_once:
                handler = getattr(self, f"_changed_{name}", None)
                if handler is not None:
                    handler(key, old, new)

    # -- indexes ------------------------------------------------------------------------------

    def _reindex(self, name: str) -> None:
        if name == "replicasets":
            self._rs_by_owner.clear()
        elif name == "pods":
            self._pods_by_node.clear()
            self._pods_by_isvc.clear()
        elif name == "hpas":
            self._hpa_by_target.clear()
        elif name == "events":
            self._warnings.clear()
        elif name in ("deployments", "services", "virtualservices"):
            self._ns_index.pop(name, None)
        for key, value in self.store.get(name, {}).items():
            self._index_one(name, key, None, value)

    def _index_one(self, name: str, key: tuple[str, str], old: Any, new: Any) -> None:
        ns, obj_name = key
        if name == "replicasets":
            for facts, add in ((old, False), (new, True)):
                if facts is not None and facts.owner_kind:
                    owned = self._rs_by_owner.setdefault((ns, facts.owner_kind, facts.owner_name), set())
                    (owned.add if add else owned.discard)(obj_name)
        elif name == "pods":
            for facts, add in ((old, False), (new, True)):
                if facts is None:
                    continue
                if facts.node:
                    on_node = self._pods_by_node.setdefault(facts.node, set())
                    (on_node.add if add else on_node.discard)(key)
                isvc = facts.labels.get(tr.KSERVE_ISVC_LABEL)
                if isvc:
                    of_isvc = self._pods_by_isvc.setdefault((ns, isvc), set())
                    (of_isvc.add if add else of_isvc.discard)(obj_name)
        elif name == "hpas":
            if old is not None:
                self._hpa_by_target.pop(tr.hpa_target(old), None)
            if new is not None:
                self._hpa_by_target[tr.hpa_target(new)] = key
        elif name == "events":
            if new is not None:
                recent = self._warnings.setdefault((new.namespace, new.kind, new.name), deque(maxlen=3))
                recent.append(new)
        elif name in ("deployments", "services", "virtualservices"):
            names = self._ns_index.setdefault(name, {}).setdefault(ns, set())
            (names.add if new is not None else names.discard)(obj_name)

    def _in_ns(self, name: str, ns: str) -> list[Any]:
        store = self.store.get(name, {})
        return [store[(ns, n)] for n in sorted(self._ns_index.get(name, {}).get(ns, ())) if (ns, n) in store]

    # -- translation --------------------------------------------------------------------------

    def _production(self, ns: str) -> bool:
        return bool(self.store.get("namespaces", {}).get(("", ns), False))

    def _denied(self, kind: ServiceKind, ns: str) -> frozenset[ActionKind]:
        denied = set()
        for (skind, action), perms in PERMISSIONS.items():
            if skind is kind and any(self._access.get((ns, *p)) is False for p in perms):
                denied.add(action)
        return frozenset(denied)

    def _warnings_for(self, ns: str, kind: str, name: str) -> tuple:
        return tuple(self._warnings.get((ns, kind, name), ()))

    def _hpa_for(self, ns: str, kind: str, name: str) -> Any:
        key = self._hpa_by_target.get((ns, kind, name))
        return self.store.get("hpas", {}).get(key) if key else None

    def replicasets_of(self, ns: str, kind: str, name: str) -> list[tr.ReplicaSetFacts]:
        store = self.store.get("replicasets", {})
        return [store[(ns, n)] for n in sorted(self._rs_by_owner.get((ns, kind, name), ())) if (ns, n) in store]

    def _translate_deployment(self, key: tuple[str, str]) -> ModelService | None:
        obj = self.store.get("deployments", {}).get(key)
        if obj is None:
            return None
        ns, name = key
        istio = self._istio.get(key)
        bg = self._bg.get(key)
        return tr.deployment_service(
            self.name,
            obj,
            hpa=self._hpa_for(ns, "Deployment", name),
            canary=istio[0] if istio else None,
            blue_green=bg.blue_green() if bg else None,
            production=self._production(ns),
            warnings=self._warnings_for(ns, "Deployment", name),
            denied=self._denied(ServiceKind.DEPLOYMENT, ns),
        )

    def _translate_rollout(self, key: tuple[str, str]) -> ModelService | None:
        obj = self.store.get("rollouts", {}).get(key)
        if obj is None:
            return None
        ns, name = key
        return tr.rollout_service(
            self.name,
            obj,
            replicasets=self.replicasets_of(ns, "Rollout", name),
            hpa=self._hpa_for(ns, "Rollout", name),
            production=self._production(ns),
            warnings=self._warnings_for(ns, "Rollout", name),
            denied=self._denied(ServiceKind.ROLLOUT, ns),
        )

    def _translate_isvc(self, key: tuple[str, str]) -> ModelService | None:
        obj = self.store.get("inferenceservices", {}).get(key)
        if obj is None:
            return None
        ns, name = key
        pods = self.store.get("pods", {})
        mine = [pods[(ns, p)] for p in self._pods_by_isvc.get((ns, name), ()) if (ns, p) in pods]
        return tr.isvc_service(
            self.name,
            obj,
            pods=mine,
            production=self._production(ns),
            warnings=self._warnings_for(ns, "InferenceService", name),
            denied=self._denied(ServiceKind.INFERENCE_SERVICE, ns),
        )

    _TRANSLATORS = {
        ServiceKind.DEPLOYMENT: ("deployments", "_translate_deployment"),
        ServiceKind.ROLLOUT: ("rollouts", "_translate_rollout"),
        ServiceKind.INFERENCE_SERVICE: ("inferenceservices", "_translate_isvc"),
    }

    def _service_key(self, kind: ServiceKind, key: tuple[str, str]) -> ServiceKey:
        return ServiceKey(self.name, key[0], kind, key[1])

    def _retranslate(self, kind: ServiceKind, keys: Iterable[tuple[str, str]]) -> dict[ServiceKey, Any]:
        out: dict[ServiceKey, Any] = {}
        method = getattr(self, self._TRANSLATORS[kind][1])
        for key in keys:
            skey = self._service_key(kind, key)
            try:
                service = method(key)
            except Exception:  # one odd object must not take the cluster's view down
                log.exception("cannot translate %s %s/%s", kind.value, *key)
                service = self._published.get(skey)
            if service is None:
                if self._published.pop(skey, None) is not None:
                    out[skey] = None
            elif self._published.get(skey) != service:
                self._published[skey] = service
                out[skey] = service
        return out

    def _service_of_pod(self, pod: tr.PodFacts) -> ServiceKey | None:
        if pod.owner_kind == "ReplicaSet":
            rs = self.store.get("replicasets", {}).get((pod.namespace, pod.owner_name))
            if rs is not None:
                kind = {"Deployment": ServiceKind.DEPLOYMENT, "Rollout": ServiceKind.ROLLOUT}.get(rs.owner_kind)
                if kind is not None:
                    skey = ServiceKey(self.name, pod.namespace, kind, rs.owner_name)
                    if skey in self._published:
                        return skey
        isvc = pod.labels.get(tr.KSERVE_ISVC_LABEL)
        if isvc:
            skey = ServiceKey(self.name, pod.namespace, ServiceKind.INFERENCE_SERVICE, isvc)
            if skey in self._published:
                return skey
        return None

    def _gpu_node(self, node: str) -> GpuNode | None:
        facts = self.store.get("nodes", {}).get(("", node))
        if facts is None:
            return None
        pods = self.store.get("pods", {})
        on_node = [pods[k] for k in self._pods_by_node.get(node, ()) if k in pods]
        return tr.gpu_node(self.name, facts, on_node, self._service_of_pod)

    def _derive_ns(self, ns: str) -> set[tuple[str, str]]:
        """Recompute blue-green routers and Istio splits of one namespace; return what moved."""
        moved: set[tuple[str, str]] = set()
        services = self._in_ns("services", ns)
        candidates = [s for s in services if any(k in s["spec"]["selector"] for k in tr.COLOUR_KEYS)]
        vses = self._in_ns("virtualservices", ns)
        new_bg: dict[tuple[str, str], Any] = {}
        new_istio: dict[tuple[str, str], tuple[Any, Any]] = {}
        if candidates or vses:
            deployments = self._in_ns("deployments", ns)
            weighted = {host for vs in vses for host in tr.weighted_destinations(vs)}
            argo = {name for (rns, _), ro in self.store.get("rollouts", {}).items() if rns == ns
                    for name in tr.argo_managed_services(ro)}
            switches = tr.selector_switches(candidates, deployments, weighted_destinations=weighted,
                                            argo_services=argo)
            for switch in switches:
                for dep in switch.members:
                    new_bg.setdefault((ns, dep), switch)
            if vses:
                by_name = {s["metadata"]["name"]: s["spec"]["selector"] for s in services}
                for vs in vses:
                    for split in tr.istio_splits(vs):
                        stable = self._deployments_for_host(ns, split.stable_host, by_name, deployments)
                        canary = self._deployments_for_host(ns, split.canary_host, by_name, deployments)
                        if not stable and not canary:
                            continue
                        model = tr.istio_canary(split, self._version_of(ns, stable), self._version_of(ns, canary))
                        for dep in stable + canary:
                            new_istio.setdefault((ns, dep), (model, split))
        for store, new in ((self._bg, new_bg), (self._istio, new_istio)):
            old_keys = {k for k in store if k[0] == ns}
            for key in old_keys | set(new):
                if store.get(key) != new.get(key):
                    moved.add(key)
                if key in new:
                    store[key] = new[key]
                else:
                    store.pop(key, None)
        return moved

    def _version_of(self, ns: str, names: list[str]) -> str:
        dep = self.store.get("deployments", {}).get((ns, names[0])) if names else None
        return tr.template_version(tr.as_dict(tr.as_dict(dep).get("spec")).get("template"))[1] if dep else ""

    def _deployments_for_host(self, ns: str, host: str, selectors: dict, deployments: list) -> list[str]:
        selector = selectors.get(host)
        names = []
        for dep in deployments:
            name = tr.obj_key(dep)[1]
            if (selector and tr.labels_match(selector, tr._template_labels(dep))) or (not selector and name == host):
                names.append(name)
        return names

    def _full_translate(self) -> None:
        """Everything from the cache: after the first sync and after a relist. Pushes a snapshot."""
        self._bg.clear()
        self._istio.clear()
        namespaces = set(self._ns_index.get("services", {})) | set(self._ns_index.get("virtualservices", {}))
        for ns in namespaces:
            self._derive_ns(ns)
        self._published.clear()
        services: dict[ServiceKey, Any] = {}
        for kind, (store_name, _) in self._TRANSLATORS.items():
            services.update(self._retranslate(kind, list(self.store.get(store_name, {}))))
        self._gpu = {}
        for (_, node) in list(self.store.get("nodes", {})):
            gpu = self._gpu_node(node)
            if gpu is not None:
                self._gpu[node] = gpu
        self._pending = {}
        for key, pod in self.store.get("pods", {}).items():
            if pod.gpus:
                pending = tr.pending_gpu(self.name, pod, self._service_of_pod(pod))
                if pending is not None:
                    self._pending[key] = pending
        self._emit(
            Change(
                source=self.name,
                services={k: v for k, v in services.items() if v is not None},
                gpu_nodes=dict(self._gpu),
                pending_gpu=self._pending_tuple(),
                snapshot=True,
            )
        )

    def _pending_tuple(self) -> tuple[PendingGpuWorkload, ...]:
        return tuple(self._pending[k] for k in sorted(self._pending))

    def _push(self, services: dict | None = None, nodes: Iterable[str] = (), pending: bool = False) -> None:
        gpu_nodes: dict[str, GpuNode | None] = {}
        for node in set(nodes):
            gpu = self._gpu_node(node)
            if self._gpu.get(node) != gpu:
                gpu_nodes[node] = gpu
                if gpu is None:
                    self._gpu.pop(node, None)
                else:
                    self._gpu[node] = gpu
        if services or gpu_nodes or pending:
            self._emit(
                Change(
                    source=self.name,
                    services=services or {},
                    gpu_nodes=gpu_nodes,
                    pending_gpu=self._pending_tuple() if pending else None,
                )
            )

    # -- incremental updates: each touches only what depends on the object -----------------

    def _changed_namespaces(self, key, old, new) -> None:
        ns = key[1]
        services: dict[ServiceKey, Any] = {}
        for kind, (store_name, _) in self._TRANSLATORS.items():
            services.update(self._retranslate(kind, [k for k in self.store.get(store_name, {}) if k[0] == ns]))
        self._push(services)

    def _changed_deployments(self, key, old, new) -> None:
        services = self._retranslate(ServiceKind.DEPLOYMENT, [key])
        if self._needs_derive(key[0]):
            moved = self._derive_ns(key[0])
            services.update(self._retranslate(ServiceKind.DEPLOYMENT, moved - {key}))
        self._push(services)

    def _needs_derive(self, ns: str) -> bool:
        return bool(self._ns_index.get("virtualservices", {}).get(ns)) or any(
            k in s["spec"]["selector"] for s in self._in_ns("services", ns) for k in tr.COLOUR_KEYS
        ) or any(k[0] == ns for k in self._bg)

    def _changed_services(self, key, old, new) -> None:
        moved = self._derive_ns(key[0])
        self._push(self._retranslate(ServiceKind.DEPLOYMENT, moved))

    _changed_virtualservices = _changed_services

    def _changed_replicasets(self, key, old, new) -> None:
        owners = {(f.owner_kind, f.owner_name) for f in (old, new) if f is not None}
        keys = [(key[0], name) for kind, name in owners if kind == "Rollout"]
        self._push(self._retranslate(ServiceKind.ROLLOUT, keys))

    def _changed_pods(self, key, old, new) -> None:
        nodes = {f.node for f in (old, new) if f is not None and f.node}
        pending_changed = False
        if (old is not None and old.gpus) or (new is not None and new.gpus) or key in self._pending:
            entry = tr.pending_gpu(self.name, new, self._service_of_pod(new)) if new is not None else None
            if self._pending.get(key) != entry:
                pending_changed = True
                if entry is None:
                    self._pending.pop(key, None)
                else:
                    self._pending[key] = entry
        services: dict[ServiceKey, Any] = {}
        isvcs = {(key[0], f.labels[tr.KSERVE_ISVC_LABEL]) for f in (old, new) if f and tr.KSERVE_ISVC_LABEL in f.labels}
        if isvcs:
            services = self._retranslate(ServiceKind.INFERENCE_SERVICE, isvcs)
        gpu_relevant = {n for n in nodes if n in self._gpu or (new is not None and new.gpus)}
        self._push(services, gpu_relevant, pending_changed)

    def _changed_nodes(self, key, old, new) -> None:
        self._push(None, [key[1]])

    def _changed_hpas(self, key, old, new) -> None:
        targets = {tr.hpa_target(o) for o in (old, new) if o is not None}
        services: dict[ServiceKey, Any] = {}
        for ns, kind, name in targets:
            if kind == "Deployment":
                services.update(self._retranslate(ServiceKind.DEPLOYMENT, [(ns, name)]))
            elif kind == "Rollout":
                services.update(self._retranslate(ServiceKind.ROLLOUT, [(ns, name)]))
        self._push(services)

    def _changed_events(self, key, old, new) -> None:
        facts = new or old
        kind = {"Deployment": ServiceKind.DEPLOYMENT, "Rollout": ServiceKind.ROLLOUT}.get(facts.kind)
        if facts.kind == "InferenceService":
            kind = ServiceKind.INFERENCE_SERVICE
        if kind is not None:
            self._push(self._retranslate(kind, [(facts.namespace, facts.name)]))

    def _changed_rollouts(self, key, old, new) -> None:
        services = self._retranslate(ServiceKind.ROLLOUT, [key])
        if self._needs_derive(key[0]):  # the Services a Rollout names are no selector switch
            services.update(self._retranslate(ServiceKind.DEPLOYMENT, self._derive_ns(key[0])))
        self._push(services)

    def _changed_inferenceservices(self, key, old, new) -> None:
        self._push(self._retranslate(ServiceKind.INFERENCE_SERVICE, [key]))

    # -- permissions --------------------------------------------------------------------------

    def can(self, ns: str, verb: str, group: str, resource: str, sub: str = "") -> bool | None:
        """SelfSubjectAccessReview, cached; None when the server cannot answer."""
        key = (ns, verb, group, resource, sub)
        if key in self._access:
            return self._access[key]
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {
                "resourceAttributes": {
                    "namespace": ns,
                    "verb": verb,
                    "group": group,
                    "resource": resource,
                    **({"subresource": sub} if sub else {}),
                }
            },
        }
        try:
            answer = self.transport.request(
                "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body=body, timeout=(5.0, 10.0)
            ).json()
        except ApiError as exc:
            log.info("access review unavailable: %s", exc)
            return None
        allowed = bool(tr.as_dict(tr.as_dict(answer).get("status")).get("allowed"))
        self._access[key] = allowed
        return allowed

    def _access_loop(self) -> None:
        while not self._stop.is_set():
            self._access_wake.wait(timeout=300)
            self._access_wake.clear()
            if self._stop.is_set():
                return
            with self._lock:
                wanted = sorted({(k.namespace, k.kind) for k in self._published}, key=lambda p: (p[0], p[1].value))
            for ns, kind in wanted:
                changed = False
                for (skind, _action), perms in PERMISSIONS.items():
                    if skind is not kind:
                        continue
                    for perm in perms:
                        if self._stop.is_set():
                            return
                        if (ns, *perm) not in self._access:
                            changed |= self.can(ns, *perm) is False
                if changed:
                    with self._lock:
                        store = self._TRANSLATORS[kind][0]
                        keys = [k for k in self.store.get(store, {}) if k[0] == ns]
                        self._push(self._retranslate(kind, keys))

    # -- for actions --------------------------------------------------------------------------

    def published(self, key: ServiceKey) -> ModelService | None:
        return self._published.get(key)

    def fit_nodes(self) -> list[FitNode] | None:
        """Every node of the cache for the GPU placement check (CPU-only nodes too: the scheduler counts
        them in its '0/N nodes'), with its free units per GPU resource, labels, taints and state; None when
        the nodes cannot be read (no permission): then the preview says nothing rather than guess."""
        with self._lock:
            readers = [r for r in self.reflectors if r.spec.name == "nodes"]
            if not readers or any(r.disabled or not r.synced for r in readers):
                return None
            return [tr.fit_node(facts, self._gpu.get(name)) for (_, name), facts in self.store.get("nodes", {}).items()]

    def pending_for(self, key: ServiceKey) -> int:
        with self._lock:
            return sum(1 for p in self._pending.values() if p.service == key)

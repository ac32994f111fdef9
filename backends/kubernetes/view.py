"""What one cluster shows the fleet: the cache translated into services, GPU nodes and pending GPU
workloads, and the `Change` each write makes to them.

A write touches only what depends on the object written (a pod event recomputes its node and the
pending list, not every service); after a first sync or a relist everything is translated again and
published as a snapshot. The view is driven under the backend's lock, one write at a time, so the
changes it returns are in the order of the writes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from mlops_tui.backends.base import Change
from mlops_tui.backends.gpu_fit import FitNode
from mlops_tui.backends.kubernetes import translate as tr
from mlops_tui.backends.kubernetes.access import AccessReviews
from mlops_tui.backends.kubernetes.cache import ClusterCache, ObjKey
from mlops_tui.backends.model import GpuNode, ModelService, PendingGpuWorkload, ServiceKey, ServiceKind

log = logging.getLogger(__name__)

SERVICE_STORES = {
    ServiceKind.DEPLOYMENT: "deployments",
    ServiceKind.ROLLOUT: "rollouts",
    ServiceKind.INFERENCE_SERVICE: "inferenceservices",
}
"""The store each kind of model service is read from."""

_OWNER_KINDS = {"Deployment": ServiceKind.DEPLOYMENT, "Rollout": ServiceKind.ROLLOUT,
                "InferenceService": ServiceKind.INFERENCE_SERVICE}

Services = dict[ServiceKey, ModelService | None]


class PublishedView:
    """The services, GPU nodes and pending workloads last published for one cluster."""

    def __init__(self, cluster: str, cache: ClusterCache, access: AccessReviews) -> None:
        self.cluster = cluster
        self.cache = cache
        self.access = access
        self._published: dict[ServiceKey, ModelService] = {}
        self._gpu: dict[str, GpuNode] = {}
        self._pending: dict[ObjKey, PendingGpuWorkload] = {}
        self._unreadable: dict[ServiceKey, str] = {}
        """Workloads skipped because they cannot be read (`tr.unreadable_workload`), and why."""
        self._told: dict[ServiceKey, str] = {}
        """What the log has been told is unreadable (a relist rebuilds `_unreadable`, not this)."""
        self._translators: dict[ServiceKind, Callable[[ObjKey], ModelService | None]] = {
            ServiceKind.DEPLOYMENT: self._translate_deployment,
            ServiceKind.ROLLOUT: self._translate_rollout,
            ServiceKind.INFERENCE_SERVICE: self._translate_isvc,
        }
        self._on_write: dict[str, Callable[[ObjKey, Any, Any], Change | None]] = {
            "namespaces": self._changed_namespace,
            "deployments": self._changed_deployment,
            "services": self._changed_router,
            "virtualservices": self._changed_router,
            "replicasets": self._changed_replicaset,
            "pods": self._changed_pod,
            "nodes": self._changed_node,
            "hpas": self._changed_hpa,
            "events": self._changed_event,
            "rollouts": self._changed_rollout,
            "inferenceservices": self._changed_isvc,
        }

    # -- what others read -------------------------------------------------------------------------

    def published(self, key: ServiceKey) -> ModelService | None:
        return self._published.get(key)

    @property
    def unreadable(self) -> int:
        """How many workloads are skipped as unreadable (the status line and `status --json` count them)."""
        return len(self._unreadable)

    def published_kinds(self) -> list[tuple[str, ServiceKind]]:
        """(namespace, kind) of every published service, sorted: what the access sweep asks about."""
        return sorted({(k.namespace, k.kind) for k in self._published}, key=lambda p: (p[0], p[1].value))

    def fit_nodes(self) -> list[FitNode]:
        return [tr.fit_node(facts, self._gpu.get(name)) for (_, name), facts in self.cache.items("nodes")]

    def pending_for(self, key: ServiceKey) -> int:
        return sum(1 for p in self._pending.values() if p.service == key)

    # -- writes -----------------------------------------------------------------------------------

    def snapshot(self) -> Change:
        """Everything from the cache: after the first sync and after a relist."""
        self.cache.derive_all()
        self._published.clear()
        self._unreadable.clear()
        services: Services = {}
        for kind, store in SERVICE_STORES.items():
            services.update(self._retranslate(kind, self.cache.keys(store)))
        self._gpu = {}
        for (_, node) in self.cache.keys("nodes"):
            gpu = self._gpu_node(node)
            if gpu is not None:
                self._gpu[node] = gpu
        self._pending = {}
        for key, pod in self.cache.items("pods"):
            if pod.gpus:
                pending = tr.pending_gpu(self.cluster, pod, self._service_of_pod(pod))
                if pending is not None:
                    self._pending[key] = pending
        return Change(
            source=self.cluster,
            services={k: v for k, v in services.items() if v is not None},
            gpu_nodes=dict(self._gpu),
            pending_gpu=self._pending_tuple(),
            snapshot=True,
        )

    def changed(self, resource: str, key: ObjKey, old: Any, new: Any) -> Change | None:
        """What one write (old -> new value of `resource`/`key`) changes in the view, if anything."""
        handler = self._on_write.get(resource)
        return handler(key, old, new) if handler is not None else None

    def republish(self, kind: ServiceKind, ns: str) -> Change | None:
        """Translate one namespace's services of a kind again (their denied actions changed)."""
        return self._change(self._retranslate(kind, self.cache.keys(SERVICE_STORES[kind], ns)))

    # -- translation ------------------------------------------------------------------------------

    def _translate_deployment(self, key: ObjKey) -> ModelService | None:
        obj = self.cache.get("deployments", key)
        if obj is None:
            return None
        ns, name = key
        istio = self.cache.istio_route_of(ns, name)
        switch = self.cache.selector_switch_of(ns, name)
        return tr.deployment_service(
            self.cluster,
            obj,
            hpa=self.cache.hpa_for(ns, "Deployment", name),
            canary=istio[0] if istio else None,
            blue_green=switch.blue_green() if switch else None,
            production=self.cache.production(ns),
            warnings=self.cache.warnings_for(ns, "Deployment", name),
            denied=self.access.denied(ServiceKind.DEPLOYMENT, ns),
        )

    def _translate_rollout(self, key: ObjKey) -> ModelService | None:
        obj = self.cache.get("rollouts", key)
        if obj is None:
            return None
        ns, name = key
        return tr.rollout_service(
            self.cluster,
            obj,
            replicasets=self.cache.replicasets_of(ns, "Rollout", name),
            hpa=self.cache.hpa_for(ns, "Rollout", name),
            production=self.cache.production(ns),
            warnings=self.cache.warnings_for(ns, "Rollout", name),
            denied=self.access.denied(ServiceKind.ROLLOUT, ns),
        )

    def _translate_isvc(self, key: ObjKey) -> ModelService | None:
        obj = self.cache.get("inferenceservices", key)
        if obj is None:
            return None
        ns, name = key
        return tr.isvc_service(
            self.cluster,
            obj,
            pods=self.cache.pods_of_isvc(ns, name),
            production=self.cache.production(ns),
            warnings=self.cache.warnings_for(ns, "InferenceService", name),
            denied=self.access.denied(ServiceKind.INFERENCE_SERVICE, ns),
        )

    def _retranslate(self, kind: ServiceKind, keys: Iterable[ObjKey]) -> Services:
        """Translate these objects again; return the services that changed (None: gone)."""
        out: Services = {}
        translate = self._translators[kind]
        for key in keys:
            skey = ServiceKey(self.cluster, key[0], kind, key[1])
            obj = self.cache.get(SERVICE_STORES[kind], key)
            why = tr.unreadable_workload(obj) if obj is not None else ""
            try:
                service = None if why else translate(key)
            except Exception as exc:  # one odd object must not take the cluster's view down
                log.debug("cannot translate %s %s/%s", kind.value, *key, exc_info=True)
                service, why = None, f"{type(exc).__name__}: {exc}"
            if why:
                if self._told.get(skey) != why:  # once per object and reason, not once per relist
                    log.warning("%s: %s %s/%s skipped, unreadable: %s", self.cluster, kind.value, *key, why)
                self._unreadable[skey] = self._told[skey] = why
            else:
                self._unreadable.pop(skey, None)
                self._told.pop(skey, None)
            if service is None:
                if self._published.pop(skey, None) is not None:
                    out[skey] = None
            elif self._published.get(skey) != service:
                self._published[skey] = service
                out[skey] = service
        return out

    def service_of_object(self, ns: str, kind: str, name: str) -> ServiceKey | None:
        """The published service an Event's object belongs to: the workload itself, its ReplicaSet or pod."""
        direct = {"Deployment": ServiceKind.DEPLOYMENT, "Rollout": ServiceKind.ROLLOUT,
                  "InferenceService": ServiceKind.INFERENCE_SERVICE}.get(kind)
        if direct is not None:
            skey = ServiceKey(self.cluster, ns, direct, name)
            return skey if skey in self._published else None
        if kind == "ReplicaSet":
            rs = self.cache.get("replicasets", (ns, name))
            if rs is not None and rs.owner_kind in ("Deployment", "Rollout"):
                return self.service_of_object(ns, rs.owner_kind, rs.owner_name)
        if kind == "HorizontalPodAutoscaler":
            hpa = self.cache.get("hpas", (ns, name))
            if hpa is not None:
                _, target_kind, target = tr.hpa_target(hpa)
                return self.service_of_object(ns, target_kind, target)
        if kind == "Pod":
            pod = self.cache.get("pods", (ns, name))
            if pod is not None:
                return self._service_of_pod(pod)
        return None

    def _service_of_pod(self, pod: tr.PodFacts) -> ServiceKey | None:
        if pod.owner_kind == "ReplicaSet":
            rs = self.cache.get("replicasets", (pod.namespace, pod.owner_name))
            if rs is not None:
                kind = {"Deployment": ServiceKind.DEPLOYMENT, "Rollout": ServiceKind.ROLLOUT}.get(rs.owner_kind)
                if kind is not None:
                    skey = ServiceKey(self.cluster, pod.namespace, kind, rs.owner_name)
                    if skey in self._published:
                        return skey
        isvc = pod.labels.get(tr.KSERVE_ISVC_LABEL)
        if isvc:
            skey = ServiceKey(self.cluster, pod.namespace, ServiceKind.INFERENCE_SERVICE, isvc)
            if skey in self._published:
                return skey
        return None

    def _gpu_node(self, node: str) -> GpuNode | None:
        facts = self.cache.get("nodes", ("", node))
        if facts is None:
            return None
        return tr.gpu_node(self.cluster, facts, self.cache.pods_on_node(node), self._service_of_pod)

    def _pending_tuple(self) -> tuple[PendingGpuWorkload, ...]:
        return tuple(self._pending[k] for k in sorted(self._pending))

    def _change(self, services: Services | None = None, nodes: Iterable[str] = (),
                pending: bool = False) -> Change | None:
        """The change to publish: these services, the GPU nodes among `nodes` that changed, and the
        pending list when it changed; None when nothing did."""
        gpu_nodes: dict[str, GpuNode | None] = {}
        for node in set(nodes):
            gpu = self._gpu_node(node)
            if self._gpu.get(node) != gpu:
                gpu_nodes[node] = gpu
                if gpu is None:
                    self._gpu.pop(node, None)
                else:
                    self._gpu[node] = gpu
        if not (services or gpu_nodes or pending):
            return None
        return Change(
            source=self.cluster,
            services=services or {},
            gpu_nodes=gpu_nodes,
            pending_gpu=self._pending_tuple() if pending else None,
        )

    # -- incremental updates: each touches only what depends on the object ----------------------

    def _changed_namespace(self, key: ObjKey, old: Any, new: Any) -> Change | None:
        ns = key[1]
        services: Services = {}
        for kind, store in SERVICE_STORES.items():
            services.update(self._retranslate(kind, self.cache.keys(store, ns)))
        return self._change(services)

    def _changed_deployment(self, key: ObjKey, old: Any, new: Any) -> Change | None:
        services = self._retranslate(ServiceKind.DEPLOYMENT, [key])
        if self.cache.needs_derive(key[0]):
            moved = self.cache.derive_namespace(key[0])
            services.update(self._retranslate(ServiceKind.DEPLOYMENT, moved - {key}))
        return self._change(services)

    def _changed_router(self, key: ObjKey, old: Any, new: Any) -> Change | None:
        """A Service or a VirtualService: the blue-green and Istio joins of its namespace may move."""
        moved = self.cache.derive_namespace(key[0])
        return self._change(self._retranslate(ServiceKind.DEPLOYMENT, moved))

    def _changed_replicaset(self, key: ObjKey, old: Any, new: Any) -> Change | None:
        owners = {(f.owner_kind, f.owner_name) for f in (old, new) if f is not None}
        keys = [(key[0], name) for kind, name in owners if kind == "Rollout"]
        return self._change(self._retranslate(ServiceKind.ROLLOUT, keys))

    def _changed_pod(self, key: ObjKey, old: Any, new: Any) -> Change | None:
        nodes = {f.node for f in (old, new) if f is not None and f.node}
        pending_changed = False
        if (old is not None and old.gpus) or (new is not None and new.gpus) or key in self._pending:
            entry = tr.pending_gpu(self.cluster, new, self._service_of_pod(new)) if new is not None else None
            if self._pending.get(key) != entry:
                pending_changed = True
                if entry is None:
                    self._pending.pop(key, None)
                else:
                    self._pending[key] = entry
        services: Services = {}
        isvcs = {(key[0], f.labels[tr.KSERVE_ISVC_LABEL]) for f in (old, new) if f and tr.KSERVE_ISVC_LABEL in f.labels}
        if isvcs:
            services = self._retranslate(ServiceKind.INFERENCE_SERVICE, isvcs)
        gpu_relevant = {n for n in nodes if n in self._gpu or (new is not None and new.gpus)}
        return self._change(services, gpu_relevant, pending_changed)

    def _changed_node(self, key: ObjKey, old: Any, new: Any) -> Change | None:
        return self._change(None, [key[1]])

    def _changed_hpa(self, key: ObjKey, old: Any, new: Any) -> Change | None:
        targets = {tr.hpa_target(o) for o in (old, new) if o is not None}
        services: Services = {}
        for ns, kind, name in targets:
            if kind in ("Deployment", "Rollout"):
                services.update(self._retranslate(_OWNER_KINDS[kind], [(ns, name)]))
        return self._change(services)

    def _changed_event(self, key: ObjKey, old: Any, new: Any) -> Change | None:
        facts = new or old
        kind = _OWNER_KINDS.get(facts.kind)
        if kind is None:
            return None
        return self._change(self._retranslate(kind, [(facts.namespace, facts.name)]))

    def _changed_rollout(self, key: ObjKey, old: Any, new: Any) -> Change | None:
        services = self._retranslate(ServiceKind.ROLLOUT, [key])
        if self.cache.needs_derive(key[0]):  # the Services a Rollout names are no selector switch
            services.update(self._retranslate(ServiceKind.DEPLOYMENT, self.cache.derive_namespace(key[0])))
        return self._change(services)

    def _changed_isvc(self, key: ObjKey, old: Any, new: Any) -> Change | None:
        return self._change(self._retranslate(ServiceKind.INFERENCE_SERVICE, [key]))

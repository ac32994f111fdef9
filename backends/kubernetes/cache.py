"""The live cache of one cluster: what the reflectors read, its indexes and the joins derived from it.

One store per watched resource, keyed by (namespace, name) (namespace '' for cluster-scoped objects),
holding the reduced values of `resources.REDUCERS` (or the raw JSON for the workloads). Next to it:

- indexes kept in step with every write: ReplicaSets by owner, pods by node and by InferenceService,
  the HorizontalPodAutoscaler by its scale target, the last warning events of each object, and the
  names of Deployments, Services and VirtualServices per namespace;
- joins derived per namespace (`derive_namespace`): which Services switch which Deployments between
  colours (blue-green) and which Deployments an Istio VirtualService splits traffic between.

Everything is read through the methods below, under the cache's own lock, so the action planner's
thread and the reflector threads never see an index half-updated. The cache emits nothing: the backend
decides what a write means for the fleet (`view.py`).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from typing import Any

from mlops_tui.backends.kubernetes import translate as tr
from mlops_tui.backends.model import Canary

ObjKey = tuple[str, str]
"""(namespace, name); namespace '' for a cluster-scoped object."""

OwnerKey = tuple[str, str, str]
"""(namespace, owner kind, owner name), e.g. ("prod", "Deployment", "valuation")."""

WARNINGS_KEPT = 3
"""How many of an object's latest warning events the detail screen shows."""

_PER_NAMESPACE = ("deployments", "services", "virtualservices")
"""Stores the per-namespace derivations scan: indexed by namespace to avoid a whole-store scan."""


class ClusterCache:
    """The store, its indexes and its derived joins. Thread-safe: every method takes the cache's lock."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._store: dict[str, dict[ObjKey, Any]] = {}
        self._names_by_ns: dict[str, dict[str, set[str]]] = {}
        self._rs_by_owner: dict[OwnerKey, set[str]] = {}
        self._pods_by_node: dict[str, set[ObjKey]] = {}
        self._pods_by_isvc: dict[ObjKey, set[str]] = {}
        self._hpa_by_target: dict[OwnerKey, ObjKey] = {}
        self._warnings: dict[OwnerKey, deque[tr.EventFacts]] = {}
        self._switches: dict[ObjKey, tr.SelectorSwitch] = {}
        self._istio: dict[ObjKey, tuple[Canary, tr.IstioSplit]] = {}

    # -- writes (the reflectors' handler) -------------------------------------------------------

    def watch(self, resource: str) -> None:
        """Start an (empty) store for a resource about to be listed."""
        with self._lock:
            self._store.setdefault(resource, {})

    def replace(self, resource: str, namespace: str, items: Iterable[tuple[ObjKey, Any]]) -> None:
        """A LIST's result: everything of `resource` in `namespace` ('' means all) is replaced."""
        with self._lock:
            store = self._store.setdefault(resource, {})
            if namespace:
                for key in [k for k in store if k[0] == namespace]:
                    del store[key]
            else:
                store.clear()
            store.update(items)
            self._reindex(resource)

    def apply(self, resource: str, event: str, key: ObjKey, value: Any) -> tuple[Any, Any]:
        """One watch event (ADDED, MODIFIED or DELETED); returns (old value, new value), None for absent."""
        with self._lock:
            store = self._store.setdefault(resource, {})
            old = store.get(key)
            if event == "DELETED":
                store.pop(key, None)
                new = None
            else:
                store[key] = value
                new = value
            self._index_one(resource, key, old, new)
            return old, new

    def derive_all(self) -> None:
        """Recompute the blue-green and Istio joins of every namespace (after a first sync or a relist)."""
        with self._lock:
            self._switches.clear()
            self._istio.clear()
            namespaces = set(self._names_by_ns.get("services", {})) | set(self._names_by_ns.get("virtualservices", {}))
            for ns in namespaces:
                self.derive_namespace(ns)

    def derive_namespace(self, ns: str) -> set[ObjKey]:
        """Recompute the blue-green switches and Istio splits of one namespace; return the Deployments
        whose join changed (they need translating again)."""
        with self._lock:
            services = self._in_namespace("services", ns)
            candidates = [s for s in services if any(k in s["spec"]["selector"] for k in tr.COLOUR_KEYS)]
            vses = self._in_namespace("virtualservices", ns)
            new_switches: dict[ObjKey, tr.SelectorSwitch] = {}
            new_istio: dict[ObjKey, tuple[Canary, tr.IstioSplit]] = {}
            if candidates or vses:
                deployments = self._in_namespace("deployments", ns)
                weighted = {host for vs in vses for host in tr.weighted_destinations(vs)}
                argo = {name for (rns, _), ro in self._store.get("rollouts", {}).items() if rns == ns
                        for name in tr.argo_managed_services(ro)}
                switches = tr.selector_switches(candidates, deployments, weighted_destinations=weighted,
                                                argo_services=argo)
                for switch in switches:
                    for dep in switch.members:
                        new_switches.setdefault((ns, dep), switch)
                if vses:
                    by_name = {s["metadata"]["name"]: s["spec"]["selector"] for s in services}
                    for vs in vses:
                        for split in tr.istio_splits(vs):
                            stable = self._deployments_for_host(ns, split.stable_host, by_name, deployments)
                            canary = self._deployments_for_host(ns, split.canary_host, by_name, deployments)
                            if not stable and not canary:
                                continue
                            model = tr.istio_canary(split, self._version_of(ns, stable), self._version_of(ns, canary),
                                                    *_one_each(stable, canary))
                            for dep in stable + canary:
                                new_istio.setdefault((ns, dep), (model, split))
            moved: set[ObjKey] = set()
            moved |= _replace_namespace(self._switches, new_switches, ns)
            moved |= _replace_namespace(self._istio, new_istio, ns)
            return moved

    def needs_derive(self, ns: str) -> bool:
        """Whether a change in `ns` can move a join: it has a VirtualService, a colour-keyed Service or a
        switch already (one that may now be gone)."""
        with self._lock:
            return bool(self._names_by_ns.get("virtualservices", {}).get(ns)) or any(
                k in s["spec"]["selector"] for s in self._in_namespace("services", ns) for k in tr.COLOUR_KEYS
            ) or any(k[0] == ns for k in self._switches)

    # -- reads -----------------------------------------------------------------------------------

    def get(self, resource: str, key: ObjKey) -> Any:
        """One object (its reduced value), or None."""
        with self._lock:
            return self._store.get(resource, {}).get(key)

    def keys(self, resource: str, namespace: str | None = None) -> list[ObjKey]:
        """The keys of a resource's objects, all or in one namespace."""
        with self._lock:
            store = self._store.get(resource, {})
            return [k for k in store if namespace is None or k[0] == namespace]

    def items(self, resource: str) -> list[tuple[ObjKey, Any]]:
        with self._lock:
            return list(self._store.get(resource, {}).items())

    def production(self, ns: str) -> bool:
        """Whether the namespace is labelled as production (see `translate.namespace_is_production`)."""
        with self._lock:
            return bool(self._store.get("namespaces", {}).get(("", ns), False))

    def hpa_key_for(self, ns: str, kind: str, name: str) -> ObjKey | None:
        """The HorizontalPodAutoscaler whose scale target is this workload (kind as in an ownerReference)."""
        with self._lock:
            return self._hpa_by_target.get((ns, kind, name))

    def hpa_for(self, ns: str, kind: str, name: str) -> Any:
        with self._lock:
            key = self._hpa_by_target.get((ns, kind, name))
            return self._store.get("hpas", {}).get(key) if key else None

    def replicasets_of(self, ns: str, kind: str, name: str) -> list[tr.ReplicaSetFacts]:
        """The ReplicaSets a Deployment or Rollout owns, by name."""
        with self._lock:
            store = self._store.get("replicasets", {})
            return [store[(ns, n)] for n in sorted(self._rs_by_owner.get((ns, kind, name), ())) if (ns, n) in store]

    def pods_of_owner(self, ns: str, kind: str, name: str) -> list[tr.PodFacts]:
        """The pods of a Deployment's or Rollout's ReplicaSets."""
        with self._lock:
            owners = set(self._rs_by_owner.get((ns, kind, name), ()))
            return [p for (pod_ns, _), p in self._store.get("pods", {}).items()
                    if pod_ns == ns and p.owner_kind == "ReplicaSet" and p.owner_name in owners]

    def pods_of_isvc(self, ns: str, name: str) -> list[tr.PodFacts]:
        """The pods KServe labels as serving this InferenceService."""
        with self._lock:
            pods = self._store.get("pods", {})
            return [pods[(ns, p)] for p in self._pods_by_isvc.get((ns, name), ()) if (ns, p) in pods]

    def pods_on_node(self, node: str) -> list[tr.PodFacts]:
        with self._lock:
            pods = self._store.get("pods", {})
            return [pods[k] for k in self._pods_by_node.get(node, ()) if k in pods]

    def warnings_for(self, ns: str, kind: str, name: str) -> tuple[tr.EventFacts, ...]:
        """The object's latest warning events, oldest first (at most `WARNINGS_KEPT`)."""
        with self._lock:
            return tuple(self._warnings.get((ns, kind, name), ()))

    def selector_switch_of(self, ns: str, deployment: str) -> tr.SelectorSwitch | None:
        """The Service that switches this Deployment between colours (blue-green), if any."""
        with self._lock:
            return self._switches.get((ns, deployment))

    def istio_route_of(self, ns: str, deployment: str) -> tuple[Canary, tr.IstioSplit] | None:
        """The canary model and the VirtualService split this Deployment is a side of, if any."""
        with self._lock:
            return self._istio.get((ns, deployment))

    # -- internals --------------------------------------------------------------------------------

    def _in_namespace(self, resource: str, ns: str) -> list[Any]:
        store = self._store.get(resource, {})
        names = self._names_by_ns.get(resource, {}).get(ns, ())
        return [store[(ns, n)] for n in sorted(names) if (ns, n) in store]

    def _version_of(self, ns: str, names: list[str]) -> str:
        dep = self._store.get("deployments", {}).get((ns, names[0])) if names else None
        return tr.template_version(tr.as_dict(tr.as_dict(dep).get("spec")).get("template"))[1] if dep else ""

    @staticmethod
    def _deployments_for_host(ns: str, host: str, selectors: dict, deployments: list) -> list[str]:
        """The Deployments behind a route's host: those its Service selects, or the one named as the
        host when no Service of that name exists."""
        selector = selectors.get(host)
        names = []
        for dep in deployments:
            name = tr.obj_key(dep)[1]
            if (selector and tr.labels_match(selector, tr._template_labels(dep))) or (not selector and name == host):
                names.append(name)
        return names

    def _reindex(self, resource: str) -> None:
        if resource == "replicasets":
            self._rs_by_owner.clear()
        elif resource == "pods":
            self._pods_by_node.clear()
            self._pods_by_isvc.clear()
        elif resource == "hpas":
            self._hpa_by_target.clear()
        elif resource == "events":
            self._warnings.clear()
        elif resource in _PER_NAMESPACE:
            self._names_by_ns.pop(resource, None)
        for key, value in self._store.get(resource, {}).items():
            self._index_one(resource, key, None, value)

    def _index_one(self, resource: str, key: ObjKey, old: Any, new: Any) -> None:
        ns, obj_name = key
        if resource == "replicasets":
            for facts, add in ((old, False), (new, True)):
                if facts is not None and facts.owner_kind:
                    owned = self._rs_by_owner.setdefault((ns, facts.owner_kind, facts.owner_name), set())
                    (owned.add if add else owned.discard)(obj_name)
        elif resource == "pods":
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
        elif resource == "hpas":
            if old is not None:
                self._hpa_by_target.pop(tr.hpa_target(old), None)
            if new is not None:
                self._hpa_by_target[tr.hpa_target(new)] = key
        elif resource == "events":
            if new is not None:
                recent = self._warnings.setdefault((new.namespace, new.kind, new.name), deque(maxlen=WARNINGS_KEPT))
                recent.append(new)
        elif resource in _PER_NAMESPACE:
            names = self._names_by_ns.setdefault(resource, {}).setdefault(ns, set())
            (names.add if new is not None else names.discard)(obj_name)


def _replace_namespace(joined: dict[ObjKey, Any], new: dict[ObjKey, Any], ns: str) -> set[ObjKey]:
    """Put `new` in place of `joined`'s entries of namespace `ns`; return the keys whose entry changed."""
    moved: set[ObjKey] = set()
    old_keys = {k for k in joined if k[0] == ns}
    for key in old_keys | set(new):
        if joined.get(key) != new.get(key):
            moved.add(key)
        if key in new:
            joined[key] = new[key]
        else:
            joined.pop(key, None)
    return moved


def _one_each(stable: list[str], canary: list[str]) -> tuple[str, str]:
    """The Deployments serving an Istio split's two sides, when each side is exactly one (their own
    series then give the canary-vs-stable figures); else none."""
    return (stable[0], canary[0]) if len(stable) == 1 and len(canary) == 1 else ("", "")

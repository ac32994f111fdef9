"""Tie metrics and alerts (which only carry labels) to the model services the Fleet knows.

Pure functions: given label sets and the current services, decide which service a label set is
about. Used by the Fleet for alerts and by the Prometheus backend for latency series.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from mlops_tui.backends.model import Alert, AlertState, ModelService, ServiceKey, ServiceKind

NAMESPACE_LABELS = ("namespace", "exported_namespace", "k8s_namespace_name", "namespace_name", "stack")
"""Label names that carry a Kubernetes namespace or a Swarm stack, most specific first."""

NAME_LABELS = (
    "service",
    "deployment",
    "rollout",
    "inferenceservice",
    "isvc",
    "model_service",
    "swarm_service",
    "com_docker_swarm_service_name",
    "kn_service_name",
    "service_name",
    "app",
    "app_kubernetes_io_name",
    "model_name",
    "model",
    "job",
)
"""Label names that may carry a service's name, in the order they are trusted."""

CLUSTER_LABELS = ("cluster", "k8s_cluster", "swarm")


KIND_NAME_LABELS = {
    "deployment": ServiceKind.DEPLOYMENT,
    "rollout": ServiceKind.ROLLOUT,
    "inferenceservice": ServiceKind.INFERENCE_SERVICE,
    "isvc": ServiceKind.INFERENCE_SERVICE,
    "swarm_service": ServiceKind.SWARM_SERVICE,
    "com_docker_swarm_service_name": ServiceKind.SWARM_SERVICE,
}
"""Name labels that also say which kind of service they name (a hint, except for Swarm's own labels)."""

SWARM_NAME_LABELS = ("swarm_service", "com_docker_swarm_service_name")
"""Name labels that only a Swarm service can carry."""


class ServiceIndex:
    """Lookup of services by name, by (namespace, name) and by cluster.

    A service's identity includes its kind: a Deployment `x` and an Argo Rollout `x` in one
    namespace (the Rollout `workloadRef` migration) are two services, and labels must say which.
    """

    def __init__(self, services: Iterable[ModelService]) -> None:
        self._by_name: dict[str, list[ServiceKey]] = {}
        self._serving: set[ServiceKey] = set()
        for service in services:
            key = service.key
            if service.desired > 0:
                self._serving.add(key)
            self._by_name.setdefault(key.name, []).append(key)
            # A Swarm stack service 'stack_svc' is also known by its short name 'svc'.
            if key.namespace and key.name.startswith(key.namespace + "_"):
                self._by_name.setdefault(key.name[len(key.namespace) + 1 :], []).append(key)

    def resolve(self, labels: Mapping[str, str]) -> ServiceKey | None:
        """The one service these labels are about, or None when none or several match."""
        namespace = next((labels[n] for n in NAMESPACE_LABELS if labels.get(n)), None)
        cluster = next((labels[n] for n in CLUSTER_LABELS if labels.get(n)), None)
        for label in NAME_LABELS:
            name = labels.get(label)
            if not name:
                continue
            candidates = self._by_name.get(name, [])
            if label in KIND_NAME_LABELS:
                hinted = [k for k in candidates if k.kind is KIND_NAME_LABELS[label]]
                candidates = hinted if hinted or label in SWARM_NAME_LABELS else candidates
            if namespace is not None:
                candidates = [k for k in candidates if k.namespace == namespace]
            if cluster is not None:
                candidates = [k for k in candidates if k.cluster == cluster]
            if len(candidates) > 1:
                candidates = self._one_workload_serving(candidates)
            if len(candidates) == 1:
                return candidates[0]
        return None

    def _one_workload_serving(self, candidates: list[ServiceKey]) -> list[ServiceKey]:
        """Same name and place, different kinds (a Deployment handing over to a Rollout): the
        metrics are about whichever of them runs replicas; if both or neither do, nobody can tell."""
        places = {(k.cluster, k.namespace, k.name) for k in candidates}
        if len(places) != 1:
            return candidates
        serving = [k for k in candidates if k in self._serving]
        return serving if len(serving) == 1 else candidates


_STATE_RANK = {AlertState.SILENCED: 3, AlertState.INHIBITED: 3, AlertState.FIRING: 2, AlertState.PENDING: 1}


def merge_alerts(per_source: Mapping[str, tuple[Alert, ...]], index: ServiceIndex) -> tuple[Alert, ...]:
    """One list from every source: the same alert reported twice (by Prometheus and by
    Alertmanager) appears once, keeping the report that knows most (silenced beats firing
    beats pending); each is tied to its service; loudest first, then newest first."""
    best: dict[tuple, Alert] = {}
    for source in sorted(per_source):
        for alert in per_source[source]:
            identity = alert.identity
            seen = best.get(identity)
            if seen is None or _STATE_RANK.get(alert.state, 0) > _STATE_RANK.get(seen.state, 0):
                best[identity] = alert
    tied = []
    for alert in best.values():
        if alert.service is None:
            service = index.resolve(dict(alert.labels))
            if service is not None:
                alert = _with_service(alert, service)
        tied.append(alert)
    tied.sort(key=lambda a: (-a.severity, -(a.since.timestamp() if a.since else 0.0), a.name, a.labels))
    return tuple(tied)


def _with_service(alert: Alert, service: ServiceKey) -> Alert:
    return replace(alert, service=service)

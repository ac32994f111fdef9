"""What `:` jumps to: a view, a cluster, or a service by name (exact, then prefix, then the letters in
order, the way a tired operator types a half-remembered name)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

from mlops_tui.backends.model import ClusterHealth, ServiceKey


class Jump(NamedTuple):
    kind: str
    """"view", "cluster" or "service"."""
    target: str
    service: ServiceKey | None = None


def clusters(health: Mapping[str, ClusterHealth], services: Iterable[ServiceKey]) -> list[str]:
    """The clusters (Kubernetes and Swarm): sources with a platform; Prometheus and Alertmanager are
    sources, not clusters."""
    return sorted({key.cluster for key in services} | {name for name, h in health.items() if h.platform is not None})


def _subsequence(typed: str, name: str) -> bool:
    letters = iter(name)
    return all(char in letters for char in typed)


def resolve(typed: str, views: Iterable[str], cluster_names: Iterable[str],
            services: Iterable[ServiceKey]) -> Jump | None:
    """The best match for `typed`, or None. Views and clusters match exactly (case aside); a service
    by its exact name, then a name that starts with it, then one that contains it, then one holding
    its letters in order. Ties go to the shortest name (the most specific), then cluster and namespace."""
    wanted = typed.strip().lower()
    if not wanted:
        return None
    if wanted in views:
        return Jump("view", wanted)
    for cluster in cluster_names:
        if cluster.lower() == wanted:
            return Jump("cluster", cluster)
    keys = sorted(services, key=lambda k: (len(k.name), k.cluster, k.namespace or "", k.name))
    for matches in (lambda n: n == wanted, lambda n: n.startswith(wanted), lambda n: wanted in n,
                    lambda n: _subsequence(wanted, n)):
        found = next((key for key in keys if matches(key.name.lower())), None)
        if found is not None:
            return Jump("service", found.name, found)
    return None

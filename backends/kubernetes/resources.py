"""What a cluster's backend watches, and how each object is reduced before the cache keeps it.

Pods, ReplicaSets, nodes, events and Services are kept as small facts (see `translate.py`): only what
the fleet shows and the joins need, so a 10k-pod cluster is not held as 10k full JSON documents.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlops_tui.backends.kubernetes import translate as tr
from mlops_tui.backends.kubernetes.reflector import ResourceSpec

CORE_RESOURCES = (
    ResourceSpec("namespaces", "", "v1", "namespaces", namespaced=False, essential=False),
    ResourceSpec("deployments", "apps", "v1", "deployments", model_selector=True),
    ResourceSpec("replicasets", "apps", "v1", "replicasets"),
    ResourceSpec("pods", "", "v1", "pods"),
    ResourceSpec("nodes", "", "v1", "nodes", namespaced=False, essential=False),
    ResourceSpec("services", "", "v1", "services"),
    ResourceSpec("hpas", "autoscaling", "v2", "horizontalpodautoscalers", essential=False),
    ResourceSpec("events", "", "v1", "events", essential=False, field_selector="type=Warning"),
    # For the timeline: a node NotReady, an HPA's rescale, a ReplicaSet scaled, anyone's MlopsTuiAction
    # are Normal Events (backends/kubernetes/history.py leaves out the per-pod lifecycle ones).
    ResourceSpec("normalevents", "", "v1", "events", essential=False, field_selector="type=Normal"),
)
OPTIONAL_RESOURCES = (
    ResourceSpec("rollouts", "argoproj.io", "v1alpha1", "rollouts", essential=False, model_selector=True),
    ResourceSpec(
        "inferenceservices", "serving.kserve.io", "v1beta1", "inferenceservices", essential=False, model_selector=True
    ),
    ResourceSpec("virtualservices", "networking.istio.io", "v1", "virtualservices", essential=False),
)
"""Watched only when discovery shows their API group (the version is discovery's preferred one)."""


def slim_service(obj: Any) -> dict:
    """A Service as the blue-green join needs it: its name and selector."""
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
    "normalevents": tr.event_facts,
    "services": slim_service,
    "namespaces": tr.namespace_is_production,
}

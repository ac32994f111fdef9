"""Pods that terminate (the simulator now keeps them, as a real server does, for their grace period)
are no replicas: the app's counts leave them out while the pods pane still sees them on their node."""

from __future__ import annotations

from mlops_tui.backends.kubernetes import translate as tr
from mlops_tui.sim.kube.objects import namespace
from mlops_tui.sim.kube.store import Store


def _ready_pod(store: Store, name: str) -> None:
    store.create("pods", "ml-prod", {"metadata": {"name": name, "labels": {
        "serving.kserve.io/inferenceservice": "price"}}, "spec": {"containers": [{"name": "kserve-container",
                                                                                 "image": "img:v1"}]}})
    pod = store.get("pods", "ml-prod", name)
    pod["spec"]["nodeName"] = "gpu-node-1"
    pod["status"].update(phase="Running", conditions=[{"type": "Ready", "status": "True"}])
    store.put("pods", pod)


def test_a_terminating_kserve_pod_is_not_counted_ready_while_it_holds_its_node():
    store = Store()
    store.create("namespaces", None, namespace("ml-prod"))
    for name in ("price-a", "price-b", "price-c"):
        _ready_pod(store, name)
    store.delete("pods", "ml-prod", "price-c")  # a scale-down: price-c terminates for 30 s
    facts = [tr.pod_facts(p) for p in store.list("pods", "ml-prod")]
    leaving = next(f for f in facts if f.name == "price-c")
    assert leaving.terminating and leaving.ready, "its Ready condition still says True while it terminates"
    assert leaving.counts_on_node, "it still holds its node's resources"
    isvc = {"metadata": {"name": "price", "namespace": "ml-prod"},
            "spec": {"predictor": {"minReplicas": 2, "sklearn": {"storageUri": "gs://models/price/v3"}}}}
    service = tr.isvc_service("sim", isvc, pods=facts)
    assert (service.desired, service.ready, service.unavailable) == (2, 2, 0)

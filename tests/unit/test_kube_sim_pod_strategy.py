"""The simulator's pod strategy and Service IPs, without HTTP: what the server decides by itself when a
pod is created or deleted, how Services get their cluster IPs, and that a dry run stores nothing.
(The stories with kubectl as the judge are in tests/integration/test_kubectl_fidelity_a.py.)"""

from __future__ import annotations

import ipaddress

import pytest

from mlops_tui.sim.kube.errors import ApiError
from mlops_tui.sim.kube.objects import container, deployment, namespace, service
from mlops_tui.sim.kube.pods import qos_class
from mlops_tui.sim.kube.store import Store


@pytest.fixture()
def store() -> Store:
    s = Store(history=50)
    s.create("namespaces", None, namespace("ml-prod"))
    return s


def _spec(*resources: dict) -> dict:
    return {"containers": [{"name": f"c{i}", "image": "img:v1", "resources": r} for i, r in enumerate(resources)]}


@pytest.mark.parametrize(("resources", "qos"), [
    ([{}], "BestEffort"),
    ([{"limits": {"nvidia.com/gpu": 1}, "requests": {"nvidia.com/gpu": 1}}], "BestEffort"),  # only cpu/memory count
    ([{"requests": {"cpu": "1"}}], "Burstable"),
    ([{"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}], "Guaranteed"),
    ([{"requests": {"cpu": "1000m", "memory": "1024Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}], "Guaranteed"),
    ([{"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "1Gi"}}], "Burstable"),
    ([{"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}, {}], "Burstable"),
])
def test_the_qos_class_follows_the_kubelets_rule(resources, qos):
    assert qos_class(_spec(*resources)) == qos


def test_a_created_pod_starts_pending_whatever_status_the_client_sent(store):
    pod = {"metadata": {"name": "p"}, "spec": _spec({"limits": {"cpu": "1", "memory": "1Gi"}}),
           "status": {"phase": "Running", "podIP": "1.2.3.4"}}
    created = store.create("pods", "ml-prod", pod)
    assert created["status"] == {"phase": "Pending", "qosClass": "Guaranteed"}
    assert created["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "1", "memory": "1Gi"}


def _running_pod(store: Store, name: str, grace: int | None = None) -> dict:
    spec = _spec({})
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    store.create("pods", "ml-prod", {"metadata": {"name": name}, "spec": spec})
    pod = store.get("pods", "ml-prod", name)
    pod["spec"]["nodeName"] = "node-1"
    pod["status"]["phase"] = "Running"
    return store.put("pods", pod)


def test_deleting_a_running_pod_marks_it_terminating_and_only_grace_zero_removes_it(store):
    _running_pod(store, "p")
    marked = store.delete("pods", "ml-prod", "p")
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 30 and marked["metadata"]["deletionTimestamp"]
    assert store.peek("pods", "ml-prod", "p") is not None, "still there while it terminates"
    assert store.delete("pods", "ml-prod", "p", {"gracePeriodSeconds": 60})["metadata"][
        "deletionGracePeriodSeconds"] == 30, "a longer grace never extends the first"
    store.patch("pods", "ml-prod", "p", {"metadata": {"labels": {"x": "y"}, "deletionTimestamp": None}})
    assert store.peek("pods", "ml-prod", "p")["metadata"]["deletionTimestamp"], "an update cannot undo it"
    store.delete("pods", "ml-prod", "p", {"gracePeriodSeconds": 0})
    assert store.peek("pods", "ml-prod", "p") is None


def test_a_pod_never_scheduled_goes_at_once(store):
    store.create("pods", "ml-prod", {"metadata": {"name": "pending"}, "spec": _spec({})})
    store.delete("pods", "ml-prod", "pending")
    assert store.peek("pods", "ml-prod", "pending") is None


def test_a_stale_uid_precondition_refuses_the_delete(store):
    _running_pod(store, "p")
    with pytest.raises(ApiError) as info:
        store.delete("pods", "ml-prod", "p", {"preconditions": {"uid": "not-this-one"}})
    assert info.value.code == 409 and "Precondition failed" in info.value.message


def test_services_get_unique_cluster_ips_released_on_delete(store):
    ips = [store.create("services", "ml-prod", service(f"s{i}", "ml-prod", {"app": "a"}))["spec"]["clusterIP"]
           for i in range(300)]
    assert len(set(ips)) == 300
    assert all(ipaddress.ip_address(ip) in ipaddress.ip_network("10.96.0.0/12") for ip in ips)
    store.delete("services", "ml-prod", "s0")
    again = service("again", "ml-prod", {"app": "a"}, cluster_ip=ips[0])
    assert store.create("services", "ml-prod", again)["spec"]["clusterIP"] == ips[0], "a released IP is free"
    with pytest.raises(ApiError) as info:
        store.create("services", "ml-prod", service("dup", "ml-prod", {"app": "a"}, cluster_ip=ips[1]))
    assert info.value.code == 422 and "provided IP is already allocated" in info.value.message


def test_a_dry_run_answers_what_would_be_stored_and_stores_nothing(store):
    store.create("deployments", "ml-prod", deployment("m", "ml-prod", {"app": "m"}, {"app": "m"}, 2,
                                                          [container("c", "img:v1")]))
    _running_pod(store, "p")
    rv = store.rv
    seen = []
    store.subscribe(lambda *event: seen.append(event))
    assert store.patch("deployments", "ml-prod", "m", {"spec": {"replicas": 9}}, dry_run=True)["spec"][
        "replicas"] == 9
    current = store.get("deployments", "ml-prod", "m")
    current["spec"]["replicas"] = 7
    assert store.update("deployments", "ml-prod", "m", current, dry_run=True)["metadata"]["generation"] == 2
    assert store.delete("pods", "ml-prod", "p", dry_run=True)["metadata"]["deletionTimestamp"]
    assert store.delete("deployments", "ml-prod", "m", dry_run=True)["metadata"]["name"] == "m"
    svc = store.create("services", "ml-prod", service("s", "ml-prod", {"app": "m"}), dry_run=True)
    assert svc["spec"]["clusterIP"] and store.peek("services", "ml-prod", "s") is None
    assert store.create("services", "ml-prod", service("t", "ml-prod", {"app": "m"},
                                                      cluster_ip=svc["spec"]["clusterIP"])), "the dry run held no IP"
    assert store.rv == rv + 1 and len(seen) == 1, "only the real create changed anything"
    assert store.get("deployments", "ml-prod", "m")["spec"]["replicas"] == 2
    assert not store.get("pods", "ml-prod", "p")["metadata"].get("deletionTimestamp")

"""The Kubernetes simulator as clients nobody here wrote see it (issue 20, part A): kubectl and the
official `kubernetes` Python client's typed API are the judges.

The operator's story: they list the nodes with a script built on the official client and check that
the kubelets are alive; they create pods and see what a real server answers; they delete a pod and
watch it terminate; they scale a deployment down in the middle of traffic and count what the Service
still sends traffic to; they read Services' cluster IPs; they read a rollout's events; and they rehearse
every change with `--dry-run=server` first, trusting that the rehearsal changed nothing.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from datetime import datetime, timezone
from typing import Any

import pytest

from tests.engines import require_binary
from tests.waiting import eventually

pytestmark = pytest.mark.integration

NS = "default"
GRACE_FACTOR = 0.1  # a pod with terminationGracePeriodSeconds 100 terminates for 10 s here


class Kubectl:
    def __init__(self, binary: str, kubeconfig: str, cache: str) -> None:
        self.base = [binary, "--kubeconfig", kubeconfig, "--cache-dir", cache, "--context", "sim-fa"]

    def run(self, *args: str, stdin: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.base, *args], capture_output=True, text=True, input=stdin, timeout=timeout)

    def __call__(self, *args: str, stdin: str | None = None) -> str:
        out = self.run(*args, stdin=stdin)
        assert out.returncode == 0, f"kubectl {' '.join(args)} failed: {out.stderr}"
        return out.stdout

    def json(self, *args: str, stdin: str | None = None) -> Any:
        return json.loads(self(*args, "-o", "json", stdin=stdin))


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    from mlops_tui.sim.kube import SimKubeCluster, write_kubeconfig

    binary = require_binary("kubectl")
    cluster = SimKubeCluster.start(name="sim-fa", seed=11, fleet="demo", ready_delay=0.1, tick=0.05,
                                   hpa_period=0.3, grace_factor=GRACE_FACTOR, heartbeat=(1.0, 2.0))
    try:
        assert cluster.settle(15)
        home = tmp_path_factory.mktemp("kubectl")
        config = write_kubeconfig(str(home / "config"), [cluster])
        yield cluster, Kubectl(binary, config, str(home / "cache")), config
    finally:
        cluster.stop()


@pytest.fixture()
def kubectl(sim) -> Kubectl:
    return sim[1]


def _pod(name: str, resources: dict[str, Any] | None = None, grace: int | None = None,
         labels: dict[str, str] | None = None) -> str:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "registry.local/app:v1",
                                             "resources": resources or {}}]}
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    return json.dumps({"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": name, "namespace": NS, "labels": labels or {"story": name}},
                       "spec": spec})


def _running(kubectl: Kubectl, name: str) -> dict[str, Any]:
    return eventually(lambda: (p := kubectl.json("get", "pod", name))["status"].get("phase") == "Running" and p,
                      20, what=f"pod {name} running")


def _ts(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


# -- nodes ---------------------------------------------------------------------------------------------

def test_the_official_clients_typed_list_node_reads_every_node_with_its_system_ids(sim):
    from kubernetes import client, config

    _cluster, _kubectl, kubeconfig = sim
    configuration = client.Configuration()
    config.load_kube_config(config_file=kubeconfig, context="sim-fa", client_configuration=configuration)
    with client.ApiClient(configuration) as api:
        nodes = client.CoreV1Api(api).list_node().items
    assert len(nodes) == 5
    infos = [n.status.node_info for n in nodes]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i.machine_id) for i in infos)
    assert all(re.fullmatch(r"[0-9A-F-]{36}", i.system_uuid) for i in infos)
    assert all(re.fullmatch(r"[0-9a-f-]{36}", i.boot_id) for i in infos)
    assert len({i.machine_id for i in infos}) == 5, "every machine has its own id"
    assert {i.kubelet_version for i in infos} == {"v1.32.0"}


def test_node_heartbeats_advance_while_transition_times_stay(kubectl):
    first = kubectl.json("get", "node", "cpu-node-1")["status"]["conditions"]

    def later() -> Any:
        now = kubectl.json("get", "node", "cpu-node-1")["status"]["conditions"]
        return now if all(_ts(b["lastHeartbeatTime"]) > _ts(a["lastHeartbeatTime"]) for a, b in zip(first, now,
                                                                                                     strict=True)) \
            else None

    then = eventually(later, 15, what="a newer heartbeat on every condition")
    assert [c["lastTransitionTime"] for c in then] == [c["lastTransitionTime"] for c in first]
    assert [(c["type"], c["status"]) for c in then] == [(c["type"], c["status"]) for c in first]


# -- pods ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "resources", "qos"), [
    ("qos-best-effort", {}, "BestEffort"),
    ("qos-burstable", {"requests": {"cpu": "100m"}}, "Burstable"),
    ("qos-guaranteed", {"limits": {"cpu": "500m", "memory": "256Mi"}}, "Guaranteed"),
    ("qos-unequal", {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
     "Burstable"),
])
def test_a_created_pod_answers_pending_with_its_qos_class_then_runs_with_pod_ips(kubectl, name, resources, qos):
    created = kubectl.json("create", "-f", "-", stdin=_pod(name, resources))
    assert created["status"] == {"phase": "Pending", "qosClass": qos}, "the create response is what the server stored"
    pod = _running(kubectl, name)
    assert pod["status"]["qosClass"] == qos
    assert pod["status"]["podIPs"] == [{"ip": pod["status"]["podIP"]}]
    if qos == "Guaranteed":  # a limit without a request requests the limit (API defaulting)
        assert pod["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "500m", "memory": "256Mi"}


def test_deleting_a_pod_shows_terminating_until_its_grace_ends(kubectl):
    kubectl("create", "-f", "-", stdin=_pod("graceful", grace=100))
    _running(kubectl, "graceful")
    asked = datetime.now(timezone.utc)
    kubectl("delete", "pod", "graceful", "--wait=false")
    pod = kubectl.json("get", "pod", "graceful")
    assert pod["metadata"]["deletionGracePeriodSeconds"] == 100
    ends = (_ts(pod["metadata"]["deletionTimestamp"]) - asked).total_seconds()
    assert 95 <= ends <= 105, "deletionTimestamp is when the grace ends"
    rows = [line.split() for line in kubectl("get", "pods", "graceful").splitlines()]
    assert rows[1][0] == "graceful" and rows[1][2] == "Terminating"
    kubectl("delete", "pod", "graceful", "--wait=false", "--grace-period=40")  # a second delete may shorten it
    assert kubectl.json("get", "pod", "graceful")["metadata"]["deletionGracePeriodSeconds"] == 40
    eventually(lambda: "NotFound" in kubectl.run("get", "pod", "graceful").stderr, 100 * GRACE_FACTOR + 10,
               what="the pod gone once its grace ended")


def test_a_plain_kubectl_delete_waits_for_the_pod_and_grace_zero_is_at_once(kubectl):
    kubectl("create", "-f", "-", stdin=_pod("waited", grace=30))
    kubectl("create", "-f", "-", stdin=_pod("forced", grace=600))
    _running(kubectl, "waited")
    _running(kubectl, "forced")
    started = time.monotonic()
    kubectl("delete", "pod", "waited")  # kubectl waits until the object is gone
    assert time.monotonic() - started >= 30 * GRACE_FACTOR * 0.8
    assert "NotFound" in kubectl.run("get", "pod", "waited").stderr
    kubectl("delete", "pod", "forced", "--grace-period=0", "--force", "--wait=false")
    assert "NotFound" in kubectl.run("get", "pod", "forced").stderr, "grace 0 deletes at once"


def test_a_scale_down_terminates_pods_and_the_service_stops_sending_them_traffic(kubectl):
    labels = {"app": "terminating-story"}
    kubectl("create", "-f", "-", stdin=json.dumps({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "terminating-story", "namespace": NS},
        "spec": {"replicas": 3, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"terminationGracePeriodSeconds": 150,
                                       "containers": [{"name": "c", "image": "registry.local/app:v1"}]}}}}))
    kubectl("create", "-f", "-", stdin=json.dumps({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "terminating-story", "namespace": NS},
        "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]}}))
    kubectl("rollout", "status", "deployment/terminating-story", "--timeout=30s")
    kubectl("scale", "deployment/terminating-story", "--replicas=1")
    kubectl("rollout", "status", "deployment/terminating-story", "--timeout=30s")

    def pods() -> list[dict[str, Any]]:
        return kubectl.json("get", "pods", "-l", "app=terminating-story")["items"]

    leaving = eventually(lambda: [p for p in pods() if p["metadata"].get("deletionTimestamp")], 10,
                         what="the scaled-down pods terminating")
    assert len(leaving) == 2 and {p["metadata"]["deletionGracePeriodSeconds"] for p in leaving} == {150}
    status = kubectl.json("get", "deployment", "terminating-story")["status"]
    assert (status["replicas"], status["readyReplicas"]) == (1, 1), "terminating pods are no replicas"
    endpoints = kubectl.json("get", "endpoints", "terminating-story")
    assert len(endpoints["subsets"][0]["addresses"]) == 1 and "notReadyAddresses" not in endpoints["subsets"][0]
    slices = kubectl.json("get", "endpointslices", "-l", "kubernetes.io/service-name=terminating-story")["items"]
    conditions = sorted((e["conditions"]["ready"], e["conditions"]["terminating"]) for e in slices[0]["endpoints"])
    assert conditions == [(False, True), (False, True), (True, False)]
    table = [line.split() for line in kubectl("get", "pods", "-l", "app=terminating-story").splitlines()[1:]]
    assert sorted(row[2] for row in table) == ["Running", "Terminating", "Terminating"]
    eventually(lambda: len(pods()) == 1, 150 * GRACE_FACTOR + 10, what="the terminated pods gone")


# -- services ------------------------------------------------------------------------------------------

def test_services_get_unique_cluster_ips_and_a_headless_one_keeps_none(kubectl):
    import ipaddress

    def service(name: str, cluster_ip: str | None = None) -> str:
        spec: dict[str, Any] = {"selector": {"app": name}, "ports": [{"port": 80}]}
        if cluster_ip is not None:
            spec["clusterIP"] = cluster_ip
        return json.dumps({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NS},
                           "spec": spec})

    a = kubectl.json("create", "-f", "-", stdin=service("ip-a"))["spec"]
    b = kubectl.json("create", "-f", "-", stdin=service("ip-b"))["spec"]
    headless = kubectl.json("create", "-f", "-", stdin=service("ip-headless", "None"))["spec"]
    every = [s["spec"]["clusterIP"] for s in kubectl.json("get", "services", "-A")["items"]]
    assert a["clusterIP"] != b["clusterIP"] and len(set(every) - {"None"}) == len(every) - 1
    assert all(ipaddress.ip_address(ip) in ipaddress.ip_network("10.96.0.0/12") for ip in (a["clusterIP"],
                                                                                            b["clusterIP"]))
    assert a["clusterIPs"] == [a["clusterIP"]] and headless["clusterIP"] == "None"
    rows = {r.split()[0]: r.split() for r in kubectl("get", "svc", "ip-a", "ip-headless").splitlines()[1:]}
    assert rows["ip-a"][2] == a["clusterIP"] and rows["ip-headless"][2] == "None"
    taken = kubectl.run("create", "-f", "-", stdin=service("ip-c", a["clusterIP"]))
    assert taken.returncode != 0 and "provided IP is already allocated" in taken.stderr
    kubectl("replace", "-f", "-", stdin=service("ip-a"))  # a replace without clusterIP keeps it
    assert kubectl.json("get", "svc", "ip-a")["spec"]["clusterIP"] == a["clusterIP"]
    moved = kubectl.run("patch", "svc", "ip-a", "-p", json.dumps({"spec": {"clusterIP": b["clusterIP"]}}))
    assert moved.returncode != 0 and "field is immutable" in moved.stderr


# -- events --------------------------------------------------------------------------------------------

def test_a_rollout_never_reports_scaling_a_replica_set_from_n_to_n(kubectl):
    labels = {"app": "events-story"}
    kubectl("create", "-f", "-", stdin=json.dumps({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "events-story", "namespace": NS},
        "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": {
                     "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "c", "image": "registry.local/app:v1"}]}}}}))
    kubectl("rollout", "status", "deployment/events-story", "--timeout=30s")
    kubectl("set", "image", "deployment/events-story", "c=registry.local/app:v2")
    kubectl("rollout", "status", "deployment/events-story", "--timeout=30s")
    kubectl("rollout", "undo", "deployment/events-story")
    kubectl("rollout", "status", "deployment/events-story", "--timeout=30s")
    events = kubectl.json("get", "events", "--field-selector", "involvedObject.name=events-story")["items"]
    messages = [e["message"] for e in events if e["reason"] == "ScalingReplicaSet"]
    assert len(messages) >= 4, messages
    same = [m for m in messages if (found := re.search(r"from (\d+) to (\d+)", m)) and found[1] == found[2]]
    assert same == []


# -- dry runs ------------------------------------------------------------------------------------------

def test_server_dry_runs_change_nothing_on_any_verb_or_subresource(kubectl):
    labels = {"app": "dry-story"}
    kubectl("create", "-f", "-", stdin=json.dumps({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "dry-story", "namespace": NS},
        "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": "c", "image": "registry.local/app:v1"}]}}}}))
    kubectl("rollout", "status", "deployment/dry-story", "--timeout=30s")
    before = kubectl.json("get", "deployment", "dry-story")
    pods_before = kubectl.json("get", "pods", "-l", "app=dry-story")["items"]
    victim = pods_before[0]["metadata"]["name"]

    said = kubectl("scale", "deployment/dry-story", "--replicas=7", "--dry-run=server")
    assert "scaled (server dry run)" in said
    patched = kubectl.json("patch", "deployment", "dry-story", "--dry-run=server", "-p",
                           json.dumps({"spec": {"replicas": 5, "template": {"metadata": {"labels": {"tier": "x"}}}}}))
    assert patched["spec"]["replicas"] == 5, "the answer is what the server would have stored"
    assert patched["metadata"]["generation"] == before["metadata"]["generation"] + 1
    status = kubectl.json("patch", "deployment", "dry-story", "--subresource=status", "--dry-run=server",
                          "--type=merge", "-p", json.dumps({"status": {"readyReplicas": 0}}))
    assert status["status"]["readyReplicas"] == 0
    replaced = dict(before, spec={**before["spec"], "replicas": 9})
    assert kubectl.json("replace", "--dry-run=server", "-f", "-", stdin=json.dumps(replaced))["spec"]["replicas"] == 9
    said = kubectl("delete", "pod", victim, "--dry-run=server")
    assert "deleted (server dry run)" in said
    kubectl("delete", "deployment", "dry-story", "--dry-run=server")
    created = kubectl.json("create", "--dry-run=server", "-f", "-", stdin=_pod("dry-pod"))
    assert created["status"]["phase"] == "Pending" and created["metadata"]["uid"]

    after = kubectl.json("get", "deployment", "dry-story")
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert after["spec"] == before["spec"] and after["status"] == before["status"]
    pods_after = kubectl.json("get", "pods", "-l", "app=dry-story")["items"]
    assert [p["metadata"]["resourceVersion"] for p in pods_after] == \
        [p["metadata"]["resourceVersion"] for p in pods_before]
    assert not any(p["metadata"].get("deletionTimestamp") for p in pods_after)
    assert "NotFound" in kubectl.run("get", "pod", "dry-pod").stderr
    scale = json.loads(kubectl("get", "--raw", "/apis/apps/v1/namespaces/default/deployments/dry-story/scale"))
    assert scale["spec"]["replicas"] == 2

"""The real kubectl against the Kubernetes simulator, part B of the fidelity issue: kubectl is the judge.

The operator's story: on a cluster they have not seen before they list service accounts and make one,
ask what they may do (`auth can-i --list`), look fields up with `kubectl explain`, apply a Deployment
server-side and collide with a teammate's field manager, delete a scratch namespace, run a Job, roll
a GPU exporter out as a DaemonSet, and mistype a resource name.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.engines import require_binary
from tests.waiting import eventually

pytestmark = pytest.mark.integration

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: ssa-web, namespace: default, labels: {app: ssa-web}}
spec:
  replicas: REPLICAS
  selector: {matchLabels: {app: ssa-web}}
  template:
    metadata: {labels: {app: ssa-web}}
    spec:
      containers: [{name: web, image: "nginx:1.27"}]
"""


class Kubectl:
    def __init__(self, binary: str, kubeconfig: str, cache: str) -> None:
        self.base = [binary, "--kubeconfig", kubeconfig, "--cache-dir", cache]

    def run(self, *args: str, context: str = "sim-b", stdin: str | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.base, "--context", context, *args], capture_output=True, text=True,
                              input=stdin, timeout=timeout)

    def __call__(self, *args: str, context: str = "sim-b", stdin: str | None = None) -> str:
        out = self.run(*args, context=context, stdin=stdin)
        assert out.returncode == 0, f"kubectl {' '.join(args)} failed: {out.stderr}"
        return out.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "-o", "json"))

    def rows(self, *args: str, context: str = "sim-b") -> list[list[str]]:
        return [line.split() for line in self(*args, context=context).splitlines() if line.strip()]


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    from mlops_tui.sim.kube import SimKubeCluster, write_kubeconfig

    binary = require_binary("kubectl")
    cluster = SimKubeCluster.start(name="sim-b", seed=5, fleet="demo", ready_delay=0.1, tick=0.05,
                                   history=500, hpa_period=0.3)
    try:
        assert cluster.settle(15)
        home = tmp_path_factory.mktemp("kubectl-b")
        config = write_kubeconfig(str(home / "config"), [cluster])
        yield cluster, Kubectl(binary, config, str(home / "cache"))
    finally:
        cluster.stop()


@pytest.fixture()
def kubectl(sim) -> Kubectl:
    return sim[1]


@pytest.fixture()
def cluster(sim):
    return sim[0]


def _raw(cluster, path: str, accept: str = "application/json") -> tuple[int, str, bytes]:
    req = urllib.request.Request(cluster.url + path, headers={"Authorization": f"Bearer {cluster.admin_token}",
                                                              "Accept": accept})
    try:
        with urllib.request.urlopen(req, context=cluster.ssl_context(), timeout=10) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type", ""), err.read()


# -- service accounts ----------------------------------------------------------------------------------

def test_every_namespace_has_a_default_service_account_and_kubectl_creates_more(kubectl):
    kubectl("create", "namespace", "team-sa")  # a protobuf body, as kubectl's typed create sends
    eventually(lambda: kubectl.rows("get", "sa", "-n", "team-sa")[1][:2] == ["default", "0"],
               what="the default service account of a new namespace")
    assert "serviceaccount/robot created" in kubectl("create", "serviceaccount", "robot", "-n", "team-sa")
    names = [row[0] for row in kubectl.rows("get", "serviceaccounts", "-n", "team-sa")[1:]]
    assert names == ["default", "robot"]
    seeded = {row[0] for row in kubectl.rows("get", "sa", "-A")[1:] if row[1] == "default"}
    assert {"default", "kube-system", "ml-prod"} <= seeded


def test_a_pod_runs_as_a_service_account_and_waits_for_one_that_does_not_exist(kubectl):
    kubectl("run", "probe", "--image=busybox", "-n", "ml-prod")  # a protobuf Pod, as kubectl run sends
    assert kubectl.json("get", "pod", "probe", "-n", "ml-prod")["spec"]["serviceAccountName"] == "default"
    pod = """
apiVersion: v1
kind: Pod
metadata: {name: as-ghost, namespace: ml-prod}
spec:
  serviceAccountName: ghost
  containers: [{name: c, image: busybox}]
"""
    refused = kubectl.run("apply", "-f", "-", stdin=pod)
    assert refused.returncode != 0
    assert ('pods "as-ghost" is forbidden: error looking up service account ml-prod/ghost: serviceaccount "ghost" '
            "not found") in refused.stderr
    kubectl("create", "serviceaccount", "ghost", "-n", "ml-prod")
    kubectl("apply", "-f", "-", stdin=pod)
    assert kubectl.json("get", "pod", "as-ghost", "-n", "ml-prod")["spec"]["serviceAccountName"] == "ghost"


# -- what may I do? ----------------------------------------------------------------------------------------

def _can_i_list(kubectl: Kubectl, context: str) -> dict[str, list[str]]:
    """`auth can-i --list` rows: resource -> verbs (non-resource URLs keyed by the URL)."""
    rules: dict[str, list[str]] = {}
    for line in kubectl("auth", "can-i", "--list", "-n", "ml-prod", context=context).splitlines()[1:]:
        cells = line.split()
        verbs = line[line.rindex("[") + 1:line.rindex("]")].split()
        key = cells[0] if not cells[0].startswith("[") else cells[0].strip("[]")
        rules[key] = verbs
    return rules


def test_auth_can_i_list_prints_the_rules_the_authoriser_enforces(kubectl):
    admin = _can_i_list(kubectl, "sim-b")
    viewer = _can_i_list(kubectl, "sim-b-readonly")
    assert admin["*.*"] == ["*"] and admin["*"] == ["*"]
    assert viewer["*.*"] == ["get", "list", "watch"]
    assert viewer["selfsubjectrulesreviews.authorization.k8s.io"] == ["create"]
    assert viewer["/version"] == ["get"] and "*" not in viewer
    # What the list says is what the server allows, verb by verb.
    for verb in ("get", "list", "watch", "create", "patch", "delete"):
        for context, rules in (("sim-b", admin), ("sim-b-readonly", viewer)):
            listed = "*" in rules["*.*"] or verb in rules["*.*"]
            answer = kubectl.run("auth", "can-i", verb, "deployments.apps", "-n", "ml-prod", context=context)
            assert answer.stdout.strip() == ("yes" if listed else "no"), (context, verb, answer)
    refused = kubectl.run("scale", "deployment/property-valuation-model", "--replicas=4", "-n", "ml-prod",
                          context="sim-b-readonly")
    assert refused.returncode != 0 and "forbidden" in refused.stderr


# -- kubectl explain -------------------------------------------------------------------------------------

def test_kubectl_explain_prints_field_docs_from_the_servers_openapi(kubectl):
    replicas = kubectl("explain", "deployment.spec.replicas")
    assert "KIND:       Deployment" in replicas and "FIELD: replicas <integer>" in replicas
    assert "Number of desired pods" in replicas
    pods = kubectl("explain", "pods")
    assert "KIND:       Pod" in pods and "spec\t<PodSpec>" in pods and "status\t<PodStatus>" in pods
    rollout = kubectl("explain", "rollouts.spec")
    assert "GROUP:      argoproj.io" in rollout and "FIELD: spec <Object>" in rollout
    assert "strategy\t<Object>" in rollout and "Paused pauses the rollout" in rollout


def test_openapi_v2_protobuf_is_refused_as_an_unoffered_type_and_json_is_served(cluster, kubectl):
    protobuf = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
    status, _ctype, body = _raw(cluster, "/openapi/v2", accept=protobuf)
    assert (status, body) == (406, b"")
    status, _ctype, body = _raw(cluster, "/openapi/v2", accept="application/json")
    assert status == 200 and "io.k8s.api.apps.v1.Deployment" in json.loads(body)["definitions"]
    started = time.monotonic()
    v2 = kubectl.run("explain", "deployment", "--output=plaintext-openapiv2", timeout=30)
    assert v2.returncode != 0 and "NotAcceptable" in v2.stderr
    assert time.monotonic() - started < 10, "kubectl must get its answer at once, never hang"


# -- server-side apply --------------------------------------------------------------------------------------

def _managers(kubectl: Kubectl) -> dict[str, Any]:
    obj = kubectl.json("get", "deployment", "ssa-web", "-n", "default", "--show-managed-fields")
    return {e["manager"]: e["fieldsV1"] for e in obj["metadata"]["managedFields"]}


def test_server_side_apply_creates_then_updates_and_conflicts_unless_forced(kubectl):
    first = kubectl("apply", "--server-side", "-f", "-", stdin=DEPLOYMENT.replace("REPLICAS", "2"))
    assert first.strip() == "deployment.apps/ssa-web serverside-applied"
    kubectl("apply", "--server-side", "-f", "-", stdin=DEPLOYMENT.replace("REPLICAS", "3"))
    eventually(lambda: kubectl.rows("get", "deployment", "ssa-web", "-n", "default")[1][1] == "3/3",
               what="the re-applied replica count, rolled out")
    assert "f:replicas" in _managers(kubectl)["kubectl"]["f:spec"]

    clash = kubectl.run("apply", "--server-side", "--field-manager=bob", "-f", "-",
                        stdin=DEPLOYMENT.replace("REPLICAS", "5"))
    assert clash.returncode != 0
    assert 'Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas' in clash.stderr
    assert kubectl.json("get", "deployment", "ssa-web", "-n", "default")["spec"]["replicas"] == 3

    kubectl("apply", "--server-side", "--field-manager=bob", "--force-conflicts", "-f", "-",
            stdin=DEPLOYMENT.replace("REPLICAS", "5"))
    assert kubectl.json("get", "deployment", "ssa-web", "-n", "default")["spec"]["replicas"] == 5
    managers = _managers(kubectl)
    assert "f:replicas" in managers["bob"]["f:spec"] and "f:replicas" not in managers["kubectl"]["f:spec"]


# -- namespaces, jobs, daemonsets --------------------------------------------------------------------------

def test_deleting_a_namespace_goes_terminating_then_removes_it_and_its_objects(kubectl):
    kubectl("create", "namespace", "scratch")
    kubectl("create", "configmap", "settings", "--from-literal=a=b", "-n", "scratch")
    kubectl("create", "job", "once", "--image=busybox", "-n", "scratch")
    watch = subprocess.Popen([*kubectl.base, "--context", "sim-b", "get", "namespace", "scratch", "-w",
                              "-o", "jsonpath={.status.phase}{'\\n'}"], stdout=subprocess.PIPE, text=True)
    try:
        eventually(lambda: kubectl.json("get", "namespace", "scratch")["status"]["phase"] == "Active")
        time.sleep(0.5)  # let the watch connect before the change it must see
        assert 'namespace "scratch" deleted' in kubectl("delete", "namespace", "scratch", "--timeout=20s")
    finally:
        watch.terminate()
        seen = watch.communicate(timeout=10)[0].split()
    assert seen[0] == "Active" and "Terminating" in seen
    gone = kubectl.run("get", "namespace", "scratch")
    assert 'namespaces "scratch" not found' in gone.stderr
    assert kubectl.rows("get", "configmaps,jobs", "-A", "--field-selector", "metadata.namespace=scratch") == []
    kept = kubectl.run("delete", "namespace", "kube-system")
    assert 'namespaces "kube-system" is forbidden: this namespace may not be deleted' in kept.stderr


def test_a_job_runs_its_pods_to_completion_and_get_jobs_shows_completions(kubectl):
    kubectl("create", "job", "train-once", "--image=busybox", "-n", "ml-prod", "--", "echo", "done")
    eventually(lambda: kubectl.rows("get", "jobs", "train-once", "-n", "ml-prod")[1][1:3] == ["Complete", "1/1"],
               what="the job complete, 1/1")
    batch = """
apiVersion: batch/v1
kind: Job
metadata: {name: batch-score, namespace: ml-prod}
spec:
  completions: 3
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{name: score, image: busybox}]
"""
    kubectl("apply", "-f", "-", stdin=batch)
    eventually(lambda: kubectl.rows("get", "jobs", "batch-score", "-n", "ml-prod")[1][1:3] == ["Complete", "3/3"],
               what="three completions, two at a time")
    pods = kubectl.rows("get", "pods", "-n", "ml-prod", "-l", "job-name=batch-score")[1:]
    assert len(pods) == 3 and {row[2] for row in pods} == {"Completed"}
    invalid = kubectl.run("apply", "-f", "-", stdin=batch.replace("restartPolicy: Never", "restartPolicy: Always")
                          .replace("batch-score", "bad-job"))
    assert 'spec.template.spec.restartPolicy: Unsupported value: "Always"' in invalid.stderr


def test_a_daemonset_runs_one_pod_on_each_node_its_selector_matches(kubectl):
    gpu_nodes = sorted(row[0] for row in kubectl.rows("get", "nodes", "-l", "nvidia.com/gpu.present=true")[1:])
    exporter = """
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: dcgm-exporter, namespace: default}
spec:
  selector: {matchLabels: {app: dcgm-exporter}}
  template:
    metadata: {labels: {app: dcgm-exporter}}
    spec:
      nodeSelector: {nvidia.com/gpu.present: "true"}
      containers: [{name: exporter, image: "nvcr.io/nvidia/k8s/dcgm-exporter:4.5.3"}]
"""
    kubectl("apply", "-f", "-", stdin=exporter)
    n = str(len(gpu_nodes))

    def counts() -> list[str]:
        return kubectl.rows("get", "daemonset", "dcgm-exporter", "-n", "default")[1][1:6]

    eventually(lambda: counts() == [n] * 5, what=f"{n} desired, current, ready, up to date, available")
    pods = kubectl.rows("get", "pods", "-n", "default", "-l", "app=dcgm-exporter", "-o", "wide")[1:]
    assert sorted(row[6] for row in pods) == gpu_nodes and {row[2] for row in pods} == {"Running"}
    # A node that gains the label gains a pod; the DaemonSet's status follows.
    kubectl("label", "node", "cpu-node-1", "nvidia.com/gpu.present=true")
    eventually(lambda: counts() == [str(len(gpu_nodes) + 1)] * 5, what="one more node, one more pod")


# -- kinds the server does not serve ---------------------------------------------------------------------

def test_a_kind_the_server_does_not_serve_gets_the_real_not_found(cluster, kubectl):
    typo = kubectl.run("get", "foos")
    assert typo.returncode != 0 and typo.stderr.strip() == 'error: the server doesn\'t have a resource type "foos"'
    status, ctype, body = _raw(cluster, "/apis/apps/v1/foos")
    assert (status, ctype) == (404, "application/json")
    assert json.loads(body) == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                "message": "the server could not find the requested resource",
                                "reason": "NotFound", "details": {}, "code": 404}
    status, ctype, body = _raw(cluster, "/apis/nosuch.example.com/v1/foos")
    assert (status, body) == (404, b"404 page not found\n") and ctype.startswith("text/plain")

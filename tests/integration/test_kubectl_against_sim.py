"""The real kubectl against the Kubernetes simulator: kubectl is the judge.

The operator's story: they point kubectl at the simulated cluster and type what they type on call:
list the fleet with selectors, watch a deployment while scaling it, patch three ways, roll out and
roll back, check their rights with both tokens, race a teammate (409), follow a canary through the
Argo plugin's own status patches, find the GPU pods that cannot be scheduled, lose a node, list
20,000 pods. Malformed requests get the real server's codes and never take the simulator down.
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

NS = "ml-prod"


class Kubectl:
    def __init__(self, binary: str, kubeconfig: str, cache: str) -> None:
        self.base = [binary, "--kubeconfig", kubeconfig, "--cache-dir", cache]

    def run(self, *args: str, context: str = "sim-a", stdin: str | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.base, "--context", context, *args], capture_output=True, text=True,
                              input=stdin, timeout=timeout)

    def __call__(self, *args: str, context: str = "sim-a", stdin: str | None = None) -> str:
        out = self.run(*args, context=context, stdin=stdin)
        assert out.returncode == 0, f"kubectl {' '.join(args)} failed: {out.stderr}"
        return out.stdout

    def json(self, *args: str, context: str = "sim-a") -> Any:
        return json.loads(self(*args, "-o", "json", context=context))

    def rows(self, *args: str) -> list[list[str]]:
        """A table's rows (header first), split on runs of spaces."""
        return [line.split() for line in self(*args).splitlines() if line.strip()]


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    from mlops_tui.sim.kube import SimKubeCluster, write_kubeconfig

    binary = require_binary("kubectl")
    cluster = SimKubeCluster.start(name="sim-a", seed=3, fleet="demo", ready_delay=0.1, tick=0.05,
                                   history=200, hpa_period=0.3)
    try:
        assert cluster.settle(15)
        home = tmp_path_factory.mktemp("kubectl")
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


def _raw(cluster, method: str, path: str, body: bytes | None = None, ctype: str = "application/json",
         token: str | None = None) -> tuple[int, Any]:
    req = urllib.request.Request(cluster.url + path, data=body, method=method,
                                 headers={"Authorization": f"Bearer {token or cluster.admin_token}",
                                          "Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, context=cluster.ssl_context(), timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


# -- looking at the fleet ------------------------------------------------------------------------


def test_get_shows_the_demo_fleet_with_kubectls_usual_columns(kubectl):
    deploys = kubectl.rows("get", "deploy", "-n", NS)
    assert deploys[0] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    by_name = {r[0]: r for r in deploys[1:]}
    assert by_name["property-valuation-model"][1:4] == ["3/3", "3", "3"]
    assert {"ml-model-v2-0", "ml-model-v2-1", "rent-predictor-stable", "rent-predictor-canary"} <= set(by_name)
    pods = kubectl.rows("get", "po", "-n", NS)
    assert pods[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert all(r[2] == "Running" for r in pods[1:]) and len(pods) - 1 == 3 + 3 + 3 + 3 + 1 + 5
    rs = kubectl.rows("get", "rs", "-n", NS, "-l", "app=ensemble-predictor")
    assert rs[0] == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    assert sorted(int(r[1]) for r in rs[1:]) == [1, 4]  # canary at 20 % of 5 replicas
    nodes = kubectl.rows("get", "no")
    assert [r[:2] for r in nodes[1:]] == [["cpu-node-1", "Ready"], ["cpu-node-2", "Ready"], ["gpu-node-1", "Ready"],
                                          ["gpu-node-2", "Ready"], ["gpu-node-3", "Ready"]]
    svc = {r[0]: r for r in kubectl.rows("get", "svc", "-n", NS)[1:]}
    assert svc["ml-model-service"][1] == "ClusterIP" and svc["ml-model-service"][4] == "80/TCP"
    hpa = kubectl.rows("get", "hpa", "-n", NS)
    assert hpa[1][:2] == ["model-hpa", "Deployment/property-valuation-model"]
    assert hpa[1][-4:-1] == ["2", "20", "3"]
    ro = kubectl.rows("get", "ro", "-n", NS)
    assert ro[0] == ["NAME", "DESIRED", "CURRENT", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert ro[1][:5] == ["ensemble-predictor", "5", "5", "1", "5"]
    isvc = kubectl.rows("get", "isvc", "-A")
    assert isvc[0][:6] == ["NAMESPACE", "NAME", "URL", "READY", "PREV", "LATEST"]
    assert isvc[1][1] == "property-price-predictor" and isvc[1][4:6] == ["90", "10"]
    vs = kubectl.json("get", "vs", "rent-predictor", "-n", NS)
    assert [(r["destination"]["host"], r["weight"]) for r in vs["spec"]["http"][0]["route"]] == [
        ("rent-predictor-stable", 90), ("rent-predictor-canary", 10)]
    ns = kubectl.json("get", "namespace", NS)
    assert ns["metadata"]["labels"]["environment"] == "production"


def test_label_and_field_selectors_narrow_the_lists(kubectl):
    names = kubectl("get", "pods", "-n", NS, "-l", "app in (ml-model),version!=v2.0", "-o", "name").split()
    assert len(names) == 3 and all(n.startswith("pod/ml-model-v2-1-") for n in names)
    assert kubectl("get", "pods", "-n", NS, "-l", "app=ml-model,!version", "-o", "name").strip() == ""
    assert sorted(kubectl("get", "deploy", "-A", "-l", "version notin (v2.0,v2.1)", "-o", "name").split()) == [
        "deployment.apps/bert-mig", "deployment.apps/llm-reranker", "deployment.apps/rent-predictor-canary",
        "deployment.apps/rent-predictor-stable"]
    pending = kubectl.json("get", "pods", "-A", "--field-selector", "status.phase=Pending")["items"]
    assert pending and {p["metadata"]["labels"]["app"] for p in pending} == {"llm-reranker"}
    on_gpu3 = kubectl.json("get", "pods", "-A", "--field-selector", "spec.nodeName=gpu-node-3")["items"]
    assert on_gpu3 and all(p["spec"]["nodeName"] == "gpu-node-3" for p in on_gpu3)
    one = kubectl("get", "deploy", "-A", "--field-selector", "metadata.name=bert-mig,metadata.namespace=ml-staging",
                  "-o", "name")
    assert one.split() == ["deployment.apps/bert-mig"]


def test_gpu_pods_that_do_not_fit_stay_pending_with_the_schedulers_words(kubectl):
    pods = kubectl.json("get", "pods", "-n", "ml-staging", "-l", "app=llm-reranker")["items"]
    pending = [p for p in pods if p["status"]["phase"] == "Pending"]
    assert 0 < len(pending) < 4
    cond = next(c for c in pending[0]["status"]["conditions"] if c["type"] == "PodScheduled")
    assert (cond["status"], cond["reason"]) == ("False", "Unschedulable")
    assert cond["message"] == "0/5 nodes are available: 5 Insufficient nvidia.com/gpu."
    events = kubectl.rows("get", "events", "-n", "ml-staging", "--field-selector", "reason=FailedScheduling")
    assert events[0] == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert {r[3] for r in events[1:]} == {f"pod/{p['metadata']['name']}" for p in pending}
    assert all(" ".join(r[4:]) == "0/5 nodes are available: 5 Insufficient nvidia.com/gpu." for r in events[1:])
    mig = kubectl.json("get", "pods", "-n", "ml-staging", "-l", "app=bert-mig")["items"]
    assert {p["spec"]["nodeName"] for p in mig} == {"gpu-node-3"}  # the only node with MIG slices


# -- changing things -----------------------------------------------------------------------------


def test_watch_sees_a_scale_and_rollout_status_waits_for_it(kubectl):
    watch = subprocess.Popen([*kubectl.base, "--context", "sim-a", "get", "deploy", "rent-predictor-canary", "-n",
                              NS, "-w"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        header = watch.stdout.readline().split()
        first = watch.stdout.readline().split()
        assert header[:2] == ["NAME", "READY"] and first[:2] == ["rent-predictor-canary", "1/1"]
        assert kubectl("scale", "deploy", "rent-predictor-canary", "-n", NS, "--replicas=3").strip() == \
            "deployment.apps/rent-predictor-canary scaled"
        seen = []
        while not seen or seen[-1][1] != "3/3":
            seen.append(watch.stdout.readline().split())
        assert any(row[1] == "1/3" for row in seen)  # the moment before the new pods were ready
    finally:
        watch.kill()
        watch.communicate()
    out = kubectl("rollout", "status", "deploy/rent-predictor-canary", "-n", NS, "--timeout=20s")
    assert out.strip().endswith('deployment "rent-predictor-canary" successfully rolled out')


def test_three_patch_types_do_what_the_real_server_does(kubectl):
    # strategic merge (kubectl's default): the selector is merged, `app` survives
    kubectl("patch", "service", "ml-model-service", "-n", NS, "-p", '{"spec":{"selector":{"version":"v2.1"}}}')
    assert kubectl.json("get", "svc", "ml-model-service", "-n", NS)["spec"]["selector"] == {
        "app": "ml-model", "version": "v2.1"}
    endpoints = kubectl.json("get", "endpoints", "ml-model-service", "-n", NS)
    names = {a["targetRef"]["name"] for a in endpoints["subsets"][0]["addresses"]}
    assert len(names) == 3 and all(n.startswith("ml-model-v2-1-") for n in names)
    # strategic merge on containers merges by name: the env list gains an entry, the image stays
    kubectl("patch", "deploy", "property-valuation-model", "-n", NS, "-p",
            '{"spec":{"template":{"spec":{"containers":[{"name":"model-server","env":[{"name":"BATCH_SIZE",'
            '"value":"64"}]}]}}}}')
    c = kubectl.json("get", "deploy", "property-valuation-model", "-n", NS)["spec"]["template"]["spec"]["containers"]
    assert c[0]["image"] == "proptechusa/valuation-model:v2.1"
    assert c[0]["env"] == [{"name": "MODEL_VERSION", "value": "2.1"}, {"name": "BATCH_SIZE", "value": "64"}]
    # JSON merge patch on a custom resource: KServe reflects the new split in its status
    kubectl("patch", "isvc", "property-price-predictor", "-n", NS, "--type=merge", "-p",
            '{"spec":{"predictor":{"canaryTrafficPercent":30}}}')
    traffic = eventually(lambda: [(t["tag"], t["percent"]) for t in kubectl.json(
        "get", "isvc", "property-price-predictor", "-n", NS)["status"]["components"]["predictor"]["traffic"]
        if t["percent"] in (30, 70)], what="KServe traffic 30/70")
    assert sorted(traffic) == [("latest", 30), ("prev", 70)]
    # JSON patch: Istio weights stored exactly as given
    kubectl("patch", "vs", "rent-predictor", "-n", NS, "--type=json", "-p",
            '[{"op":"replace","path":"/spec/http/0/route/0/weight","value":75},'
            '{"op":"replace","path":"/spec/http/0/route/1/weight","value":25}]')
    assert [r["weight"] for r in kubectl.json("get", "vs", "rent-predictor", "-n", NS)["spec"]["http"][0]["route"]] \
        == [75, 25]
    # a custom resource refuses strategic merge as the real server does (415)
    out = kubectl.run("patch", "vs", "rent-predictor", "-n", NS, "-p", '{"metadata":{"labels":{"a":"b"}}}')
    assert out.returncode != 0 and "application/merge-patch+json" in out.stderr


TWIN = {"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "twin", "namespace": NS},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "twin"}},
                 "template": {"metadata": {"labels": {"app": "twin"}},
                              "spec": {"containers": [{"name": "server", "image": "registry.local/twin:v1"}]}}}}


def _template(kubectl: Kubectl) -> dict:
    return kubectl.json("get", "deploy", "twin", "-n", NS)["spec"]["template"]


def test_rollout_history_undo_and_to_revision_restore_the_same_template(kubectl):
    kubectl("create", "-f", "-", stdin=json.dumps(TWIN))
    kubectl("rollout", "status", "deploy/twin", "-n", NS, "--timeout=20s")
    templates = {1: _template(kubectl)}
    for rev, tag in ((2, "v2"), (3, "v3")):
        kubectl("set", "image", "deploy/twin", "-n", NS, f"server=registry.local/twin:{tag}")
        kubectl("rollout", "status", "deploy/twin", "-n", NS, "--timeout=20s")
        templates[rev] = _template(kubectl)
    history = kubectl.rows("rollout", "history", "deploy/twin", "-n", NS)
    assert [r[0] for r in history[2:]] == ["1", "2", "3"]
    assert kubectl("rollout", "undo", "deploy/twin", "-n", NS).strip() == "deployment.apps/twin rolled back"
    kubectl("rollout", "status", "deploy/twin", "-n", NS, "--timeout=20s")
    assert _template(kubectl) == templates[2]
    assert [r[0] for r in kubectl.rows("rollout", "history", "deploy/twin", "-n", NS)[2:]] == ["1", "3", "4"]
    kubectl("rollout", "undo", "deploy/twin", "-n", NS, "--to-revision=1")
    kubectl("rollout", "status", "deploy/twin", "-n", NS, "--timeout=20s")
    assert _template(kubectl) == templates[1]
    pods = [p for p in kubectl.json("get", "pods", "-n", NS, "-l", "app=twin")["items"]
            if not p["metadata"].get("deletionTimestamp")]  # the replaced ones may still be terminating
    assert len(pods) == 2 and {p["spec"]["containers"][0]["image"] for p in pods} == {"registry.local/twin:v1"}
    assert [r[0] for r in kubectl.rows("rollout", "history", "deploy/twin", "-n", NS)[2:]] == ["3", "4", "5"]
    assert kubectl("rollout", "undo", "deploy/twin", "-n", NS, "--to-revision=5").strip() == \
        "deployment.apps/twin skipped rollback (current template already matches revision 5)"
    out = kubectl.run("rollout", "undo", "deploy/twin", "-n", NS, "--to-revision=42")
    assert out.returncode != 0 and "unable to find specified revision 42 in history" in out.stderr
    kubectl("delete", "deploy", "twin", "-n", NS)
    eventually(lambda: not kubectl.json("get", "pods,rs", "-n", NS, "-l", "app=twin")["items"], what="GC")


def test_a_stale_replace_is_a_409_conflict(kubectl):
    stale = kubectl("get", "deploy", "ml-model-v2-0", "-n", NS, "-o", "json")
    kubectl("annotate", "deploy", "ml-model-v2-0", "-n", NS, "teammate=was-here")
    out = kubectl.run("replace", "-f", "-", stdin=stale)
    assert out.returncode != 0
    assert 'Error from server (Conflict): error when replacing "STDIN": Operation cannot be fulfilled on ' \
           'deployments.apps "ml-model-v2-0": the object has been modified; please apply your changes to the ' \
           "latest version and try again" in out.stderr


def test_auth_can_i_and_the_read_only_token(kubectl, cluster):
    assert kubectl("auth", "can-i", "patch", "deployments/scale", "-n", NS).strip() == "yes"
    out = kubectl.run("auth", "can-i", "patch", "deployments", "-n", NS, context="sim-a-readonly")
    assert (out.returncode, out.stdout.strip()) == (1, "no")
    assert kubectl("auth", "can-i", "list", "pods", "-A", context="sim-a-readonly").strip() == "yes"
    assert "sim-viewer" in kubectl("auth", "whoami", context="sim-a-readonly")
    before = cluster.mutations
    out = kubectl.run("scale", "deploy", "ml-model-v2-1", "-n", NS, "--replicas=1", context="sim-a-readonly")
    assert out.stderr.strip() == ('Error from server (Forbidden): deployments.apps "ml-model-v2-1" is forbidden: '
                                  'User "sim-viewer" cannot patch resource "deployments/scale" in API group "apps" '
                                  'in the namespace "ml-prod"')
    assert cluster.mutations == before + 1  # the refused request did reach the server
    assert kubectl.json("get", "deploy", "ml-model-v2-1", "-n", NS)["spec"]["replicas"] == 3


def test_argo_canary_follows_the_plugins_status_patches(kubectl):
    def status() -> dict:
        return kubectl.json("get", "rollout", "ensemble-predictor", "-n", NS)["status"]

    first = status()
    assert (first["currentStepIndex"], first["phase"]) == (1, "Paused")
    assert first["pauseConditions"][0]["reason"] == "CanaryPauseStep"
    assert first["canary"]["weights"]["canary"]["weight"] == 20 and first["stableRS"] != first["currentPodHash"]
    # `kubectl argo rollouts promote`: clear the pause conditions on the status subresource
    kubectl("patch", "rollout", "ensemble-predictor", "-n", NS, "--subresource=status", "--type=merge", "-p",
            '{"status":{"pauseConditions":null}}')
    paused_at_3 = eventually(lambda: (s := status()).get("currentStepIndex") == 3 and s, what="step 3 (pause 10s)")
    assert paused_at_3["canary"]["weights"]["canary"]["weight"] == 40 and paused_at_3["phase"] == "Paused"
    rs = {r[0]: int(r[1]) for r in kubectl.rows("get", "rs", "-n", NS, "-l", "app=ensemble-predictor")[1:]}
    assert sorted(rs.values()) == [2, 3]
    # abort: back to stable, step 0, Degraded; retry restarts the steps
    kubectl("patch", "rollout", "ensemble-predictor", "-n", NS, "--subresource=status", "--type=merge", "-p",
            '{"status":{"abort":true}}')
    aborted = eventually(lambda: (s := status()).get("phase") == "Degraded" and s, what="aborted")
    assert aborted["currentStepIndex"] == 0 and aborted["canary"]["weights"]["canary"]["weight"] == 0
    assert aborted["message"].startswith("RolloutAborted: Rollout aborted update to revision 2")
    kubectl("patch", "rollout", "ensemble-predictor", "-n", NS, "--subresource=status", "--type=merge", "-p",
            '{"status":{"abort":false}}')
    again = eventually(lambda: (s := status()).get("phase") == "Paused" and s, what="paused again at step 1")
    assert again["currentStepIndex"] == 1
    # promote --full: every replica on the new template, which becomes stable
    kubectl("patch", "rollout", "ensemble-predictor", "-n", NS, "--subresource=status", "--type=merge", "-p",
            '{"status":{"promoteFull":true}}')
    done = eventually(lambda: (s := status()).get("phase") == "Healthy" and s, 20, what="fully promoted")
    assert done["stableRS"] == done["currentPodHash"] and done["currentStepIndex"] == 8


def test_the_hpa_follows_the_simulated_load_within_its_bounds(kubectl, cluster):
    def hpa() -> list[str]:
        return kubectl.rows("get", "hpa", "model-hpa", "-n", NS)[1]

    cluster.set_load(NS, "property-valuation-model", 140)  # twice the 70 % target: double the replicas
    row = eventually(lambda: (r := hpa())[-2] == "6" and r, what="HPA at 6 replicas")
    assert row[2:4] == ["cpu:", "70%/70%,"]  # the same demand over twice the replicas
    eventually(lambda: kubectl("get", "deploy", "property-valuation-model", "-n", NS, "-o",
                               "jsonpath={.status.readyReplicas}") == "6", what="6 GPU pods ready")
    cluster.set_load(NS, "property-valuation-model", 1000)  # far above: clamped at maxReplicas 20, GPUs run out
    eventually(lambda: kubectl("get", "deploy", "property-valuation-model", "-n", NS, "-o",
                               "jsonpath={.spec.replicas}") == "20", what="clamped at 20")
    limited = kubectl.json("get", "hpa", "model-hpa", "-n", NS)["status"]["conditions"]
    assert {"type": "ScalingLimited", "status": "True", "reason": "TooManyReplicas"}.items() <= \
        next(c for c in limited if c["type"] == "ScalingLimited").items()
    cluster.set_load(NS, "property-valuation-model", 5)  # quiet: back down to minReplicas 2
    eventually(lambda: kubectl("get", "deploy", "property-valuation-model", "-n", NS, "-o",
                               "jsonpath={.spec.replicas}") == "2", what="down to 2")
    cluster.set_load(NS, "property-valuation-model", 70)
    cluster.set_load(NS, "property-valuation-model", 70)  # at target: it stays
    eventually(lambda: not kubectl.json("get", "pods", "-n", NS, "-l", "app=valuation-model", "--field-selector",
                                        "status.phase=Pending")["items"], what="no pending valuation pods")
    time.sleep(1)  # three HPA periods
    assert kubectl("get", "deploy", "property-valuation-model", "-n", NS, "-o", "jsonpath={.spec.replicas}") == "2"


def test_python_m_sim_serves_kubectl_until_sigterm(tmp_path):
    import os
    import signal
    import sys

    binary = require_binary("kubectl")
    proc = subprocess.Popen([sys.executable, "-m", "sim", "--out", str(tmp_path), "--fleet", "empty", "--seed", "4"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    try:
        assert proc.stdout.readline().strip() == "ready"
        out = subprocess.run([binary, "--kubeconfig", str(tmp_path / "kubeconfig"), "--cache-dir",
                              str(tmp_path / "cache"), "get", "namespaces", "-o", "name"],
                             capture_output=True, text=True, timeout=30)
        assert out.stdout.split() == ["namespace/default", "namespace/kube-public", "namespace/kube-system"]
        contexts = subprocess.run([binary, "--kubeconfig", str(tmp_path / "kubeconfig"), "config", "get-contexts",
                                   "-o", "name"], capture_output=True, text=True, timeout=30).stdout.split()
        assert contexts == ["sim-1", "sim-1-readonly"]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


BLUE_GREEN = {
    "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
    "metadata": {"name": "scorer", "namespace": NS},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "scorer"}},
             "template": {"metadata": {"labels": {"app": "scorer"}},
                          "spec": {"containers": [{"name": "scorer", "image": "registry.local/scorer:v1"}]}},
             "strategy": {"blueGreen": {"activeService": "scorer-active", "previewService": "scorer-preview",
                                        "autoPromotionEnabled": False, "scaleDownDelaySeconds": 1}}}}


def test_argo_blue_green_switches_preview_then_active_on_promote(kubectl):
    for name in ("scorer-active", "scorer-preview"):
        kubectl("create", "-f", "-", stdin=json.dumps({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NS},
            "spec": {"selector": {"app": "scorer"}, "ports": [{"port": 80, "targetPort": 8080}]}}))
    kubectl("create", "-f", "-", stdin=json.dumps(BLUE_GREEN))

    def rollout() -> dict:
        return kubectl.json("get", "rollout", "scorer", "-n", NS)

    def selector(name: str) -> str:
        return kubectl.json("get", "svc", name, "-n", NS)["spec"]["selector"].get("rollouts-pod-template-hash", "")

    blue = eventually(lambda: (r := rollout())["status"].get("phase") == "Healthy" and r, what="first revision")
    assert selector("scorer-active") == blue["status"]["stableRS"] == selector("scorer-preview")
    kubectl("patch", "rollout", "scorer", "-n", NS, "--type=merge", "-p",
            '{"spec":{"template":{"spec":{"containers":[{"name":"scorer","image":"registry.local/scorer:v2"}]}}}}')
    paused = eventually(lambda: (r := rollout())["status"].get("phase") == "Paused" and r, what="BlueGreenPause")
    green = paused["status"]["currentPodHash"]
    assert paused["status"]["pauseConditions"][0]["reason"] == "BlueGreenPause"
    assert selector("scorer-preview") == green and selector("scorer-active") == blue["status"]["stableRS"]
    kubectl("patch", "rollout", "scorer", "-n", NS, "--subresource=status", "--type=merge", "-p",
            '{"status":{"pauseConditions":null}}')
    eventually(lambda: selector("scorer-active") == green, what="active switched to green")
    done = eventually(lambda: (r := rollout())["status"].get("phase") == "Healthy" and r, what="promoted")
    assert done["status"]["stableRS"] == green
    eventually(lambda: sorted(int(r[1]) for r in kubectl.rows("get", "rs", "-n", NS, "-l", "app=scorer")[1:])
               == [0, 2], what="blue scaled down after scaleDownDelaySeconds")
    annotations = kubectl.json("get", "svc", "scorer-active", "-n", NS)["metadata"]["annotations"]
    assert annotations["argo-rollouts.argoproj.io/managed-by-rollouts"] == "scorer"


# -- the server's own errors ------------------------------------------------------------------------


def test_an_expired_watch_gets_one_410_error_event(cluster):
    status, body = _raw(cluster, "GET", f"/api/v1/namespaces/{NS}/pods?limit=1")
    rv = json.loads(body)["metadata"]["resourceVersion"]
    cluster.compact()
    floor = cluster.store.rv
    status, body = _raw(cluster, "GET", f"/api/v1/namespaces/{NS}/pods?watch=true&resourceVersion={rv}")
    assert status == 200
    assert body.decode().splitlines() == [json.dumps({
        "type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                    "message": f"too old resource version: {rv} ({floor})", "reason": "Expired",
                                    "code": 410}}, separators=(",", ":"))]


def test_malformed_requests_get_the_real_codes_and_the_server_keeps_answering(cluster, kubectl):
    deploys = f"/apis/apps/v1/namespaces/{NS}/deployments"
    cases = [
        ("POST", deploys, b"{not json", "application/json", 400, "BadRequest"),
        ("GET", "/api/v1/pods?labelSelector=app%20in%20(a", None, "application/json", 400, "BadRequest"),
        ("GET", "/api/v1/pods?fieldSelector=spec.image%3Dx", None, "application/json", 400, "BadRequest"),
        ("GET", "/apis/apps/v1/namespaces/ml-prod/gizmos", None, "application/json", 404, "NotFound"),
        ("GET", f"{deploys}/no-such-thing", None, "application/json", 404, "NotFound"),
        ("PATCH", f"{deploys}/ml-model-v2-0", b"{}", "text/plain", 415, "UnsupportedMediaType"),
        ("PATCH", f"{deploys}/ml-model-v2-0", b'{"spec":{"replicas":-1}}', "application/merge-patch+json", 422,
         "Invalid"),
        ("PATCH", f"{deploys}/ml-model-v2-0", b'[{"op":"remove","path":"/spec/nope"}]',
         "application/json-patch+json", 422, "Invalid"),
        ("POST", deploys, json.dumps({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
                                      "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}}
                                     ).encode(), "application/json", 422, "Invalid"),
    ]
    for method, path, body, ctype, code, reason in cases:
        status, answer = _raw(cluster, method, path, body, ctype)
        assert (status, answer["kind"], answer["reason"], answer["code"]) == (code, "Status", reason, code), path
    assert _raw(cluster, "PATCH", f"{deploys}/ml-model-v2-0", b'{"spec":{"replicas":-1}}',
                "application/merge-patch+json")[1]["message"] == \
        'Deployment.apps "ml-model-v2-0" is invalid: spec.replicas: Invalid value: -1: must be greater than or ' \
        "equal to 0"
    status, answer = _raw(cluster, "GET", "/api/v1/pods", token="not-a-token")
    assert (status, answer["reason"]) == (401, "Unauthorized")
    assert kubectl.json("get", "deploy", "ml-model-v2-0", "-n", NS)["spec"]["replicas"] == 3  # nothing half-done


def test_a_node_going_not_ready_shows_and_its_pods_move(kubectl, cluster):
    before = kubectl.json("get", "pods", "-n", NS, "--field-selector", "spec.nodeName=cpu-node-2")["items"]
    assert before
    cluster.set_node_ready("cpu-node-2", False)
    assert ["cpu-node-2", "NotReady"] in [r[:2] for r in kubectl.rows("get", "nodes")]
    eventually(lambda: not kubectl.json("get", "pods", "-n", NS, "--field-selector",
                                        "spec.nodeName=cpu-node-2")["items"], what="pods evicted")
    deploys = kubectl.json("get", "deploy", "-n", NS)["items"]
    eventually(lambda: all(d["status"].get("readyReplicas") == d["spec"]["replicas"]
                           for d in kubectl.json("get", "deploy", "-n", NS)["items"]), what="rescheduled")
    assert deploys
    taints = kubectl.json("get", "node", "cpu-node-2")["spec"]["taints"]
    assert {t["key"] for t in taints} == {"node.kubernetes.io/unreachable"}
    cluster.set_node_ready("cpu-node-2", True)
    assert ["cpu-node-2", "Ready"] in [r[:2] for r in kubectl.rows("get", "nodes")]


# -- scale ------------------------------------------------------------------------------------------


def test_twenty_thousand_pods_list_through_kubectl(tmp_path):
    from mlops_tui.sim.kube import SimKubeCluster, write_kubeconfig

    binary = require_binary("kubectl")
    started = time.monotonic()
    big = SimKubeCluster.start(name="big", seed=7, fleet="scaled", services=2000, pods_per_service=10,
                               gpu_nodes=200, ready_delay=0)
    try:
        assert time.monotonic() - started < 20
        config = write_kubeconfig(str(tmp_path / "config"), [big])
        out = subprocess.run([binary, "--kubeconfig", config, "--cache-dir", str(tmp_path / "cache"), "get", "pods",
                              "-A", "-o", "json"], capture_output=True, timeout=240)
        assert out.returncode == 0, out.stderr[-500:]
        items = json.loads(out.stdout)["items"]
        assert len(items) == 20000
        assert len({(p["metadata"]["namespace"], p["metadata"]["name"]) for p in items}) == 20000
        assert sum(1 for p in items if p["status"]["phase"] == "Running") >= 19000
        nodes = json.loads(subprocess.run([binary, "--kubeconfig", config, "--cache-dir", str(tmp_path / "cache"),
                                           "get", "nodes", "-o", "json"], capture_output=True, timeout=60).stdout)
        assert len(nodes["items"]) == 200
    finally:
        big.stop()

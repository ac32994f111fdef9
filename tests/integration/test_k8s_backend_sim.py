"""The Kubernetes backend against the simulator, over HTTP, through the real client and a real Fleet.

The operator's story: they point mlops-tui at a kubeconfig, see the seed fleet exactly as `kubectl`
sees it, act on it (scale, canary weights, Argo promote/abort/retry, blue-green, rollback), and after
every action `kubectl` shows the same state. Then the cluster misbehaves (restarts, compaction, 5xx,
a slow answer, a read-only user, a race, odd objects) and the view still tells the truth.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest

from mlops_tui.backends.fleet import Fleet
from mlops_tui.backends.kubernetes import resolve_backends
from mlops_tui.backends.kubernetes.client import KubeConfigError
from mlops_tui.backends.model import ActionKind, HealthState, ServiceKey, ServiceKind
from mlops_tui.backends.plans import (
    Abort,
    ActionForbidden,
    Outcome,
    Promote,
    Retry,
    Rollback,
    Scale,
    SetAutoscalerBounds,
    SetCanaryWeight,
    SwitchBlueGreen,
)
from tests.engines import require, require_binary
from tests.waiting import eventually

pytestmark = pytest.mark.integration

NS = "ml-prod"


def _sim():
    try:
        from mlops_tui.sim.kube import SimKubeCluster, write_kubeconfig
    except ImportError as exc:
        require(False, f"the Kubernetes simulator (sim.kube) is not available: {exc}")
        raise
    return SimKubeCluster, write_kubeconfig


def preview(env: Env, name: str, kind: ServiceKind, intent):
    """The operator's preview of `intent` on a service, once the Fleet offers and allows the action."""
    def offered(service) -> bool:
        return intent.kind not in service.denied and (intent.kind in service.actions or service.autoscaler is not None)

    service = eventually(lambda: offered(env.service(name, kind)) and env.service(name, kind), 15,
                         what=f"{intent.kind.value} offered on {name}")
    return env.fleet.plan(service, intent)


class Env:
    def __init__(self, tmp_path_factory) -> None:
        SimKubeCluster, write_kubeconfig = _sim()
        self.kubectl_bin = require_binary("kubectl")
        self.cluster = SimKubeCluster.start(name="sim-a", seed=5, fleet="demo", ready_delay=0.2)
        self.other = SimKubeCluster.start(name="sim-b", seed=6, fleet="empty")
        self.kubeconfig = str(tmp_path_factory.mktemp("kube") / "config")
        write_kubeconfig(self.kubeconfig, [self.cluster, self.other])
        self.audit: list[dict] = []
        self.backends = resolve_backends(contexts=["sim-a", "sim-b"], kubeconfig=self.kubeconfig)
        for backend in self.backends:
            backend._backoff = (0.05, 0.5)
        self.backend = self.backends[0]
        self.fleet = Fleet(self.backends, audit=self.audit.append, operator="oncall-ana", max_rate=20)
        self.fleet.start()
        self.wait_connected("sim-a")

    def wait_connected(self, name: str, timeout: float = 20.0) -> None:
        eventually(lambda: self.fleet.state.health[name].state is HealthState.CONNECTED, timeout, what=f"{name} up")

    def kubectl(self, *args: str, context: str = "sim-a") -> str:
        out = subprocess.run(
            [self.kubectl_bin, "--kubeconfig", self.kubeconfig, "--context", context, *args],
            capture_output=True, text=True, timeout=30,
        )
        if out.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {out.stderr}")
        return out.stdout

    def kubectl_json(self, *args: str, context: str = "sim-a") -> Any:
        return json.loads(self.kubectl(*args, "-o", "json", context=context))

    def service(self, name: str, kind: ServiceKind, ns: str = NS):
        return self.fleet.state.services[ServiceKey("sim-a", ns, kind, name)]

    def wait_service(self, name: str, kind: ServiceKind, check: Callable[[Any], bool], ns: str = NS,
                     timeout: float = 10.0):
        return eventually(lambda: check(self.service(name, kind, ns)) and self.service(name, kind, ns),
                          timeout, what=f"{name} in the Fleet")

    def act(self, name: str, kind: ServiceKind, intent, confirm: str = "", timeout: float = 20.0):
        service = eventually(lambda: intent.kind not in self.service(name, kind).denied and self.service(name, kind),
                             10, what="access review")
        plan = self.fleet.plan(service, intent)
        return plan, self.fleet.apply(plan, confirmed_text=confirm or plan.confirm_text, verify_timeout=timeout)

    def close(self) -> None:
        self.fleet.stop()
        self.cluster.stop()
        self.other.stop()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    environment = Env(tmp_path_factory)
    yield environment
    environment.close()


D, R, ISVC = ServiceKind.DEPLOYMENT, ServiceKind.ROLLOUT, ServiceKind.INFERENCE_SERVICE


# -- what the operator sees -------------------------------------------------------------------


def _kubectl_services(env: Env) -> dict[tuple[str, str, str], int | None]:
    out: dict[tuple[str, str, str], int | None] = {}
    for resource, kind in (("deployments", "Deployment"), ("rollouts", "Rollout"), ("inferenceservices",
                                                                                     "InferenceService")):
        for item in env.kubectl_json("get", resource, "-A")["items"]:
            replicas = item.get("spec", {}).get("replicas") if kind != "InferenceService" else None
            out[(item["metadata"]["namespace"], kind, item["metadata"]["name"])] = (
                replicas if replicas is not None or kind == "InferenceService" else 1)
    return out


def _fleet_services(env: Env, cluster: str = "sim-a") -> dict[tuple[str, str, str], int | None]:
    return {
        (k.namespace, k.kind.value, k.name): (s.desired if k.kind is not ISVC else None)
        for k, s in env.fleet.state.services.items() if k.cluster == cluster
    }


def test_the_fleet_lists_exactly_what_kubectl_lists_with_the_same_replicas(env):
    expected = _kubectl_services(env)
    assert expected, "the demo fleet is empty"
    eventually(lambda: _fleet_services(env) == expected, 10, what="services match kubectl")
    assert env.fleet.state.health["sim-b"].state is HealthState.CONNECTED  # an empty cluster is healthy too
    health = env.fleet.state.health["sim-a"]
    assert health.user and health.endpoint.startswith("http")


def test_the_seed_deployment_shows_its_hpa_gpus_and_production(env):
    service = env.service("property-valuation-model", D)
    assert service.production is True
    assert service.autoscaler is not None and service.autoscaler.name == "model-hpa"
    assert (service.autoscaler.min_replicas, service.autoscaler.max_replicas) == (2, 20)
    assert "cpu 70%" in service.autoscaler.target
    assert service.gpus_per_replica == 1
    assert {ActionKind.SCALE, ActionKind.ROLLBACK, ActionKind.SET_AUTOSCALER_BOUNDS} <= service.actions
    dep = env.kubectl_json("get", "deployment", "property-valuation-model", "-n", NS)
    assert service.ready == dep["status"].get("readyReplicas", 0)
    assert service.image == dep["spec"]["template"]["spec"]["containers"][0]["image"]


def test_kserve_argo_istio_and_blue_green_are_recognised(env):
    isvc = env.service("property-price-predictor", ISVC)
    assert isvc.canary is not None and isvc.canary.source == "kserve" and isvc.canary.weight == 10
    rollout = env.service("ensemble-predictor", R)
    canary = rollout.canary
    assert canary.source == "argo" and canary.step == 1 and canary.paused and canary.weight == 20
    stable = env.service("rent-predictor-stable", D)
    assert stable.canary is not None and stable.canary.source == "istio" and stable.canary.weight == 10
    assert ActionKind.CANARY_WEIGHT in stable.actions
    bg = env.service("ml-model-v2-0", D).blue_green
    assert bg is not None and bg.router == "ml-model-service" and bg.active == "v2.0" and bg.selector_key == "version"
    assert {c.name for c in bg.colours} >= {"v2.0", "v2.1"}


def test_labelling_a_namespace_production_marks_its_services(env):
    assert env.service("llm-reranker", D, ns="ml-staging").production is False
    env.kubectl("label", "namespace", "ml-staging", "environment=production", "--overwrite")
    try:
        env.wait_service("llm-reranker", D, lambda s: s.production, ns="ml-staging")
    finally:
        env.kubectl("label", "namespace", "ml-staging", "environment=staging", "--overwrite")
    env.wait_service("llm-reranker", D, lambda s: not s.production, ns="ml-staging")


def test_gpu_nodes_allocated_equal_the_scheduled_pods_requests_kubectl_sees(env):
    # Per node AND per resource: full GPUs and each MIG profile are counted apart, never summed.
    pods = env.kubectl_json("get", "pods", "-A")["items"]
    nodes = env.kubectl_json("get", "nodes")["items"]
    expected: dict[tuple[str, str], int] = {}
    for node in nodes:
        cap = node.get("status", {}).get("capacity", {})
        for resource in cap:
            if resource == "nvidia.com/gpu" or resource == "nvidia.com/gpu.shared" or resource.startswith(
                    "nvidia.com/mig-"):
                expected[(node["metadata"]["name"], resource)] = 0
    for pod in pods:
        phase = pod.get("status", {}).get("phase")
        conditions = {c["type"]: c["status"] for c in pod.get("status", {}).get("conditions", [])}
        node = pod.get("spec", {}).get("nodeName")
        if not node or not (phase == "Running" or (phase == "Pending" and conditions.get("PodScheduled") == "True")):
            continue
        total: dict[str, int] = {}
        for c in pod["spec"].get("containers", []):
            res = c.get("resources", {})
            merged = {**res.get("limits", {}), **res.get("requests", {})}
            for k, v in merged.items():
                if k.startswith("nvidia.com/"):
                    total[k] = total.get(k, 0) + int(v)
        for c in pod["spec"].get("initContainers", []):
            res = c.get("resources", {})
            for k, v in {**res.get("limits", {}), **res.get("requests", {})}.items():
                if k.startswith("nvidia.com/"):
                    total[k] = max(total.get(k, 0), int(v))
        for resource, count in total.items():
            if (node, resource) in expected:
                expected[(node, resource)] += count
    assert expected, "the demo fleet has no GPU nodes"
    got = {(node, r.name): r.allocated for (cluster, node), gpu in env.fleet.state.gpu_nodes.items()
           if cluster == "sim-a" for r in gpu.resources}
    assert got == expected
    assert any(gpu.holders for gpu in env.fleet.state.gpu_nodes.values())


def test_gpu_pending_pods_in_staging_carry_the_schedulers_words(env):
    pending = [p for p in env.fleet.state.pending_gpu if p.cluster == "sim-a" and p.namespace == "ml-staging"]
    assert pending and all(p.requests == (("nvidia.com/gpu", 4),) for p in pending)
    assert any("nvidia.com/gpu" in p.message for p in pending)
    assert {p.service for p in pending} == {ServiceKey("sim-a", "ml-staging", D, "llm-reranker")}


# -- actions, and kubectl agrees --------------------------------------------------------------


def test_scale_reaches_the_cluster_and_kubectl_agrees(env):
    _plan, outcome = env.act("ml-model-v2-1", D, Scale(4))
    assert outcome.outcome is Outcome.SUCCEEDED, outcome.detail
    assert env.kubectl("get", "deploy", "ml-model-v2-1", "-n", NS, "-o", "jsonpath={.spec.replicas}") == "4"
    assert env.audit[-1]["result"] == "succeeded" and env.audit[-1]["operator"] == "oncall-ana"
    events = [e for e in env.kubectl_json("get", "events", "-n", NS)["items"] if e.get("reason") == "MlopsTuiAction"]
    assert any(e["involvedObject"]["name"] == "ml-model-v2-1" and "oncall-ana" in e["message"] for e in events)
    env.wait_service("ml-model-v2-1", D, lambda s: s.desired == 4)


def test_scaling_under_the_hpa_warns_and_the_bounds_alternative_works(env):
    service = env.service("property-valuation-model", D)
    plan = env.fleet.plan(service, Scale(5))
    assert "hpa-owns-replicas" in [w.code for w in plan.warnings]
    (alternative,) = plan.alternatives
    assert isinstance(alternative, SetAutoscalerBounds)
    plan, outcome = env.act("property-valuation-model", D, SetAutoscalerBounds(3, 12))
    assert outcome.outcome is Outcome.SUCCEEDED, outcome.detail
    hpa = env.kubectl_json("get", "hpa", "model-hpa", "-n", NS)
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 12)


def changes(mutation) -> list[dict]:
    """A guarded JSON patch's operations after its `test`s: what it changes."""
    return [op for op in mutation.body if op["op"] != "test"]


def test_kserve_canary_weight_and_rollback_to_the_previous_revision(env):
    plan, outcome = env.act("property-price-predictor", ISVC, SetCanaryWeight(30))
    assert outcome.outcome in (Outcome.SUCCEEDED, Outcome.APPLIED_NOT_CONVERGED), outcome.detail
    assert env.kubectl("get", "isvc", "property-price-predictor", "-n", NS, "-o",
                       "jsonpath={.spec.predictor.canaryTrafficPercent}") == "30"
    plan, outcome = env.act("property-price-predictor", ISVC, Rollback())
    assert changes(plan.mutations[0]) == [{"op": "add", "path": "/spec/predictor/canaryTrafficPercent", "value": 0}]
    assert env.kubectl("get", "isvc", "property-price-predictor", "-n", NS, "-o",
                       "jsonpath={.spec.predictor.canaryTrafficPercent}") == "0"


def test_istio_weights_move_as_a_pair_summing_to_100(env):
    _plan, outcome = env.act("rent-predictor-stable", D, SetCanaryWeight(25))
    assert outcome.outcome is Outcome.SUCCEEDED, outcome.detail
    vs = env.kubectl_json("get", "virtualservice", "rent-predictor", "-n", NS)
    weights = {r["destination"]["host"].split(".")[0]: r["weight"] for r in vs["spec"]["http"][0]["route"]}
    assert weights == {"rent-predictor-stable": 75, "rent-predictor-canary": 25}
    env.wait_service("rent-predictor-canary", D, lambda s: s.canary and s.canary.weight == 25)


def test_a_409_race_on_the_virtualservice_replans_and_shows_what_changed(env):
    service = env.service("rent-predictor-stable", D)
    plan = env.fleet.plan(service, SetCanaryWeight(40))
    # A teammate edits the VirtualService between the preview and the confirm.
    env.kubectl("annotate", "virtualservice", "rent-predictor", "-n", NS, "teammate=was-here", "--overwrite")
    outcome = env.fleet.apply(plan, confirmed_text=plan.confirm_text, verify_timeout=5)
    assert outcome.outcome is Outcome.CONFLICT
    assert f"version {plan.precondition_version} → {outcome.replanned.precondition_version}" in outcome.detail
    assert outcome.replanned is not None and outcome.replanned.precondition_version != plan.precondition_version
    vs = env.kubectl_json("get", "virtualservice", "rent-predictor", "-n", NS)
    assert [r["weight"] for r in vs["spec"]["http"][0]["route"]] == [75, 25]  # nothing half-applied


def _rollout(env):
    return env.kubectl_json("get", "rollout", "ensemble-predictor", "-n", NS)


def test_argo_abort_retry_promote_and_promote_full(env):
    plan, outcome = env.act("ensemble-predictor", R, Abort())
    assert changes(plan.mutations[0]) == [{"op": "add", "path": "/status/abort", "value": True}]
    assert _rollout(env)["status"].get("abort") is True
    env.wait_service("ensemble-predictor", R, lambda s: s.canary.aborted)
    plan, outcome = env.act("ensemble-predictor", R, Retry())
    assert changes(plan.mutations[0]) == [{"op": "add", "path": "/status/abort", "value": False}]
    assert not _rollout(env)["status"].get("abort")
    env.wait_service("ensemble-predictor", R, lambda s: not s.canary.aborted and s.canary.paused)
    step = _rollout(env)["status"].get("currentStepIndex", 0)
    plan, outcome = env.act("ensemble-predictor", R, Promote())
    assert changes(plan.mutations[-1]) == [{"op": "remove", "path": "/status/pauseConditions"}]
    assert outcome.outcome is Outcome.SUCCEEDED, outcome.detail
    # The indefinite pause at step 1 is over: the rollout moved on (later steps pause for 10 s each).
    eventually(lambda: _rollout(env)["status"].get("currentStepIndex", 0) > step, 10, what="next step")
    # The later steps pause for 10 s: a pause ending between preview and apply is no conflict.
    plan, outcome = env.act("ensemble-predictor", R, Promote(full=True))
    if plan.mutations:
        assert changes(plan.mutations[-1]) == [{"op": "add", "path": "/status/promoteFull", "value": True}]
        assert outcome.outcome is Outcome.SUCCEEDED, outcome.detail
    rollout = _rollout(env)
    assert rollout["status"].get("promoteFull") or rollout["status"].get("phase") == "Healthy"


def test_argo_undo_goes_back_to_the_previous_revisions_template(env):
    key = env.service("ensemble-predictor", R).key
    eventually(lambda: len(env.backend.revisions(key)) >= 2, 10, what="two Argo revisions")
    revisions = env.backend.revisions(key)
    assert revisions[0].current and not revisions[1].current
    assert all(r.image and r.created is not None for r in revisions)
    previous = revisions[1]
    plan, outcome = env.act("ensemble-predictor", R, Rollback())
    assert outcome.outcome in (Outcome.SUCCEEDED, Outcome.APPLIED_NOT_CONVERGED), outcome.detail
    (m,) = plan.mutations
    *tests, template_op = m.body
    assert m.content_type == "application/json-patch+json" and template_op["path"] == "/spec/template"
    ro = _rollout(env)  # guarded by the rollout's identity and the generation the preview read
    assert [t["path"] for t in tests] == ["/metadata/uid", "/metadata/generation"]
    assert tests[0]["value"] == ro["metadata"]["uid"] and tests[1]["value"] == ro["metadata"]["generation"] - 1
    assert "rollouts-pod-template-hash" not in template_op["value"]["metadata"]["labels"]
    assert plan.after["version"] == previous.version
    images = [c["image"] for c in _rollout(env)["spec"]["template"]["spec"]["containers"]]
    assert images[0] == template_op["value"]["spec"]["containers"][0]["image"]
    assert images[0].endswith(":" + previous.version) or previous.version in images[0]


def test_gpu_nodes_show_mig_slices_and_scaling_past_free_gpus_warns(env):
    mig = {node: r for (cluster, node), gpu in env.fleet.state.gpu_nodes.items() if cluster == "sim-a"
           for r in gpu.resources if r.name == "nvidia.com/mig-1g.5gb"}
    assert mig, "no MIG node"
    bert = env.kubectl_json("get", "pods", "-n", "ml-staging", "-l", "app=bert-mig")["items"]
    held = sum(1 for p in bert if p.get("spec", {}).get("nodeName") and p["status"].get("phase") == "Running")
    assert sum(r.allocated for r in mig.values()) == held
    service = env.service("llm-reranker", D, ns="ml-staging")
    waiting = sum(1 for p in env.fleet.state.pending_gpu if p.service == service.key)
    assert waiting > 0  # the seed leaves some llm-reranker pods Pending already
    plan = env.fleet.plan(service, Scale(service.desired + 2))
    warning = next(w for w in plan.warnings if w.code == "gpu-pending")
    assert warning.text == ("2 of 2 new replicas will stay Pending: each needs 4 nvidia.com/gpu on one node; "
                            "0/5 nodes are available: 5 Insufficient nvidia.com/gpu. "
                            f"{waiting} pods of llm-reranker already wait for GPUs and go first.")


BG_ROLLOUT = """apiVersion: v1
kind: Service
metadata: {name: bg-active, namespace: ml-prod}
spec: {selector: {app: bg-model}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: bg-preview, namespace: ml-prod}
spec: {selector: {app: bg-model}, ports: [{port: 80}]}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: bg-model, namespace: ml-prod}
spec:
  replicas: 2
  selector: {matchLabels: {app: bg-model}}
  strategy: {blueGreen: {activeService: bg-active, previewService: bg-preview, autoPromotionEnabled: false}}
  template:
    metadata: {labels: {app: bg-model}}
    spec: {containers: [{name: m, image: "registry.local/bg:{tag}"}]}
"""


def test_argo_blue_green_shows_active_and_preview_and_the_switch_promotes(env):
    _apply(env, BG_ROLLOUT.replace("{tag}", "v1"))
    env.wait_service("bg-model", R, lambda s: s.blue_green and s.blue_green.active == "v1", timeout=15)
    _apply(env, BG_ROLLOUT.replace("{tag}", "v2"))
    service = env.wait_service("bg-model", R, lambda s: s.blue_green.preview == "v2" and s.rollout_state == "paused",
                               timeout=15)
    bg = service.blue_green
    assert (bg.source, bg.active, bg.router) == ("argo", "v1", "bg-active")
    assert ActionKind.BLUE_GREEN_SWITCH in service.actions
    plan, outcome = env.act("bg-model", R, SwitchBlueGreen("v2"))
    assert outcome.outcome is Outcome.SUCCEEDED, outcome.detail
    assert changes(plan.mutations[-1]) == [{"op": "remove", "path": "/status/pauseConditions"}]
    assert plan.mutations[-1].path.endswith("/rollouts/bg-model/status")
    env.wait_service("bg-model", R, lambda s: s.blue_green.active == "v2", timeout=15)
    rollout = env.kubectl_json("get", "rollout", "bg-model", "-n", NS)
    active = env.kubectl_json("get", "svc", "bg-active", "-n", NS)["spec"]["selector"]
    assert active["rollouts-pod-template-hash"] == rollout["status"]["blueGreen"]["activeSelector"]


def test_blue_green_switch_patches_the_selector_and_refuses_a_colour_without_ready_pods(env):
    plan, outcome = env.act("ml-model-v2-1", D, SwitchBlueGreen("v2.1"))
    assert outcome.outcome is Outcome.SUCCEEDED, outcome.detail
    assert "ready endpoints behind ml-model-service" in outcome.detail  # verified on the EndpointSlices
    assert changes(plan.mutations[0]) == [{"op": "add", "path": "/spec/selector/version", "value": "v2.1"}]
    selector = env.kubectl_json("get", "svc", "ml-model-service", "-n", NS)["spec"]["selector"]
    assert selector["version"] == "v2.1" and len(selector) >= 2  # other keys kept
    # v2.0 scaled to zero: switching back would leave the Service with no endpoints.
    env.kubectl("scale", "deployment", "ml-model-v2-0", "-n", NS, "--replicas=0")
    eventually(lambda: not [p for p in env.kubectl_json("get", "pods", "-n", NS, "-l", "version=v2.0")["items"]
                            if p.get("metadata", {}).get("deletionTimestamp") is None], 15, what="v2.0 pods gone")
    env.wait_service("ml-model-v2-0", D, lambda s: s.desired == 0)
    plan, outcome = env.act("ml-model-v2-0", D, SwitchBlueGreen("v2.0"))
    assert [w.code for w in plan.blocked] == ["selector-no-ready-pods"]
    assert outcome.outcome is Outcome.REFUSED
    assert env.kubectl_json("get", "svc", "ml-model-service", "-n", NS)["spec"]["selector"]["version"] == "v2.1"
    # The explicit override is honoured and audited.
    plan, outcome = env.act("ml-model-v2-0", D, SwitchBlueGreen("v2.0", override_unready=True), timeout=1)
    assert env.kubectl_json("get", "svc", "ml-model-service", "-n", NS)["spec"]["selector"]["version"] == "v2.0"
    assert env.audit[-1]["overrides"] == ["selector-no-ready-pods"]
    env.kubectl("scale", "deployment", "ml-model-v2-0", "-n", NS, "--replicas=3")


TWIN = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: ml-prod
  annotations:
    team: pricing
spec:
  replicas: 1
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}, tier: model}}
      annotations: {{build: "{build}"}}
    spec:
      containers:
      - name: server
        image: registry.local/twin:{tag}
        env: [{{name: MODEL_VERSION, value: "{tag}"}}]
"""


def _apply(env: Env, text: str) -> None:
    out = subprocess.run([env.kubectl_bin, "--kubeconfig", env.kubeconfig, "--context", "sim-a", "apply",
                          "--validate=false", "-f", "-"], input=text, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr


def test_our_rollback_gives_the_same_template_as_kubectl_rollout_undo(env):
    for name in ("twin-ours", "twin-kubectl"):
        _apply(env, TWIN.format(name=name, tag="v1", build="1"))
    for name in ("twin-ours", "twin-kubectl"):
        eventually(lambda name=name: len([rs for rs in env.kubectl_json("get", "rs", "-n", NS, "-l",
                                                                         f"app={name}")["items"]]) == 1, 10)
        _apply(env, TWIN.format(name=name, tag="v2", build="2"))
        eventually(lambda name=name: len(env.kubectl_json("get", "rs", "-n", NS, "-l", f"app={name}")["items"]) == 2,
                   10, what=f"{name} revision 2")
    env.wait_service("twin-ours", D, lambda s: s.version == "v2")
    revisions = env.backend.revisions(env.service("twin-ours", D).key)
    assert [(r.revision, r.version, r.current) for r in revisions] == [("2", "v2", True), ("1", "v1", False)]
    plan, outcome = env.act("twin-ours", D, Rollback())
    assert outcome.outcome in (Outcome.SUCCEEDED, Outcome.APPLIED_NOT_CONVERGED), outcome.detail
    assert plan.mutations[0].content_type == "application/json-patch+json"
    env.kubectl("rollout", "undo", "deployment/twin-kubectl", "-n", NS)
    ours = env.kubectl_json("get", "deployment", "twin-ours", "-n", NS)
    theirs = env.kubectl_json("get", "deployment", "twin-kubectl", "-n", NS)
    assert json.dumps(ours["spec"]["template"]).replace("twin-ours", "X") == \
        json.dumps(theirs["spec"]["template"]).replace("twin-kubectl", "X")
    assert ours["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":v1")
    ann = lambda d: {k: v for k, v in d["metadata"].get("annotations", {}).items()  # noqa: E731
                     if k != "kubectl.kubernetes.io/last-applied-configuration"}
    assert ann(ours) == ann(theirs)


def test_scaling_production_to_zero_needs_the_name_typed(env):
    service = env.service("ml-model-v2-1", D)
    plan = env.fleet.plan(service, Scale(0))
    assert plan.confirm_text == "ml-model-v2-1"
    outcome = env.fleet.apply(plan, confirmed_text="yes")
    assert outcome.outcome is Outcome.REFUSED
    assert env.kubectl("get", "deploy", "ml-model-v2-1", "-n", NS, "-o", "jsonpath={.spec.replicas}") != "0"


def test_scaling_an_hpa_target_to_zero_pauses_the_autoscaler(env):
    service = env.service("property-valuation-model", D)
    plan = env.fleet.plan(service, Scale(0))
    assert {"hpa-owns-replicas", "production-scale-to-zero"} <= {w.code for w in plan.warnings}
    outcome = env.fleet.apply(plan, confirmed_text="property-valuation-model", verify_timeout=10)
    assert outcome.outcome in (Outcome.SUCCEEDED, Outcome.APPLIED_NOT_CONVERGED), outcome.detail
    assert env.kubectl("get", "deploy", "property-valuation-model", "-n", NS, "-o",
                       "jsonpath={.spec.replicas}") == "0"
    paused = env.wait_service("property-valuation-model", D, lambda s: s.autoscaler and not s.autoscaler.active,
                              timeout=15)
    assert paused.desired == 0
    env.kubectl("scale", "deployment", "property-valuation-model", "-n", NS, "--replicas=3")
    env.wait_service("property-valuation-model", D, lambda s: s.autoscaler.active, timeout=15)


# -- faults -----------------------------------------------------------------------------------


def test_a_read_only_user_is_told_not_allowed_and_nothing_is_sent(env):
    (viewer,) = resolve_backends(contexts=["sim-a-readonly"], kubeconfig=env.kubeconfig)
    fleet = Fleet([viewer], audit=[].append)
    fleet.start()
    try:
        key = ServiceKey("sim-a-readonly", NS, D, "ml-model-v2-1")
        service = eventually(lambda: ActionKind.SCALE in fleet.state.services[key].denied and
                             fleet.state.services[key], 15, what="SSAR denial")
        assert ActionKind.SCALE in service.denied
        before = env.cluster.mutations
        replicas = env.kubectl("get", "deploy", "ml-model-v2-1", "-n", NS, "-o", "jsonpath={.spec.replicas}")
        with pytest.raises(ActionForbidden, match=r"not allowed for sim-viewer in ml-prod"):
            fleet.plan(service, Scale(int(replicas) + 1))
        assert env.cluster.mutations == before  # refused before anything was sent
        # A plan made with other credentials is refused by the API server (403), in the same words.
        plan = env.fleet.plan(env.service("ml-model-v2-1", D), Scale(int(replicas) + 1))
        with pytest.raises(ActionForbidden, match=r"not allowed for sim-viewer in ml-prod"):
            viewer.apply(plan)
        assert env.kubectl("get", "deploy", "ml-model-v2-1", "-n", NS, "-o", "jsonpath={.spec.replicas}") == replicas
    finally:
        fleet.stop()


def test_5xx_bursts_and_a_410_on_resume_recover_and_match_kubectl(env):
    relists = sum(r.relists for r in env.backend.reflectors)
    env.cluster.compact()
    env.cluster.faults.fail_next(4, 503)
    env.cluster.faults.close_watches()
    eventually(lambda: sum(r.relists for r in env.backend.reflectors) > relists, 20, what="a relist after 410")
    env.kubectl("scale", "deployment", "ml-model-v2-1", "-n", NS, "--replicas=2")
    env.wait_service("ml-model-v2-1", D, lambda s: s.desired == 2, timeout=20)
    env.wait_connected("sim-a")
    eventually(lambda: _fleet_services(env) == _kubectl_services(env), 20, what="cache equals kubectl")


def test_a_restart_mid_watch_resumes_and_an_outage_shows_stale_then_recovers(env):
    reflectors = [r for r in env.backend.reflectors if not r.disabled]
    relists = sum(r.relists for r in reflectors)
    watches = {id(r): sum(1 for kind, _ in r.requests if kind == "watch") for r in reflectors}
    env.cluster.restart()
    # Every watch was cut and resumed from its last resourceVersion: no relist needed.
    eventually(lambda: all(sum(1 for kind, _ in r.requests if kind == "watch") > watches[id(r)]
                           for r in reflectors), 15, what="every watch resumed")
    assert sum(r.relists for r in reflectors) == relists
    assert all(r.requests[-1][1] for r in reflectors if r.requests[-1][0] == "watch")
    env.wait_connected("sim-a")
    # A longer outage: the operator sees 'stale since', then connected again.
    states: list[HealthState] = []
    env.fleet.subscribe(lambda state, delta: states.append(state.health["sim-a"].state))
    env.cluster.server.stop()
    eventually(lambda: HealthState.STALE in states, 15, what="stale")
    stale = env.fleet.state.health["sim-a"]
    assert stale.since is not None and stale.error
    assert env.fleet.state.services  # the last known picture stays on screen
    env.cluster.server.start()
    env.wait_connected("sim-a", 30)
    assert HealthState.STALE in states and states[-1] is HealthState.CONNECTED
    env.kubectl("scale", "deployment", "ml-model-v2-1", "-n", NS, "--replicas=3")
    env.wait_service("ml-model-v2-1", D, lambda s: s.desired == 3, timeout=20)
    eventually(lambda: _fleet_services(env) == _kubectl_services(env), 20, what="cache equals kubectl")
    assert env.fleet.state.health["sim-b"].state is HealthState.CONNECTED


def test_a_slow_cluster_does_not_slow_the_other(env, tmp_path):
    SimKubeCluster, write_kubeconfig = _sim()
    slow = SimKubeCluster.start(name="sim-slow", seed=9, fleet="empty")
    fast = SimKubeCluster.start(name="sim-fast", seed=10, fleet="demo")
    path = str(tmp_path / "config")
    write_kubeconfig(path, [slow, fast])
    slow.faults.delay_next(1, 10)
    fleet = Fleet(resolve_backends(contexts=["sim-slow", "sim-fast"], kubeconfig=path), audit=[].append)
    started = time.monotonic()
    fleet.start()
    try:
        eventually(lambda: fleet.state.health["sim-fast"].state is HealthState.CONNECTED, 8, what="fast cluster")
        assert time.monotonic() - started < 8
        assert fleet.state.health["sim-slow"].state is HealthState.CONNECTING
        eventually(lambda: fleet.state.health["sim-slow"].state is HealthState.CONNECTED, 30, what="slow cluster")
    finally:
        fleet.stop()
        slow.stop()
        fast.stop()


def test_objects_with_missing_or_unexpected_fields_do_not_break_the_view(env):
    env.cluster.store.create("deployments", NS, {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "odd-one", "namespace": NS, "labels": {"x": "y"}},
        "spec": {"selector": {"matchLabels": {"app": "odd"}}, "template": {"metadata": {"labels": {"app": "odd"}},
                 "spec": {"containers": [{"name": "c", "image": "odd", "resources": {"limits": {
                     "nvidia.com/gpu": "lots"}}}]}}, "surprise": [1, {"x": None}]},
    })
    service = env.wait_service("odd-one", D, lambda s: True)
    assert service.gpus_per_replica == 0
    env.wait_connected("sim-a")
    env.kubectl("delete", "deployment", "odd-one", "-n", NS)
    eventually(lambda: ServiceKey("sim-a", NS, D, "odd-one") not in env.fleet.state.services, 10)


def test_unknown_contexts_and_unreadable_kubeconfigs_are_one_line_errors(env, tmp_path):
    with pytest.raises(KubeConfigError, match="unknown context 'nope'") as info:
        resolve_backends(contexts=["nope"], kubeconfig=env.kubeconfig)
    assert "\n" not in str(info.value)
    with pytest.raises(KubeConfigError, match="does not exist"):
        resolve_backends(kubeconfig=str(tmp_path / "missing"))
    bad = tmp_path / "bad"
    bad.write_text("{{{ not yaml")
    with pytest.raises(KubeConfigError, match="cannot read kubeconfig"):
        resolve_backends(kubeconfig=str(bad))

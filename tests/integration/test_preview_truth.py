"""The preview's numbers are true, against the Kubernetes simulator with kubectl as the judge.

The operator's night: a Deployment is being migrated to an Argo Rollout of the same name (both exist);
the Istio canary of rent-predictor sits next to the ml-model-service blue-green pair; llm-reranker
already has pods Pending for GPUs on nodes with MIG slices. What the preview says (which service, which
switch, how many new replicas find a GPU node, why the others will not) is what the cluster then holds,
and the action's outcome says so as soon as the scheduler has decided, not after the 120 s deadline.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path

import pytest

from mlops_tui.backends.model import ActionKind, ServiceKind
from mlops_tui.backends.plans import ActionRefused, Outcome, Scale, SwitchBlueGreen
from mlops_tui.tui.app import MlopsApp
from mlops_tui.tui.config import Settings
from mlops_tui.tui.panes import ServicesPane
from mlops_tui.tui.panes.services import row_key
from mlops_tui.tui.sources import build_fleet
from tests.integration.test_k8s_backend_sim import Env, _apply, eventually
from tests.tui.conftest import until, visible_text

pytestmark = pytest.mark.integration

D, R = ServiceKind.DEPLOYMENT, ServiceKind.ROLLOUT
NS, STAGING = "ml-prod", "ml-staging"
VERIFY_DEADLINE = 120.0


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    environment = Env(tmp_path_factory)
    yield environment
    environment.close()


def pods(env: Env, ns: str, selector: str) -> list[dict]:
    return [p for p in env.kubectl_json("get", "pods", "-n", ns, "-l", selector)["items"]
            if not p["metadata"].get("deletionTimestamp")]


def unschedulable_messages(pod_list: list[dict]) -> list[str]:
    """The scheduler's words on each pod it could not place (PodScheduled=False)."""
    return [c.get("message", "") for p in pod_list for c in p.get("status", {}).get("conditions", [])
            if c.get("type") == "PodScheduled" and c.get("status") == "False"]


def scheduler_words(warning_text: str) -> str:
    """The '0/N nodes are available: ...' part of a gpu-pending warning."""
    return re.sub(r" \d+ pods? of .* goe?s? first\.$", "", warning_text.split("; ", 1)[1])


# -- 1. identity: a Deployment and a Rollout of one name are two services ----------------------

TWINS = """apiVersion: apps/v1
kind: Deployment
metadata: {name: fraud-scorer, namespace: ml-prod}
spec:
  replicas: 1
  selector: {matchLabels: {app: fraud-scorer, via: deployment}}
  template:
    metadata: {labels: {app: fraud-scorer, via: deployment}}
    spec: {containers: [{name: m, image: "registry.local/fraud:v1"}]}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: fraud-scorer, namespace: ml-prod}
spec:
  replicas: 2
  selector: {matchLabels: {app: fraud-scorer, via: rollout}}
  strategy: {canary: {steps: [{setWeight: 100}]}}
  template:
    metadata: {labels: {app: fraud-scorer, via: rollout}}
    spec: {containers: [{name: m, image: "registry.local/fraud:v2"}]}
"""


def replicas_of(env: Env, resource: str) -> str:
    return env.kubectl("get", resource, "fraud-scorer", "-n", NS, "-o", "jsonpath={.spec.replicas}")


async def test_a_deployment_and_a_rollout_of_one_name_are_two_services_and_scaling_one_leaves_the_other(
        env, tmp_path: Path):
    _apply(env, TWINS)
    deployment = env.wait_service("fraud-scorer", D, lambda s: s.desired == 1, timeout=15)
    rollout = env.wait_service("fraud-scorer", R, lambda s: s.desired == 2, timeout=15)
    assert deployment.key != rollout.key and deployment.version == "v1" and rollout.version == "v2"

    # On screen: two rows, one per kind.
    settings = Settings(audit_log=str(tmp_path / "audit.jsonl")).with_engine("kubernetes", kubeconfig=env.kubeconfig,
                                                                              contexts=["sim-a"])
    app = MlopsApp(settings, build_fleet)
    async with app.run_test(size=(150, 45)) as pilot:
        table = app.query_one(ServicesPane)
        rows = {row_key(deployment.key), row_key(rollout.key)}
        await until(pilot, lambda: rows <= set(table.shown_keys), timeout=30)
        shown = [k for k in app.state.services if k.name == "fraud-scorer"]
        assert sorted(k.kind.value for k in shown) == ["Deployment", "Rollout"]

    # Scaling the Deployment changes the Deployment only: kubectl judges.
    plan, outcome = env.act("fraud-scorer", D, Scale(3))
    assert plan.target == deployment.key and "/deployments/fraud-scorer/scale" in plan.mutations[0].path
    assert outcome.outcome is Outcome.SUCCEEDED, outcome.detail
    assert (replicas_of(env, "deployment"), replicas_of(env, "rollout")) == ("3", "2")
    env.wait_service("fraud-scorer", D, lambda s: s.desired == 3)
    assert env.service("fraud-scorer", R).desired == 2
    # And the Rollout's own scale reaches the Rollout only.
    plan, outcome = env.act("fraud-scorer", R, Scale(4))
    assert "/rollouts/fraud-scorer/scale" in plan.mutations[0].path
    assert eventually(lambda: (replicas_of(env, "deployment"), replicas_of(env, "rollout")) == ("3", "4"), 10)


# -- 2. blue-green: the canary's per-track Services are never a switch --------------------------


def test_b_is_offered_for_the_selector_switch_and_never_for_the_istio_canary_services(env):
    for name in ("rent-predictor-stable", "rent-predictor-canary"):
        service = env.wait_service(name, D, lambda s: s.canary is not None, timeout=15)
        assert service.canary.source == "istio"
        assert service.blue_green is None and ActionKind.BLUE_GREEN_SWITCH not in service.actions, name
        with pytest.raises(ActionRefused, match="does not support blue-green-switch"):
            env.fleet.plan(service, SwitchBlueGreen("v1.1"))
    for name in ("ml-model-v2-0", "ml-model-v2-1"):
        service = env.service(name, D)
        assert ActionKind.BLUE_GREEN_SWITCH in service.actions, name
        assert (service.blue_green.source, service.blue_green.router) == ("service-selector", "ml-model-service")
    # Nothing was sent to the canary's Services.
    selector = env.kubectl_json("get", "svc", "rent-predictor-canary", "-n", NS)["spec"]["selector"]
    assert selector == {"app": "rent-predictor", "version": "v1.2"}


async def test_on_screen_b_does_nothing_on_the_canary_and_opens_the_switch_on_the_blue_green_pair(env, tmp_path):
    settings = Settings(audit_log=str(tmp_path / "audit.jsonl")).with_engine("kubernetes", kubeconfig=env.kubeconfig,
                                                                              contexts=["sim-a"])
    app = MlopsApp(settings, build_fleet)
    async with app.run_test(size=(150, 45)) as pilot:
        table = app.query_one(ServicesPane)
        for name, dialog in (("rent-predictor-canary", None), ("ml-model-v2-0", "BlueGreenDialog")):
            key = env.service(name, D).key
            await until(pilot, lambda key=key: row_key(key) in table.shown_keys, timeout=30)
            table.focus()
            table.move_cursor(row=table.shown_keys.index(row_key(key)))
            await pilot.pause()
            await pilot.press("b")
            if dialog is None:
                await pilot.pause(0.3)
                assert app.screen is app.screen_stack[0], name
            else:
                await until(pilot, lambda dialog=dialog: app.screen.__class__.__name__ == dialog, timeout=10)
                assert "ml-model-service" in visible_text(app) or "v2.1" in visible_text(app)
                await pilot.press("escape")


# -- 3. GPUs per resource, on screen --------------------------------------------------------------


async def test_the_gpu_pane_shows_full_gpus_and_mig_slices_apart_as_kubectl_counts_them(env, tmp_path):
    full_free = full_gpus_free(env)["gpu-node-3"]
    mig_held = sum(1 for p in pods(env, STAGING, "app=bert-mig") if p["spec"].get("nodeName") == "gpu-node-3")
    node = env.kubectl_json("get", "node", "gpu-node-3")["status"]["allocatable"]
    gpus, slices = int(node["nvidia.com/gpu"]), int(node["nvidia.com/mig-1g.5gb"])
    settings = Settings(audit_log=str(tmp_path / "audit.jsonl")).with_engine("kubernetes", kubeconfig=env.kubeconfig,
                                                                              contexts=["sim-a"])
    app = MlopsApp(settings, build_fleet)
    async with app.run_test(size=(200, 50)) as pilot:
        table = app.query_one("#gpu-table")
        key = "sim-a\x1fgpu-node-3"
        await until(pilot, lambda: key in table.shown_keys, timeout=30)
        row = [cell.plain for cell in table.get_row(key)]
        assert row[3].endswith(f"{gpus - full_free}/{gpus} gpu, {mig_held}/{slices} mig-1g.5gb"), row
        assert row[4] == f"{full_free} gpu, {slices - mig_held} mig-1g.5gb", row
        assert f"{gpus + slices}" not in row[3]  # never "7/15"


# -- 4. GPU fit: the preview says how many fit, the cluster agrees, the outcome comes early -------


def test_llm_reranker_preview_says_none_fit_and_the_outcome_names_the_reason_well_before_the_deadline(env):
    service = env.wait_service("llm-reranker", D, lambda s: s.desired == 4, ns=STAGING)
    waiting = len(unschedulable_messages(pods(env, STAGING, "app=llm-reranker")))
    assert waiting == 3  # the seed: one 4-GPU replica runs, three find no node with 4 free GPUs
    eventually(lambda: sum(1 for p in env.fleet.state.pending_gpu if p.service == service.key) == waiting, 10)

    plan = env.fleet.plan(service, Scale(6))
    (warning,) = [w for w in plan.warnings if w.code == "gpu-pending"]
    # gpu-node-3 has 3 full GPUs and 5 MIG slices free: 8 "GPUs" by the old sum, yet no room for 4.
    assert warning.text == (
        "2 of 2 new replicas will stay Pending: each needs 4 nvidia.com/gpu on one node; "
        "0/5 nodes are available: 5 Insufficient nvidia.com/gpu. "
        "3 pods of llm-reranker already wait for GPUs and go first.")

    started = time.monotonic()
    outcome = env.fleet.apply(plan, confirmed_text=plan.confirm_text, verify_timeout=VERIFY_DEADLINE)
    elapsed = time.monotonic() - started
    assert outcome.outcome is Outcome.APPLIED_NOT_CONVERGED
    assert outcome.detail == "5 replicas Pending: 0/5 nodes are available: 5 Insufficient nvidia.com/gpu."
    assert elapsed < VERIFY_DEADLINE / 4, elapsed
    # kubectl: 6 replicas asked, 5 Pending, each with exactly the words the preview used.
    assert env.kubectl("get", "deploy", "llm-reranker", "-n", STAGING, "-o", "jsonpath={.spec.replicas}") == "6"
    messages = unschedulable_messages(pods(env, STAGING, "app=llm-reranker"))
    assert len(messages) == 5 and set(messages) == {scheduler_words(warning.text)}
    env.kubectl("scale", "deployment", "llm-reranker", "-n", STAGING, "--replicas=4")
    eventually(lambda: len(pods(env, STAGING, "app=llm-reranker")) == 4, 15, what="back to 4 reranker pods")


def full_gpus_free(env: Env) -> dict[str, int]:
    """Per Ready node, allocatable nvidia.com/gpu minus what the scheduled, unfinished pods request."""
    free = {}
    for node in env.kubectl_json("get", "nodes")["items"]:
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"]["conditions"])
        if ready and not node["spec"].get("unschedulable"):
            free[node["metadata"]["name"]] = int(node["status"]["allocatable"].get("nvidia.com/gpu", 0))
    for pod in env.kubectl_json("get", "pods", "-A")["items"]:
        node = pod["spec"].get("nodeName")
        if node in free and pod["status"].get("phase") not in ("Succeeded", "Failed"):
            for container in pod["spec"]["containers"]:
                resources = container.get("resources", {})
                asked = {**resources.get("limits", {}), **resources.get("requests", {})}
                free[node] -= int(asked.get("nvidia.com/gpu", 0))
    return free


GPU_PROBE = """apiVersion: apps/v1
kind: Deployment
metadata: {name: gpu-probe, namespace: ml-staging}
spec:
  replicas: 0
  selector: {matchLabels: {app: gpu-probe}}
  template:
    metadata: {labels: {app: gpu-probe}}
    spec:
      containers:
      - name: m
        image: registry.local/probe:v1
        resources: {limits: {nvidia.com/gpu: 3}}
"""


def test_a_partial_fit_names_the_nodes_and_kubectl_finds_the_replicas_there(env):
    _apply(env, GPU_PROBE)
    service = env.wait_service("gpu-probe", D, lambda s: s.gpu_requests == (("nvidia.com/gpu", 3),), ns=STAGING,
                               timeout=15)
    plan = env.fleet.plan(service, Scale(5))
    (warning,) = [w for w in plan.warnings if w.code == "gpu-pending"]
    predicted = plan.context["gpu_pending"]
    fit = 5 - predicted
    # kubectl's own arithmetic: full GPUs free on each Ready node, 3 per replica, MIG slices not counted.
    assert fit == sum(free // 3 for free in full_gpus_free(env).values()), warning.text
    assert 0 < fit < 5, warning.text
    placed = warning.text[warning.text.index(": ") + 2:warning.text.index(")")]
    expected_nodes = Counter()
    for part in placed.split(", "):
        node, _, times = part.partition("×")
        expected_nodes[node] += int(times or 1)
    assert warning.text.startswith(f"{predicted} of 5 new replicas will stay Pending ({fit} fit: ")

    started = time.monotonic()
    outcome = env.fleet.apply(plan, confirmed_text=plan.confirm_text, verify_timeout=VERIFY_DEADLINE)
    assert outcome.outcome is Outcome.APPLIED_NOT_CONVERGED, outcome.detail
    assert time.monotonic() - started < VERIFY_DEADLINE / 4
    reason = scheduler_words(warning.text)
    assert outcome.detail == f"{predicted} replica{'s' if predicted != 1 else ''} Pending: {reason}"
    probe = pods(env, STAGING, "app=gpu-probe")
    running = Counter(p["spec"]["nodeName"] for p in probe if p["status"].get("phase") == "Running")
    assert running == expected_nodes
    assert unschedulable_messages(probe) == [reason] * predicted
    env.kubectl("delete", "deployment", "gpu-probe", "-n", STAGING)


def test_a_notready_gpu_node_counts_as_tainted_in_the_preview_exactly_as_the_scheduler_words_it(env):
    env.cluster.set_node_ready("gpu-node-1", False)
    try:
        eventually(lambda: not env.fleet.state.gpu_nodes[("sim-a", "gpu-node-1")].ready, 15, what="NotReady seen")
        # Whatever ran there is evicted and placed again first: wait until nothing else waits for a node.
        eventually(lambda: not unschedulable_messages(pods(env, NS, "app=valuation-model")), 15, what="settled")
        _apply(env, GPU_PROBE.replace("gpu-probe", "gpu-probe-2").replace("nvidia.com/gpu: 3", "nvidia.com/gpu: 1"))
        service = env.wait_service("gpu-probe-2", D, lambda s: s.gpu_requests == (("nvidia.com/gpu", 1),),
                                   ns=STAGING, timeout=15)
        plan = env.fleet.plan(service, Scale(12))
        (warning,) = [w for w in plan.warnings if w.code == "gpu-pending"]
        reason = scheduler_words(warning.text)
        assert reason.startswith("0/5 nodes are available: 1 node(s) had untolerated taint "
                                 "{node.kubernetes.io/unreachable: }, "), reason
        assert "gpu-node-1" not in warning.text  # nothing is placed on the NotReady node
        predicted = plan.context["gpu_pending"]
        outcome = env.fleet.apply(plan, confirmed_text=plan.confirm_text, verify_timeout=VERIFY_DEADLINE)
        assert outcome.outcome is Outcome.APPLIED_NOT_CONVERGED, outcome.detail
        probe = pods(env, STAGING, "app=gpu-probe-2")
        assert unschedulable_messages(probe) == [reason] * predicted
        assert not any(p["spec"].get("nodeName") == "gpu-node-1" for p in probe)
    finally:
        env.cluster.set_node_ready("gpu-node-1", True)
        env.kubectl("delete", "deployment", "gpu-probe-2", "-n", STAGING, "--ignore-not-found")


# -- the same on the simulated Swarm: generic resources, Swarm's own words ---------------------


@pytest.fixture(scope="module")
def swarm():
    from mlops_tui.backends.swarm.client import SwarmEndpoint
    from mlops_tui.backends.swarm.watch import SwarmBackend
    from mlops_tui.sim.docker import SimSwarm

    sim = SimSwarm.start(seed=1, fleet="demo")
    backend = SwarmBackend(SwarmEndpoint(url=sim.url), name="sim-swarm", resync_seconds=1.0)
    backend.start(lambda _change: None)
    try:
        eventually(lambda: backend.health and backend.health.state.value == "connected", 15, what="swarm synced")
        yield sim, backend
    finally:
        backend.stop()
        sim.stop()


def test_on_swarm_the_preview_and_the_early_outcome_use_swarms_words_and_the_engine_agrees(swarm):
    import docker

    sim, backend = swarm
    model = eventually(lambda: next((s for k, s in backend.view.services.items()
                                     if k.name == "llm-embedder" and s.ready == 2), None), 15, what="llm-embedder")
    assert model.gpu_requests == (("NVIDIA-GPU", 1),)
    # Two GPU nodes of 2 GPUs, one task on each: 2 of the 4 new tasks fit, one per GPU node.
    plan = backend.plan(model, Scale(6))
    (warning,) = [w for w in plan.warnings if w.code == "gpu-pending"]
    assert warning.text == ("2 of 4 new replicas will stay Pending (2 fit: swarm-gpu-1, swarm-gpu-2): each "
                            "reserves 1 NVIDIA-GPU on one node; no suitable node (insufficient resources on 6 nodes)")
    backend.apply(plan)
    started = time.monotonic()
    result = backend.verify(plan, VERIFY_DEADLINE, lambda _line: None)
    assert time.monotonic() - started < VERIFY_DEADLINE / 4
    client = docker.DockerClient(base_url=sim.url, version="auto", timeout=10)
    try:
        tasks = client.api.tasks(filters={"service": "llm-embedder", "desired-state": "running"})
    finally:
        client.close()
    errors = [t["Status"].get("Err", "") for t in tasks if t["Status"]["State"] == "pending"]
    running = Counter(t["NodeID"] for t in tasks if t["Status"]["State"] == "running")
    assert errors == ["no suitable node (insufficient resources on 6 nodes)"] * 2
    assert len(running) == 2 and set(running.values()) == {2}  # 2 tasks on each GPU node
    assert (result.converged, result.detail) == (False, f"2 replicas Pending: {errors[0]}")

"""The object screen's text against the Kubernetes simulator, with the real kubectl as the judge.

The operator's story: on call, they press `y` on a service and expect what `kubectl get -o yaml` shows
them (without the managed fields unless asked), and `d` to show what `kubectl describe` shows; on a
GPU node, `d` adds what is allocated per resource and which pods hold the GPUs.
"""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from mlops_tui.backends.fleet import Fleet
from mlops_tui.backends.kubernetes import resolve_backends
from mlops_tui.backends.model import HealthState, ServiceKind
from tests.engines import require_binary
from tests.waiting import eventually

pytestmark = pytest.mark.integration

NS = "ml-prod"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    from mlops_tui.sim.kube import SimKubeCluster, write_kubeconfig

    kubectl_bin = require_binary("kubectl")
    cluster = SimKubeCluster.start(name="sim-a", seed=5, fleet="demo", ready_delay=0.1)
    home = tmp_path_factory.mktemp("kube")
    config = write_kubeconfig(str(home / "config"), [cluster])
    fleet = Fleet(resolve_backends(contexts=["sim-a"], kubeconfig=config), max_rate=20)
    fleet.start()
    try:
        eventually(lambda: fleet.state.health["sim-a"].state is HealthState.CONNECTED, what="sim-a connected")

        def kubectl(*args: str) -> str:
            out = subprocess.run([kubectl_bin, "--kubeconfig", config, "--cache-dir", str(home / "cache"),
                                  "--context", "sim-a", *args], capture_output=True, text=True, timeout=60)
            assert out.returncode == 0, f"kubectl {' '.join(args)} failed: {out.stderr}"
            return out.stdout

        yield fleet, kubectl
    finally:
        fleet.stop()
        cluster.stop()


def _service(fleet: Fleet, kind: ServiceKind):
    return eventually(lambda: next((s for k, s in sorted(fleet.state.services.items())
                                    if k.kind is kind and k.namespace == NS), None), what=f"a {kind.value}")


def _labels(text: str) -> list[str]:
    """The field names of a describe text, in order: 'Replicas', 'Pod Template', 'Limits', ..."""
    return [m.group(1).strip() for m in re.finditer(r"^\s*([A-Za-z][\w .-]*?):(?:\s|$)", text, re.M)]


@pytest.mark.parametrize("kind", [ServiceKind.DEPLOYMENT, ServiceKind.ROLLOUT, ServiceKind.INFERENCE_SERVICE])
def test_y_shows_the_object_as_kubectl_get_o_yaml_without_managed_fields_by_default(env, kind):
    fleet, kubectl = env
    service = _service(fleet, kind)
    resource = {ServiceKind.DEPLOYMENT: "deployment", ServiceKind.ROLLOUT: "rollouts.argoproj.io",
                ServiceKind.INFERENCE_SERVICE: "inferenceservices.serving.kserve.io"}[kind]
    shown = fleet.object_text(service, "yaml")
    theirs = yaml.safe_load(kubectl("get", resource, service.key.name, "-n", NS, "-o", "yaml"))
    ours = yaml.safe_load(shown.body)
    assert shown.format == "yaml" and service.key.name in shown.title
    # The same object, bar what changed between the two reads (the simulator keeps reconciling).
    assert ours["metadata"]["uid"] == theirs["metadata"]["uid"]
    assert ours["spec"] == theirs["spec"]
    assert sorted(ours) == sorted(theirs)
    # kubectl's own order: keys sorted at every level.
    top = [line.split(":")[0] for line in shown.body.splitlines() if line and not line.startswith(" ")]
    assert top == sorted(top)
    assert "managedFields" not in shown.body
    with_managed = fleet.object_text(service, "yaml", managed_fields=True)
    full = yaml.safe_load(with_managed.body)
    assert ("managedFields" in full["metadata"]) == ("managedFields" in yaml.safe_load(
        kubectl("get", resource, service.key.name, "-n", NS, "-o", "yaml", "--show-managed-fields"))["metadata"])
    if "managedFields" in full["metadata"]:
        assert shown.hidden and not with_managed.hidden


def test_d_on_a_deployment_carries_what_kubectl_describe_shows(env):
    fleet, kubectl = env
    service = _service(fleet, ServiceKind.DEPLOYMENT)
    ours = fleet.object_text(service, "describe")
    theirs = kubectl("describe", "deployment", service.key.name, "-n", NS)
    assert ours.format == "text"
    missing = [label for label in _labels(theirs) if label not in _labels(ours.body)]
    assert not missing, f"kubectl describe shows {missing} that d does not:\n{ours.body}\n---\n{theirs}"
    for line in ("Replicas:", "StrategyType:", "Pod Template:", "Conditions:", "Events:"):
        assert line in ours.body
    image = next(line.split()[-1] for line in theirs.splitlines() if line.strip().startswith("Image:"))
    assert image in ours.body


@pytest.mark.parametrize("kind", [ServiceKind.ROLLOUT, ServiceKind.INFERENCE_SERVICE])
def test_d_on_a_custom_resource_carries_what_kubectl_describe_shows(env, kind):
    """Argo Rollouts and KServe InferenceServices: kubectl's generic describer, canary steps and status included."""
    fleet, kubectl = env
    service = _service(fleet, kind)
    resource = {ServiceKind.ROLLOUT: "rollouts.argoproj.io",
                ServiceKind.INFERENCE_SERVICE: "inferenceservices.serving.kserve.io"}[kind]
    ours = fleet.object_text(service, "describe").body
    theirs = kubectl("describe", resource, service.key.name, "-n", NS)
    # Timestamps and counters move between the two reads; the fields must all be there.
    missing = sorted(set(_labels(theirs)) - set(_labels(ours)))
    assert not missing, f"kubectl describe shows {missing} that d does not:\n{ours}\n---\n{theirs}"


def test_d_on_a_gpu_node_shows_allocations_taints_conditions_and_the_pods_holding_gpus(env):
    fleet, kubectl = env
    node = eventually(lambda: next((n for n in fleet.state.gpu_nodes.values() if n.cluster == "sim-a"
                                    and any(r.allocated for r in n.resources)), None), what="a GPU node in use")
    ours = fleet.object_text(node, "describe").body
    theirs = kubectl("describe", "node", node.node)
    missing = sorted(set(_labels(theirs)) - set(_labels(ours)))
    assert not missing, f"kubectl describe node shows {missing} that d does not:\n{ours}\n---\n{theirs}"
    allocated = ours.split("Allocated resources:", 1)[1]
    for resource in node.resources:
        row = next(line for line in allocated.splitlines() if line.split()[:1] == [resource.name])
        assert row.split()[1] == str(resource.allocated), row
    holders = ours.split("Pods holding GPUs:", 1)[1]
    for holder in node.holders:
        assert holder.workload.rsplit("/", 1)[-1] in holders
    yaml_text = fleet.object_text(node, "yaml")
    assert yaml.safe_load(yaml_text.body)["metadata"]["name"] == node.node


def test_a_pod_described_carries_what_kubectl_describe_pod_shows(env):
    """Pods are not a row of their own yet; their describer is checked here so the day they are, it is true."""
    fleet, kubectl = env
    pod = kubectl("get", "pods", "-n", NS, "-o", "jsonpath={.items[0].metadata.name}")
    backend = fleet.backends["sim-a"]
    ours = backend._objects.describe_pod(NS, pod).body  # type: ignore[attr-defined]
    theirs = kubectl("describe", "pod", pod, "-n", NS)
    missing = sorted(set(_labels(theirs)) - set(_labels(ours)))
    assert not missing, f"kubectl describe pod shows {missing} that ours does not:\n{ours}\n---\n{theirs}"


async def test_on_the_demo_d_and_y_show_a_kubernetes_service_a_swarm_service_and_a_gpu_node_by_key(tmp_path):
    """The demo's engines (the same `--demo` runs) spoken to by the real backends, through the keys."""
    from textual.widgets import TextArea

    from mlops_tui.sim.demo import start_demo
    from mlops_tui.tui.app import MlopsApp
    from mlops_tui.tui.sources import build_fleet
    from tests.integration.test_operator_keys import select, settings_for
    from tests.tui.conftest import until
    from tests.tui.keys import burst

    env = start_demo(seed=3)
    try:
        app = MlopsApp(settings_for(env, tmp_path), build_fleet)
        async with app.run_test(size=(150, 45)) as pilot:
            def text() -> str:
                on = app.screen.__class__.__name__ == "ObjectScreen"
                return app.screen.query_one("#object-body", TextArea).text if on else ""

            await select(pilot, app, "demo-prod", "property-valuation-model")
            burst(app, "d")
            await until(pilot, lambda: "StrategyType:" in text(), timeout=20)
            assert "Name:                   property-valuation-model" in text()
            burst(app, "y", "/", *"replicas", "enter")
            await until(pilot, lambda: "match 1 of" in str(app.screen.query_one("#object-status").render()),
                        timeout=20)
            assert text().startswith("apiVersion: apps/v1") and "managedFields" not in text()
            burst(app, "escape")
            await until(pilot, lambda: app.screen is app.screen_stack[0])

            await select(pilot, app, "swarm-demo", "llm-embedder")
            burst(app, "d")
            await until(pilot, lambda: "Service Mode:\tReplicated" in text(), timeout=20)
            assert "NVIDIA-GPU=1" in text()
            burst(app, "escape")
            await until(pilot, lambda: app.screen is app.screen_stack[0])

            app.focus_pane("gpus")
            await until(pilot, lambda: app.active_pane == "gpus")
            burst(app, "d")
            await until(pilot, lambda: "Allocated resources:" in text() or "Tasks holding GPUs:" in text(),
                        timeout=20)
    finally:
        env.stop()

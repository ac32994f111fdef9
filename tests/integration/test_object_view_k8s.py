"""The object screen's text against the Kubernetes simulator, with the real kubectl as the judge.

The operator's story: on call, they press `y` on a service and expect what `kubectl get -o yaml` shows
them (without the managed fields unless asked), and `d` to show what `kubectl describe` shows; on a
GPU node, `d` adds what is allocated per resource and which pods hold the GPUs.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from mlops_tui.backends.fleet import Fleet
from mlops_tui.backends.kubernetes import resolve_backends
from mlops_tui.backends.model import HealthState, ServiceKind
from tests.engines import require_binary

pytestmark = pytest.mark.integration

NS = "ml-prod"


def eventually(check: Callable[[], Any], timeout: float = 20.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}: last {last!r}")


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

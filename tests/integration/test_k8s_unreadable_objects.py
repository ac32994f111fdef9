"""A Kubernetes object the app cannot read (issue 16 §5) is skipped and counted, never fatal for the
rest of the cluster: the simulated API server serves a Deployment whose `spec.replicas` is "three"
and one with no metadata at all (inserted raw, as a loose schema or a broken aggregated API would
serve them); the cluster stays connected with every other service, its status line says
"1 object unreadable" and `status --json` counts it in `unreadable_objects`."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from mlops_tui.backends.fleet import Fleet
from mlops_tui.backends.kubernetes import resolve_backends
from mlops_tui.backends.model import HealthState, ServiceKind
from mlops_tui.tui.format import health_text
from tests.waiting import eventually

pytestmark = pytest.mark.integration

NS = "ml-prod"


@pytest.fixture
def cluster(tmp_path):
    from mlops_tui.sim.kube import SimKubeCluster, write_kubeconfig

    sim = SimKubeCluster.start(name="sim-odd", seed=13, fleet="demo", ready_delay=0.2)
    path = tmp_path / "kubeconfig"
    write_kubeconfig(path, [sim])
    yield sim, str(path)
    sim.stop()


def odd_copy(sim, name: str) -> dict:
    """A Deployment like the first one in ml-prod, under another name, its replicas written in words."""
    model = next(d for d in sim.store.list("deployments", NS) if isinstance(d.get("metadata"), dict))
    odd = copy.deepcopy(model)
    odd["metadata"] = {"name": name, "namespace": NS, "labels": model["metadata"].get("labels", {})}
    odd["spec"]["replicas"] = "three"
    odd.pop("status", None)
    return odd


def shown(fleet: Fleet, cluster: str) -> set[str]:
    return {k.name for k in fleet.state.services if k.cluster == cluster}


def test_a_deployment_with_replicas_three_is_skipped_and_counted_and_the_rest_stays(cluster):
    sim, kubeconfig = cluster
    fleet = Fleet(resolve_backends(contexts=["sim-odd"], kubeconfig=kubeconfig))
    fleet.start()
    try:
        eventually(lambda: fleet.state.health["sim-odd"].state is HealthState.CONNECTED, 30, what="connected")
        before = eventually(lambda: shown(fleet, "sim-odd"), 30, what="the demo's services")
        # Created through the store, as a controller writes: the watch carries it to the app.
        sim.store.put("deployments", odd_copy(sim, "odd-replicas"))
        eventually(lambda: fleet.state.health["sim-odd"].unreadable == 1, 15, what="1 unreadable")
        health = fleet.state.health["sim-odd"]
        assert health.state is HealthState.CONNECTED
        assert "odd-replicas" not in shown(fleet, "sim-odd")  # skipped, not shown as scaled to 0
        assert shown(fleet, "sim-odd") == before
        text, _semantic = health_text(health, datetime.now(timezone.utc))
        assert text.endswith("sim-odd connected · 1 object unreadable"), text

        # The same object repaired: shown with the count it now says, and nothing counted any more.
        repaired = sim.store.get("deployments", NS, "odd-replicas")
        repaired["spec"]["replicas"] = 3
        sim.store.put("deployments", repaired)
        eventually(lambda: fleet.state.health["sim-odd"].unreadable == 0, 15, what="none unreadable")
        key = next(k for k in fleet.state.services if k.name == "odd-replicas")
        assert key.kind is ServiceKind.DEPLOYMENT and fleet.state.services[key].desired == 3
    finally:
        fleet.stop()


def test_an_object_with_no_metadata_is_counted_after_a_relist_and_status_json_says_so(cluster, tmp_path):
    sim, kubeconfig = cluster
    fleet = Fleet(resolve_backends(contexts=["sim-odd"], kubeconfig=kubeconfig))
    fleet.start()
    try:
        eventually(lambda: fleet.state.health["sim-odd"].state is HealthState.CONNECTED, 30, what="connected")
        before = eventually(lambda: shown(fleet, "sim-odd"), 30, what="the demo's services")
        nameless = odd_copy(sim, "x")
        del nameless["metadata"]
        nameless["spec"]["replicas"] = 2
        sim.store.insert_raw("deployments", (NS, "\x00nameless"), nameless)
        sim.compact()  # etcd compacted and every watch cut: resumed with 410 Expired, the app lists again
        sim.store.close_watches()
        eventually(lambda: fleet.state.health["sim-odd"].unreadable == 1, 45, what="1 unreadable after the relist")
        assert fleet.state.health["sim-odd"].state is HealthState.CONNECTED
        assert shown(fleet, "sim-odd") == before
    finally:
        fleet.stop()

    # The runbook's one-shot command reads the same cluster: it counts the object and lists the rest.
    sim.store.put("deployments", odd_copy(sim, "odd-replicas"))
    out = subprocess.run([sys.executable, "-m", "mlops_tui", "status", "--json", "--kubeconfig", kubeconfig,
                          "--context", "sim-odd", "--timeout", "30", "--audit-log", str(tmp_path / "audit.jsonl")],
                         capture_output=True, text=True, timeout=90)
    assert out.returncode == 0, out.stderr
    document = json.loads(out.stdout)
    source = next(s for s in document["sources"] if s["name"] == "sim-odd")
    assert source["unreadable_objects"] == 2 and source["state"] == "connected"
    assert {s["name"] for s in document["services"] if s["cluster"] == "sim-odd"} == before

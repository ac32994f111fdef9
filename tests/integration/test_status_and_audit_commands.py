"""The one-shot commands a runbook uses: `mlops-tui status --json` agrees with kubectl about the
fleet, and `mlops-tui audit` prints what was done."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.engines import require_binary

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    from mlops_tui.sim.kube import SimKubeCluster, write_kubeconfig

    sim = SimKubeCluster.start(name="sim-status", seed=7, fleet="demo")
    path = tmp_path_factory.mktemp("kube") / "kubeconfig"
    write_kubeconfig(path, [sim])
    sim.settle(30)
    yield sim, str(path)
    sim.stop()


def mlops(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlops_tui", *args], capture_output=True, text=True, timeout=timeout)


def test_status_json_lists_what_kubectl_lists_with_the_same_replicas(cluster, tmp_path):
    _sim, kubeconfig = cluster
    kubectl = require_binary("kubectl")
    out = mlops("status", "--json", "--kubeconfig", kubeconfig, "--context", "sim-status", "--timeout", "30",
                "--audit-log", str(tmp_path / "audit.jsonl"))
    assert out.returncode == 0, out.stderr
    fleet = json.loads(out.stdout)
    # Only the simulated cluster is kubectl's to judge (a Swarm the environment points at may be listed too).
    ours = {(s["kind"], s["namespace"], s["name"]): s["desired"] for s in fleet["services"]
            if s["cluster"] == "sim-status"}

    listed = json.loads(subprocess.run(
        [kubectl, "--kubeconfig", kubeconfig, "get", "deployments,rollouts,inferenceservices", "-A", "-o", "json"],
        capture_output=True, text=True, check=True, timeout=60).stdout)
    theirs = {}
    for item in listed["items"]:
        kind, meta = item["kind"], item["metadata"]
        replicas = item["spec"].get("replicas", 1) if kind != "InferenceService" else None
        theirs[(kind, meta["namespace"], meta["name"])] = replicas
    assert set(ours) == set(theirs)
    for key, replicas in theirs.items():
        if replicas is not None:
            assert ours[key] == replicas, key

    # GPU nodes: per resource, allocated = the sum of that resource's requests of the scheduled,
    # non-terminal pods on them; resources are never added up (8 GPUs + 7 MIG slices are not 15).
    pods = json.loads(subprocess.run([kubectl, "--kubeconfig", kubeconfig, "get", "pods", "-A", "-o", "json"],
                                     capture_output=True, text=True, check=True, timeout=60).stdout)["items"]
    requested: dict[tuple[str, str], int] = {}
    for pod in pods:
        node = pod["spec"].get("nodeName")
        if not node or pod["status"].get("phase") in ("Succeeded", "Failed"):
            continue
        for container in pod["spec"]["containers"]:
            resources = container.get("resources", {})
            # As the API server defaults them: an extended resource's request is its limit when unset.
            asked = {**resources.get("limits", {}), **resources.get("requests", {})}
            for resource, value in asked.items():
                if resource == "nvidia.com/gpu" or resource.startswith("nvidia.com/mig-"):
                    requested[(node, resource)] = requested.get((node, resource), 0) + int(value)
    nodes = json.loads(subprocess.run([kubectl, "--kubeconfig", kubeconfig, "get", "nodes", "-o", "json"],
                                      capture_output=True, text=True, check=True, timeout=60).stdout)["items"]
    capacity = {(n["metadata"]["name"], r): int(v) for n in nodes for r, v in n["status"]["capacity"].items()
                if r.startswith("nvidia.com/")}
    for node in fleet["gpu_nodes"]:
        assert "total" not in node and "allocated" not in node
        if node["cluster"] != "sim-status":
            continue  # a Swarm the environment points at (DOCKER_HOST): not kubectl's to judge
        for resource in node["resources"]:
            where = (node["node"], resource["name"])
            assert resource["allocated"] == requested.get(where, 0), where
            assert resource["capacity"] == capacity[where], where
            assert resource["free"] == resource["allocatable"] - resource["allocated"], where
    mig_node = next(n for n in fleet["gpu_nodes"] if n["node"] == "gpu-node-3")
    assert [(r["name"], r["capacity"]) for r in mig_node["resources"]] == [
        ("nvidia.com/gpu", 8), ("nvidia.com/mig-1g.5gb", 7)]
    assert {p["name"].split("-")[0] for p in fleet["pending_gpu"]} == {"llm"}


def test_status_json_follows_its_published_schema(cluster, tmp_path):
    """Scripts build on `status --json`: the output validates against docs/status.schema.json, severities
    are names, labels are objects, latency carries its SLO, and every source says how old its data is."""
    import jsonschema

    _sim, kubeconfig = cluster
    out = mlops("status", "--output", "json", "--kubeconfig", kubeconfig, "--context", "sim-status",
                "--timeout", "30", "--audit-log", str(tmp_path / "audit.jsonl"))
    assert out.returncode == 0, out.stderr
    document = json.loads(out.stdout)
    schema = json.loads((ROOT / "docs" / "status.schema.json").read_text())
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(document)
    assert document["schema_version"] == 1
    (source,) = [s for s in document["sources"] if s["name"] == "sim-status"]
    assert source["state"] == "connected" and 0 <= source["data_age_seconds"] < 60
    valuation = next(s for s in document["services"] if s["name"] == "property-valuation-model")
    assert isinstance(valuation["labels"], dict) and valuation["labels"].get("app")
    assert {t["resource"] for t in document["gpu_totals"] if t["cluster"] == "sim-status"} == {
        "nvidia.com/gpu", "nvidia.com/mig-1g.5gb"}


def test_status_answers_by_its_timeout_when_an_engine_accepts_and_never_answers(tmp_path):
    """A Swarm manager behind a frozen link: `status --timeout 3` is a hard bound on the whole command
    (it took 22 s while the stuck connection was being closed), exit 1 naming the source."""
    import socket
    import time

    frozen = socket.socket()
    frozen.bind(("127.0.0.1", 0))
    frozen.listen(16)  # connections complete in the kernel's backlog; nothing is ever read or answered
    try:
        started = time.monotonic()
        out = mlops("status", "--swarm", f"tcp://127.0.0.1:{frozen.getsockname()[1]}", "--timeout", "3",
                    "--kubeconfig", str(tmp_path / "none"), "--audit-log", str(tmp_path / "audit.jsonl"))
        took = time.monotonic() - started
    finally:
        frozen.close()
    assert out.returncode == 1
    assert "127.0.0.1" in out.stderr and "no answer" in out.stderr, out.stderr
    assert took < 3 + 4, f"status --timeout 3 took {took:.1f}s"  # interpreter start-up and exit included


def test_status_exits_non_zero_when_a_cluster_cannot_be_read(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: gone\n"
        "clusters: [{name: gone, cluster: {server: 'https://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: gone, context: {cluster: gone, user: u}}]\n")
    out = mlops("status", "--kubeconfig", str(kubeconfig), "--context", "gone", "--timeout", "5",
                "--audit-log", str(tmp_path / "audit.jsonl"))
    assert out.returncode == 1
    assert "mlops-tui: cannot read gone" in out.stderr


def test_audit_prints_the_last_actions_one_line_each(tmp_path):
    from mlops_tui.tui.audit import AuditLog

    log = AuditLog(tmp_path / "audit.jsonl")
    for replicas in (4, 5):
        log.append({"time": f"2026-11-29T03:0{replicas}:00.000Z", "operator": "oncall", "cluster": "prod-a",
                    "target": "prod-a/ml-prod/property-valuation-model", "intent": f"scale to {replicas}",
                    "before": {"replicas": "3"}, "after": {"replicas": str(replicas)}, "result": "succeeded"})
    out = mlops("audit", "--last", "1", "--audit-log", str(tmp_path / "audit.jsonl"))
    assert out.returncode == 0
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1 and "scale to 5" in lines[0] and "[replicas=3] -> [replicas=5]" in lines[0]
    raw = mlops("audit", "--json", "--audit-log", str(tmp_path / "audit.jsonl"))
    assert [json.loads(line)["intent"] for line in raw.stdout.splitlines()] == ["scale to 4", "scale to 5"]

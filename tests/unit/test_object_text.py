"""The object screen's text, rendered from recorded objects: what `y` and `d` show an operator, and
what they leave out until asked (managed fields)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import yaml

from mlops_tui.backends.kubernetes import describe as ds
from mlops_tui.backends.model import GpuHolder, GpuNode, GpuResource
from mlops_tui.backends.swarm import inspect

DATA = Path(__file__).parent / "data"
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)


def _recorded(name: str) -> dict:
    return json.loads((DATA / "k8s" / name).read_text())


def deployment_with_managed_fields() -> dict:
    obj = _recorded("deployment_valuation.json")
    obj["metadata"]["managedFields"] = [{"manager": "kubectl-client-side-apply", "operation": "Update",
                                         "fieldsV1": {"f:spec": {"f:replicas": {}}}}]
    obj["metadata"]["annotations"] = {"note": "[bold]not markup[/] ünïcode"}
    return obj


def test_y_hides_managed_fields_by_default_and_m_shows_them():
    obj = deployment_with_managed_fields()
    hidden = yaml.safe_load(ds.as_yaml(obj))
    shown = yaml.safe_load(ds.as_yaml(obj, managed_fields=True))
    assert "managedFields" not in hidden["metadata"]
    assert shown["metadata"]["managedFields"] == obj["metadata"]["managedFields"]
    assert "managedFields" in obj["metadata"]  # the object read is left as it was
    assert {k: v for k, v in shown.items() if k != "metadata"} == {k: v for k, v in hidden.items() if k != "metadata"}


def test_y_keeps_kubectls_order_and_the_clusters_text_as_sent():
    text = ds.as_yaml(deployment_with_managed_fields())
    top = [line.split(":")[0] for line in text.splitlines() if line and not line.startswith(" ")]
    assert top == sorted(top)
    assert "[bold]not markup[/] ünïcode" in text  # no \u escapes, no markup stripped
    assert yaml.safe_load(text)["spec"] == deployment_with_managed_fields()["spec"]


def test_d_on_a_node_counts_each_gpu_resource_on_its_own_and_names_the_pods_holding_them():
    node = _recorded("nodes.json")["items"][0]
    pods = [
        {"metadata": {"namespace": "ml-prod", "name": "bert-0", "creationTimestamp": "2026-12-01T09:00:00Z"},
         "spec": {"nodeName": node["metadata"]["name"], "containers": [
             {"name": "m", "resources": {"requests": {"cpu": "500m", "nvidia.com/gpu": "2"},
                                         "limits": {"nvidia.com/gpu": "2"}}}]},
         "status": {"phase": "Running"}},
        {"metadata": {"namespace": "ml-prod", "name": "slice-0"},
         "spec": {"containers": [{"name": "m", "resources": {"limits": {"nvidia.com/mig-1g.5gb": "1"}}}]},
         "status": {"phase": "Running"}},
        {"metadata": {"namespace": "ml-prod", "name": "done-0"},
         "spec": {"containers": [{"name": "m", "resources": {"limits": {"nvidia.com/gpu": "1"}}}]},
         "status": {"phase": "Succeeded"}},  # finished: holds nothing
    ]
    text = ds.describe_node(node, pods, [], NOW)
    allocated = text.split("Allocated resources:", 1)[1].split("Pods holding GPUs:", 1)[0]
    rows = {line.split()[0]: line.split()[1:] for line in allocated.splitlines()[3:] if line.strip()}
    assert rows["nvidia.com/gpu"] == ["2", "(50%)", "2", "(50%)"]
    assert rows["nvidia.com/mig-1g.5gb"] == ["1", "(14%)", "1", "(14%)"]  # requests default to limits
    assert rows["cpu"][:2] == ["500m", "(1%)"]
    holders = text.split("Pods holding GPUs:", 1)[1]
    assert "bert-0" in holders and "nvidia.com/gpu: 2" in holders and "slice-0" in holders
    assert "done-0" not in text
    assert "Taints:             nvidia.com/gpu:NoSchedule" in text


def test_kubernetes_quantities():
    assert ds.quantity("500m") == 0.5
    assert ds.quantity("16Gi") == 16 * 2**30
    assert ds.quantity("1e3") == 1000
    assert ds.quantity("nonsense") == 0


def test_swarm_values_as_the_docker_cli_prints_them():
    assert inspect.duration(5_000_000_000) == "5s"
    assert inspect.duration(90_000_000_000) == "1m30s"
    assert inspect.duration(500_000_000) == "500ms"
    assert inspect.bytes_size(2**30) == "1GiB"
    assert inspect.bytes_size(1.5 * 2**30) == "1.5GiB"
    assert inspect.go_time("2026-12-01T10:55:51.895111320Z") == "2026-12-01 10:55:51.89511132 +0000 utc"


def test_y_on_swarm_is_the_inspect_list_with_four_space_indent_and_text_as_sent():
    service = {"ID": "abc", "Spec": {"Name": "bert", "Labels": {"note": "[b]x[/b] ü"}}}
    text = inspect.as_json(service)
    assert json.loads(text) == [service]
    assert text.startswith('[\n    {\n        "ID": "abc"') and "[b]x[/b] ü" in text


def test_d_on_a_swarm_gpu_node_lists_its_gpus_and_the_tasks_holding_them():
    node = json.loads((DATA / "swarm" / "nodes.json").read_text())[0]
    gpu = GpuNode("swarm", "gpu-1", (GpuResource("NVIDIA-GPU", 2, 2, 1),),
                  holders=(GpuHolder("embedder.1", 1, devices=("GPU-1",), resource="NVIDIA-GPU"),))
    text = inspect.pretty_node(node, gpu, inspect.holders_of(gpu))
    assert " NVIDIA-GPU:\t2 / 1 / 1" in text
    assert " embedder.1\tNVIDIA-GPU: 1 [GPU-1]" in text

"""Kubernetes JSON -> domain model, on recorded objects shaped like the seed article's fleet."""

from __future__ import annotations

import json
from pathlib import Path

from mlops_tui.backends.kubernetes import translate as tr
from mlops_tui.backends.model import ActionKind, ServiceKind

DATA = Path(__file__).parent / "data" / "k8s"


def load(name: str):
    return json.loads((DATA / name).read_text())


def test_a_deployment_reads_as_the_operator_sees_it_in_kubectl_get():
    dep = load("deployment_valuation.json")
    hpa = load("hpa_model.json")
    service = tr.deployment_service("prod-eu", dep, hpa=hpa, production=True)
    assert service.key.kind is ServiceKind.DEPLOYMENT
    assert (service.key.cluster, service.key.namespace, service.key.name) == (
        "prod-eu", "ml-prod", "property-valuation-model")
    assert (service.desired, service.ready, service.updated, service.unavailable) == (3, 2, 3, 1)
    assert service.image == "proptechusa/valuation-model:v2.1"
    assert service.version == "v2.1"
    assert service.gpus_per_replica == 1
    assert service.revision == "3"
    assert service.production is True
    assert service.rollout_state == "completed"  # every replica runs the new template, one is not ready
    assert {ActionKind.SCALE, ActionKind.ROLLBACK, ActionKind.SET_AUTOSCALER_BOUNDS} <= service.actions
    assert ActionKind.PROMOTE not in service.actions


def test_the_hpa_is_summarised_with_its_metrics_and_reported_inactive_when_scaling_is_disabled():
    scaler = tr.autoscaler(load("hpa_model.json"))
    assert (scaler.min_replicas, scaler.max_replicas, scaler.current_replicas, scaler.desired_replicas) == (2, 20, 3, 4)
    assert scaler.target == "cpu 70%, inference_latency_p95 100m"
    assert scaler.active is False
    assert tr.hpa_target(load("hpa_model.json")) == ("ml-prod", "Deployment", "property-valuation-model")


def test_a_version_label_wins_over_the_image_tag():
    template = {"metadata": {"labels": {"version": "v2.0"}}, "spec": {"containers": [{"image": "ml/model:2.0"}]}}
    assert tr.template_version(template) == ("ml/model:2.0", "v2.0")
    assert tr.image_tag("registry:5000/team/model:v3") == "v3"
    assert tr.image_tag("registry:5000/team/model") == ""
    assert tr.image_tag("model@sha256:abc") == ""


def test_argo_canary_paused_at_step_one_shows_weight_20_of_8_steps():
    rollout = load("rollout_ensemble.json")
    service = tr.rollout_service("c", rollout)
    canary = service.canary
    assert canary is not None and canary.source == "argo"
    assert (canary.step, canary.total_steps, canary.weight) == (1, 8, 20)
    assert canary.paused is True and canary.aborted is False
    assert service.rollout_state == "paused"
    assert service.revision == "2"  # from the Rollout's own annotation
    rs = [tr.ReplicaSetFacts("ml-prod", "e-abc", "Rollout", "ensemble-predictor", "7", "p:v2.0", "v2.0", 1, 1, None,
                             "abc")]
    rollout["metadata"]["annotations"] = {}
    assert tr.rollout_service("c", rollout, replicasets=rs).revision == "7"  # else from the current pod hash's RS
    assert {ActionKind.PROMOTE, ActionKind.PROMOTE_FULL, ActionKind.ABORT, ActionKind.RETRY} <= service.actions
    rollout["status"]["abort"] = True
    aborted = tr.argo_canary(rollout)
    assert aborted.aborted is True and aborted.weight == 0
    rollout["status"].pop("abort")
    rollout["status"]["currentStepIndex"] = 8
    assert tr.argo_current_weight(rollout) == 100


def test_argo_blue_green_reports_active_and_preview_colours():
    rollout = {
        "metadata": {"name": "bg", "namespace": "n"},
        "spec": {"strategy": {"blueGreen": {"activeService": "bg-active", "previewService": "bg-preview"}},
                 "template": {"spec": {"containers": [{"image": "m:v2"}]}}},
        "status": {"blueGreen": {"activeSelector": "h1", "previewSelector": "h2"}, "stableRS": "h1"},
    }
    rs = [
        tr.ReplicaSetFacts("n", "bg-h1", "Rollout", "bg", "1", "m:v1", "v1", 3, 3, None, "h1"),
        tr.ReplicaSetFacts("n", "bg-h2", "Rollout", "bg", "2", "m:v2", "v2", 3, 1, None, "h2"),
    ]
    bg = tr.argo_blue_green(rollout, rs)
    assert (bg.source, bg.active, bg.preview, bg.router) == ("argo", "v1", "v2", "bg-active")
    assert [(c.name, c.ready, c.desired) for c in bg.colours] == [("v1", 3, 3), ("v2", 1, 3)]


def test_kserve_canary_reads_percent_and_both_revisions():
    service = tr.isvc_service("c", load("isvc_price.json"))
    canary = service.canary
    assert canary.source == "kserve"
    assert canary.weight == 10
    assert canary.canary_version == "property-price-predictor-predictor-00002"
    assert canary.stable_version == "property-price-predictor-predictor-00001"
    assert service.key.kind is ServiceKind.INFERENCE_SERVICE
    assert {ActionKind.CANARY_WEIGHT, ActionKind.ROLLBACK} <= service.actions


def test_istio_split_finds_stable_and_canary_routes_by_name():
    (split,) = tr.istio_splits(load("virtualservice_rent.json"))
    assert (split.stable_host, split.canary_host) == ("rent-predictor-stable", "rent-predictor-canary")
    assert (split.stable_weight, split.canary_weight) == (90, 10)
    canary = tr.istio_canary(split, "v1", "v2")
    assert (canary.source, canary.weight, canary.stable_version, canary.canary_version) == ("istio", 10, "v1", "v2")


def test_a_service_selecting_one_version_among_two_deployments_is_a_blue_green_router():
    data = load("bluegreen.json")
    (switch,) = tr.selector_switches([data["service"]], data["deployments"])
    assert (switch.service, switch.key, switch.active) == ("ml-model-service", "version", "v2.0")
    assert switch.members == {"ml-model-v2-0": "v2.0", "ml-model-v2-1": "v2.1"}
    assert [(c.name, c.ready, c.desired) for c in switch.colours] == [("v2.0", 3, 3), ("v2.1", 2, 3)]
    bg = switch.blue_green()
    assert bg.selector == (("app", "ml-model"), ("version", "v2.0")) and bg.router == "ml-model-service"


def test_a_plain_service_over_one_version_is_not_blue_green():
    data = load("bluegreen.json")
    assert tr.selector_switches([data["service"]], data["deployments"][:1]) == []


def test_gpu_nodes_count_every_gpu_resource_and_only_pods_holding_them():
    nodes = {n["metadata"]["name"]: tr.node_facts(n) for n in load("nodes.json")["items"]}
    pods = [tr.pod_facts(p) for p in load("pods.json")["items"]]
    a100 = tr.gpu_node("c", nodes["gpu-a100-0"], [p for p in pods if p.node == "gpu-a100-0"])
    # 4 whole GPUs and 7 MIG slices are two resources, never "11 GPUs"; the taint does not hide the node.
    # run-1: 1; run-init: max(1, init 2) = 2; pending-scheduled: 1; mig-pod: 1 slice; Succeeded/Failed: 0
    assert [(r.name, r.capacity, r.allocatable, r.allocated, r.free) for r in a100.resources] == [
        ("nvidia.com/gpu", 4, 4, 4, 0), ("nvidia.com/mig-1g.5gb", 7, 7, 1, 6)]
    assert {(h.workload, h.resource): h.gpus for h in a100.holders} == {
        ("ml-prod/run-1", "nvidia.com/gpu"): 1, ("ml-prod/run-init", "nvidia.com/gpu"): 2,
        ("ml-prod/pending-scheduled", "nvidia.com/gpu"): 1, ("ml-prod/mig-pod", "nvidia.com/mig-1g.5gb"): 1}
    assert a100.taints and a100.free_of("nvidia.com/gpu") == 0 and a100.free_of("nvidia.com/mig-1g.5gb") == 6
    shared = tr.gpu_node("c", nodes["gpu-shared-1"], [])
    assert [(r.name, r.capacity) for r in shared.resources] == [("nvidia.com/gpu.shared", 8)]
    assert (shared.ready, shared.schedulable, shared.free_of("nvidia.com/gpu.shared")) == (False, False, 0)
    assert tr.gpu_node("c", nodes["cpu-0"], []) is None


def test_pods_pending_for_gpus_carry_the_schedulers_message():
    pods = {p["metadata"]["name"]: tr.pod_facts(p) for p in load("pods.json")["items"]}
    pending = tr.pending_gpu("c", pods["llm-reranker-0"])
    assert pending.requests == (("nvidia.com/gpu", 2),)
    assert pending.message == "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
    assert pending.since is not None
    assert tr.pending_gpu("c", pods["cpu-only"]) is None
    assert tr.pending_gpu("c", pods["pending-scheduled"]) is None


def test_objects_with_missing_or_unexpected_fields_do_not_crash():
    odd = {"metadata": {"name": "weird", "namespace": "x", "labels": None}, "spec": "nope", "status": [1, 2]}
    assert tr.pod_facts(odd).phase == "Pending"
    service = tr.deployment_service("c", odd)
    assert service.key.name == "weird" and service.desired == 1 and service.image == ""
    assert tr.rollout_service("c", {"metadata": {"name": "r"}}).canary is None
    assert tr.isvc_service("c", {}).canary is None
    assert tr.autoscaler({"spec": {"metrics": [{"type": "Weird"}]}}).target == "Weird"
    assert tr.node_facts({"status": {"capacity": {"nvidia.com/gpu": "lots"}}}).capacity == {}
    assert tr.quantity_count("2") == 2 and tr.quantity_count(3) == 3 and tr.quantity_count("1000m") == 1


def test_revisions_are_listed_newest_first_with_their_images():
    rs = [tr.replicaset_facts(r) for r in load("replicasets_valuation.json")["items"]]
    revs = tr.revisions("3", rs)
    assert [(r.revision, r.version, r.current) for r in revs] == [("3", "v2.1", True), ("2", "v2.0", False),
                                                                   ("1", "v1.9", False)]
    assert revs[0].age_seconds() > 0

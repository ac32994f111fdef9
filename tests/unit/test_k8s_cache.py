"""The cache's read API, answered from recorded objects fed in as the reflectors feed them (a LIST's
items, then watch events), reduced the way the backend reduces them.

Each test is a question the operator's screens or the action planner ask of the cache: the pods on the
detail screen, the autoscaler a scale must warn about, the Service a blue-green switch patches, the
VirtualService a canary weight rewrites. The answers must follow every write at once: a stale index is
a wrong preview.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from mlops_tui.backends.kubernetes import translate as tr
from mlops_tui.backends.kubernetes.cache import ClusterCache
from mlops_tui.backends.kubernetes.resources import REDUCERS

DATA = Path(__file__).parent / "data" / "k8s"
NS = "ml-prod"
VALUATION = "property-valuation-model"


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def listed(cache: ClusterCache, resource: str, objects: list[dict], namespace: str = "") -> None:
    """What a reflector's LIST hands the cache: (key, reduced value) of every object."""
    reduce = REDUCERS.get(resource, lambda obj: obj)
    cache.replace(resource, namespace, [(tr.obj_key(o), reduce(o)) for o in objects])


def event(cache: ClusterCache, resource: str, kind: str, obj: dict) -> None:
    """What a reflector's watch hands the cache: one ADDED/MODIFIED/DELETED event."""
    reduce = REDUCERS.get(resource, lambda o: o)
    cache.apply(resource, kind, tr.obj_key(obj), reduce(obj))


def pod(name: str, *, node: str = "", labels: dict | None = None, owner: str = "", ns: str = NS) -> dict:
    meta: dict[str, Any] = {"name": name, "namespace": ns, "labels": labels or {}}
    if owner:
        meta["ownerReferences"] = [{"kind": "ReplicaSet", "name": owner, "controller": True}]
    return {"metadata": meta, "spec": {"nodeName": node} if node else {}, "status": {"phase": "Running"}}


def test_the_detail_screen_lists_a_deployments_pods_through_the_replicasets_it_owns():
    cache = ClusterCache()
    listed(cache, "replicasets", load("replicasets_valuation.json")["items"])
    listed(cache, "pods", load("pods.json")["items"])

    assert [rs.name for rs in cache.replicasets_of(NS, "Deployment", VALUATION)] == [
        "property-valuation-model-5c4", "property-valuation-model-6b7", "property-valuation-model-7d9"]
    mine = sorted(p.name for p in cache.pods_of_owner(NS, "Deployment", VALUATION))
    assert mine == ["cpu-only", "done", "failed", "mig-pod", "pending-scheduled", "run-1", "run-init"]
    # The reranker's pod belongs to a ReplicaSet the cache has never seen: no owner claims it.
    assert cache.pods_of_owner(NS, "Deployment", "llm-reranker") == []


def test_a_replicaset_orphaned_or_deleted_leaves_its_deployments_history_at_once():
    cache = ClusterCache()
    replicasets = load("replicasets_valuation.json")["items"]
    listed(cache, "replicasets", replicasets)

    orphaned = copy.deepcopy(replicasets[1])
    del orphaned["metadata"]["ownerReferences"]  # `kubectl delete deployment --cascade=orphan` did this
    event(cache, "replicasets", "MODIFIED", orphaned)
    event(cache, "replicasets", "DELETED", replicasets[0])

    assert [rs.name for rs in cache.replicasets_of(NS, "Deployment", VALUATION)] == ["property-valuation-model-7d9"]


def test_a_scale_preview_finds_the_autoscaler_by_its_target_and_loses_it_when_retargeted():
    cache = ClusterCache()
    hpa = load("hpa_model.json")
    listed(cache, "hpas", [hpa])

    assert cache.hpa_key_for(NS, "Deployment", VALUATION) == (NS, "model-hpa")
    assert tr.obj_key(cache.hpa_for(NS, "Deployment", VALUATION)) == (NS, "model-hpa")
    assert cache.hpa_for(NS, "Rollout", VALUATION) is None  # the kind is part of the target

    retargeted = copy.deepcopy(hpa)
    retargeted["spec"]["scaleTargetRef"]["name"] = "other-model"
    event(cache, "hpas", "MODIFIED", retargeted)

    assert cache.hpa_key_for(NS, "Deployment", VALUATION) is None
    assert cache.hpa_key_for(NS, "Deployment", "other-model") == (NS, "model-hpa")
    event(cache, "hpas", "DELETED", retargeted)
    assert cache.hpa_for(NS, "Deployment", "other-model") is None


def test_a_pod_scheduled_onto_another_node_moves_between_the_nodes_gpu_rows():
    cache = ClusterCache()
    listed(cache, "pods", [pod("trainer-0", node="gpu-a"), pod("trainer-1", node="gpu-a")])
    assert sorted(p.name for p in cache.pods_on_node("gpu-a")) == ["trainer-0", "trainer-1"]

    event(cache, "pods", "MODIFIED", pod("trainer-1", node="gpu-b"))

    assert [p.name for p in cache.pods_on_node("gpu-a")] == ["trainer-0"]
    assert [p.name for p in cache.pods_on_node("gpu-b")] == ["trainer-1"]


def test_an_inference_service_counts_the_pods_kserve_labels_as_its_own():
    cache = ClusterCache()
    label = {tr.KSERVE_ISVC_LABEL: "price"}
    listed(cache, "pods", [pod("price-predictor-1", labels=label), pod("price-predictor-2", labels=label),
                           pod("unrelated", labels={"app": "x"})])
    assert sorted(p.name for p in cache.pods_of_isvc(NS, "price")) == ["price-predictor-1", "price-predictor-2"]

    event(cache, "pods", "MODIFIED", pod("price-predictor-2", labels={"debug": "detached"}))  # relabelled away

    assert [p.name for p in cache.pods_of_isvc(NS, "price")] == ["price-predictor-1"]
    event(cache, "pods", "DELETED", pod("price-predictor-1", labels=label))
    assert cache.pods_of_isvc(NS, "price") == []
    assert cache.pods_of_isvc("other-ns", "price") == []


def test_the_detail_screen_shows_the_three_latest_warnings_oldest_first():
    cache = ClusterCache()
    warnings = [{"metadata": {"name": f"w{i}", "namespace": NS}, "reason": f"BackOff{i}", "message": "m",
                 "involvedObject": {"kind": "Deployment", "name": VALUATION, "namespace": NS}} for i in range(4)]
    listed(cache, "events", warnings[:1])
    for warning in warnings[1:]:
        event(cache, "events", "ADDED", warning)

    assert [w.reason for w in cache.warnings_for(NS, "Deployment", VALUATION)] == ["BackOff1", "BackOff2", "BackOff3"]
    assert cache.warnings_for(NS, "Rollout", VALUATION) == ()


def test_b_switches_the_service_that_selects_one_of_two_colour_deployments_and_not_the_others():
    cache = ClusterCache()
    data = load("bluegreen.json")
    listed(cache, "deployments", data["deployments"])
    listed(cache, "services", [data["service"]])

    moved = cache.derive_namespace(NS)

    assert moved == {(NS, "ml-model-v2-0"), (NS, "ml-model-v2-1")}
    for member in ("ml-model-v2-0", "ml-model-v2-1"):
        switch = cache.selector_switch_of(NS, member)
        assert switch is not None and (switch.service, switch.key, switch.active) == ("ml-model-service",
                                                                                       "version", "v2.0")
    assert cache.selector_switch_of(NS, "other") is None
    # Someone deletes the Service: both colours lose the switch with the next derivation.
    event(cache, "services", "DELETED", data["service"])
    assert cache.needs_derive(NS)
    assert cache.derive_namespace(NS) == moved
    assert cache.selector_switch_of(NS, "ml-model-v2-0") is None


def _rent_predictor() -> tuple[list[dict], list[dict], dict]:
    def deployment(name: str, labels: dict, replicas: int) -> dict:
        return {"metadata": {"name": name, "namespace": NS},
                "spec": {"replicas": replicas, "template": {"metadata": {"labels": labels}}},
                "status": {"readyReplicas": replicas}}

    def service(name: str, selector: dict) -> dict:
        return {"metadata": {"name": name, "namespace": NS}, "spec": {"selector": selector}}

    deployments = [
        deployment("rent-predictor-stable", {"app": "rent-predictor", "version": "v1.1", "track": "stable"}, 3),
        deployment("rent-predictor-canary", {"app": "rent-predictor", "version": "v1.2", "track": "canary"}, 1),
    ]
    services = [
        service("rent-predictor-stable", {"app": "rent-predictor", "version": "v1.1"}),
        service("rent-predictor-canary", {"app": "rent-predictor", "version": "v1.2"}),
    ]
    return deployments, services, load("virtualservice_rent.json")


def test_a_canary_weight_finds_the_virtual_service_split_behind_both_deployments_and_no_blue_green():
    cache = ClusterCache()
    deployments, services, vs = _rent_predictor()
    listed(cache, "deployments", deployments)
    listed(cache, "services", services)
    listed(cache, "virtualservices", [vs])
    cache.derive_all()

    for name in ("rent-predictor-stable", "rent-predictor-canary"):
        route = cache.istio_route_of(NS, name)
        assert route is not None
        canary, split = route
        assert split.virtual_service == "rent-predictor"
        assert (split.stable_weight, split.canary_weight) == (90, 10)
        assert (canary.stable_version, canary.canary_version) == ("v1.1", "v1.2")
        # Each side is one Deployment: their own series are the canary-vs-stable figures.
        assert (canary.stable_service, canary.canary_service) == ("rent-predictor-stable", "rent-predictor-canary")
        # The per-track Services select one version each, like a switch; offering b would end the canary.
        assert cache.selector_switch_of(NS, name) is None


def test_a_namespaced_relist_replaces_only_its_own_namespace():
    cache = ClusterCache()
    a = {"metadata": {"name": "a", "namespace": "team-a"}}
    b = {"metadata": {"name": "b", "namespace": "team-b"}}
    listed(cache, "deployments", [a], namespace="team-a")
    listed(cache, "deployments", [b], namespace="team-b")

    listed(cache, "deployments", [], namespace="team-a")  # team-a's relist finds nothing left

    assert cache.keys("deployments") == [("team-b", "b")]
    assert cache.get("deployments", ("team-b", "b")) == b
    assert cache.keys("deployments", "team-a") == []


def test_a_production_namespace_is_known_from_its_label():
    cache = ClusterCache()
    listed(cache, "namespaces", [{"metadata": {"name": "ml-prod", "labels": {"environment": "production"}}},
                                 {"metadata": {"name": "ml-dev"}}])
    assert cache.production("ml-prod") and not cache.production("ml-dev") and not cache.production("unknown")


def test_nothing_outside_the_cache_reads_its_private_fields():
    """The read API above is the whole interface: another module reaching into `cache._...` would
    read an index without the cache's lock."""
    package = Path(__file__).parents[2] / "backends" / "kubernetes"
    offenders = [f"{path.relative_to(package)}:{n}" for path in package.rglob("*.py") if path.name != "cache.py"
                 for n, line in enumerate(path.read_text().splitlines(), 1) if re.search(r"cache\._[a-z]", line)]
    assert offenders == []

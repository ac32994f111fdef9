"""A service is (cluster, namespace, kind, name): a Deployment `x` and an Argo Rollout `x` in one namespace
(the Rollout `workloadRef` migration) are two services everywhere the app keys on a service."""

from __future__ import annotations

from mlops_tui.backends.correlate import ServiceIndex
from mlops_tui.backends.fleet import Fleet
from mlops_tui.backends.model import Platform, ServiceKey, ServiceKind
from tests.fakes import InMemoryBackend, service

D, R = ServiceKind.DEPLOYMENT, ServiceKind.ROLLOUT


def test_the_kind_is_part_of_a_services_identity():
    deployment, rollout = ServiceKey("prod", "ml", D, "x"), ServiceKey("prod", "ml", R, "x")
    assert deployment != rollout
    assert len({deployment, rollout}) == 2
    assert {deployment: 1, rollout: 2}[rollout] == 2
    assert ServiceKey("prod", "ml", D, "x") == deployment and hash(ServiceKey("prod", "ml", D, "x")) == hash(deployment)


def test_keys_sort_by_place_and_name_with_both_kinds_side_by_side():
    keys = [ServiceKey("prod", "ml", R, "x"), ServiceKey("prod", "ml", D, "y"), ServiceKey("prod", "ml", D, "x")]
    assert [(k.name, k.kind) for k in sorted(keys)] == [("x", D), ("x", R), ("y", D)]


def test_the_fleet_keeps_a_deployment_and_a_rollout_of_one_name_as_two_services():
    backend = InMemoryBackend()
    both = [service("x", desired=2), service("x", kind=R, desired=5)]
    backend.services = {s.key: s for s in both}
    fleet = Fleet([backend], max_rate=100)
    fleet.start()
    try:
        fleet.flush()
        shown = {(k.kind, s.desired) for k, s in fleet.state.services.items() if k.name == "x"}
        assert shown == {(D, 2), (R, 5)}
    finally:
        fleet.stop()


def test_metrics_and_alerts_go_to_the_kind_their_labels_name_or_to_the_one_serving():
    deployment = service("x", desired=0)  # handed over to the Rollout: scaled to 0
    rollout = service("x", kind=R, desired=5)
    index = ServiceIndex([deployment, rollout])
    labels = {"namespace": "ml-prod", "cluster": "prod-a"}
    assert index.resolve({**labels, "rollout": "x"}) == rollout.key
    assert index.resolve({**labels, "deployment": "x"}) == deployment.key
    # A label that does not say the kind: the workload that runs replicas serves the traffic.
    assert index.resolve({**labels, "app": "x"}) == rollout.key
    # Both serving: nobody can tell which one the series is about, so it is tied to neither.
    both = ServiceIndex([service("x", desired=2), rollout])
    assert both.resolve({**labels, "app": "x"}) is None
    # Swarm-only labels never land on a Kubernetes service of the same name.
    swarm = service("x", cluster="swarm", namespace="", kind=ServiceKind.SWARM_SERVICE, platform=Platform.SWARM)
    assert ServiceIndex([deployment, swarm]).resolve({"swarm_service": "x"}) == swarm.key
    assert ServiceIndex([deployment]).resolve({"swarm_service": "x"}) is None

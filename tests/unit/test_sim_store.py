"""The simulator's store: resourceVersions, conflicts, watch history and its 410, status subresource."""

from __future__ import annotations

import pytest

from mlops_tui.sim.kube import fleet
from mlops_tui.sim.kube.errors import ApiError
from mlops_tui.sim.kube.objects import container, deployment, namespace
from mlops_tui.sim.kube.store import Store


@pytest.fixture()
def store() -> Store:
    s = Store(history=5)
    s.create("namespaces", None, namespace("ml-prod"))
    return s


def _deploy(name: str = "m") -> dict:
    return deployment(name, "ml-prod", {"app": name}, {"app": name}, 2, [container("c", "img:v1")])


def test_every_change_gets_a_new_resource_version_and_a_stale_update_conflicts(store):
    created = store.create("deployments", "ml-prod", _deploy())
    assert created["metadata"]["generation"] == 1 and created["metadata"]["uid"]
    stale = store.get("deployments", "ml-prod", "m")
    store.patch("deployments", "ml-prod", "m", {"spec": {"replicas": 4}})
    fresh = store.get("deployments", "ml-prod", "m")
    assert int(fresh["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    assert fresh["metadata"]["generation"] == 2
    stale["spec"]["replicas"] = 1
    with pytest.raises(ApiError) as info:
        store.update("deployments", "ml-prod", "m", stale)
    assert info.value.code == 409 and info.value.message == (
        'Operation cannot be fulfilled on deployments.apps "m": the object has been modified; please apply your '
        "changes to the latest version and try again")
    with pytest.raises(ApiError) as info:
        store.create("deployments", "ml-prod", _deploy())
    assert (info.value.code, info.value.reason) == (409, "AlreadyExists")


def test_status_and_main_resource_are_written_separately(store):
    store.create("deployments", "ml-prod", _deploy())
    obj = store.get("deployments", "ml-prod", "m")
    obj["status"] = {"replicas": 2}
    obj["spec"]["replicas"] = 9
    store.update("deployments", "ml-prod", "m", obj, "status")
    after = store.get("deployments", "ml-prod", "m")
    assert after["status"] == {"replicas": 2} and after["spec"]["replicas"] == 2
    assert after["metadata"]["generation"] == 1
    after["status"] = {"replicas": 7}
    store.update("deployments", "ml-prod", "m", after)
    assert store.get("deployments", "ml-prod", "m")["status"] == {"replicas": 2}


def test_watch_replays_from_history_and_expires_once_it_is_gone(store):
    store.create("deployments", "ml-prod", _deploy())
    rv = store.rv
    for n in range(3):
        store.patch("deployments", "ml-prod", "m", {"spec": {"replicas": n + 5}})
    watcher, replay, floor = store.watch("deployments", rv, None)
    assert floor is None and [e.type for e in replay] == ["MODIFIED"] * 3
    store.unwatch(watcher)
    for n in range(10):
        store.patch("deployments", "ml-prod", "m", {"spec": {"replicas": n + 10}})
    watcher, replay, floor = store.watch("deployments", rv, None)
    assert watcher is None and floor is not None and floor > rv
    store.compact()
    watcher, replay, floor = store.watch("deployments", store.rv - 1, None)
    assert watcher is None and floor == store.rv


def test_a_no_op_patch_keeps_the_resource_version(store):
    store.create("deployments", "ml-prod", _deploy())
    before = store.get("deployments", "ml-prod", "m")["metadata"]["resourceVersion"]
    store.patch("deployments", "ml-prod", "m", {"spec": {"replicas": 2}})
    assert store.get("deployments", "ml-prod", "m")["metadata"]["resourceVersion"] == before


def test_the_scaled_fleet_is_deterministic_for_a_seed():
    def names(seed: int) -> list[str]:
        s = Store(seed=seed)
        fleet.seed(s, "scaled", seed, services=40, pods_per_service=3, gpu_nodes=4)
        return [f"{k}:{e.obj['spec']['containers'][0]['image']}" for k, e in s.entries("pods")]

    first = names(11)
    assert first == names(11) and first != names(12) and len(first) == 120

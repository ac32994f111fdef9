"""Server-side apply in the simulator: who owns which field, and what two appliers get when they disagree."""

from __future__ import annotations

import pytest

from mlops_tui.sim.kube.errors import ApiError
from mlops_tui.sim.kube.objects import namespace
from mlops_tui.sim.kube.resources import BY_PLURAL
from mlops_tui.sim.kube.ssa import decode, encode, leaves, server_side_apply
from mlops_tui.sim.kube.store import Store

DEPLOYMENTS = BY_PLURAL["deployments"]


def _config(replicas: int, image: str = "nginx:1.27", env: bool = False) -> dict:
    container: dict = {"name": "web", "image": image}
    if env:
        container["env"] = [{"name": "MODE", "value": "fast"}]
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [container]}}}}


@pytest.fixture()
def store() -> Store:
    s = Store()
    s.create("namespaces", None, namespace("ml-prod"))
    return s


def _apply(store: Store, config: dict, manager: str, force: bool = False, dry_run: bool = False) -> dict:
    return server_side_apply(store, DEPLOYMENTS, "ml-prod", "web", config, manager, force, lambda o: None,
                             dry_run)[0]


def test_fields_v1_round_trips_and_lists_merge_by_name():
    paths = set(leaves(_config(2, env=True)["spec"]))
    tree = encode(paths)
    item = tree["f:template"]["f:spec"]["f:containers"]['k:{"name":"web"}']
    assert item["."] == {} and "f:image" in item and 'k:{"name":"MODE"}' in item["f:env"]
    assert decode(tree) == paths


def test_an_apply_creates_then_a_second_manager_with_another_value_conflicts(store):
    created = _apply(store, _config(2), "alice")
    assert [e["manager"] for e in created["metadata"]["managedFields"]] == ["alice"]
    _apply(store, _config(2), "bob")  # the same value: shared ownership, no conflict
    with pytest.raises(ApiError) as info:
        _apply(store, _config(5, image="nginx:1.28"), "bob")
    assert info.value.code == 409 and info.value.reason == "Conflict"
    assert info.value.message == ('Apply failed with 2 conflicts: conflicts with "alice":\n- .spec.replicas\n'
                                  '- .spec.template.spec.containers[name="web"].image')
    assert [c["field"] for c in info.value.details["causes"]] == [
        ".spec.replicas", '.spec.template.spec.containers[name="web"].image']
    assert store.get("deployments", "ml-prod", "web")["spec"]["replicas"] == 2


def test_force_moves_the_fields_and_dry_run_changes_nothing(store):
    _apply(store, _config(2), "alice")
    _apply(store, _config(4), "bob", force=True, dry_run=True)
    assert store.get("deployments", "ml-prod", "web")["spec"]["replicas"] == 2
    after = _apply(store, _config(4), "bob", force=True)
    assert after["spec"]["replicas"] == 4
    owners = {e["manager"]: decode(e["fieldsV1"]) for e in after["metadata"]["managedFields"]}
    assert ("spec", "replicas") in owners["bob"] and ("spec", "replicas") not in owners["alice"]


def test_a_field_its_only_applier_stops_applying_is_removed(store):
    _apply(store, _config(2, env=True), "alice")
    after = _apply(store, _config(2), "alice")
    assert "env" not in after["spec"]["template"]["spec"]["containers"][0]
    # ... but a field another manager also applies stays.
    _apply(store, _config(2, env=True), "alice")
    _apply(store, _config(2, env=True), "bob")
    kept = _apply(store, _config(2), "alice")
    assert kept["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "MODE", "value": "fast"}]

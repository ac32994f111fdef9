"""The simulator's patch engines, on the bodies kubectl and our backend actually send."""

from __future__ import annotations

import pytest

from mlops_tui.sim.kube.errors import ApiError
from mlops_tui.sim.kube.patch import (
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC,
    apply_patch,
    json_patch,
    merge_patch,
    strategic_merge,
)

DEPLOY = {
    "metadata": {"name": "m", "annotations": {"a": "1", "b": "2"}},
    "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "m"}},
             "template": {"metadata": {"labels": {"app": "m"}},
                          "spec": {"containers": [
                              {"name": "server", "image": "m:v1", "env": [{"name": "A", "value": "1"},
                                                                          {"name": "B", "value": "2"}]},
                              {"name": "sidecar", "image": "proxy:1"}],
                              "volumes": [{"name": "models", "emptyDir": {}}]}}},
}


def test_merge_patch_sets_replaces_lists_and_null_deletes():
    out = merge_patch(DEPLOY, {"spec": {"replicas": 5}, "metadata": {"annotations": {"a": None, "c": "3"}}})
    assert out["spec"]["replicas"] == 5
    assert out["metadata"]["annotations"] == {"b": "2", "c": "3"}
    out = merge_patch(DEPLOY, {"spec": {"template": {"spec": {"containers": [{"name": "only"}]}}}})
    assert out["spec"]["template"]["spec"]["containers"] == [{"name": "only"}]  # lists are replaced whole
    assert DEPLOY["spec"]["replicas"] == 3  # the target is never mutated


def test_strategic_merge_merges_containers_and_env_by_name():
    out = strategic_merge(DEPLOY, {"spec": {"template": {"spec": {"containers": [
        {"name": "server", "image": "m:v2", "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}]}]}}}})
    server, sidecar = out["spec"]["template"]["spec"]["containers"]
    assert server["image"] == "m:v2" and sidecar == {"name": "sidecar", "image": "proxy:1"}
    assert server["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "20"}, {"name": "C", "value": "3"}]


def test_strategic_merge_patch_directives_delete_and_replace():
    out = strategic_merge(DEPLOY, {"spec": {"template": {"spec": {
        "containers": [{"name": "sidecar", "$patch": "delete"}],
        "volumes": [{"name": "models", "$patch": "delete"}]}}}})
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["server"]
    assert out["spec"]["template"]["spec"]["volumes"] == []
    out = strategic_merge(DEPLOY, {"spec": {"selector": {"$patch": "replace", "matchLabels": {"app": "n"}}}})
    assert out["spec"]["selector"] == {"matchLabels": {"app": "n"}}
    out = strategic_merge(DEPLOY, {"metadata": {"annotations": {"a": None}}})
    assert out["metadata"]["annotations"] == {"b": "2"}


def test_strategic_merge_on_a_service_selector_keeps_other_keys_and_ports_merge_by_port():
    svc = {"kind": "Service", "spec": {"selector": {"app": "ml-model", "version": "v2.0"},
                                        "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}
    out = strategic_merge(svc, {"spec": {"selector": {"version": "v2.1"}}}, service=True)
    assert out["spec"]["selector"] == {"app": "ml-model", "version": "v2.1"}
    out = strategic_merge(svc, {"spec": {"ports": [{"port": 80, "targetPort": 9090}, {"port": 9100}]}}, service=True)
    assert out["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": 9090}, {"port": 9100}]


def test_strategic_merge_honours_kubectl_applys_set_element_order():
    patch = {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "server"}],
                                            "containers": [{"name": "server", "image": "m:v3"}]}}}}
    out = strategic_merge(DEPLOY, patch)
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["sidecar", "server"]
    assert out["spec"]["template"]["spec"]["containers"][1]["image"] == "m:v3"


def test_json_patch_is_what_kubectl_rollout_undo_sends():
    ops = [{"op": "replace", "path": "/spec/template", "value": {"metadata": {"labels": {"app": "m"}},
                                                                  "spec": {"containers": [{"name": "server"}]}}},
           {"op": "replace", "path": "/metadata/annotations", "value": {"x": "y"}}]
    out = json_patch(DEPLOY, ops)
    assert out["spec"]["template"]["spec"]["containers"] == [{"name": "server"}]
    assert out["metadata"]["annotations"] == {"x": "y"}
    out = json_patch(DEPLOY, [{"op": "add", "path": "/spec/template/spec/containers/-", "value": {"name": "x"}},
                              {"op": "remove", "path": "/spec/template/spec/containers/0"},
                              {"op": "test", "path": "/spec/replicas", "value": 3},
                              {"op": "copy", "from": "/spec/replicas", "path": "/spec/minReadySeconds"},
                              {"op": "move", "from": "/metadata/annotations/a", "path": "/metadata/annotations/z"}])
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["sidecar", "x"]
    assert out["spec"]["minReadySeconds"] == 3 and out["metadata"]["annotations"] == {"b": "2", "z": "1"}
    out = json_patch({"metadata": {"annotations": {"a/b": "1"}}},
                     [{"op": "remove", "path": "/metadata/annotations/a~1b"}])
    assert out == {"metadata": {"annotations": {}}}


@pytest.mark.parametrize("ops", [
    [{"op": "replace", "path": "/spec/nope", "value": 1}],
    [{"op": "remove", "path": "/spec/template/spec/containers/7"}],
    [{"op": "test", "path": "/spec/replicas", "value": 4}],
    [{"op": "frobnicate", "path": "/spec"}],
])
def test_a_json_patch_that_does_not_apply_is_a_422(ops):
    with pytest.raises(ApiError) as info:
        json_patch(DEPLOY, ops)
    assert info.value.code == 422 and info.value.reason == "Invalid"


def test_content_types_dispatch_and_custom_resources_refuse_strategic_merge():
    assert apply_patch(MERGE_PATCH, DEPLOY, {"spec": {"replicas": 1}}, custom=False, kind="Deployment",
                       qualified="deployments.apps")["spec"]["replicas"] == 1
    assert apply_patch(JSON_PATCH, DEPLOY, [{"op": "replace", "path": "/spec/replicas", "value": 2}], custom=True,
                       kind="Rollout", qualified="rollouts.argoproj.io")["spec"]["replicas"] == 2
    with pytest.raises(ApiError) as info:
        apply_patch(STRATEGIC, DEPLOY, {}, custom=True, kind="Rollout", qualified="rollouts.argoproj.io")
    assert info.value.code == 415 and "application/strategic-merge-patch+json" not in info.value.message
    with pytest.raises(ApiError) as info:
        apply_patch(MERGE_PATCH, DEPLOY, [1, 2], custom=False, kind="Deployment", qualified="deployments.apps")
    assert info.value.code == 400

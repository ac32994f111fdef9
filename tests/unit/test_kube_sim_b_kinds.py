"""The simulator's rules review agrees with its authoriser; a terminating namespace takes no new objects;
kubectl's protobuf `create` bodies decode to the JSON they stand for."""

from __future__ import annotations

import itertools

import pytest

from mlops_tui.sim.kube.auth import ADMIN_USER, VIEWER_USER, Auth, User, non_resource_rules, resource_rules
from mlops_tui.sim.kube.errors import ApiError
from mlops_tui.sim.kube.objects import namespace
from mlops_tui.sim.kube.proto import MAGIC
from mlops_tui.sim.kube.proto_objects import decode_object
from mlops_tui.sim.kube.store import Store
from mlops_tui.sim.kube.workloads import terminate_namespace

ADMIN = User(ADMIN_USER, ("system:masters",), True)
VIEWER = User(VIEWER_USER, ("sim:viewers",), False)


def _covered(rules: list[dict], verb: str, group: str, resource: str) -> bool:
    return any(("*" in r["verbs"] or verb in r["verbs"]) and ("*" in r["apiGroups"] or group in r["apiGroups"])
               and ("*" in r["resources"] or resource in r["resources"]) for r in rules)


@pytest.mark.parametrize("user", [ADMIN, VIEWER], ids=["admin", "viewer"])
def test_the_rules_a_user_is_shown_are_exactly_what_the_authoriser_allows(user):
    verbs = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")
    kinds = (("", "pods"), ("apps", "deployments"), ("argoproj.io", "rollouts"),
             ("authorization.k8s.io", "selfsubjectrulesreviews"), ("authentication.k8s.io", "selfsubjectreviews"))
    for verb, (group, resource) in itertools.product(verbs, kinds):
        assert Auth.allowed(user, verb, resource, group) == _covered(resource_rules(user), verb, group, resource), \
            (verb, group, resource)
    assert Auth.allowed_non_resource(user, "get", "/version")
    assert Auth.allowed_non_resource(user, "get", "/metrics") == user.admin
    assert any("/apis/*" in r["nonResourceURLs"] for r in non_resource_rules(user))


def test_a_terminating_namespace_refuses_new_objects_and_system_namespaces_stay():
    store = Store()
    store.create("namespaces", None, namespace("scratch"))
    store.create("namespaces", None, namespace("kube-system"))
    ns = terminate_namespace(store, "scratch")
    assert ns["status"]["phase"] == "Terminating" and ns["metadata"]["deletionTimestamp"]
    with pytest.raises(ApiError) as info:
        store.create("configmaps", "scratch", {"metadata": {"name": "late"}})
    assert (info.value.code, info.value.reason) == (403, "Forbidden")
    assert info.value.message == ('configmaps "late" is forbidden: unable to create new content in namespace '
                                  "scratch because it is being terminated")
    assert info.value.details["causes"][0]["reason"] == "NamespaceTerminating"
    with pytest.raises(ApiError) as info:
        terminate_namespace(store, "kube-system")
    assert info.value.message == 'namespaces "kube-system" is forbidden: this namespace may not be deleted'


def _field(num: int, payload: bytes) -> bytes:
    return bytes([num << 3 | 2, len(payload)]) + payload


def test_a_protobuf_service_account_from_kubectl_create_decodes_to_its_json():
    # What `kubectl create serviceaccount robot -n team` sends: Unknown{typeMeta, raw}; gogo writes empty strings.
    meta = _field(1, b"robot") + _field(2, b"") + _field(3, b"team") + _field(11, _field(1, b"app") + _field(2, b"x"))
    raw = _field(1, meta)
    type_meta = _field(1, b"v1") + _field(2, b"ServiceAccount")
    body = MAGIC + _field(1, type_meta) + _field(2, raw)
    assert decode_object(body) == {"apiVersion": "v1", "kind": "ServiceAccount",
                                   "metadata": {"name": "robot", "namespace": "team", "labels": {"app": "x"}}}
    with pytest.raises(ValueError):
        decode_object(MAGIC + _field(1, _field(1, b"apps/v1") + _field(2, b"Deployment")) + _field(2, raw))

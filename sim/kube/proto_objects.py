"""Protobuf bodies of the objects kubectl's typed `create` subcommands send (`kubectl create namespace`,
`serviceaccount`, `job`; `kubectl run`), decoded to the JSON the API would have received.

Table-driven from the field numbers of k8s.io/api's generated.proto, for the fields those commands
set (and the common ones a manifest has); a field not listed here is dropped, as a JSON field the
server does not know would be. Other kinds sent as protobuf get the real 415 answer."""

from __future__ import annotations

from typing import Any

from mlops_tui.sim.kube.proto import MAGIC, fields

# message -> field number -> (json name, type). Types: s string, i int, b bool, [s] repeated string,
# map<string,string>, q map<string,Quantity>, M:<message>, [M:<message>] repeated message.
SCHEMAS: dict[str, dict[int, tuple[str, str]]] = {
    "ObjectMeta": {1: ("name", "s"), 2: ("generateName", "s"), 3: ("namespace", "s"), 11: ("labels", "map"),
                   12: ("annotations", "map"), 13: ("ownerReferences", "[M:OwnerReference]"),
                   14: ("finalizers", "[s]")},
    "OwnerReference": {1: ("kind", "s"), 3: ("name", "s"), 4: ("uid", "s"), 5: ("apiVersion", "s"),
                       6: ("controller", "b"), 7: ("blockOwnerDeletion", "b")},
    "LocalObjectReference": {1: ("name", "s")},
    "ObjectReference": {1: ("kind", "s"), 2: ("namespace", "s"), 3: ("name", "s")},
    "Namespace": {1: ("metadata", "M:ObjectMeta"), 2: ("spec", "M:NamespaceSpec")},
    "NamespaceSpec": {1: ("finalizers", "[s]")},
    "ServiceAccount": {1: ("metadata", "M:ObjectMeta"), 2: ("secrets", "[M:ObjectReference]"),
                       3: ("imagePullSecrets", "[M:LocalObjectReference]"),
                       4: ("automountServiceAccountToken", "b")},
    "ConfigMap": {1: ("metadata", "M:ObjectMeta"), 2: ("data", "map")},
    "Job": {1: ("metadata", "M:ObjectMeta"), 2: ("spec", "M:JobSpec")},
    "Pod": {1: ("metadata", "M:ObjectMeta"), 2: ("spec", "M:PodSpec")},
    "JobSpec": {1: ("parallelism", "i"), 2: ("completions", "i"), 3: ("activeDeadlineSeconds", "i"),
                4: ("selector", "M:LabelSelector"), 5: ("manualSelector", "b"), 6: ("template", "M:PodTemplateSpec"),
                7: ("backoffLimit", "i"), 8: ("ttlSecondsAfterFinished", "i"), 9: ("completionMode", "s"),
                10: ("suspend", "b")},
    "LabelSelector": {1: ("matchLabels", "map")},
    "PodTemplateSpec": {1: ("metadata", "M:ObjectMeta"), 2: ("spec", "M:PodSpec")},
    "PodSpec": {2: ("containers", "[M:Container]"), 3: ("restartPolicy", "s"),
                4: ("terminationGracePeriodSeconds", "i"), 6: ("dnsPolicy", "s"), 7: ("nodeSelector", "map"),
                8: ("serviceAccountName", "s"), 20: ("initContainers", "[M:Container]")},
    "Container": {1: ("name", "s"), 2: ("image", "s"), 3: ("command", "[s]"), 4: ("args", "[s]"),
                  5: ("workingDir", "s"), 8: ("resources", "M:ResourceRequirements"),
                  13: ("terminationMessagePath", "s"), 14: ("imagePullPolicy", "s"),
                  20: ("terminationMessagePolicy", "s")},
    "ResourceRequirements": {1: ("limits", "q"), 2: ("requests", "q")},
}
KINDS = frozenset({"Namespace", "ServiceAccount", "ConfigMap", "Job", "Pod"})


def _signed(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _entries(raws: list[Any], quantity: bool) -> dict[str, str]:
    out = {}
    for raw in raws:
        entry = fields(raw)
        key = (entry.get(1) or [b""])[0].decode()
        value = (entry.get(2) or [b""])[0]
        if quantity:
            value = (fields(value).get(1) or [b""])[0]
        out[key] = value.decode()
    return out


def decode_message(data: bytes, message: str) -> dict[str, Any]:
    schema = SCHEMAS[message]
    out: dict[str, Any] = {}
    for num, values in fields(data).items():
        if num not in schema:
            continue
        name, typ = schema[num]
        if typ == "s":
            if values[-1]:  # gogo protobuf writes every string, empty ones too: empty means unset
                out[name] = values[-1].decode()
        elif typ == "i":
            out[name] = _signed(values[-1])
        elif typ == "b":
            out[name] = bool(values[-1])
        elif typ == "[s]":
            out[name] = [v.decode() for v in values]
        elif typ in ("map", "q"):
            out[name] = _entries(values, typ == "q")
        elif typ.startswith("M:"):
            out[name] = decode_message(values[-1], typ[2:])
        elif typ.startswith("[M:"):
            out[name] = [decode_message(v, typ[3:-1]) for v in values]
    return out


def decode_object(body: bytes) -> dict[str, Any]:
    """The object in a `k8s\\x00` protobuf envelope; ValueError for a kind not decoded here."""
    if not body.startswith(MAGIC):
        raise ValueError("not a Kubernetes protobuf body")
    unknown = fields(body[len(MAGIC):])
    type_meta = fields((unknown.get(1) or [b""])[0])
    api_version = (type_meta.get(1) or [b""])[0].decode()
    kind = (type_meta.get(2) or [b""])[0].decode()
    if kind not in KINDS:
        raise ValueError(f"protobuf {kind or 'object'} bodies are not decoded by this simulator")
    obj = decode_message((unknown.get(2) or [b""])[0], kind)
    return {"apiVersion": api_version, "kind": kind, **obj}


def decode_rules_review(body: bytes) -> dict[str, Any]:
    """A protobuf SelfSubjectRulesReview: only its spec.namespace matters."""
    if not body.startswith(MAGIC):
        raise ValueError("not a Kubernetes protobuf body")
    review = fields((fields(body[len(MAGIC):]).get(2) or [b""])[0])
    spec = fields((review.get(2) or [b""])[0])
    namespace = (spec.get(1) or [b""])[0].decode()
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
            "spec": {"namespace": namespace} if namespace else {}}

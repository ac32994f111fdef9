"""OpenAPI documents: `/openapi/v3` (discovery, then one document per group version) and `/openapi/v2`
(JSON only), with schemas built from the compact description in `schema_docs.py`, so `kubectl explain`
prints field docs and kubectl sees that every resource supports `fieldValidation`.

kube-openapi answers /openapi/v2 in JSON or protobuf by Accept, and 406 (empty body) when no offered
type is acceptable; this simulator has no protobuf encoder, so a protobuf-only Accept (what client-go's
`OpenAPISchema()` sends) gets that 406, as from a server that does not offer the format."""

from __future__ import annotations

import functools
import hashlib
import re
from typing import Any

import orjson

from mlops_tui.sim.kube import schema_docs
from mlops_tui.sim.kube.resources import RESOURCES, VIRTUAL, ResourceType

Obj = dict[str, Any]
_GROUP_PACKAGES = {"": "io.k8s.api.core.v1", "apps": "io.k8s.api.apps.v1", "batch": "io.k8s.api.batch.v1"}
_PRIMITIVES: dict[str, Obj] = {
    "string": {"type": "string"}, "integer": {"type": "integer", "format": "int32"},
    "boolean": {"type": "boolean"}, "number": {"type": "number", "format": "double"}, "object": {"type": "object"},
    "date-time": {"type": "string", "format": "date-time"}, "int-or-string": {"x-kubernetes-int-or-string": True},
    "quantity": {"type": "string"},
}
_FIELD = re.compile(r"^  (\w+) (\S+?)(!?): (.*)$")


class TypeDoc:
    def __init__(self, name: str, gvk: tuple[str, str, str] | None, inline: bool) -> None:
        self.name = name
        self.gvk = gvk
        self.inline = inline  # a CRD: its schema nests everything, no $ref
        self.description = ""
        self.fields: list[tuple[str, str, bool, str]] = []


@functools.cache
def types() -> dict[str, TypeDoc]:
    out: dict[str, TypeDoc] = {}
    current: TypeDoc | None = None
    for line in schema_docs.TEXT.splitlines():
        if not line.strip():
            continue
        if line.startswith("    ") and current is not None:  # a wrapped description goes on
            if current.fields:
                f, t, req, d = current.fields[-1]
                current.fields[-1] = (f, t, req, f"{d} {line.strip()}")
            else:
                current.description += " " + line.strip()
        elif line.startswith("@"):
            head = line[1:].split()
            gvk = None
            if len(head) > 1 and "/" in head[1]:
                *gv, kind = head[1].split("/")
                gvk = ("" if len(gv) == 1 else gv[0], gv[-1], kind)
            current = out[head[0]] = TypeDoc(head[0], gvk, "!inline" in head)
        elif current is not None and (m := _FIELD.match(line)):
            current.fields.append((m[1], m[2], m[3] == "!", m[4]))
        elif current is not None:
            current.description = line.strip()
    return out


def full_name(name: str) -> str:
    """kube-apiserver's schema name: io.k8s.api.apps.v1.Deployment, io.argoproj.v1alpha1.Rollout, ..."""
    if name in schema_docs.PACKAGES:
        return f"{schema_docs.PACKAGES[name]}.{name}"
    doc = types()[name]
    owners = (("Deployment", "apps"), ("DaemonSet", "apps"), ("ReplicaSet", "apps"), ("Job", "batch"),
              ("Rollout", "argoproj.io"))
    group = doc.gvk[0] if doc.gvk else next((g for prefix, g in owners if name.startswith(prefix)), "")
    if group in _GROUP_PACKAGES:
        return f"{_GROUP_PACKAGES[group]}.{name}"
    version = doc.gvk[1] if doc.gvk else "v1alpha1"
    return ".".join([*reversed(group.split(".")), version, name])


def _schema(typ: str, description: str, ref: str, inline: bool) -> Obj:
    if typ.startswith("[]"):
        out: Obj = {"type": "array", "items": _schema(typ[2:], "", ref, inline)}
    elif typ.startswith("map["):
        out = {"type": "object", "additionalProperties": _schema(typ[4:-1], "", ref, inline)}
    elif typ in _PRIMITIVES:
        out = dict(_PRIMITIVES[typ])
    elif inline:
        out = _object(typ, ref, inline=True)
    else:
        out = {"allOf": [{"$ref": ref + full_name(typ)}], "default": {}}
        if ref.startswith("#/definitions/"):  # v2 has no allOf wrapping: a bare $ref
            out = {"$ref": ref + full_name(typ)}
    if description:
        out["description"] = description
    return out


def _object(name: str, ref: str, inline: bool = False) -> Obj:
    doc = types()[name]
    out: Obj = {"description": doc.description, "type": "object",
                "properties": {f: _schema(t, d, ref, inline) for f, t, _req, d in doc.fields}}
    required = [f for f, _t, req, _d in doc.fields if req]
    if required:
        out["required"] = required
    return out


def _referenced(name: str, seen: set[str]) -> None:
    if name in seen or name not in types():
        return
    seen.add(name)
    if types()[name].inline:
        return
    for _f, typ, _req, _d in types()[name].fields:
        _referenced(typ.removeprefix("[]").removeprefix("map[").removesuffix("]"), seen)


def _kind_doc(rt: ResourceType) -> TypeDoc:
    """The described type of a served kind, or a bare one (apiVersion, kind, metadata, spec, status)."""
    doc = types().get(rt.kind)
    if doc is not None:
        return doc
    bare = TypeDoc(rt.kind, (rt.group, rt.version, rt.kind), rt.custom)
    bare.description = f"{rt.kind} is a {rt.group or 'core'} API object served by this simulator."
    bare.fields = [("apiVersion", "string", False, "APIVersion defines the versioned schema of this object."),
                   ("kind", "string", False, "Kind is a string value representing the REST resource."),
                   ("metadata", "object" if rt.custom else "ObjectMeta", False, "Standard object's metadata."),
                   ("spec", "object", False, f"The desired state of the {rt.kind}."),
                   ("status", "object", False, f"The observed state of the {rt.kind}.")]
    types()[rt.kind] = bare
    return bare


def schemas(kinds: list[ResourceType], ref: str) -> Obj:
    """Every kind's schema (tagged with its group-version-kind) and every type it references."""
    wanted: set[str] = set()
    out: Obj = {}
    for rt in kinds:
        doc = _kind_doc(rt)
        _referenced(doc.name, wanted)
    for name in sorted(wanted):
        doc = types()[name]
        schema = _object(name, ref, inline=doc.inline)
        if doc.gvk is not None:
            match = [rt for rt in kinds if rt.kind == name]
            versions = match[0].versions() if match else (doc.gvk[1],)
            schema["x-kubernetes-group-version-kind"] = [{"group": doc.gvk[0], "kind": doc.gvk[2], "version": v}
                                                         for v in versions]
        out[full_name(name)] = schema
    return out


def _gv_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


@functools.cache
def _gv_doc(path: str) -> bytes | None:
    paths: Obj = {}
    kinds: list[ResourceType] = []
    for rt in RESOURCES:
        for v in rt.versions():
            if _gv_path(rt.group, v) != path:
                continue
            kinds.append(rt)
            gvk = {"group": rt.group, "version": v, "kind": rt.kind}
            params = [{"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
                      for n in ("dryRun", "fieldManager", "fieldValidation")]
            base = f"/{path}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"/{path}/{rt.plural}"
            if rt.plural in VIRTUAL:
                paths[base] = {"post": {"x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": "post",
                                        "parameters": params, "responses": {}}}
                continue
            item_ops: Obj = {"get": {"x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": "get",
                                     "responses": {}}}
            for op in ("put", "patch"):
                item_ops[op] = {"x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": op,
                                "parameters": params, "responses": {}}
            paths[base + "/{name}"] = item_ops
            paths[base] = {
                "get": {"x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": "list", "responses": {}},
                "post": {"x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": "post", "parameters": params,
                         "responses": {}}}
    if not paths:
        return None
    described = [rt for rt in kinds if rt.plural not in VIRTUAL]
    return orjson.dumps({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0"}, "paths": paths,
                         "components": {"schemas": schemas(described, "#/components/schemas/")}})


def root() -> Obj:
    paths: Obj = {}
    for rt in RESOURCES:
        for v in rt.versions():
            gv = _gv_path(rt.group, v)
            body = _gv_doc(gv) or b""
            paths[gv] = {"serverRelativeURL": f"/openapi/v3/{gv}?hash={hashlib.sha512(body).hexdigest()[:128]}"}
    return {"paths": paths}


def group_version(path: str) -> bytes | None:
    """The v3 document of one group version (`apis/apps/v1`), serialized once."""
    return _gv_doc(path)


@functools.cache
def v2() -> bytes:
    kinds = [rt for rt in RESOURCES if rt.plural not in VIRTUAL]
    return orjson.dumps({"swagger": "2.0", "info": {"title": "Kubernetes", "version": "v1.32.0"}, "paths": {},
                         "definitions": schemas(kinds, "#/definitions/")})


def v2_acceptable(accept: str) -> bool:
    """Whether an Accept header names a type we serve /openapi/v2 in (JSON), as kube-openapi matches it."""
    for clause in (accept or "*/*").split(","):
        media = clause.split(";")[0].strip().lower()
        if media in ("application/json", "application/*", "*/*"):
            return True
    return False

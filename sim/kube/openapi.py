"""A minimal OpenAPI v3 discovery: enough for kubectl to see that every resource supports the
`fieldValidation` query parameter (so `kubectl apply/replace/create` validate server-side instead of
downloading the full schema). No schemas are served."""

from __future__ import annotations

from typing import Any

from mlops_tui.sim.kube.resources import RESOURCES, VIRTUAL


def _gv_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def root() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for rt in RESOURCES:
        for v in rt.versions():
            gv = _gv_path(rt.group, v)
            paths[gv] = {"serverRelativeURL": f"/openapi/v3/{gv}?hash=sim{abs(hash(gv)) % 10**8}"}
    return {"paths": paths}


def group_version(path: str) -> dict[str, Any] | None:
    paths: dict[str, Any] = {}
    for rt in RESOURCES:
        for v in rt.versions():
            if _gv_path(rt.group, v) != path:
                continue
            gvk = {"group": rt.group, "version": v, "kind": rt.kind}
            params = [{"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
                      for n in ("dryRun", "fieldManager", "fieldValidation")]
            base = f"/{path}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"/{path}/{rt.plural}"
            item_ops: dict[str, dict[str, Any]] = {
                "get": {"x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": "get", "responses": {}}}
            if rt.plural not in VIRTUAL:
                item_ops["put"] = {"x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": "put",
                                   "parameters": params, "responses": {}}
                item_ops["patch"] = {"x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": "patch",
                                     "parameters": params, "responses": {}}
                paths[base + "/{name}"] = item_ops
            paths[base] = {"post": {"x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": "post",
                                    "parameters": params, "responses": {}}}
    if not paths:
        return None
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0"}, "paths": paths,
            "components": {"schemas": {}}}

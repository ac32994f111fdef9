"""Discovery documents: /version, /api, /api/v1, /apis, /apis/<group>[/<version>].

Legacy (unaggregated) discovery only: kubectl 1.32 asks for the aggregated `APIGroupDiscoveryList`
first, and on a plain `application/json` answer falls back to one request per group version."""

from __future__ import annotations

from typing import Any

from mlops_tui.sim.kube.resources import RESOURCES, group_versions

VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0-sim",
           "gitCommit": "0000000000000000000000000000000000000000",
           "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.23.4",
           "compiler": "gc", "platform": "linux/amd64"}


def api_versions(address: str) -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}]}


def _group(name: str, versions: list[str]) -> dict[str, Any]:
    vs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": vs, "preferredVersion": vs[0]}


def api_groups() -> dict[str, Any]:
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_group(n, vs) for n, vs in group_versions().items()]}


def api_group(name: str) -> dict[str, Any] | None:
    vs = group_versions().get(name)
    if not vs:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, vs)}


def resource_list(group: str, version: str) -> dict[str, Any] | None:
    found = [rt for rt in RESOURCES if rt.group == group and version in rt.versions()]
    if not found:
        return None
    items: list[dict[str, Any]] = []
    for rt in found:
        item: dict[str, Any] = {"name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced,
                                "kind": rt.kind, "verbs": list(rt.verbs)}
        if rt.short_names:
            item["shortNames"] = list(rt.short_names)
        if rt.categories:
            item["categories"] = list(rt.categories)
        items.append(item)
        for sub in rt.subresources:
            if sub == "scale":
                items.append({"name": f"{rt.plural}/scale", "singularName": "", "namespaced": rt.namespaced,
                              "group": "autoscaling", "version": "v1", "kind": "Scale",
                              "verbs": ["get", "patch", "update"]})
            else:
                items.append({"name": f"{rt.plural}/{sub}", "singularName": "", "namespaced": rt.namespaced,
                              "kind": rt.kind, "verbs": ["get", "patch", "update"]})
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": items}

"""The Engine API `filters` query parameter: JSON `{"name": {"x": true}}` or the old `{"name": ["x"]}`."""

from __future__ import annotations

import json
from typing import Any

from .state import ApiError


def parse_filters(raw: str | None) -> dict[str, list[str]]:
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise ApiError(400, "invalid filter") from None
    out: dict[str, list[str]] = {}
    for key, values in (data or {}).items():
        out[key] = list(values) if isinstance(values, list) else [k for k, v in values.items() if v]
    return out


def check_keys(filters: dict[str, list[str]], allowed: set[str]) -> None:
    for key in filters:
        if key not in allowed:
            raise ApiError(400, f"invalid filter '{key}'")


def labels_match(labels: dict[str, str], wanted: list[str]) -> bool:
    for item in wanted:
        key, eq, value = item.partition("=")
        if key not in labels or (eq and labels[key] != value):
            return False
    return True


def service_matches(svc: dict[str, Any], f: dict[str, list[str]]) -> bool:
    spec = svc["Spec"]
    if "id" in f and not any(svc["ID"].startswith(v) for v in f["id"]):
        return False
    if "name" in f and not any(spec["Name"].startswith(v) for v in f["name"]):
        return False
    if "label" in f and not labels_match(spec.get("Labels") or {}, f["label"]):
        return False
    return "mode" not in f or ("global" if "Global" in spec["Mode"] else "replicated") in f["mode"]


def node_matches(node: dict[str, Any], f: dict[str, list[str]]) -> bool:
    if "id" in f and not any(node["ID"].startswith(v) for v in f["id"]):
        return False
    if "name" in f and not any(node["Description"]["Hostname"].startswith(v) for v in f["name"]):
        return False
    if "role" in f and node["Spec"]["Role"] not in f["role"]:
        return False
    if "membership" in f and "accepted" not in f["membership"]:
        return False
    if "node.label" in f and not labels_match(node["Spec"]["Labels"], f["node.label"]):
        return False
    return "label" not in f or labels_match({}, f["label"])


def event_matches(event: dict[str, Any], f: dict[str, list[str]]) -> bool:
    if "type" in f and event["Type"] not in f["type"]:
        return False
    if "event" in f and event["Action"] not in f["event"]:
        return False
    for key in ("service", "node", "container"):
        if (key in f and event["Type"] == key and event["Actor"]["ID"] not in f[key]
                and event["Actor"]["Attributes"].get("name") not in f[key]):
            return False
    return "scope" not in f or event["scope"] in f["scope"]
